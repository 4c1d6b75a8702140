//! The `harness` command line: `up` starts the stack for a person, `list` names the
//! scenarios, `run` runs them and reports, `soak` loads the real binaries with faults.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio::task::JoinSet;
use tracing_subscriber::EnvFilter;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Instant;

use crate::report::{self, RunReport};
use crate::scenarios::{self, Scenario, ScenarioReport};
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
    /// Run the scenarios, each on a fresh in-process stack; exits non-zero if any fails.
    Run(Box<RunArgs>),
    /// Name every scenario with what it proves.
    List,
    /// Many shoppers at once against the mock-stripe and storefront binaries, with faults
    /// injected; exits non-zero on a lost or duplicate order or a 5xx shown to a shopper.
    Soak(SoakArgs),
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Shoppers buying at once.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub shoppers: u32,
    /// Purchase flows in all (after one warm-up purchase per shopper).
    #[arg(long, default_value_t = 2000)]
    pub flows: usize,
    /// Fixes each flow's plan, product and fault, and the mock's ids.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of flows that inject a fault (webhook or API) as they start, 0 to 1.
    #[arg(long, default_value_t = 0.2, value_parser = parse_rate)]
    pub fault_rate: f64,
    /// Keep the processes' logs and the shop's data even when the soak passes.
    #[arg(long)]
    pub keep: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("expected a share between 0 and 1, got {s:?}")),
    }
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
    /// Keep the database, the mail outbox and mock-stripe's state in this folder, so the stack comes back whole when started on it again (default: a temporary folder removed on exit).
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
    /// Run only the scenarios whose name contains this (e.g. `webhook`).
    #[arg(long)]
    pub filter: Option<String>,
    /// How many scenarios run at once (each has its own stack).
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Write JUnit XML here (one test case per scenario).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write every result and timeline as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report here (a timeline per scenario).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also run pay, decline-then-pay, 3-D Secure and cancel in headless Chromium
    /// (Debian's chromium and chromium-driver), with a screenshot per step.
    #[arg(long)]
    pub browser: bool,
    /// Random sequences the model-based property test tries (0: skip it). Default 256 on
    /// SQLite, 16 on PostgreSQL (each case makes a database there).
    #[arg(long)]
    pub cases: Option<u32>,
    /// Seed of the property test's sequences (and of the mock's ids); a failure prints the
    /// seed and case count that replay it.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub external: ExternalArgs,
}

/// Test a shop the harness does not start (any language): it must sell through Stripe
/// Checkout at `--stripe-base` (a mock-stripe, for the scenarios that need its control API).
#[derive(Debug, Args)]
pub struct ExternalArgs {
    /// The shop's base URL, e.g. http://127.0.0.1:8000.
    #[arg(long, value_name = "URL", requires_all = ["buy", "stripe_base", "stripe_key"])]
    pub shop: Option<url::Url>,
    /// The page with the buy button (a form or link leading to Checkout), e.g. /products/1.
    #[arg(long, value_name = "PATH")]
    pub buy: Option<String>,
    /// The Stripe the shop talks to, e.g. http://127.0.0.1:12111 (mock-stripe).
    #[arg(long, value_name = "URL")]
    pub stripe_base: Option<url::Url>,
    /// The shop's secret key there (its account on the mock).
    #[arg(
        long,
        value_name = "KEY",
        env = "HARNESS_STRIPE_KEY",
        hide_env_values = true
    )]
    pub stripe_key: Option<String>,
}

/// Parses the command line, starts tokio and runs the command. Blocking and not generic,
/// so the binary only links it: with `#[tokio::main]` in `main.rs`, a release build
/// compiled the library's async code a second time into the binary.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(main(cli)),
        Err(err) => {
            eprintln!("harness: cannot start the async runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn main(cli: Cli) -> ExitCode {
    let default_log = match cli.command {
        Command::Up(_) => "info",
        // Scenarios provoke errors on purpose (a provider down, forged webhooks): the
        // servers' logs would only be noise next to the report. RUST_LOG brings them back.
        Command::Run(_) | Command::List => "off",
        // The soak's own steps; the programs under load log to files of their own.
        Command::Soak(_) => "harness=info,sqlx=error,warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        Command::Up(args) => up(args).await,
        Command::Run(args) => run_scenarios(*args).await,
        Command::Soak(args) => soak(args).await,
        Command::List => {
            let width = Scenario::ALL
                .iter()
                .map(|s| s.name().len())
                .max()
                .unwrap_or(0);
            for s in Scenario::ALL {
                println!("{:width$}  {}", s.name(), s.summary());
            }
            ExitCode::SUCCESS
        }
    }
}

async fn up(args: UpArgs) -> ExitCode {
    let options = StackOptions {
        host: args.host,
        shop_port: args.shop_port,
        mock_port: args.mock_port,
        data_dir: args.data_dir,
        database: args.database.stack_database(),
        ..StackOptions::default()
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
    println!("shop data    {}", stack.shop.describe());
    println!();
    println!("Open the storefront and buy something. On the payment page use the test card");
    println!(
        "{}, any future expiry (12 / 34) and any CVC;",
        scenarios::steps::CARD_SUCCESS
    );
    println!(
        "4000 0000 0000 0002 is declined, 4000 0000 0000 3220 asks for 3-D Secure. Press Ctrl-C to stop."
    );
    wait_for_stop().await;
    stack.shutdown().await;
    ExitCode::SUCCESS
}

async fn soak(args: SoakArgs) -> ExitCode {
    let config = crate::soak::SoakConfig {
        shoppers: args.shoppers as usize,
        flows: args.flows,
        seed: args.seed,
        fault_rate: args.fault_rate,
        database: args.database.stack_database(),
        keep: args.keep,
        ..crate::soak::SoakConfig::default()
    };
    // Dropping the soak on Ctrl-C kills its child processes.
    let report = tokio::select! {
        report = crate::soak::run(config) => report,
        () = wait_for_stop() => {
            eprintln!("harness soak: interrupted");
            return ExitCode::from(130);
        }
    };
    match report {
        Ok(report) => {
            print!("{}", report.markdown_table());
            println!();
            print!("{}", report.details());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("harness soak: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run_scenarios(args: RunArgs) -> ExitCode {
    let selected = Scenario::matching(args.filter.as_deref());
    let property_selected = args
        .filter
        .as_deref()
        .is_none_or(|f| crate::properties::NAME.contains(f));
    if selected.is_empty() && !property_selected {
        eprintln!(
            "harness run: no scenario matches {:?}; `harness list` names them",
            args.filter.unwrap_or_default()
        );
        return ExitCode::from(2);
    }
    if let (Some(shop_url), Some(buy), Some(stripe_base), Some(stripe_key)) = (
        args.external.shop.clone(),
        args.external.buy.clone(),
        args.external.stripe_base.clone(),
        args.external.stripe_key.clone(),
    ) {
        let shop = scenarios::external::ExternalShop {
            shop_url,
            buy_path: buy,
            stripe_base,
            stripe_key,
        };
        return run_external(&args, &selected, &shop).await;
    }
    let started = Instant::now();
    let in_browser = if args.browser {
        crate::browser::SCENARIOS
            .iter()
            .filter(|s| selected.contains(s))
            .count()
    } else {
        0
    };
    let property_runs = args.cases != Some(0) && property_selected;
    let progress = Progress::new(selected.len() + in_browser + usize::from(property_runs));
    // Every scenario has its own stack, so they run side by side, `jobs` at a time.
    let permits = Arc::new(tokio::sync::Semaphore::new(args.jobs.max(1)));
    let mut running = JoinSet::new();
    for (index, scenario) in selected.iter().copied().enumerate() {
        let options = StackOptions {
            database: args.database.stack_database(),
            ..StackOptions::default()
        };
        let permits = permits.clone();
        running.spawn(async move {
            let _permit = permits.acquire_owned().await;
            vec![(index, scenarios::run_isolated(scenario, options).await)]
        });
    }
    if args.browser {
        let driver = match crate::browser::Driver::start().await {
            Ok(d) => Arc::new(d),
            Err(e) => {
                eprintln!("harness run --browser: {e:#}");
                return ExitCode::from(2);
            }
        };
        let browser_scenarios: Vec<Scenario> = crate::browser::SCENARIOS
            .into_iter()
            .filter(|s| selected.contains(s))
            .collect();
        // One browser at a time: Chromium is the heaviest thing on a two-core machine.
        let options = StackOptions {
            database: args.database.stack_database(),
            ..StackOptions::default()
        };
        let offset = selected.len();
        running.spawn(async move {
            let mut out = Vec::new();
            for (i, scenario) in browser_scenarios.into_iter().enumerate() {
                out.push((
                    offset + i,
                    scenarios::run_in_browser(scenario, options.clone(), driver.clone()).await,
                ));
            }
            out
        });
    }
    let cases = args.cases.unwrap_or(match args.database.stack_database() {
        StackDatabase::Sqlite => 256,
        StackDatabase::Postgres { .. } => 16,
    });
    let runs_property = cases > 0 && property_selected;
    if runs_property {
        let config = crate::properties::PropertyConfig {
            cases,
            seed: args.seed,
            database: args.database.stack_database(),
            ..crate::properties::PropertyConfig::default()
        };
        let index = usize::MAX;
        running.spawn(async move {
            let report = crate::properties::run_async(config).await;
            if !report.passed {
                // The numbered steps and how to replay them, as a person reads them.
                eprintln!("{}", report.to_text());
            }
            vec![(index, report.to_scenario_report())]
        });
    }
    let mut reports: Vec<(usize, ScenarioReport)> = Vec::new();
    while let Some(joined) = running.join_next().await {
        // run_isolated catches a scenario's own crash; a JoinError here is the runner's.
        let Ok(finished) = joined else {
            eprintln!("harness run: the runner itself crashed");
            return ExitCode::FAILURE;
        };
        for (index, report) in finished {
            progress.done(&report);
            reports.push((index, report));
        }
    }
    progress.finish();
    reports.sort_by_key(|(i, _)| *i);
    let run = RunReport {
        database: match args.database.stack_database() {
            StackDatabase::Sqlite => "sqlite".into(),
            StackDatabase::Postgres { .. } => "postgres".into(),
        },
        seconds: started.elapsed().as_secs_f64(),
        scenarios: reports.into_iter().map(|(_, r)| r).collect(),
    };
    finish_run(&args, run)
}

/// The scenarios against a shop the harness did not start, one at a time (they share
/// the shop's account on the mock).
async fn run_external(
    args: &RunArgs,
    selected: &[Scenario],
    shop: &scenarios::external::ExternalShop,
) -> ExitCode {
    let started = Instant::now();
    let progress = Progress::new(selected.len());
    let mut reports = Vec::new();
    for scenario in selected {
        let report = scenarios::run_external(*scenario, shop).await;
        progress.done(&report);
        reports.push(report);
    }
    progress.finish();
    // Put the shop's account back on real time (a scenario may have moved its clock).
    let control =
        mock_stripe::control_client::Control::new(shop.stripe_base.as_str(), &shop.stripe_key);
    if control.healthy().await {
        let _ = control.release_clock().await;
    }
    let run = RunReport {
        database: format!("external shop {}", shop.shop_url),
        seconds: started.elapsed().as_secs_f64(),
        scenarios: reports,
    };
    finish_run(args, run)
}

/// Prints the summary, writes the reports, and says how the run went.
fn finish_run(args: &RunArgs, run: RunReport) -> ExitCode {
    print!("{}", run.summary_table());
    let mut ok = run.failed() == 0;
    type Writer = fn(&RunReport, &std::path::Path) -> anyhow::Result<()>;
    let writes: [(&Option<PathBuf>, Writer); 3] = [
        (&args.junit, report::write_junit),
        (&args.json, |r, p| r.write_json(p)),
        (&args.html, report::write_html),
    ];
    for (path, write) in writes {
        if let Some(path) = path {
            if let Err(e) = write(&run, path) {
                eprintln!("harness run: {e:#}");
                ok = false;
            } else {
                println!("wrote {}", path.display());
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A progress bar on a terminal; one line per finished scenario elsewhere (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} scenarios {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar }
    }

    fn done(&self, report: &ScenarioReport) {
        let mark = if report.skipped() {
            "skip"
        } else if report.passed() {
            "ok"
        } else {
            "FAILED"
        };
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{} {mark}", report.name));
                bar.inc(1);
            }
            None => println!("{mark:6} {} ({:.2} s)", report.name, report.seconds),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
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
