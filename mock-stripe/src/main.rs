//! `mock-stripe` command: start the fake Stripe and wait for Ctrl-C / SIGTERM.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, error::ErrorKind};
use mock_stripe::{Config, MockStripe, WebhookTarget};

/// A self-hosted fake Stripe: Checkout Sessions, a hosted payment page and signed webhooks.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.webhook_secrets.len() > cli.webhooks.len() {
        Cli::command()
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
    let config = Config {
        host: cli.host,
        port: cli.port,
        webhooks: webhooks.clone(),
        ..Config::default()
    };
    let addr = std::net::SocketAddr::new(cli.host, cli.port);
    let mock = match MockStripe::start(config).await {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("mock-stripe listening on {}", mock.base_url());
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

async fn wait_for_stop_signal() {
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
