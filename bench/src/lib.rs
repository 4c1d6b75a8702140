//! The benchmark of issue 9: mock-stripe against the physical ceiling (a bare hyper
//! server) and its peers, in one run on one machine, with one load generator.
//!
//! `servers` starts what is measured, `loadgen` drives it, `workloads` says what to send,
//! `memory` measures the binary's own process, `flows` runs whole purchases through the
//! storefront and mock-stripe binaries, `clean_build` times the workspace's release build,
//! `workspace` finds that workspace and its cargo, `report` writes the table.

pub mod clean_build;
pub mod cli;
pub mod flows;
pub mod loadgen;
pub mod memory;
pub mod report;
pub mod rounds;
pub mod servers;
pub mod workloads;
pub mod workspace;
pub mod wrk;

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};

use crate::cli::LoadGenerator;
use crate::loadgen::{Generator, Load};
use crate::report::{PeerComparison, Report};
use crate::servers::{CeilingServer, MockServer};
use crate::workloads::Workload;

pub const MOCK: &str = "mock-stripe";
/// The rows of mock-stripe's answers served by a bare server (`Ceiling::answering`).
pub const BARE: &str = "bare server";
/// The peers, each with issue 9's target for mock-stripe's customer creation over its own.
const PEERS: [(&str, f64); 2] = [("localstripe", 500.0), ("stripe-stateful-mock", 10.0)];

/// Runs everything `opts` asks for, writes the report into `opts.out`, and returns it.
pub async fn run(opts: &cli::Opts) -> Result<Report> {
    let s = opts.settings().map_err(anyhow::Error::msg)?;
    let (generator, load_generator) = load_generator(&s).await?;
    let load = Load {
        connections: s.connections,
        warmup: s.warmup,
        duration: s.duration,
        rounds: s.rounds,
        generator,
    };
    let mut report = Report {
        machine: machine(),
        command: command_line(),
        load_generator,
        servers: if s.own_processes {
            "the ceiling and mock-stripe each in a process of its own (--own-processes)"
        } else {
            "the ceiling and mock-stripe in the load generator's process and runtime"
        }
        .into(),
        connections: s.connections,
        duration_s: s.duration.as_secs_f64(),
        warmup_s: s.warmup.as_secs_f64(),
        rounds: s.rounds,
        stored: s.stored,
        rows: Vec::new(),
        resources: Vec::new(),
        flows: Vec::new(),
        list_over_retrieve: None,
        bare_list_over_retrieve: None,
        many_keys_over_one: None,
        customers_over_peers: Vec::new(),
        clean_build: None,
        notes: Vec::new(),
    };

    if !s.flows_only {
        servers_and_peers(&s, load, &mut report).await?;
    }
    if !s.api_only {
        purchase_flows(&s, load, &mut report).await?;
    }
    // A build that fails is the run's error, but only after the report is written: the
    // figures before it took minutes too.
    let mut build_failed = None;
    match &s.clean_build {
        Some(workspace) => {
            progress(&format!("clean release build of {}", workspace.display()));
            match clean_build::measure(workspace, &s.out).await {
                Ok(build) => report.clean_build = Some(build),
                Err(e) => {
                    report
                        .notes
                        .push(format!("The clean release build failed: {e:#}"));
                    build_failed = Some(e);
                }
            }
        }
        None => report.notes.push(
            "The clean release build of the workspace was not measured in this run: --clean-build measures it (minutes of both cores).".into(),
        ),
    }

    report.write(&s.out)?;
    match build_failed {
        Some(e) => Err(e.context(format!(
            "the other figures are written to {}",
            s.out.display()
        ))),
        None => Ok(report),
    }
}

/// The load generator the settings ask for, and how the report names it.
async fn load_generator(s: &cli::Settings) -> Result<(Generator, String)> {
    const BUILT_IN: &str = "built-in Rust client (hyper 1, HTTP/1.1 keep-alive, closed loop)";
    let wrk = match s.load_generator {
        LoadGenerator::BuiltIn => None,
        LoadGenerator::Auto | LoadGenerator::Wrk => wrk::version().await,
    };
    Ok(match (wrk, s.load_generator) {
        (Some(version), _) => {
            // As the baseline ran it: a thread per core.
            let threads = std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(s.connections);
            let rounded = [s.duration, s.warmup]
                .iter()
                .any(|d| !d.is_zero() && d.as_secs_f64().fract() != 0.0);
            let generator = format!(
                "{version}, {threads} threads, every request from one Lua function{}; purchase flows: the {BUILT_IN}",
                if rounded {
                    " (durations rounded up to whole seconds)"
                } else {
                    ""
                }
            );
            (Generator::Wrk { threads }, generator)
        }
        (None, LoadGenerator::Wrk) => {
            bail!("--load-generator wrk: no `wrk` runs from PATH (install it, or use auto)")
        }
        (None, LoadGenerator::BuiltIn) => (
            Generator::BuiltIn,
            format!("{BUILT_IN}; chosen with --load-generator built-in"),
        ),
        (None, LoadGenerator::Auto) => {
            (Generator::BuiltIn, format!("{BUILT_IN}; wrk not installed"))
        }
    })
}

/// The ceiling and mock-stripe's workloads (in this process, or each server in its own with
/// `--own-processes`), the peers, and the binary's resources.
async fn servers_and_peers(s: &cli::Settings, load: Load, report: &mut Report) -> Result<()> {
    let ceiling = CeilingServer::start(s.own_processes, s.ceiling_bin.as_deref()).await?;
    progress("ceiling");
    let stats = rounds::drive(ceiling.addr(), &Workload::FixedBody.plan(""), load).await?;
    report.push("ceiling", Workload::FixedBody, &stats);

    let mock = MockServer::start(s.own_processes, s.mock_bin.as_deref()).await?;
    progress(&format!("storing {} sessions", s.stored));
    let retrieve_id = workloads::prepare(mock.addr(), s.stored, s.connections).await?;
    progress(&format!(
        "{} passes over {} workloads",
        load.rounds.max(1),
        s.workloads.len()
    ));
    // Beside retrieve and list, their answers byte for byte from bare servers: what the
    // bytes alone allow (a list's 27 KB costs any server more than retrieve's 2.3 KB).
    let mut measured: Vec<(&str, Workload, SocketAddr)> = s
        .workloads
        .iter()
        .map(|&w| (MOCK, w, mock.addr()))
        .collect();
    let mut bare_servers = Vec::new();
    if s.workloads.contains(&Workload::RetrieveSession)
        && s.workloads.contains(&Workload::ListSessions)
    {
        for w in [Workload::RetrieveBytes, Workload::ListBytes] {
            let body = workloads::answer(mock.addr(), &(w.plan(&retrieve_id).make())(0, 0)).await?;
            report.notes.push(format!(
                "{BARE}, {}: {} bytes, under mock-stripe's answer headers.",
                w.label(s.stored),
                body.len()
            ));
            let server = servers::Ceiling::answering(body).await?;
            measured.push((BARE, w, server.addr));
            bare_servers.push(server);
        }
    }
    let workloads: Vec<_> = measured
        .iter()
        .enumerate()
        .map(|(i, &(target, w, addr))| rounds::Row {
            name: format!("{target}: {}", w.label(s.stored)),
            addr,
            plan: w.plan(&retrieve_id),
            follows_previous: i > 0 && w.compared_with() == Some(measured[i - 1].1),
        })
        .collect();
    let rows = rounds::drive_interleaved(
        ceiling.addr(),
        &Workload::FixedBody.plan(""),
        &workloads,
        load,
    )
    .await
    .context("mock-stripe")?;
    drop(bare_servers);
    for (&(target, w, _), stats) in measured.iter().zip(&rows) {
        report.push(target, w, stats);
    }
    let stats_of = |w: Workload| measured.iter().position(|m| m.1 == w).map(|i| &rows[i]);
    // A row over the one it is compared with (`Workload::compared_with` names the pairs).
    let compared = |w: Workload| stats_of(w)?.ratio_over(stats_of(w.compared_with()?)?);
    report.list_over_retrieve = compared(Workload::ListSessions);
    report.bare_list_over_retrieve = compared(Workload::ListBytes);
    report.many_keys_over_one = compared(Workload::CreateSessionManyKeys);

    for (name, target) in PEERS {
        if !s.peers {
            report.notes.push(format!("{name} skipped: --no-peers"));
            continue;
        }
        progress(name);
        match servers::spawn_peer(name).await {
            // The one workload every peer can do, paired with mock-stripe's: the two run
            // back to back in each pass, each first in turn, so that their ratio is not
            // two phases of this machine minutes apart (see `drive_interleaved`).
            Ok(peer) => {
                let row = |name: &str, addr, follows_previous| rounds::Row {
                    name: format!("{name}: create customer"),
                    addr,
                    plan: Workload::CreateCustomer.plan(""),
                    follows_previous,
                };
                let pair = [row(MOCK, mock.addr(), false), row(name, peer.addr, true)];
                let stats = rounds::drive_interleaved(
                    ceiling.addr(),
                    &Workload::FixedBody.plan(""),
                    &pair,
                    load,
                )
                .await;
                match stats {
                    Ok(stats) => {
                        report.push(name, Workload::CreateCustomer, &stats[1]);
                        if let Some(c) = stats[0].ratio_over(&stats[1]) {
                            report.customers_over_peers.push(PeerComparison {
                                peer: name.to_string(),
                                target,
                                comparison: c,
                            });
                        }
                    }
                    Err(e) => report
                        .notes
                        .push(format!("{name}: create customer failed: {e:#}")),
                }
            }
            Err(note) => report.notes.push(note),
        }
    }
    mock.stop().await;

    if s.api_only {
        return Ok(());
    }
    progress("start-up and memory of the mock-stripe binary");
    let bin = servers::mock_binary(s.mock_bin.as_deref()).await?;
    report.resources = memory::measure(
        &bin,
        ceiling.addr(),
        memory::Counts {
            sessions: s.stored,
            idempotent: s.idempotent,
            connections: s.connections,
        },
    )
    .await
    .context("measuring the mock-stripe binary")?;
    Ok(())
}

/// Whole purchases through the storefront and mock-stripe binaries, per database and
/// number of shoppers.
async fn purchase_flows(s: &cli::Settings, load: Load, report: &mut Report) -> Result<()> {
    let mock_bin = servers::mock_binary(s.mock_bin.as_deref()).await?;
    let shop_bin = servers::storefront_binary(s.storefront_bin.as_deref()).await?;
    let mut databases = vec![flows::Database::Sqlite];
    match &s.postgres {
        Some(admin_url) => databases.push(flows::Database::Postgres {
            admin_url: admin_url.clone(),
        }),
        None => report.notes.push(
            "Purchase flows on PostgreSQL skipped: no server given (--postgres ADMIN_URL or TEST_POSTGRES_URL).".into(),
        ),
    }
    for db in &databases {
        for &shoppers in &s.shoppers {
            progress(&format!(
                "purchase flows, {shoppers} shoppers, {}",
                db.label()
            ));
            let row = flows::measure(&mock_bin, &shop_bin, db, shoppers, load)
                .await
                .with_context(|| format!("purchase flows, {shoppers} shoppers, {}", db.label()))?;
            report.flows.push(row);
        }
    }
    Ok(())
}

fn progress(what: &str) {
    eprintln!("bench: {what}…");
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), {}", std::env::consts::OS)
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo run --release -p bench -- {}", args.join(" "))
        .trim_end()
        .to_string()
}
