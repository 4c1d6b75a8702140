//! The `mock-stripe` command. Without a subcommand it is the fake Stripe
//! (`mock-stripe --port 12111`, `serve`); the subcommands are clients that speak the
//! Stripe CLI's habits:
//!
//! - `listen --forward-to URL` attaches to a running mock and prints each delivery
//!   ([`listen`]);
//! - `trigger EVENT` makes a running mock emit an event by running its fixture
//!   ([`trigger`]);
//! - `fixtures FILE.json` runs a Stripe CLI fixture file against the mock or against
//!   Stripe in test mode ([`fixtures`]).
//!
//! They read `--api-base`/`STRIPE_API_BASE` (default `http://127.0.0.1:12111`) and
//! `--api-key`/`STRIPE_API_KEY`, as the Stripe CLI does. The modules are public so Rust
//! tests can run them in process.

pub mod client;
pub mod fixtures;
pub mod listen;
mod serve;
pub mod trigger;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use client::Api;
pub use serve::ServeArgs;

/// A self-hosted fake Stripe: Checkout Sessions, a hosted payment page and signed webhooks.
/// Without a subcommand, starts it; `listen`, `trigger` and `fixtures` talk to a running one.
#[derive(Parser, Debug)]
#[command(
    name = "mock-stripe",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Forward a running mock's events to a URL and print each delivery, like `stripe
    /// listen` (prints the signing secret first; Ctrl-C stops and unregisters).
    Listen(ListenArgs),
    /// Make a running mock emit an event, as `stripe trigger` does, by running its
    /// fixture. Without EVENT, lists the events it knows.
    Trigger(TriggerArgs),
    /// Run a Stripe CLI fixture file against the mock, or against Stripe in test mode.
    Fixtures(FixturesArgs),
}

/// Where to send requests, and as whom.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Base URL of the mock (or of Stripe: `https://api.stripe.com`, for `fixtures`).
    #[arg(
        long = "api-base",
        env = "STRIPE_API_BASE",
        default_value = "http://127.0.0.1:12111",
        value_name = "URL"
    )]
    pub api_base: String,
    /// Secret key of the account (on the mock, each key is its own account: use your
    /// app's). Test-mode keys only.
    #[arg(
        long = "api-key",
        env = "STRIPE_API_KEY",
        hide_env_values = true,
        value_name = "sk_test_…"
    )]
    pub api_key: Option<String>,
    /// Act on this connected account (`Stripe-Account: acct_…`).
    #[arg(long = "stripe-account", value_name = "acct_…")]
    pub stripe_account: Option<String>,
    /// The mock's --control-token, when it listens beyond loopback.
    #[arg(
        long = "control-token",
        env = "MOCK_STRIPE_CONTROL_TOKEN",
        hide_env_values = true
    )]
    pub control_token: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListenArgs {
    /// Where to forward events (`localhost:4242/webhook`, `4242`, `http://…`).
    #[arg(
        long = "forward-to",
        short = 'f',
        value_name = "URL",
        required_unless_present = "print_secret"
    )]
    pub forward_to: Option<String>,
    /// Only these event types (comma-separated); all by default.
    #[arg(long, short = 'e', value_delimiter = ',', value_name = "TYPES")]
    pub events: Vec<String>,
    /// Print the signing secret and exit.
    #[arg(long = "print-secret")]
    pub print_secret: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The flags `stripe trigger` and `stripe fixtures` share.
#[derive(Args, Debug, Clone)]
pub struct FixtureFlags {
    /// Change a param: `fixture:path.to.param=value` (repeatable).
    #[arg(long = "override", value_name = "NAME:PATH=VALUE")]
    pub overrides: Vec<String>,
    /// Add a param unless present: `fixture:path.to.param=value` (repeatable).
    #[arg(long = "add", value_name = "NAME:PATH=VALUE")]
    pub additions: Vec<String>,
    /// Remove a param: `fixture:path.to.param` (repeatable).
    #[arg(long = "remove", value_name = "NAME:PATH")]
    pub removals: Vec<String>,
    /// Skip the fixture of this name (repeatable).
    #[arg(long = "skip", value_name = "NAME")]
    pub skip: Vec<String>,
    /// Send this Stripe-Version.
    #[arg(long = "api-version", value_name = "VERSION")]
    pub api_version: Option<String>,
}

impl FixtureFlags {
    fn options(&self) -> fixtures::Options {
        fixtures::Options {
            skip: self.skip.clone(),
            overrides: self.overrides.clone(),
            additions: self.additions.clone(),
            removals: self.removals.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct TriggerArgs {
    /// The event, such as checkout.session.completed.
    pub event: Option<String>,
    /// Run this fixture JSON instead of the built-in one.
    #[arg(long, value_name = "JSON")]
    pub raw: Option<String>,
    #[command(flatten)]
    pub flags: FixtureFlags,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct FixturesArgs {
    /// The fixture file.
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub flags: FixtureFlags,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A base URL the client commands accept: `http(s)://host[:port][/path]`, no query.
pub(crate) fn check_base(base: &str) -> Result<String, String> {
    match url::Url::parse(base) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            Ok(base.trim_end_matches('/').to_string())
        }
        _ => Err(format!(
            "{base:?} is not a base URL such as http://127.0.0.1:12111 or https://api.stripe.com"
        )),
    }
}

impl ClientArgs {
    /// The target, or what is wrong with the flags.
    pub fn api(&self) -> Result<Api, String> {
        let base = check_base(&self.api_base)?;
        let key = self.api_key.as_deref().ok_or(
            "no API key: pass --api-key sk_test_… or set STRIPE_API_KEY (on the mock each key is its own account: use the one your app uses)",
        )?;
        let test_mode = ["sk_test_", "rk_test_"].iter().any(|p| key.starts_with(p));
        if !test_mode {
            return Err(
                "the API key must be a test-mode secret or restricted key (sk_test_… or rk_test_…): these commands create objects"
                    .into(),
            );
        }
        let mut api = Api::new(&base, key);
        api.stripe_account = self.stripe_account.clone();
        api.control_token = self.control_token.clone();
        Ok(api)
    }
}

/// The program: starts tokio and runs the command line. Blocking and not generic, so the
/// binary only links it: with `#[tokio::main]` in `main.rs`, a release build compiled all
/// of the library's async code a second time into the binary (65 s of a clean build).
pub fn run() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(main()),
        Err(e) => fail(format_args!("cannot start the async runtime: {e}")),
    }
}

/// Parses the command line and runs it.
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve::serve(cli.serve).await,
        Some(Command::Listen(args)) => listen_command(args).await,
        Some(Command::Trigger(args)) => trigger_command(args).await,
        Some(Command::Fixtures(args)) => fixtures_command(args).await,
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn listen_command(args: ListenArgs) -> ExitCode {
    let api = match args.client.api() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    if args.print_secret {
        println!(
            "{}",
            listen::signing_secret(&api.key, api.stripe_account.as_deref())
        );
        return ExitCode::SUCCESS;
    }
    let options = match (
        listen::forward_url(args.forward_to.as_deref().unwrap_or_default()),
        listen::event_list(&args.events),
    ) {
        (Ok(forward_to), Ok(events)) => listen::ListenOptions { forward_to, events },
        (Err(e), _) | (_, Err(e)) => return fail(e),
    };
    let mut out = std::io::stdout();
    match listen::run(&api, &options, &mut out, serve::wait_for_stop_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

async fn trigger_command(args: TriggerArgs) -> ExitCode {
    let Some(event) = args.event.as_deref().or(args.raw.as_ref().map(|_| "raw")) else {
        println!("Supported events:");
        for t in trigger::TRIGGERS {
            println!("  {}", t.event);
        }
        return ExitCode::SUCCESS;
    };
    let mut api = match args.client.api() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    api.api_version = args.flags.api_version.clone();
    let mut out = std::io::stdout();
    match trigger::run(
        &api,
        event,
        args.raw.as_deref(),
        &args.flags.options(),
        &mut out,
    )
    .await
    {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            fail(e)
        }
    }
}

async fn fixtures_command(args: FixturesArgs) -> ExitCode {
    let mut api = match args.client.api() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    api.api_version = args.flags.api_version.clone();
    let text = match read_bounded(&args.file) {
        Ok(t) => t,
        Err(e) => return fail(format!("cannot read {}: {e}", args.file.display())),
    };
    let mut file = match fixtures::FixtureFile::parse(&text) {
        Ok(f) => f,
        Err(e) => return fail(format!("{}: {e}", args.file.display())),
    };
    let options = args.flags.options();
    if let Err(e) = file.rewrite(&options) {
        return fail(e);
    }
    let mut out = std::io::stdout();
    let dir = std::path::Path::new(".");
    let run = match fixtures::execute(&file, &api, &options, dir, &mut out).await {
        Ok(run) => run,
        Err(e) => {
            let _ = out.flush();
            return fail(e);
        }
    };
    if let Err(e) = file.update_env(&run, dir) {
        return fail(e);
    }
    println!("Fixtures succeeded! ({} requests)", run.ran.len());
    ExitCode::SUCCESS
}

/// A file's bytes, refusing files larger than a fixture file may be.
fn read_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(fixtures::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn server_flags_stay_the_default_command() {
        let cli = Cli::try_parse_from(["mock-stripe", "--port", "0"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "mock-stripe",
            "trigger",
            "checkout.session.completed",
            "--api-key",
            "sk_test_x",
            "--override",
            "price:unit_amount=2000",
        ])
        .unwrap();
        let Some(Command::Trigger(t)) = cli.command else {
            panic!("a trigger")
        };
        assert_eq!(t.event.as_deref(), Some("checkout.session.completed"));
        assert_eq!(t.flags.overrides, ["price:unit_amount=2000"]);
        assert!(
            Cli::try_parse_from(["mock-stripe", "--port", "1", "listen", "-f", "4242"]).is_err()
        );
        let cli =
            Cli::try_parse_from(["mock-stripe", "listen", "-e", "a.b,c.d", "-f", "4242"]).unwrap();
        let Some(Command::Listen(l)) = cli.command else {
            panic!("a listen")
        };
        assert_eq!(l.events, ["a.b", "c.d"]);
        assert!(
            Cli::try_parse_from(["mock-stripe", "listen"]).is_err(),
            "--forward-to needed"
        );
        assert!(Cli::try_parse_from(["mock-stripe", "listen", "--print-secret"]).is_ok());
    }

    #[test]
    fn client_flags_are_checked() {
        let args = |base: &str, key: Option<&str>| ClientArgs {
            api_base: base.into(),
            api_key: key.map(str::to_string),
            stripe_account: None,
            control_token: None,
        };
        assert_eq!(
            args("http://127.0.0.1:12111/", Some("sk_test_1"))
                .api()
                .unwrap()
                .base,
            "http://127.0.0.1:12111"
        );
        assert!(
            args("http://127.0.0.1:12111", None)
                .api()
                .unwrap_err()
                .contains("--api-key")
        );
        assert!(
            args("http://127.0.0.1:12111", Some("sk_live_1"))
                .api()
                .unwrap_err()
                .contains("test-mode")
        );
        assert!(args("127.0.0.1:12111", Some("sk_test_1")).api().is_err());
        assert!(
            args("https://api.stripe.com", Some("rk_test_1"))
                .api()
                .is_ok()
        );
    }
}
