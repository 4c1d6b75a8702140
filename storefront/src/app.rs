//! Start-up: database, shared services, routes, listener; then serving.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hmac::{KeyInit, Mac};
use poem::endpoint::BoxEndpoint;
use poem::error::{MethodNotAllowedError, NotFoundError, ParsePathError};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::middleware::{CatchPanic, Csrf, Tracing};
use poem::session::{CookieConfig, CookieSession};
use poem::web::cookie::{CookieKey, SameSite};
use poem::{EndpointExt, Response, Route, Server, get, handler, post};
use rand::RngCore;
use sea_orm::DatabaseConnection;

use crate::mail::Mailer;
use crate::payments::Payments;
use crate::receipts::{self, ReceiptWorker};
use crate::settings::{SESSION_KEY_LEN, Settings, Tuning};
use crate::web::security::{BodyLimit, SecurityHeaders};
use crate::web::templates::{error_page, internal_error_page, not_found_page};
use crate::web::{AppState, checkout, products, security, webhooks};
use crate::{catalogue, db};

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A built, bound, not-yet-serving shop.
pub struct Application {
    port: u16,
    base_url: String,
    db: DatabaseConnection,
    acceptor: TcpAcceptor,
    endpoint: BoxEndpoint<'static, Response>,
    state: Arc<AppState>,
    receipts: ReceiptWorker,
    idle_timeout: Duration,
}

impl Application {
    /// Connects, migrates and seeds the database, binds the listener (port 0
    /// picks a free one) and builds the routes. Serving starts with `run_*`.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Application::build_tuned(settings, Tuning::default()).await
    }

    /// [`Application::build`] with operating limits other than the defaults.
    pub async fn build_tuned(settings: Settings, tuning: Tuning) -> anyhow::Result<Application> {
        let startup = db::startup_lock(&settings.database_url)
            .await
            .context("connecting to the database (DATABASE_URL)")?;
        let db = db::connect_and_migrate(&settings.database_url)
            .await
            .context("connecting to and migrating the database (DATABASE_URL)")?;
        let seeded = catalogue::seed_if_empty(&db)
            .await
            .context("seeding the catalogue")?;
        let reader = db::connect_reader(&settings.database_url, &db)
            .await
            .context("opening the database for reads (DATABASE_URL)")?;
        startup.release().await;
        if seeded > 0 {
            tracing::info!(products = seeded, "seeded the catalogue");
        }

        let listener = tokio::net::TcpListener::bind((settings.host, settings.port))
            .await
            .with_context(|| {
                format!(
                    "listening on {}",
                    SocketAddr::new(settings.host, settings.port)
                )
            })?;
        let port = listener
            .local_addr()
            .context("reading the bound address")?
            .port();
        let base_url = match &settings.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", SocketAddr::new(browsable(settings.host), port)),
        };

        let payments =
            Payments::new(&settings).context("configuring the Stripe client (STRIPE_API_BASE)")?;
        let store = catalogue::store();
        let from = lettre::message::Mailbox::new(
            Some(store.name.clone()),
            store
                .creator_email
                .parse()
                .context("the catalogue's store email")?,
        );
        let mailer = Mailer::new(&settings.mail_outbox, from)
            .with_context(|| {
                format!(
                    "creating the mail outbox {} (MAIL_OUTBOX)",
                    settings.mail_outbox.display()
                )
            })?
            .with_receipt_claim_timeout(tuning.receipt_claim_timeout);

        let session_key = match &settings.session_key {
            Some(key) if key.len() == SESSION_KEY_LEN => key.clone(),
            Some(key) => bail!(
                "SESSION_KEY must be {SESSION_KEY_LEN} bytes, got {}",
                key.len()
            ),
            None => {
                tracing::warn!(
                    "SESSION_KEY is not set: using a random key, so sessions and forms won't survive a restart"
                );
                let mut key = vec![0; SESSION_KEY_LEN];
                rand::rng().fill_bytes(&mut key);
                key
            }
        };

        let (receipt_queue, receipts) = receipts::queue();
        let state = Arc::new(AppState {
            db: db.clone(),
            reader,
            writes: db::writes(&settings.database_url, &db),
            payments,
            mailer,
            receipts: receipt_queue,
            public_url: base_url.clone(),
            shop_name: store.name,
        });
        // Secure cookies only when browsers reach us over https, or they'd drop them.
        let secure_cookies = base_url.starts_with("https://");
        let endpoint = routes(state.clone(), &session_key, secure_cookies);

        let acceptor = TcpAcceptor::from_tokio(listener).context("preparing the listener")?;
        Ok(Application {
            port,
            base_url,
            db,
            acceptor,
            endpoint,
            state,
            receipts,
            idle_timeout: tuning.idle_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The public URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// A handle on the connection pool, for checks from tests or the harness.
    pub fn database(&self) -> sea_orm::DatabaseConnection {
        self.db.clone()
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes (for embedding: tests, the harness).
    ///
    /// The receipt worker runs beside the server (it sweeps for receipts left unsent at
    /// once, then writes those the webhook queues); after the server stops it writes
    /// what is still queued, for at most [`SHUTDOWN_GRACE`]. Dropping this future stops
    /// it too: its claims then expire and the next sweep sends them.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = self.state;
        let worker = AbortOnDrop(tokio::spawn(self.receipts.run_owned(state, async {
            let _ = stopped.await;
        })));
        let served = Server::new_with_acceptor(self.acceptor)
            .idle_timeout(self.idle_timeout)
            .run_with_graceful_shutdown(self.endpoint, signal, Some(SHUTDOWN_GRACE))
            .await;
        let _ = stop.send(());
        let mut worker = worker;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut worker.0)
            .await
            .is_err()
        {
            tracing::warn!("receipts still being written at shutdown; the next start sends them");
        }
        served
    }
}

/// Aborts the task when dropped (the future that owned it was dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An unspecified bind address (0.0.0.0) isn't somewhere a browser can go.
fn browsable(host: IpAddr) -> IpAddr {
    match host {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// A separate key for the CSRF cipher, derived from the session key so one
/// secret configures both without the two uses sharing key material.
fn derive_csrf_key(session_key: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(session_key)
        .expect("HMAC takes keys of any length");
    mac.update(b"storefront csrf key v1");
    mac.finalize().into_bytes().into()
}

fn routes(
    state: Arc<AppState>,
    session_key: &[u8],
    secure_cookies: bool,
) -> BoxEndpoint<'static, Response> {
    let cookie_key = CookieKey::from(session_key);
    // Lax, not Strict: the shopper comes back from Stripe's page by a
    // cross-site redirect and must still carry the session (for the flash).
    let session = CookieSession::new(
        CookieConfig::private(cookie_key)
            .name("storefront-session")
            .same_site(SameSite::Lax)
            .http_only(true)
            .secure(secure_cookies),
    );
    let csrf = Csrf::new()
        .key(derive_csrf_key(session_key))
        .cookie_name("storefront-csrf")
        .same_site(SameSite::Lax)
        .http_only(true)
        .secure(secure_cookies);

    // Pages get cookies and CSRF; the webhook is authenticated by its
    // signature instead and sits outside both.
    let pages = Route::new()
        .at("/", get(products::index))
        .at("/products/:id", get(products::show))
        .at("/products/:id/buy", post(checkout::buy))
        .at("/products/:id/post_checkout", get(checkout::post_checkout))
        .with(csrf)
        .with(session);

    Route::new()
        .at("/webhooks/stripe", post(webhooks::stripe))
        .at("/healthz", get(health))
        .at("/static/shop.css", get(security::stylesheet))
        .nest("/", pages)
        .catch_error(|_: NotFoundError| async { not_found_page() })
        // poem's router refuses a path whose %-escapes don't decode to UTF-8 (`/products/%FF`)
        // with a bare text 400; like any id that isn't one, it names no page.
        .catch_error(|_: ParsePathError| async { not_found_page() })
        .catch_error(|_: MethodNotAllowedError| async {
            error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "This address doesn't accept that kind of request.",
            )
        })
        .with(BodyLimit)
        .with(CatchPanic::new().with_handler(|_| internal_error_page()))
        .with(Tracing)
        .with(SecurityHeaders)
        .data(state)
        .boxed()
}

#[handler]
fn health() -> &'static str {
    "ok"
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "can't listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "can't listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_hosts_become_loopback_in_urls() {
        assert_eq!(
            browsable("0.0.0.0".parse().unwrap()).to_string(),
            "127.0.0.1"
        );
        assert_eq!(browsable("::".parse().unwrap()).to_string(), "::1");
        assert_eq!(
            browsable("10.0.0.5".parse().unwrap()).to_string(),
            "10.0.0.5"
        );
    }

    #[test]
    fn the_csrf_key_depends_on_the_session_key() {
        assert_ne!(derive_csrf_key(&[1; 64]), derive_csrf_key(&[2; 64]));
        assert_eq!(derive_csrf_key(&[1; 64]), derive_csrf_key(&[1; 64]));
    }
}
