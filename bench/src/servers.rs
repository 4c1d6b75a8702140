//! What the benchmark drives: the ceiling (a bare hyper server), mock-stripe in process,
//! mock-stripe's release binary as a child (start-up and memory need a process of its
//! own), and the peers when they are installed.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::process::{Child, Command};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::loadgen::{self, Request};

/// The fixed answer of the ceiling: about the size of a small Stripe object's head, so the
/// ceiling measures HTTP and the load generator, not serialisation.
const CEILING_BODY: &str =
    r#"{"id":"cs_test_ceiling","object":"checkout.session","livemode":false,"status":"open"}"#;

/// A bare hyper 1 server answering every request with [`CEILING_BODY`]: what one machine
/// can do over HTTP/1.1 with this load generator. It also serves as the webhook sink.
pub struct Ceiling {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Ceiling {
    pub async fn start() -> Result<Ceiling> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, ceiling_body(), CEILING_HEADERS));
        Ok(Ceiling { addr, task })
    }

    /// A bare server answering every request with `body` under mock-stripe's answer
    /// headers (in this process): what the bytes of one of mock-stripe's answers cost by
    /// themselves, with nothing computed.
    pub async fn answering(body: Bytes) -> Result<Ceiling> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(serve(listener, body, MOCK_ANSWER_HEADERS));
        Ok(Ceiling { addr, task })
    }
}

/// The ceiling in this process until it ends: `bench --serve-ceiling PORT`.
pub async fn serve_ceiling(port: u16) -> Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    serve(listener, ceiling_body(), CEILING_HEADERS).await;
    Ok(())
}

fn ceiling_body() -> Bytes {
    Bytes::from_static(CEILING_BODY.as_bytes())
}

/// The ceiling's one header.
const CEILING_HEADERS: &[(&str, &str)] = &[("content-type", "application/json")];

/// The headers mock-stripe sends with an answer (values fixed), so that a bare server
/// answering one of its bodies puts the same bytes on the wire.
const MOCK_ANSWER_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/json"),
    ("cache-control", "no-cache, no-store"),
    ("stripe-version", mock_stripe::DEFAULT_API_VERSION),
    ("request-id", "req_BareServer0000"),
];

/// Answers every request on every connection with `body` under `headers`.
async fn serve(
    listener: TcpListener,
    body: Bytes,
    headers: &'static [(&'static str, &'static str)],
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req| {
                let mut answer = hyper::Response::builder();
                for &(name, value) in headers {
                    answer = answer.header(name, value);
                }
                let answer = answer.body(Full::new(body.clone())).unwrap_or_default();
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the server rows' ceiling runs: in this process, or in one of its own
/// (`--own-processes`).
pub enum CeilingServer {
    InProcess(Ceiling),
    Own(Process),
}

impl CeilingServer {
    pub async fn start(own_process: bool, bin: Option<&Path>) -> Result<CeilingServer> {
        if !own_process {
            return Ok(CeilingServer::InProcess(Ceiling::start().await?));
        }
        let bin = bench_binary(bin)?;
        let port = free_port()?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--serve-ceiling", &port.to_string()]);
        Process::spawn(
            cmd,
            (Ipv4Addr::LOCALHOST, port).into(),
            Request::get("/", "sk_test_ceiling"),
            Duration::from_secs(10),
        )
        .await
        .map(CeilingServer::Own)
        .with_context(|| format!("starting the ceiling: {} --serve-ceiling", bin.display()))
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            CeilingServer::InProcess(c) => c.addr,
            CeilingServer::Own(p) => p.addr,
        }
    }
}

/// Where the server rows' mock-stripe runs: in this process, or its binary in one of its
/// own (`--own-processes`).
pub enum MockServer {
    InProcess(mock_stripe::MockStripe),
    Own(Process),
}

impl MockServer {
    pub async fn start(own_process: bool, bin: Option<&Path>) -> Result<MockServer> {
        if own_process {
            let bin = mock_binary(bin).await?;
            return Ok(MockServer::Own(spawn_mock(&bin).await?));
        }
        let config = mock_stripe::Config {
            port: 0,
            ..Default::default()
        };
        // Not `start(..).await`: see `MockStripe::spawn`.
        mock_stripe::MockStripe::spawn(config)
            .map(MockServer::InProcess)
            .context("starting mock-stripe in process")
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            MockServer::InProcess(m) => m.local_addr(),
            MockServer::Own(p) => p.addr,
        }
    }

    pub async fn stop(self) {
        match self {
            MockServer::InProcess(m) => m.shutdown().await,
            // Killed when dropped.
            MockServer::Own(p) => drop(p),
        }
    }
}

/// The program that serves the ceiling in a process of its own: `explicit` (a test passes
/// the binary cargo built for it), else this one when it is the bench binary, else the
/// bench binary cargo builds.
fn bench_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    if explicit.is_none() && exe.file_stem().is_some_and(|stem| stem == "bench") {
        return Ok(exe);
    }
    workspace_binary("bench", explicit, "leave out --own-processes")
}

/// A port free right now (the child binds it a moment later; on loopback nobody races us).
pub fn free_port() -> Result<u16> {
    Ok(StdListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The `mock-stripe` binary of the same profile as this program (see [`workspace_binary`]).
pub async fn mock_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    workspace_binary("mock-stripe", explicit, "pass --mock-bin")
}

/// The `storefront` binary of the same profile as this program (see [`workspace_binary`]).
pub async fn storefront_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    workspace_binary("storefront", explicit, "pass --storefront-bin")
}

/// The binary of workspace package `name` (its binary has the package's name), of the same
/// profile as this program: next to it (`target/release/bench` → `target/release/NAME`;
/// tests run from `deps/`), else built with cargo, since `cargo run -p bench` builds only
/// bench. `otherwise` says what else the user can do, for the error when neither works.
fn workspace_binary(name: &str, explicit: Option<&Path>, otherwise: &str) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe()?;
    let find = || {
        exe.ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
            .find(|p| p.is_file())
    };
    let release = !cfg!(debug_assertions);
    // Always ask cargo: a stale binary next to us would measure old code. When it is up to
    // date this is a no-op of a second.
    match crate::workspace::own_workspace() {
        Some(workspace) => {
            let mut cmd = Command::new(crate::workspace::cargo());
            cmd.args(["build", "--quiet", "-p", name, "--bin", name])
                .arg("--manifest-path")
                .arg(workspace.join("Cargo.toml"));
            if release {
                cmd.arg("--release");
            }
            // Blocking on purpose: nothing else runs yet (tokio's `process` feature would
            // change the workspace's tokio build).
            match cmd.status() {
                Ok(s) if s.success() => {}
                Ok(s) => eprintln!("note: building {name} failed ({s}); using any binary found"),
                Err(e) => eprintln!("note: cannot run cargo ({e}); using any binary found"),
            }
        }
        None => eprintln!(
            "note: the workspace this program was built from is gone; using any {name} binary found"
        ),
    }
    find().ok_or_else(|| {
        anyhow!(
            "no {name} binary next to {}; build it (cargo build {}-p {name}) or {otherwise}",
            exe.display(),
            if release { "--release " } else { "" }
        )
    })
}

/// A child process serving HTTP on `addr`; killed when dropped.
pub struct Process {
    pub addr: SocketAddr,
    pub child: Child,
    /// Launch to first successful answer of [`Process::spawn`]'s probe.
    pub startup: Duration,
}

impl Process {
    /// Spawns `cmd`, then polls `probe` until it answers 2xx (the start-up time).
    pub async fn spawn(
        mut cmd: Command,
        addr: SocketAddr,
        probe: Request,
        patience: Duration,
    ) -> Result<Process> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let launched = Instant::now();
        let mut child = cmd.spawn().context("spawning")?;
        loop {
            if let Ok((status, _)) = loadgen::once(addr, &probe).await
                && status.is_success()
            {
                return Ok(Process {
                    addr,
                    child,
                    startup: launched.elapsed(),
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!("exited before answering ({status})");
            }
            if launched.elapsed() > patience {
                bail!("no answer on {addr} after {patience:?}");
            }
            // Fine-grained: start-up is expected in single-digit milliseconds.
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    /// A child outliving the run would keep its port and skew the next one.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// mock-stripe's binary on a free port; its start-up time is [`Process::startup`].
pub async fn spawn_mock(bin: &Path) -> Result<Process> {
    let port = free_port()?;
    let mut cmd = Command::new(bin);
    cmd.args(["--port", &port.to_string()]);
    let probe = Request {
        api_key: None,
        ..Request::get("/_config/health", "")
    };
    Process::spawn(
        cmd,
        (Ipv4Addr::LOCALHOST, port).into(),
        probe,
        Duration::from_secs(10),
    )
    .await
    .with_context(|| format!("starting {}", bin.display()))
}

/// A peer fake Stripe that may be installed. `Err` carries the note to print when it is not.
pub async fn spawn_peer(name: &str) -> Result<Process, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let (cmd, how) = match name {
        "localstripe" => {
            let installed = Command::new("python3")
                .args(["-c", "import localstripe"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !installed {
                return Err("localstripe skipped: not installed (pip install localstripe)".into());
            }
            let mut cmd = Command::new("python3");
            // A clean store: localstripe otherwise reloads what an earlier run pickled.
            cmd.args([
                "-m",
                "localstripe",
                "--from-scratch",
                "--port",
                &port.to_string(),
            ]);
            (cmd, "python3 -m localstripe")
        }
        "stripe-stateful-mock" => {
            let Some(bin) = which("stripe-stateful-mock") else {
                return Err(
                    "stripe-stateful-mock skipped: not installed (npm install -g stripe-stateful-mock)"
                        .into(),
                );
            };
            let mut cmd = Command::new(bin);
            // It reads its port from the environment.
            cmd.env("PORT", port.to_string());
            (cmd, "stripe-stateful-mock")
        }
        other => return Err(format!("unknown peer {other}")),
    };
    // Every peer lists customers; that answer means it is ready.
    let probe = Request::get("/v1/customers?limit=1", "sk_test_bench_probe");
    Process::spawn(
        cmd,
        (Ipv4Addr::LOCALHOST, port).into(),
        probe,
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| format!("{name} skipped: {how} did not start: {e:#}"))
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}
