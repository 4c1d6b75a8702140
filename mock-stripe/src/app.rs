//! `App`: what every handler receives (the accounts, the engine, the settings), built once
//! from the [`Config`](crate::Config).

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;

use crate::engine::Engine;
use crate::ids::IdGen;
use crate::protocol::ApiError;
use crate::server::{CloseConnection, Handler, Resp, json_error};
use crate::storage::DataDir;
use crate::store::{AccountDefaults, Store};

pub(crate) struct App {
    pub store: Store,
    pub engine: Arc<Engine>,
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    /// Bounds one delivery attempt, and how long the payment page waits for first attempts.
    pub webhook_timeout: Duration,
    /// When set, every `/_config/` call must carry it in `X-Control-Token`.
    pub control_token: Option<String>,
    /// `req_…` ids from a seeded stream when `--seed` is given; otherwise each thread's own
    /// random generator draws them, with no lock shared by every request.
    request_ids: Option<Mutex<IdGen>>,
}

impl App {
    pub fn new(config: &crate::Config, base_url: String) -> std::io::Result<App> {
        let globals = Arc::new(RwLock::new(config.webhooks.clone()));
        let store = Store::new(
            AccountDefaults {
                seed: config.seed,
                redirect_timing: config.redirect_timing,
                delivery_log: config.delivery_log,
                api_version: crate::protocol::version::ApiVersion::parse(&config.api_version)
                    .unwrap_or_else(crate::protocol::version::default_version),
                journaled: config.data_dir.is_some(),
                ..AccountDefaults::default()
            },
            config.max_accounts,
        );
        let data_dir = match &config.data_dir {
            None => None,
            Some(dir) => {
                let (data_dir, report) =
                    DataDir::open(dir, &store, config.fsync, config.compact_after_bytes)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                tracing::info!(
                    "data directory {}: {} accounts from {} records",
                    dir.display(),
                    report.accounts,
                    report.records
                );
                Some(Arc::new(data_dir))
            }
        };
        let engine = Engine::new(
            globals,
            config.retry_schedule.delays(),
            config.webhook_timeout,
            data_dir,
        )?;
        // What a loaded account has due (retries, expiries) runs as if it never stopped.
        engine.resume(&store.all_accounts());
        Ok(App {
            store,
            engine: Arc::new(engine),
            base_url,
            webhook_timeout: config.webhook_timeout,
            control_token: config.control_token.clone(),
            request_ids: config
                .seed
                .map(|seed| Mutex::new(IdGen::new(Some(seed), "request ids"))),
        })
    }

    pub fn request_id(&self) -> String {
        match &self.request_ids {
            Some(seeded) => seeded.lock().unwrap_or_else(|p| p.into_inner()).request(),
            None => IdGen::new(None, "request ids").request(),
        }
    }
}

impl Handler for App {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Resp, CloseConnection> {
        crate::router::route(&self, req).await
    }

    /// `/v1` requests change their account in one synchronous step after the body is read
    /// (router.rs), so a client hanging up can only stop one before or after it; the one
    /// path that waits between claiming an idempotency key and running (an injected delay)
    /// spawns its own task.
    fn runs_inline(&self, req: &Request<Incoming>) -> bool {
        req.uri().path().starts_with("/v1/")
    }

    fn panicked(&self) -> Resp {
        json_error(&ApiError::internal(
            "An unexpected error occurred in mock-stripe. See its log.",
        ))
    }
}
