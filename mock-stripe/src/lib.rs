//! # mock-stripe
//!
//! A self-hosted fake Stripe for testing Stripe Checkout offline: Checkout Sessions, a
//! hosted payment page driven by Stripe's test cards, and signed webhooks. Apps point their
//! official Stripe SDK at it by changing the base URL only.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mock_stripe::{Config, MockStripe, WebhookTarget};
//!
//! let mock = MockStripe::start(Config { port: 0, ..Config::default() }).await?;
//! mock.add_webhook(WebhookTarget {
//!     url: "http://127.0.0.1:8000/stripe/webhook".into(),
//!     secret: "whsec_test_secret".into(),
//! });
//! println!("point the SDK at {}", mock.base_url());
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Layout: `app` holds what every handler receives; `router` maps requests to `resources`
//! (one module per Stripe resource), `control` (the `/_config/` API) and `hosted` (the
//! payment page); `protocol` (form decoding, keys, errors, pagination, idempotency) is shared
//! by every resource; `engine` is the simulator: the step seam every change goes through,
//! account clocks, the delivery queue and injected faults. State lives in `store`, one lock
//! per API key. See `ARCHITECTURE.md`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod app;
mod bank_debits;
mod cards;
pub mod cli;
mod control;
pub mod control_client;
mod engine;
mod hosted;
mod id_index;
mod ids;
mod money;
mod protocol;
mod resources;
mod router;
mod rows;
#[cfg(test)]
mod sdk_compat;
mod server;
pub mod signature;
mod storage;
mod store;
mod stripejs;

pub use engine::delivery::RetrySchedule;
pub use storage::StorageError;
pub use store::RedirectTiming;

/// Settings for [`MockStripe::start`]. Build it with `..Config::default()` so new fields
/// do not break your code.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind. Default `127.0.0.1`. Anything but loopback needs a `control_token`.
    pub host: IpAddr,
    /// Port to bind. Default `12111` (stripe-mock's); `0` picks a free port.
    pub port: u16,
    /// "Forward-to" endpoints that receive the events of every account, like
    /// `stripe listen --forward-to`.
    pub webhooks: Vec<WebhookTarget>,
    /// When failed deliveries are retried. Default [`RetrySchedule::Compressed`] (1 s, 5 s,
    /// 25 s); [`RetrySchedule::Stripe`] spreads retries over 3 days, for virtual clocks.
    pub retry_schedule: RetrySchedule,
    /// Time limit of one delivery attempt. Default 10 s. Also bounds how long the payment
    /// page waits for the first attempts before redirecting the browser.
    pub webhook_timeout: Duration,
    /// When the browser is redirected relative to the first delivery of
    /// `checkout.session.completed` (accounts can change it). Default `Before`.
    pub redirect_timing: RedirectTiming,
    /// Makes ids deterministic: the same requests give the same ids, so a failing run can
    /// be replayed exactly. Default `None` (random).
    pub seed: Option<u64>,
    /// How many delivery attempts each account's log keeps (the newest). Default 1000.
    pub delivery_log: usize,
    /// Required to bind anything but loopback: every `/_config/` call must then carry it
    /// in `X-Control-Token` (the control API can complete payments).
    pub control_token: Option<String>,
    /// Every account's default API version (Stripe pins one per account): what requests
    /// without a `Stripe-Version` header get, and what events are rendered at. Default
    /// [`DEFAULT_API_VERSION`], the latest the mock knows. Set an old one (`2020-08-27`) for
    /// apps written before 2022-08-01 that send no version. Accounts can change theirs with
    /// `POST /_config/settings api_version=…`.
    pub api_version: String,
    /// Most connections served at once. Beyond it a new connection is answered a
    /// Stripe-shaped 503 (`Stripe-Should-Retry: true`, `Retry-After: 1`) and closed,
    /// rather than taken on without bound. Default 1024; at least 1.
    pub max_connections: usize,
    /// Most accounts requests may create (every new API key, and every new
    /// `Stripe-Account` under one, makes an account of about 5 KB before it holds
    /// anything). Past it a request that would make one more is answered a 400 naming
    /// this setting; accounts restored from `data_dir` are all loaded whatever it says.
    /// Default 10,000; at least 1.
    pub max_accounts: usize,
    /// How long a client may take to send a request's headers; also how long an idle
    /// keep-alive connection stays open. A slow (slowloris) or silent client is
    /// disconnected after it, up to a quarter of it (at most 1 s) later. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body once its headers are in:
    /// after it, the request is answered a Stripe-shaped 408 and the connection closed.
    /// Default 30 s.
    pub body_read_timeout: Duration,
    /// Keep state in this directory (`--data-dir`): accounts, objects, events, idempotency
    /// keys, clocks and pending webhook deliveries survive a restart, even `kill -9`.
    /// Default `None`: in memory only.
    pub data_dir: Option<std::path::PathBuf>,
    /// With `data_dir`: also wait for the disk after each change (`fsync`), so a power
    /// loss loses nothing either. Slower. Default false.
    pub fsync: bool,
    /// With `data_dir`: compact the journal into a snapshot once it grows past this many
    /// bytes (and past the last snapshot's size). Default 64 MiB.
    pub compact_after_bytes: u64,
}

/// The API version accounts default to: the latest the mock knows.
pub const DEFAULT_API_VERSION: &str = protocol::version::DEFAULT_VERSION;

/// Whether `s` is a well-formed API version (`2020-08-27`, `2026-09-30.endive`).
pub fn is_api_version(s: &str) -> bool {
    protocol::version::ApiVersion::parse(s).is_some()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 12111,
            webhooks: Vec::new(),
            retry_schedule: RetrySchedule::Compressed,
            webhook_timeout: Duration::from_secs(10),
            redirect_timing: RedirectTiming::Before,
            seed: None,
            delivery_log: 1000,
            control_token: None,
            api_version: DEFAULT_API_VERSION.to_string(),
            max_connections: 1024,
            max_accounts: 10_000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            data_dir: None,
            fsync: false,
            compact_after_bytes: 64 << 20,
        }
    }
}

/// A webhook target that receives events signed with `secret`.
#[derive(Clone)]
pub struct WebhookTarget {
    /// Where events are POSTed, e.g. `http://127.0.0.1:8000/stripe/webhook`.
    pub url: String,
    /// The full signing secret, `whsec_…` (the HMAC key includes the prefix).
    pub secret: String,
}

/// Debug output masks the secret (prefix and last 4 characters only), so a logged config
/// never leaks it.
impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &protocol::auth::mask_key(&self.secret))
            .finish()
    }
}

/// A running mock. Dropping it stops the server too; [`MockStripe::shutdown`] also waits
/// for in-flight requests.
pub struct MockStripe {
    addr: SocketAddr,
    app: Arc<app::App>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockStripe {
    /// Binds the listener, starts the server task and returns at once.
    ///
    /// Fails if the address cannot be bound (for example, the port is taken), or if it is
    /// not a loopback address and no `control_token` is set.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let mock = mock_stripe::MockStripe::start(mock_stripe::Config { port: 0, ..Default::default() }).await?;
    /// assert!(mock.base_url().starts_with("http://127.0.0.1:"));
    /// # Ok(()) }
    /// ```
    pub async fn start(config: Config) -> std::io::Result<MockStripe> {
        Self::spawn(config)
    }

    /// [`MockStripe::start`] without `.await`, from inside a tokio runtime (it spawns the
    /// server there; outside one it panics, as `tokio::spawn` does). Why it exists: a
    /// crate that awaited the server's futures compiled the server's whole async call
    /// tree again in its own release build; through this plain function it links the one
    /// compiled here. The bench, which serves the mock beside its load generator, builds
    /// in 34 s of CPU instead of 45.
    pub fn spawn(config: Config) -> std::io::Result<MockStripe> {
        if !config.host.is_loopback() && config.control_token.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "refusing to listen on {} without a control token: the control API \
                     (/_config/) can complete payments. Set --control-token (Config::control_token), \
                     or listen on 127.0.0.1.",
                    config.host
                ),
            ));
        }
        if !is_api_version(&config.api_version) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "invalid API version {:?}: expected YYYY-MM-DD or YYYY-MM-DD.name, like {DEFAULT_API_VERSION}",
                    config.api_version
                ),
            ));
        }
        if config.max_connections == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "max_connections must be at least 1",
            ));
        }
        if config.max_accounts == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "max_accounts must be at least 1",
            ));
        }
        let limits = server::Limits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            body_read_timeout: config.body_read_timeout,
        };
        let listener = bind(SocketAddr::new(config.host, config.port))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let app = Arc::new(app::App::new(&config, base_url_for(addr))?);
        let task = tokio::spawn(run(listener, app.clone(), stopped, limits));
        tracing::debug!("mock-stripe bound to {addr}");
        Ok(MockStripe {
            addr,
            app,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash: the base URL to give the SDK
    /// (async-stripe wants it with a trailing `/`). When bound to `0.0.0.0`/`::` the URL
    /// names the loopback address, which is what a local browser can open.
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// Adds a global "forward-to" endpoint at run time. Events emitted from now on are
    /// delivered to it too.
    pub fn add_webhook(&self, target: WebhookTarget) {
        self.app
            .engine
            .globals
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(target);
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s) and stops
    /// the delivery driver (pending retries are not sent).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockStripe {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Resolves once the stop flag is set. (The guard `wait_for` returns is dropped here: it
/// must not live across an `.await` of the caller.)
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// What `TcpListener::bind` does (address reuse, a backlog of 1024), without `.await`.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn base_url_for(addr: SocketAddr) -> String {
    let shown = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    };
    format!("http://{shown}")
}

async fn run(
    listener: TcpListener,
    app: Arc<app::App>,
    stopped: watch::Receiver<bool>,
    limits: server::Limits,
) {
    let driver = tokio::spawn(engine::drive(app.engine.clone(), stopped.clone()));
    let compactor = tokio::spawn(compact_when_due(app.clone()));
    server::serve(listener, app, stopped, limits).await;
    driver.abort();
    compactor.abort();
}

/// Compacts the data directory's journal whenever it has grown enough, on a blocking
/// thread (it writes every account).
async fn compact_when_due(app: Arc<app::App>) {
    let Some(data_dir) = app.engine.data_dir.clone() else {
        return;
    };
    loop {
        data_dir.compaction_due.notified().await;
        let app = app.clone();
        let data_dir = data_dir.clone();
        let done = tokio::task::spawn_blocking(move || data_dir.compact(&app.store)).await;
        match done {
            Ok(Ok(())) => tracing::debug!("data directory compacted"),
            Ok(Err(e)) => tracing::error!("compacting the data directory failed: {e}"),
            Err(e) => tracing::error!("compacting the data directory failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_uses_loopback_for_wildcard_binds() {
        assert_eq!(
            base_url_for("0.0.0.0:12111".parse().unwrap()),
            "http://127.0.0.1:12111"
        );
        assert_eq!(base_url_for("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(
            base_url_for("127.0.0.1:5".parse().unwrap()),
            "http://127.0.0.1:5"
        );
    }

    #[test]
    fn debug_masks_webhook_secret() {
        let t = WebhookTarget {
            url: "http://x.test/".into(),
            secret: "whsec_abcdefghijklmnop1234".into(),
        };
        let s = format!("{t:?}");
        assert!(s.contains("whsec_****1234"), "{s}");
        assert!(!s.contains("abcdefgh"));
    }
}
