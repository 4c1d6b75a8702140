//! Load: what a workload sends ([`Plan`]), one measured round with either load generator
//! ([`round`]: wrk when installed, see [`crate::wrk`], or the built-in one here), and the
//! set-up calls. How rounds make rows and ratios is [`crate::rounds`].
//!
//! The built-in load generator: one HTTP/1.1 keep-alive connection per worker, each worker
//! sending its next request as soon as the previous answer is read (closed loop, as wrk
//! does). Requests started during the warm-up are sent but not counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http::{Method, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::rounds::Stats;

/// One request, as a workload describes it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// Sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    pub idempotency_key: Option<String>,
    /// Form-encoded; empty for GET.
    pub body: Bytes,
}

impl Request {
    pub fn get(path: impl Into<String>, api_key: &str) -> Request {
        Request {
            method: Method::GET,
            path: path.into(),
            api_key: Some(api_key.to_string()),
            idempotency_key: None,
            body: Bytes::new(),
        }
    }

    pub fn post(path: impl Into<String>, api_key: &str, body: impl Into<Bytes>) -> Request {
        Request {
            method: Method::POST,
            path: path.into(),
            api_key: Some(api_key.to_string()),
            idempotency_key: None,
            body: body.into(),
        }
    }
}

/// Builds the request a worker sends next: `(worker index, that worker's sequence number)`.
/// Shared by every worker, so it must be cheap and lock-free.
pub type MakeRequest = Arc<dyn Fn(usize, u64) -> Request + Send + Sync>;

/// What a measured workload sends, as data, so that both load generators send the same
/// requests: the built-in client builds them ([`Plan::make`]) and wrk runs a script written
/// from them ([`crate::wrk::script`]).
#[derive(Clone, Debug)]
pub struct Plan {
    pub method: Method,
    pub path: String,
    /// One per request, in turn (`Authorization: Bearer …`).
    pub api_keys: Vec<String>,
    /// Form-encoded; empty for GET.
    pub body: Bytes,
    /// A new `Idempotency-Key` on every request, as the SDKs send.
    pub idempotency_keys: bool,
}

impl Plan {
    pub fn get(path: impl Into<String>, api_key: &str) -> Plan {
        Plan {
            method: Method::GET,
            path: path.into(),
            api_keys: vec![api_key.to_string()],
            body: Bytes::new(),
            idempotency_keys: false,
        }
    }

    pub fn post(path: impl Into<String>, api_key: &str, body: &'static str) -> Plan {
        Plan {
            method: Method::POST,
            path: path.into(),
            api_keys: vec![api_key.to_string()],
            body: Bytes::from_static(body.as_bytes()),
            idempotency_keys: false,
        }
    }

    /// The built-in client's requests, idempotency keys under a [`round_prefix`] of their
    /// own.
    pub fn make(&self) -> MakeRequest {
        let prefix = round_prefix();
        let plan = self.clone();
        Arc::new(move |w, seq| {
            let key = &plan.api_keys[(w + seq as usize) % plan.api_keys.len().max(1)];
            Request {
                method: plan.method.clone(),
                path: plan.path.clone(),
                api_key: Some(key.clone()),
                idempotency_key: plan.idempotency_keys.then(|| format!("{prefix}-{w}-{seq}")),
                body: plan.body.clone(),
            }
        })
    }
}

/// A prefix for a round's idempotency keys that no other round of this run uses, in
/// either generator: the mock keeps the keys it has seen, and a key sent again is a
/// replay, not the first use the workload measures.
pub fn round_prefix() -> String {
    static ROUND: AtomicU64 = AtomicU64::new(0);
    format!("bench-{}", ROUND.fetch_add(1, Ordering::Relaxed))
}

/// Which program sends the measured requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generator {
    /// The one in this module, in the bench's process.
    BuiltIn,
    /// wrk, a process per round, with this many threads.
    Wrk { threads: usize },
}

/// How hard and how long to drive a target.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Measured runs per workload (see [`crate::rounds::drive`]); at least 1.
    pub rounds: usize,
    pub generator: Generator,
}

/// A keep-alive connection to `addr`.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    // Small requests and answers: Nagle would add delayed-ACK stalls to every round trip.
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection ends when the worker drops its sender; errors show up there too.
        let _ = conn.await;
    });
    Ok(sender)
}

fn to_http(addr: SocketAddr, r: &Request) -> Result<http::Request<Full<Bytes>>> {
    let mut b = http::Request::builder()
        .method(r.method.clone())
        .uri(&r.path)
        .header(header::HOST, addr.to_string());
    if let Some(k) = &r.api_key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
    }
    if let Some(k) = &r.idempotency_key {
        b = b.header("idempotency-key", k);
    }
    if !r.body.is_empty() {
        b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    Ok(b.body(Full::new(r.body.clone()))?)
}

/// Sends `req` on `sender` and reads the whole answer.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    req: &Request,
) -> Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let resp = sender.send_request(to_http(addr, req)?).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One measured request: the status, with the body read to its end and dropped frame by
/// frame, as wrk does (collecting it would copy a 37 KB list answer once more in the
/// load generator, which shares the server's cores).
async fn exchange_drained(
    sender: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    req: &Request,
) -> Result<StatusCode> {
    sender.ready().await?;
    let resp = sender.send_request(to_http(addr, req)?).await?;
    let status = resp.status();
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

/// Sends a request built by the caller (any headers) and reads the whole answer: the
/// purchase flows need cookies and redirects, which [`Request`] does not carry.
pub async fn send_raw(
    sender: &mut SendRequest<Full<Bytes>>,
    req: http::Request<Full<Bytes>>,
) -> Result<http::Response<Bytes>> {
    sender.ready().await?;
    let (parts, body) = sender.send_request(req).await?.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(http::Response::from_parts(parts, body))
}

/// One request on a fresh connection: set-up calls (an id to retrieve, an endpoint).
pub async fn once(addr: SocketAddr, req: &Request) -> Result<(StatusCode, Bytes)> {
    let mut sender = connect(addr).await?;
    exchange(&mut sender, addr, req).await
}

/// One round, with the load generator `load` names.
pub async fn round(addr: SocketAddr, plan: &Plan, load: Load) -> Result<Stats> {
    match load.generator {
        Generator::BuiltIn => built_in_round(addr, plan.make(), load).await,
        Generator::Wrk { threads } => crate::wrk::round(addr, plan, load, threads).await,
    }
}

/// One round of the built-in client: `load.connections` workers for warm-up + duration,
/// measuring the window after the warm-up.
async fn built_in_round(addr: SocketAddr, make: MakeRequest, load: Load) -> Result<Stats> {
    let measure_from = Instant::now() + load.warmup;
    let end = measure_from + load.duration;
    let mut workers = Vec::with_capacity(load.connections);
    for w in 0..load.connections {
        let make = make.clone();
        workers.push(tokio::spawn(async move {
            worker(addr, w, make, measure_from, end).await
        }));
    }
    let mut latencies_us: Vec<u32> = Vec::new();
    let mut errors = 0;
    for h in workers {
        let (lat, err) = h.await?;
        latencies_us.extend(lat);
        errors += err;
    }
    if latencies_us.is_empty() {
        return Err(anyhow!(
            "no successful request to {addr} in {:?} ({errors} errors)",
            load.duration
        ));
    }
    latencies_us.sort_unstable();
    Ok(Stats {
        requests: latencies_us.len() as u64,
        errors,
        rate: latencies_us.len() as f64 / load.duration.as_secs_f64(),
        p50_ms: percentile_ms(&latencies_us, 0.50),
        p99_ms: percentile_ms(&latencies_us, 0.99),
        max_ms: percentile_ms(&latencies_us, 1.0),
        round_rates: Vec::new(),
        ceiling_round_rates: Vec::new(),
        remeasured: 0,
    })
}

/// The `p` quantile (nearest rank) of sorted microseconds, in milliseconds; 0 when empty.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * p).ceil() as usize).saturating_sub(1);
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}

async fn worker(
    addr: SocketAddr,
    w: usize,
    make: MakeRequest,
    measure_from: Instant,
    end: Instant,
) -> (Vec<u32>, u64) {
    let mut lat = Vec::new();
    let mut errors = 0u64;
    let mut sender = None;
    let mut seq = 0u64;
    while Instant::now() < end {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match connect(addr).await {
                Ok(s) => sender.insert(s),
                Err(_) => {
                    errors += 1;
                    // A refused connection would otherwise spin a core.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        let req = make(w, seq);
        seq += 1;
        let t0 = Instant::now();
        let ok = match exchange_drained(s, addr, &req).await {
            Ok(status) => status.is_success(),
            Err(_) => {
                // The connection is unusable after a transport error: reconnect.
                sender = None;
                false
            }
        };
        if t0 >= measure_from {
            if ok {
                let us = t0.elapsed().as_micros();
                lat.push(u32::try_from(us).unwrap_or(u32::MAX));
            } else {
                errors += 1;
            }
        }
    }
    (lat, errors)
}

/// Sends exactly `total` requests over `connections` connections (loading data, not
/// measuring). Returns how many failed.
pub async fn fill(
    addr: SocketAddr,
    make: MakeRequest,
    connections: usize,
    total: u64,
) -> Result<u64> {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..connections.max(1) {
        let (make, next, failed) = (make.clone(), next.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                match exchange(&mut sender, addr, &make(w, i)).await {
                    Ok((status, _)) if status.is_success() => {}
                    Ok(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        sender = connect(addr).await?;
                    }
                }
            }
        }));
    }
    for h in workers {
        h.await??;
    }
    Ok(failed.load(Ordering::Relaxed))
}
