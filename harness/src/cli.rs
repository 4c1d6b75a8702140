//! The `harness` command line: `up` starts the stack for a person, `run` runs
//! the purchase flows and reports them.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;

use crate::flows::{self, Flow, FlowReport};
use crate::stack::{Stack, StackDatabase, StackOptions};

#[derive(Debug, Parser)]
#[command(
    name = "harness",
    version,
    about = "Stripe Checkout purchase flows, offline: mock-stripe + storefront"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start mock-stripe and the storefront wired together, and keep them running for a person to try.
    Up(UpArgs),
    /// Run purchase flows against fresh in-process stacks; exits non-zero if any fails.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Address both servers listen on.
    #[arg(long, default_value = "127.0.0.1", env = "HARNESS_HOST")]
    pub host: IpAddr,
    /// Storefront port (0 picks a free one).
    #[arg(long, default_value_t = 0, env = "HARNESS_SHOP_PORT")]
    pub shop_port: u16,
    /// mock-stripe port (0 picks a free one).
    #[arg(long, default_value_t = 0, env = "HARNESS_MOCK_PORT")]
    pub mock_port: u16,
    /// Keep the database and the mail outbox in this folder (default: a temporary folder removed on exit).
    #[arg(long, env = "HARNESS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Give the storefront a fresh PostgreSQL database on this server instead of a SQLite file
    /// (a URL whose user may create databases, e.g. postgres://postgres:postgres@127.0.0.1/postgres).
    #[arg(
        long = "postgres",
        value_name = "ADMIN_URL",
        env = "HARNESS_POSTGRES_URL"
    )]
    pub postgres_admin_url: Option<String>,
}

impl DatabaseArgs {
    fn stack_database(&self) -> StackDatabase {
        match &self.postgres_admin_url {
            Some(admin_url) => StackDatabase::Postgres {
                admin_url: admin_url.clone(),
            },
            None => StackDatabase::Sqlite,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run only these flows (repeatable); default: all of them.
    #[arg(long = "flow", value_enum)]
    pub flows: Vec<Flow>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub async fn main(cli: Cli) -> ExitCode {
    let default_log = match cli.command {
        Command::Up(_) => "info",
        Command::Run(_) => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::Up(args) => up(args).await,
        Command::Run(args) => run(args).await,
    }
}

async fn up(args: UpArgs) -> ExitCode {
    let options = StackOptions {
        host: args.host,
        shop_port: args.shop_port,
        mock_port: args.mock_port,
        data_dir: args.data_dir,
        database: args.database.stack_database(),
        mock_signing_secret: None,
    };
    let stack = match Stack::start(options).await {
        Ok(stack) => stack,
        Err(e) => {
            eprintln!("harness up: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    println!("storefront   {}", stack.shop_url);
    println!("mock-stripe  {}", stack.mock_url);
    // The shop's account on the mock: its sessions, events and every delivery attempt.
    println!(
        "dashboard    {}_config/dashboard?key={}",
        stack.mock_url, stack.secret_key
    );
    println!("database     {}", stack.database_description());
    println!("receipts     {}", stack.outbox.display());
    println!();
    println!("Open the storefront and buy something. On the payment page use the test card");
    println!(
        "{}, any future expiry (12 / 34) and any CVC;",
        flows::CARD_SUCCESS
    );
    println!(
        "{} is declined. Press Ctrl-C to stop.",
        flows::CARD_DECLINED
    );
    wait_for_stop().await;
    stack.shutdown().await;
    ExitCode::SUCCESS
}

async fn run(args: RunArgs) -> ExitCode {
    let selected = if args.flows.is_empty() {
        Flow::ALL.to_vec()
    } else {
        args.flows
    };
    // Every flow has its own stack, so they run side by side.
    let mut running = JoinSet::new();
    for flow in selected.iter().copied() {
        let options = StackOptions {
            database: args.database.stack_database(),
            ..StackOptions::default()
        };
        running.spawn(flows::run_isolated_with(flow, options));
    }
    let mut reports: Vec<FlowReport> = Vec::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("harness run: a flow crashed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    reports.sort_by_key(|r| selected.iter().position(|f| *f == r.flow));

    let width = reports
        .iter()
        .map(|r| r.flow.name().len())
        .max()
        .unwrap_or(0);
    let mut failed = 0;
    for report in &reports {
        let seconds = report.elapsed.as_secs_f64();
        match &report.result {
            Ok(()) => println!("PASS  {:width$}  {seconds:.2} s", report.flow.name()),
            Err(e) => {
                failed += 1;
                println!("FAIL  {:width$}  {seconds:.2} s", report.flow.name());
                println!("      {e:#}");
            }
        }
    }
    println!("flows: {} passed, {failed} failed", reports.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn wait_for_stop() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
