//! `mock-stripe` without a subcommand: start the fake Stripe and wait for Ctrl-C / SIGTERM.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, error::ErrorKind};

use crate::{Config, MockStripe, RedirectTiming, RetrySchedule, WebhookTarget};

/// The server's flags: what `mock-stripe` does without a subcommand.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MOCK_STRIPE_HOST", default_value = "127.0.0.1")]
    host: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "MOCK_STRIPE_PORT", default_value_t = 12111)]
    port: u16,

    /// Forward every event to this URL, like `stripe listen --forward-to` (repeatable).
    #[arg(long = "webhook", value_name = "URL", value_parser = parse_url)]
    webhooks: Vec<String>,

    /// Signing secret of the --webhook at the same position (repeatable); generated if missing.
    #[arg(long = "webhook-secret", value_name = "whsec_…", value_parser = parse_secret)]
    webhook_secrets: Vec<String>,

    /// When failed deliveries are retried: `compressed` (1 s, 5 s, 25 s), `stripe` (backoff
    /// over 3 days; use a virtual clock), `none`, or seconds such as `1,5,25`.
    #[arg(long, env = "MOCK_STRIPE_RETRY_SCHEDULE", default_value = "compressed", value_parser = RetrySchedule::parse)]
    retry_schedule: RetrySchedule,

    /// Seconds one delivery attempt may take before it counts as timed out.
    #[arg(long, env = "MOCK_STRIPE_WEBHOOK_TIMEOUT", default_value_t = 10.0, value_parser = parse_seconds)]
    webhook_timeout: f64,

    /// When the shopper is redirected relative to the first delivery of
    /// checkout.session.completed: `before` (Stripe's order), `after` or `concurrent`.
    #[arg(long, env = "MOCK_STRIPE_REDIRECT_TIMING", default_value = "before", value_parser = parse_timing)]
    redirect_timing: RedirectTiming,

    /// Makes ids deterministic, so a run can be replayed exactly.
    #[arg(long, env = "MOCK_STRIPE_SEED")]
    seed: Option<u64>,

    /// Delivery attempts kept per account for /_config/deliveries (the newest).
    #[arg(long, env = "MOCK_STRIPE_DELIVERY_LOG", default_value_t = 1000)]
    delivery_log: usize,

    /// Required when --host is not loopback: /_config/ calls must send it as X-Control-Token.
    #[arg(long, env = "MOCK_STRIPE_CONTROL_TOKEN", hide_env_values = true)]
    control_token: Option<String>,

    /// Every account's default API version, for requests without Stripe-Version (e.g.
    /// 2020-08-27 for apps written before 2022-08-01); events are rendered at it.
    #[arg(long, env = "MOCK_STRIPE_API_VERSION", default_value = crate::DEFAULT_API_VERSION, value_parser = parse_api_version)]
    api_version: String,

    /// Most connections served at once; beyond it new connections get a 503 with
    /// Stripe-Should-Retry and are closed.
    #[arg(long, env = "MOCK_STRIPE_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Most accounts requests may create (each new API key or Stripe-Account makes one);
    /// past it, a request that would make one more gets a 400 naming this setting.
    #[arg(long, env = "MOCK_STRIPE_MAX_ACCOUNTS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_accounts: u32,

    /// Keep accounts, objects, events, idempotency keys, clocks and pending webhook
    /// deliveries in this directory (created if missing), so they survive a restart or a
    /// kill -9. Without it the mock keeps everything in memory.
    #[arg(long, env = "MOCK_STRIPE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,

    /// With --data-dir: wait for the disk (fsync) after each change, so a power loss loses
    /// nothing either (a killed process never does). Slower.
    #[arg(long, env = "MOCK_STRIPE_FSYNC", requires = "data_dir")]
    fsync: bool,

    /// With --data-dir: compact the journal into a snapshot once it is this many MiB (and
    /// larger than the last snapshot).
    #[arg(long, env = "MOCK_STRIPE_COMPACT_AFTER_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    compact_after_mb: u64,
}

fn parse_api_version(s: &str) -> Result<String, String> {
    if crate::is_api_version(s) {
        Ok(s.trim().to_string())
    } else {
        Err(format!(
            "expected an API version like 2020-08-27 or {}, got {s:?}",
            crate::DEFAULT_API_VERSION
        ))
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 600.0 => Ok(v),
        _ => Err(format!("expected seconds between 0 and 600, got {s:?}")),
    }
}

fn parse_timing(s: &str) -> Result<RedirectTiming, String> {
    RedirectTiming::parse(s)
        .ok_or_else(|| format!("expected before, after or concurrent, got {s:?}"))
}

fn parse_url(s: &str) -> Result<String, String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(s.to_string())
        }
        _ => Err(format!(
            "expected an http:// URL such as http://127.0.0.1:8000/webhook, got {s:?}"
        )),
    }
}

fn parse_secret(s: &str) -> Result<String, String> {
    match s.strip_prefix("whsec_") {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => Ok(s.to_string()),
        _ => Err("expected a signing secret starting with whsec_".to_string()),
    }
}

fn generated_secret() -> String {
    use rand::Rng;
    let token: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("whsec_{token}")
}

/// Starts the mock and waits for Ctrl-C / SIGTERM.
pub async fn serve(cli: ServeArgs) -> ExitCode {
    if cli.webhook_secrets.len() > cli.webhooks.len() {
        super::Cli::command()
            .error(
                ErrorKind::ArgumentConflict,
                "--webhook-secret given without a matching --webhook",
            )
            .exit();
    }
    // Logs go to stderr so stdout carries only the banner (scripts can read the URL).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let webhooks: Vec<WebhookTarget> = cli
        .webhooks
        .iter()
        .enumerate()
        .map(|(i, url)| WebhookTarget {
            url: url.clone(),
            secret: cli
                .webhook_secrets
                .get(i)
                .cloned()
                .unwrap_or_else(generated_secret),
        })
        .collect();
    if cli
        .control_token
        .as_ref()
        .is_some_and(|t| t.len() < 16 || t.contains(char::is_whitespace))
    {
        super::Cli::command()
            .error(
                ErrorKind::ValueValidation,
                "--control-token must be at least 16 characters, without spaces",
            )
            .exit();
    }
    let config = Config {
        host: cli.host,
        port: cli.port,
        webhooks: webhooks.clone(),
        retry_schedule: cli.retry_schedule,
        webhook_timeout: Duration::from_secs_f64(cli.webhook_timeout),
        redirect_timing: cli.redirect_timing,
        seed: cli.seed,
        delivery_log: cli.delivery_log,
        control_token: cli.control_token,
        api_version: cli.api_version,
        max_connections: cli.max_connections as usize,
        max_accounts: cli.max_accounts as usize,
        data_dir: cli.data_dir,
        fsync: cli.fsync,
        compact_after_bytes: cli.compact_after_mb << 20,
        ..Config::default()
    };
    let addr = std::net::SocketAddr::new(cli.host, cli.port);
    let cli_api_version = config.api_version.clone();
    let mock = match MockStripe::start(config).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            eprintln!("error: --data-dir: {e}");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("mock-stripe listening on {}", mock.base_url());
    if cli_api_version != crate::DEFAULT_API_VERSION {
        println!("default API version {cli_api_version} (requests without Stripe-Version)");
    }
    for w in &webhooks {
        // Printed on purpose (like `stripe listen`): the app needs this secret to verify.
        println!(
            "forwarding events to {} (signing secret {})",
            w.url, w.secret
        );
    }

    wait_for_stop_signal().await;
    println!("mock-stripe shutting down");
    mock.shutdown().await;
    ExitCode::SUCCESS
}

pub(crate) async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
