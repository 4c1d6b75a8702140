//! Both load generators send what a workload's plan says: every request of the plan's
//! method, path and body, the API keys in turn, and a fresh idempotency key on every
//! request, in every round. A server here records what arrives.
//!
//! wrk is optional on a developer's machine (the test says so and checks the built-in
//! client only); CI installs it and sets BENCH_REQUIRE_WRK=1, so there a missing wrk fails.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bench::loadgen::{Generator, Load, Plan};
use bench::workloads::Workload;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// A server answering 200 to everything, recording each request.
async fn recording_server() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string)
                        };
                        let mut s = Seen {
                            method: req.method().to_string(),
                            path: req.uri().to_string(),
                            authorization: header("authorization"),
                            idempotency_key: header("idempotency-key"),
                            content_type: header("content-type"),
                            body: Vec::new(),
                        };
                        s.body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes().to_vec())
                            .unwrap_or_default();
                        log.lock().expect("log").push(s);
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"{}",
                        ))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// Two rounds of `plan` with `generator`, then checks what the server saw.
async fn sends_the_plan(generator: Generator, plan: &Plan) {
    let (addr, seen) = recording_server().await;
    let load = Load {
        connections: 4,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(300),
        rounds: 2,
        generator,
    };
    let stats = bench::rounds::drive(addr, plan, load).await.expect("drive");
    assert_eq!(stats.errors, 0, "{generator:?}");
    let seen = seen.lock().expect("log").clone();
    assert!(
        seen.len() as u64 >= stats.requests && stats.requests > 0,
        "{generator:?}: {} seen, {} counted in the median round",
        seen.len(),
        stats.requests
    );
    let content_type = (!plan.body.is_empty()).then(|| "application/x-www-form-urlencoded".into());
    for s in &seen {
        assert_eq!(s.method, plan.method.as_str(), "{generator:?}");
        assert_eq!(s.path, plan.path, "{generator:?}");
        assert_eq!(s.body, plan.body.to_vec(), "{generator:?}");
        assert_eq!(s.content_type, content_type, "{generator:?}");
    }
    let keys: HashSet<_> = seen
        .iter()
        .filter_map(|s| s.authorization.clone())
        .collect();
    let expected: HashSet<_> = plan
        .api_keys
        .iter()
        .map(|k| format!("Bearer {k}"))
        .collect();
    assert_eq!(keys, expected, "{generator:?}: every key, and only those");
    let idempotency: Vec<_> = seen.iter().map(|s| s.idempotency_key.clone()).collect();
    if plan.idempotency_keys {
        let distinct: HashSet<_> = idempotency.iter().flatten().collect();
        assert_eq!(
            distinct.len(),
            seen.len(),
            "{generator:?}: a new idempotency key on every request, across both rounds"
        );
    } else {
        assert!(idempotency.iter().all(Option::is_none), "{generator:?}");
    }
}

async fn both_generators(plan: Plan) {
    sends_the_plan(Generator::BuiltIn, &plan).await;
    if bench::wrk::version().await.is_some() {
        sends_the_plan(Generator::Wrk { threads: 2 }, &plan).await;
    } else if std::env::var_os("BENCH_REQUIRE_WRK").is_some_and(|v| v == "1") {
        panic!("BENCH_REQUIRE_WRK=1 but no wrk runs from PATH");
    } else {
        eprintln!("wrk is not installed: only the built-in client was checked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_generators_send_fifty_keys_in_turn() {
    let plan = Workload::CreateSessionManyKeys.plan("");
    assert_eq!(plan.api_keys.len(), 50);
    both_generators(plan).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_generators_send_a_new_idempotency_key_every_time() {
    both_generators(Workload::CreateSessionIdempotent.plan("")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_generators_send_a_get_without_a_body() {
    both_generators(Workload::RetrieveSession.plan("cs_test_1")).await;
}
