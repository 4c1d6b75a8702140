//! Command-line options and the settings they resolve to.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Throughput, latency and memory of mock-stripe against a bare hyper server (the
/// ceiling) and, when installed, localstripe and stripe-stateful-mock.
#[derive(Parser, Clone, Debug)]
#[command(name = "bench")]
pub struct Opts {
    /// Seconds measured per workload (default 10; 1 with --quick).
    #[arg(long, value_parser = parse_seconds)]
    pub duration: Option<f64>,
    /// Seconds of warm-up per workload, not counted (default 1; 0.2 with --quick).
    #[arg(long, value_parser = parse_seconds)]
    pub warmup: Option<f64>,
    /// Measured rounds per server workload, one per pass; the table shows the median round
    /// (default 5, so that a comparison of two rows is the median of five side-by-side
    /// pairs; 1 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=15))]
    pub rounds: Option<u16>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..))]
    pub connections: u16,
    /// Sessions stored before retrieve and list, and for the memory figures
    /// (default 100000; 2000 with --quick).
    #[arg(long)]
    pub stored: Option<usize>,
    /// Idempotent requests sent to the binary for the memory figure (default 1000000;
    /// 5000 with --quick).
    #[arg(long)]
    pub idempotent: Option<u64>,
    /// Short run with small counts, for CI.
    #[arg(long)]
    pub quick: bool,
    /// Skip localstripe and stripe-stateful-mock even when installed.
    #[arg(long)]
    pub no_peers: bool,
    /// The mock-stripe binary for start-up and memory (default: built by cargo, same
    /// profile as this program).
    #[arg(long)]
    pub mock_bin: Option<PathBuf>,
    /// The storefront binary for the purchase flows (default: built by cargo, same profile
    /// as this program).
    #[arg(long)]
    pub storefront_bin: Option<PathBuf>,
    /// Concurrent shoppers of the purchase flows, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32", value_parser = clap::value_parser!(u16).range(1..))]
    pub shoppers: Vec<u16>,
    /// Also run the purchase flows on PostgreSQL: a server whose user may create databases
    /// (each run gets one, dropped afterwards), e.g.
    /// postgres://postgres:postgres@127.0.0.1:5432/postgres.
    #[arg(long = "postgres", env = "TEST_POSTGRES_URL", value_name = "ADMIN_URL")]
    pub postgres: Option<String>,
    /// Only the purchase flows (for profiling the shop): no ceiling, mock-stripe workloads,
    /// peers or resources.
    #[arg(long)]
    pub flows_only: bool,
    /// Only the server workloads (for profiling mock-stripe): no purchase flows and no
    /// start-up or memory figures.
    #[arg(long, conflicts_with = "flows_only")]
    pub api_only: bool,
    /// Run the ceiling and mock-stripe each in a process of its own (this program serving
    /// the ceiling, the mock-stripe binary), as a deployed mock runs, instead of in this
    /// program's process beside the load generator. Peers always run in their own.
    #[arg(long)]
    pub own_processes: bool,
    /// The bench binary that serves the ceiling with --own-processes (default: this
    /// program, when it is that binary).
    #[arg(long, hide = true, value_name = "PATH")]
    pub ceiling_bin: Option<PathBuf>,
    /// Serve the ceiling on this port until killed (how --own-processes starts it).
    #[arg(long, hide = true, value_name = "PORT")]
    pub serve_ceiling: Option<u16>,
    /// Only these mock-stripe workloads (default: all), e.g. `--workloads retrieve,list`.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub workloads: Vec<crate::workloads::Workload>,
    /// What sends the measured requests: `wrk` (whole seconds: durations round up), the
    /// `built-in` client, or `auto`: wrk when it runs from PATH, else the built-in one. The
    /// purchase flows always use the built-in client (cookies, redirects).
    #[arg(long, value_enum, default_value_t = LoadGenerator::Auto)]
    pub load_generator: LoadGenerator,
    /// Also time a clean release build of the workspace (`cargo build --release
    /// --workspace --timings` into an empty temporary target folder, in TMPDIR: about 3 GB
    /// while it lasts), after everything else: minutes of both cores. cargo's timings
    /// report is copied into --out.
    #[arg(long)]
    pub clean_build: bool,
    /// The workspace --clean-build builds (default: the one this program was built from).
    #[arg(long, requires = "clean_build", value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Where bench.md and bench.json go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadGenerator {
    Auto,
    Wrk,
    BuiltIn,
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// Options with the defaults of the mode filled in.
#[derive(Clone, Debug)]
pub struct Settings {
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub connections: usize,
    pub stored: usize,
    pub idempotent: u64,
    pub peers: bool,
    pub mock_bin: Option<PathBuf>,
    pub storefront_bin: Option<PathBuf>,
    pub shoppers: Vec<usize>,
    pub postgres: Option<String>,
    pub flows_only: bool,
    pub api_only: bool,
    pub own_processes: bool,
    pub ceiling_bin: Option<PathBuf>,
    pub workloads: Vec<crate::workloads::Workload>,
    pub load_generator: LoadGenerator,
    /// The workspace to build clean at the end (`--clean-build`).
    pub clean_build: Option<PathBuf>,
    pub out: PathBuf,
}

impl Opts {
    /// The settings, or a message naming the option that cannot work.
    pub fn settings(&self) -> Result<Settings, String> {
        let q = self.quick;
        let clean_build = match (self.clean_build, &self.workspace) {
            (false, _) => None,
            // Said now, not after the minutes of measuring that come before the build.
            (true, Some(dir)) => match crate::clean_build::unbuildable(dir) {
                Some(why) => return Err(why),
                None => Some(dir.clone()),
            },
            (true, None) => Some(crate::workspace::own_workspace().ok_or(
                "--clean-build: the workspace this program was built from is gone; name one with --workspace DIR",
            )?),
        };
        Ok(Settings {
            duration: Duration::from_secs_f64(self.duration.unwrap_or(if q { 1.0 } else { 10.0 })),
            warmup: Duration::from_secs_f64(self.warmup.unwrap_or(if q { 0.2 } else { 1.0 })),
            rounds: usize::from(self.rounds.unwrap_or(if q { 1 } else { 5 })),
            connections: usize::from(self.connections),
            stored: self.stored.unwrap_or(if q { 2_000 } else { 100_000 }),
            idempotent: self.idempotent.unwrap_or(if q { 5_000 } else { 1_000_000 }),
            peers: !self.no_peers,
            mock_bin: self.mock_bin.clone(),
            storefront_bin: self.storefront_bin.clone(),
            shoppers: self.shoppers.iter().map(|&n| usize::from(n)).collect(),
            postgres: self.postgres.clone().filter(|u| !u.trim().is_empty()),
            flows_only: self.flows_only,
            api_only: self.api_only,
            own_processes: self.own_processes,
            ceiling_bin: self.ceiling_bin.clone(),
            workloads: if self.workloads.is_empty() {
                crate::workloads::MOCK_WORKLOADS.to_vec()
            } else {
                // Always in report order, which keeps the rows compared with each other
                // next to each other in every pass.
                crate::workloads::MOCK_WORKLOADS
                    .into_iter()
                    .filter(|w| self.workloads.contains(w))
                    .collect()
            },
            load_generator: self.load_generator,
            clean_build,
            out: self.out.clone(),
        })
    }
}

/// The `bench` program: parses the options, starts tokio, runs the benchmark and prints
/// its table. Blocking and not generic, so the binary only links it: with `#[tokio::main]`
/// in `main.rs`, a release build compiled the library's async code a second time.
pub fn run() -> std::process::ExitCode {
    let opts = Opts::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Some(port) = opts.serve_ceiling {
        return match runtime.block_on(crate::servers::serve_ceiling(port)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: serving the ceiling on port {port}: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(crate::run(&opts)) {
        Ok(report) => {
            println!("{}", report.markdown());
            println!("written to {}", opts.out.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
