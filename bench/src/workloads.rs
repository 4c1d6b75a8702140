//! The workloads of the issue, as request builders, and the data they need first.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::loadgen::{self, MakeRequest, Plan, Request};

/// The smallest Checkout Session create a real integration sends (inline price).
pub const SESSION_FORM: &str = "mode=payment&success_url=https%3A%2F%2Fshop.test%2Fok\
&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1999\
&line_items[0][price_data][product_data][name]=Tee&line_items[0][quantity]=1";

pub const CUSTOMER_FORM: &str = "email=bench%40example.com&name=Bench";

/// The account holding the `--stored` sessions that retrieve and list run against, so
/// both see the same amount of data.
pub const STORED_KEY: &str = "sk_test_bench_stored";
const CREATE_KEY: &str = "sk_test_bench_create";
const IDEMPOTENT_KEY: &str = "sk_test_bench_idempotent";
const CUSTOMER_KEY: &str = "sk_test_bench_customers";
/// Parallel CI jobs on one mock each use their own key.
pub const MANY_KEYS: usize = 50;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// The ceiling's fixed body.
    #[value(skip)]
    FixedBody,
    #[value(name = "create")]
    CreateSession,
    #[value(name = "retrieve")]
    RetrieveSession,
    #[value(name = "list")]
    ListSessions,
    #[value(name = "idempotent")]
    CreateSessionIdempotent,
    #[value(name = "many-keys")]
    CreateSessionManyKeys,
    #[value(name = "customer")]
    CreateCustomer,
    /// Retrieve's answer, byte for byte, from a bare server (see `Ceiling::answering`).
    #[value(skip)]
    RetrieveBytes,
    /// List's answer, the same way.
    #[value(skip)]
    ListBytes,
}

/// What mock-stripe is measured on, in report order, which is also the order of the
/// rounds in each pass: the rows compared with each other (50 keys with one, list with
/// retrieve) run side by side.
pub const MOCK_WORKLOADS: [Workload; 6] = [
    Workload::CreateSession,
    Workload::CreateSessionManyKeys,
    Workload::CreateSessionIdempotent,
    Workload::RetrieveSession,
    Workload::ListSessions,
    Workload::CreateCustomer,
];

impl Workload {
    /// The row this one is measured against by a target (list with retrieve, 50 keys with
    /// one key); the two run back to back in each pass, each first in turn.
    pub fn compared_with(self) -> Option<Workload> {
        match self {
            Workload::ListSessions => Some(Workload::RetrieveSession),
            Workload::ListBytes => Some(Workload::RetrieveBytes),
            Workload::CreateSessionManyKeys => Some(Workload::CreateSession),
            _ => None,
        }
    }

    pub fn label(self, stored: usize) -> String {
        match self {
            Workload::FixedBody => "fixed JSON body (ceiling)".into(),
            Workload::CreateSession => "create Checkout Session".into(),
            Workload::RetrieveSession => format!("retrieve session ({stored} stored)"),
            Workload::ListSessions => format!("list, limit 10 ({stored} stored)"),
            Workload::CreateSessionIdempotent => "create session + Idempotency-Key".into(),
            Workload::CreateSessionManyKeys => format!("create session over {MANY_KEYS} API keys"),
            Workload::CreateCustomer => "create customer".into(),
            Workload::RetrieveBytes => "retrieve's answer, same bytes".into(),
            Workload::ListBytes => "list's answer, same bytes".into(),
        }
    }

    /// What the workload sends; `retrieve_id` is a session of [`STORED_KEY`].
    pub fn plan(self, retrieve_id: &str) -> Plan {
        match self {
            Workload::FixedBody => Plan::get("/", "sk_test_ceiling"),
            Workload::CreateSession => {
                Plan::post("/v1/checkout/sessions", CREATE_KEY, SESSION_FORM)
            }
            Workload::RetrieveSession | Workload::RetrieveBytes => {
                Plan::get(format!("/v1/checkout/sessions/{retrieve_id}"), STORED_KEY)
            }
            Workload::ListSessions | Workload::ListBytes => {
                Plan::get("/v1/checkout/sessions?limit=10", STORED_KEY)
            }
            Workload::CreateSessionIdempotent => Plan {
                // New on every request, as the SDKs send: each one is a first use.
                idempotency_keys: true,
                ..Plan::post("/v1/checkout/sessions", IDEMPOTENT_KEY, SESSION_FORM)
            },
            Workload::CreateSessionManyKeys => Plan {
                api_keys: (0..MANY_KEYS)
                    .map(|i| format!("sk_test_bench_k{i}"))
                    .collect(),
                ..Plan::post("/v1/checkout/sessions", CREATE_KEY, SESSION_FORM)
            },
            Workload::CreateCustomer => Plan::post("/v1/customers", CUSTOMER_KEY, CUSTOMER_FORM),
        }
    }
}

/// Stores `stored` sessions under [`STORED_KEY`] and returns the id of one more, created
/// last, for retrieve.
pub async fn prepare(addr: SocketAddr, stored: usize, connections: usize) -> Result<String> {
    let make: MakeRequest =
        Arc::new(|_, _| Request::post("/v1/checkout/sessions", STORED_KEY, SESSION_FORM));
    let failed = loadgen::fill(addr, make, connections, stored as u64).await?;
    if failed > 0 {
        bail!("{failed} of {stored} session creations failed while loading data");
    }
    created_id(
        addr,
        &Request::post("/v1/checkout/sessions", STORED_KEY, SESSION_FORM),
    )
    .await
}

/// Sends `req` on a fresh connection and returns the body of its 2xx answer.
pub async fn answer(addr: SocketAddr, req: &Request) -> Result<bytes::Bytes> {
    let (status, body) = loadgen::once(addr, req).await?;
    if !status.is_success() {
        bail!(
            "{} {} answered {status}: {}",
            req.method,
            req.path,
            String::from_utf8_lossy(&body)
        );
    }
    Ok(body)
}

/// Sends a create and returns the new object's `id`.
pub async fn created_id(addr: SocketAddr, req: &Request) -> Result<String> {
    let body = answer(addr, req).await?;
    let v: serde_json::Value = serde_json::from_slice(&body).context("answer is not JSON")?;
    v["id"]
        .as_str()
        .map(str::to_string)
        .context("answer has no id")
}
