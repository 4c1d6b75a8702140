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
    /// Where bench.md and bench.json go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
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
    pub connections: usize,
    pub stored: usize,
    pub idempotent: u64,
    pub peers: bool,
    pub mock_bin: Option<PathBuf>,
    pub out: PathBuf,
}

impl Opts {
    pub fn settings(&self) -> Settings {
        let q = self.quick;
        Settings {
            duration: Duration::from_secs_f64(self.duration.unwrap_or(if q { 1.0 } else { 10.0 })),
            warmup: Duration::from_secs_f64(self.warmup.unwrap_or(if q { 0.2 } else { 1.0 })),
            connections: usize::from(self.connections),
            stored: self.stored.unwrap_or(if q { 2_000 } else { 100_000 }),
            idempotent: self.idempotent.unwrap_or(if q { 5_000 } else { 1_000_000 }),
            peers: !self.no_peers,
            mock_bin: self.mock_bin.clone(),
            out: self.out.clone(),
        }
    }
}
