//! Resources of mock-stripe's own process: start-up time and resident memory as data
//! accumulates. These need the binary as a child: in process, the load generator's
//! memory would be counted too.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::loadgen::{self, MakeRequest, Request};
use crate::report::Resource;
use crate::servers;
use crate::workloads::{self, CUSTOMER_FORM, SESSION_FORM};

/// mock-stripe's default `--delivery-log` (attempts kept per account).
const DELIVERY_LOG: u64 = 1000;

/// Resident memory of `pid` in KiB, from `/proc/<pid>/status` (Linux only).
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS line")
}

pub struct Counts {
    pub sessions: usize,
    pub idempotent: u64,
    pub connections: usize,
}

/// Launches of the binary for the start-up figure.
const STARTUP_LAUNCHES: usize = 5;

/// Start-up, idle memory, then memory after each kind of data, in one child process.
/// `ceiling`: a server answering 200 to anything, the webhook endpoint of the last figure.
pub async fn measure(bin: &Path, ceiling: SocketAddr, n: Counts) -> Result<Vec<Resource>> {
    let mut out = Vec::new();
    // One launch can land beside something else's work (this process returning the memory
    // of the workloads before it, a peer's exit): 5–46 ms from the same binary in five
    // runs, 3 ms alone. The median of several launches is the typical figure.
    let mut startups = Vec::with_capacity(STARTUP_LAUNCHES);
    for _ in 1..STARTUP_LAUNCHES {
        startups.push(servers::spawn_mock(bin).await?.startup);
    }
    let mock = servers::spawn_mock(bin).await?;
    startups.push(mock.startup);
    startups.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pid = mock.pid();
    out.push(Resource::new(
        "start-up (launch to first answer)",
        ms(startups[startups.len() / 2]),
        "ms",
        &format!(
            "median of {STARTUP_LAUNCHES} launches ({:.1}–{:.1} ms): spawn, then GET /_config/health every 0.2 ms",
            ms(startups[0]),
            ms(startups[startups.len() - 1])
        ),
    ));
    // Let lazily started tasks settle before calling it idle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_kib(pid)?;
    out.push(Resource::new("RSS idle", mib(idle), "MiB", ""));

    let sessions: MakeRequest =
        Arc::new(|_, _| Request::post("/v1/checkout/sessions", "sk_test_bench_mem", SESSION_FORM));
    let failed = loadgen::fill(mock.addr, sessions, n.connections, n.sessions as u64).await?;
    if failed > 0 {
        bail!("{failed} session creations failed");
    }
    let with_sessions = rss_kib(pid)?;
    out.push(Resource::new(
        &format!("RSS after {} sessions", n.sessions),
        mib(with_sessions),
        "MiB",
        "",
    ));
    out.push(Resource::new(
        "memory per stored session",
        with_sessions.saturating_sub(idle) as f64 * 1024.0 / n.sessions.max(1) as f64 / 1000.0,
        "KB",
        "(RSS after − idle) ÷ sessions",
    ));

    // A new key on every request, as the SDKs send, on customer creates (the smallest
    // object a create makes). What grows is the customers and their `customer.created`
    // events (Stripe keeps both) plus the idempotency store, which must stay bounded. To
    // tell them apart, the same number of creates without keys runs first on another
    // account: the key store's share is the difference.
    let half = n.idempotent / 2;
    let plain: MakeRequest =
        Arc::new(|_, _| Request::post("/v1/customers", "sk_test_bench_plain", CUSTOMER_FORM));
    let before = rss_kib(pid)?;
    let failed = loadgen::fill(mock.addr, plain, n.connections, half).await?;
    if failed > 0 {
        bail!("{failed} customer creations failed");
    }
    let after_plain = rss_kib(pid)?;
    let objects = after_plain.saturating_sub(before) as i64;
    out.push(Resource::new(
        &format!("RSS after {half} creates without keys"),
        mib(after_plain),
        "MiB",
        &format!(
            "+{:.1} MiB: {half} customers and their events",
            mib(objects as u64)
        ),
    ));
    let idem: MakeRequest = Arc::new(|w, seq| Request {
        idempotency_key: Some(format!("mem-{w}-{seq}")),
        ..Request::post("/v1/customers", "sk_test_bench_idem", CUSTOMER_FORM)
    });
    let mut before = after_plain;
    for (done, count) in [(half, half), (n.idempotent, n.idempotent - half)] {
        let failed = loadgen::fill(mock.addr, idem.clone(), n.connections, count).await?;
        if failed > 0 {
            bail!("{failed} idempotent creations failed");
        }
        let now = rss_kib(pid)?;
        let grew = now.saturating_sub(before) as i64;
        out.push(Resource::new(
            &format!("RSS after {done} idempotent creates"),
            mib(now),
            "MiB",
            &format!(
                "+{:.1} MiB over the last {count}; the key store's share {:+.1} MiB (growth − the same creates without keys)",
                mib(grew as u64),
                (grew - objects) as f64 / 1024.0
            ),
        ));
        before = now;
    }

    // Delivery log full: an endpoint on its own account pointing at the ceiling (always
    // 200), and more deliveries than the log keeps.
    let key = "sk_test_bench_hooks";
    let form = format!("url=http%3A%2F%2F{}%2Fhook&enabled_events[]=*", ceiling);
    workloads::created_id(
        mock.addr,
        &Request::post("/v1/webhook_endpoints", key, form),
    )
    .await?;
    let customers: MakeRequest =
        Arc::new(move |_, _| Request::post("/v1/customers", key, CUSTOMER_FORM));
    let total = DELIVERY_LOG + DELIVERY_LOG / 10;
    let failed = loadgen::fill(mock.addr, customers, n.connections, total).await?;
    if failed > 0 {
        bail!("{failed} customer creations failed");
    }
    // Deliveries run after the answers; give them time to be attempted and logged.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let full = rss_kib(pid)?;
    out.push(Resource::new(
        "RSS with the delivery log full",
        mib(full),
        "MiB",
        &format!("{total} deliveries to one account (log keeps {DELIVERY_LOG})"),
    ));
    Ok(out)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
