//! The whole stack, in process: mock-stripe and the storefront wired to each
//! other, each on its own port, with its own database and mail outbox.
//!
//! Nothing is shared between two stacks but the binary, so tests and flows
//! run in parallel without seeing each other's orders, sessions or mail.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use futures::future::BoxFuture;
use mock_stripe::{MockStripe, WebhookTarget};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use storefront::{Application, Settings};
use tokio::task::JoinHandle;

use crate::shop::{OrderRecord, Shop, ShopWiring, StartShop};
use url::Url;

/// The storefront's database for one stack.
#[derive(Clone, Debug, Default)]
pub enum StackDatabase {
    /// A SQLite file in the stack's data folder (the storefront's default).
    #[default]
    Sqlite,
    /// A new database, made for this stack and dropped with it, on the
    /// PostgreSQL server this URL reaches (its user must be allowed to
    /// create databases), e.g. `postgres://postgres:postgres@127.0.0.1/postgres`.
    Postgres { admin_url: String },
}

/// Where and how to start a stack. Ports 0 pick free ones.
#[derive(Clone)]
pub struct StackOptions {
    pub host: IpAddr,
    pub mock_port: u16,
    pub shop_port: u16,
    /// Keeps the database and outbox here; `None` uses a temporary folder
    /// removed when the stack is dropped.
    pub data_dir: Option<PathBuf>,
    /// Where the storefront keeps its data.
    pub database: StackDatabase,
    /// The secret mock-stripe signs webhooks with; `None` uses the one the
    /// storefront expects. Another value stands for a misconfigured shop,
    /// which the flows must notice.
    pub mock_signing_secret: Option<String>,
    /// Makes the mock's ids deterministic (a run replays exactly).
    pub mock_seed: Option<u64>,
    /// Starts another shop instead of our storefront.
    pub shop: Option<StartShop>,
}

impl std::fmt::Debug for StackOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackOptions")
            .field("host", &self.host)
            .field("mock_port", &self.mock_port)
            .field("shop_port", &self.shop_port)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database)
            .field("custom_shop", &self.shop.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            mock_port: 0,
            shop_port: 0,
            data_dir: None,
            database: StackDatabase::Sqlite,
            mock_signing_secret: None,
            mock_seed: None,
            shop: None,
        }
    }
}

pub struct Stack {
    /// `None` when the harness tests a shop and a Stripe it did not start.
    pub mock: Option<MockStripe>,
    pub mock_url: Url,
    pub shop_url: Url,
    /// The secret key the shop uses: its account on the mock.
    pub secret_key: String,
    pub webhook_secret: String,
    pub shop: Box<dyn Shop>,
    _temp: Option<tempfile::TempDir>,
}

impl Stack {
    /// Starts the mock, then the shop pointed at it, then registers the shop's webhook URL
    /// with the mock (the shop's port is only known once it is bound, and the shop needs
    /// the mock's URL to start).
    pub async fn start(options: StackOptions) -> anyhow::Result<Stack> {
        let (temp, dir) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("harness-")
                    .tempdir()
                    .context("creating a temporary folder")?;
                let path = temp.path().to_owned();
                (Some(temp), path)
            }
        };

        // A kept stack (`--data-dir`) keeps the mock's state too, under the same keys.
        let kept = options.data_dir.as_deref();
        let mock = MockStripe::start(mock_stripe::Config {
            host: options.host,
            port: options.mock_port,
            seed: options.mock_seed,
            data_dir: kept.map(|d| d.join("mock-stripe")),
            ..mock_stripe::Config::default()
        })
        .await
        .with_context(|| {
            format!(
                "starting mock-stripe on {}:{}",
                options.host, options.mock_port
            )
        })?;
        let mock_url = Url::parse(&mock.base_url()).context("mock-stripe's base URL")?;

        let StackKeys {
            secret_key,
            publishable_key,
            webhook_secret,
        } = StackKeys::for_stack(kept, options.mock_seed)?;
        let wiring = ShopWiring {
            stripe_api_base: mock.base_url(),
            secret_key: secret_key.clone(),
            publishable_key,
            webhook_secret: webhook_secret.clone(),
            data_dir: dir.clone(),
            host: options.host,
            port: options.shop_port,
        };
        let shop = match &options.shop {
            Some(start) => start(wiring).await?,
            None => Box::new(StorefrontShop::start(wiring, &options.database).await?),
        };
        let shop_url = shop.url().clone();

        mock.add_webhook(WebhookTarget {
            url: shop_url.join("/webhooks/stripe")?.to_string(),
            secret: options
                .mock_signing_secret
                .clone()
                .unwrap_or_else(|| webhook_secret.clone()),
        });

        Ok(Stack {
            mock: Some(mock),
            mock_url,
            shop_url,
            secret_key,
            webhook_secret,
            shop,
            _temp: temp,
        })
    }

    /// Every email the shop wrote, as raw RFC 5322 text, oldest first.
    pub fn receipts(&self) -> anyhow::Result<Vec<String>> {
        self.shop.receipts()
    }

    /// Every order the shop recorded.
    pub async fn orders(&self) -> anyhow::Result<Vec<OrderRecord>> {
        self.shop.orders().await
    }

    /// Whether the shop says it has work in hand ([`Shop::busy`]).
    pub async fn shop_busy(&self) -> anyhow::Result<bool> {
        self.shop.busy().await
    }

    pub async fn shutdown(self) {
        self.shop.shutdown().await;
        if let Some(mock) = self.mock {
            mock.shutdown().await;
        }
    }

    /// A shop and a Stripe that are already running (`harness run --shop …`): the harness
    /// shops there and reads what Stripe saw, but cannot see the shop's records.
    pub fn external(shop_url: Url, stripe_base: Url, stripe_key: String) -> Stack {
        Stack {
            mock: None,
            mock_url: stripe_base,
            shop_url: shop_url.clone(),
            secret_key: stripe_key,
            webhook_secret: String::new(),
            shop: Box::new(ExternalShop { url: shop_url }),
            _temp: None,
        }
    }
}

/// A shop the harness did not start: only its pages are visible.
struct ExternalShop {
    url: Url,
}

impl Shop for ExternalShop {
    fn url(&self) -> &Url {
        &self.url
    }

    fn orders(&self) -> BoxFuture<'_, anyhow::Result<Vec<OrderRecord>>> {
        Box::pin(async {
            anyhow::bail!("the shop's orders are not visible from outside (external shop)")
        })
    }

    fn receipts(&self) -> anyhow::Result<Vec<String>> {
        anyhow::bail!("the shop's email is not visible from outside (external shop)")
    }

    fn describe(&self) -> String {
        format!("external shop at {}", self.url)
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Our storefront, in process.
pub struct StorefrontShop {
    url: Url,
    database_url: String,
    outbox: PathBuf,
    db: DatabaseConnection,
    postgres: Option<ScratchPostgres>,
    server: JoinHandle<std::io::Result<()>>,
}

impl StorefrontShop {
    pub async fn start(
        wiring: ShopWiring,
        database: &StackDatabase,
    ) -> anyhow::Result<StorefrontShop> {
        let (database_url, postgres) = match database {
            StackDatabase::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    wiring.data_dir.join("storefront.sqlite").display()
                ),
                None,
            ),
            StackDatabase::Postgres { admin_url } => {
                let scratch = ScratchPostgres::create(admin_url).await?;
                (scratch.url.clone(), Some(scratch))
            }
        };
        let outbox = wiring.data_dir.join("outbox");
        let settings = Settings {
            database_url: database_url.clone(),
            stripe_api_base: wiring.stripe_api_base,
            stripe_secret_key: wiring.secret_key.into(),
            stripe_publishable_key: wiring.publishable_key,
            stripe_webhook_secret: wiring.webhook_secret.into(),
            public_url: None,
            host: wiring.host,
            port: wiring.port,
            mail_outbox: outbox.clone(),
            // A key of our own: the stack never restarts, and the shop's
            // warning about a random key would only be noise here.
            session_key: Some(rand::random::<[u8; 64]>().to_vec()),
        };
        let app = Application::build(settings)
            .await
            .context("starting the storefront")?;
        let url = Url::parse(&app.base_url()).context("the storefront's base URL")?;
        let db = app.database();
        let server = tokio::spawn(app.run_until_stopped());
        Ok(StorefrontShop {
            url,
            database_url,
            outbox,
            db,
            postgres,
            server,
        })
    }
}

impl Shop for StorefrontShop {
    fn url(&self) -> &Url {
        &self.url
    }

    fn orders(&self) -> BoxFuture<'_, anyhow::Result<Vec<OrderRecord>>> {
        Box::pin(storefront_orders(&self.db))
    }

    fn receipts(&self) -> anyhow::Result<Vec<String>> {
        read_outbox(&self.outbox)
    }

    fn busy(&self) -> BoxFuture<'_, anyhow::Result<bool>> {
        Box::pin(storefront_busy(&self.db))
    }

    /// The database (password masked) and the outbox.
    fn describe(&self) -> String {
        let database = describe_database(&self.database_url);
        format!("database {database}, receipts in {}", self.outbox.display())
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            self.server.abort();
            // The shop's pool must be closed before its database can be dropped.
            let _ = self.server.await;
            let _ = self.db.close().await;
            if let Some(postgres) = self.postgres {
                postgres.drop_database().await;
            }
        })
    }
}

/// Every order in a storefront's database, as the owner sees it.
pub async fn storefront_orders(db: &DatabaseConnection) -> anyhow::Result<Vec<OrderRecord>> {
    let orders = storefront::orders::all(db).await?;
    Ok(orders
        .into_iter()
        .map(|o| OrderRecord {
            id: o.id,
            session_id: o.checkout_session_id,
            status: o.status.as_str().to_string(),
            amount_cents: o.amount_cents,
            buyer_email: o.buyer_email,
        })
        .collect())
}

/// Whether a storefront owes a receipt: a paid order with an address it can write to and
/// no receipt recorded sent, which its receipt worker (or, after a failed write, its
/// sweep) has in hand.
pub async fn storefront_busy(db: &DatabaseConnection) -> anyhow::Result<bool> {
    let due = storefront::orders::receipts_due(db, 100).await?;
    Ok(due.iter().any(|o| {
        o.buyer_email
            .as_deref()
            .is_some_and(storefront::orders::deliverable)
    }))
}

/// Every `.eml` file in a storefront's outbox, oldest first.
pub fn read_outbox(outbox: &Path) -> anyhow::Result<Vec<String>> {
    let entries = match std::fs::read_dir(outbox) {
        Ok(entries) => entries,
        // No outbox yet means no mail yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", outbox.display())),
    };
    let mut mails = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "eml") {
            let modified = entry.metadata()?.modified()?;
            let text = std::fs::read_to_string(entry.path())?;
            mails.push((modified, text));
        }
    }
    mails.sort_by_key(|(modified, _)| *modified);
    Ok(mails.into_iter().map(|(_, text)| text).collect())
}

/// A PostgreSQL database made for one stack, so stacks never share rows.
pub struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    pub async fn create(admin_url: &str) -> anyhow::Result<ScratchPostgres> {
        let mut url =
            Url::parse(admin_url).with_context(|| "the PostgreSQL URL is not a URL".to_string())?;
        // Lowercase letters and digits only: a safe unquoted identifier.
        let name = format!("harness_{}", random_token(16).to_ascii_lowercase());
        let admin = sea_orm::Database::connect(admin_url)
            .await
            .with_context(|| format!("connecting to PostgreSQL at {}", redact_password(&url)))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
        let _ = admin.close().await;
        url.set_path(&format!("/{name}"));
        Ok(ScratchPostgres {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
        })
    }

    /// The new database's URL (with the admin URL's credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Best effort: a leftover database costs disk, not correctness.
    pub async fn drop_database(self) {
        if let Ok(admin) = sea_orm::Database::connect(&self.admin_url).await {
            if let Err(e) = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await
            {
                tracing::warn!(database = %self.name, error = %e, "could not drop the stack's database");
            }
            let _ = admin.close().await;
        }
    }
}

/// A storefront's database URL as reports show it: a PostgreSQL password masked.
pub fn describe_database(database_url: &str) -> String {
    match Url::parse(database_url) {
        Ok(url) if url.scheme().starts_with("postgres") => redact_password(&url),
        _ => database_url.to_string(),
    }
}

pub fn redact_password(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("****"));
    }
    shown.to_string()
}

/// The keys the shop and the mock share.
#[derive(serde::Serialize, serde::Deserialize)]
struct StackKeys {
    secret_key: String,
    publishable_key: String,
    webhook_secret: String,
}

impl StackKeys {
    /// Fresh keys; with a seed the secret key is fixed too (the mock derives an account's
    /// ids from both); in a kept folder, the keys it was started with before (the mock's
    /// accounts are per key: new keys would find none of what the folder kept).
    fn for_stack(kept: Option<&Path>, seed: Option<u64>) -> anyhow::Result<StackKeys> {
        let fresh = || StackKeys {
            secret_key: match seed {
                Some(seed) => format!("sk_test_harness_seeded_{seed}"),
                None => format!("sk_test_harness{}", random_token(24)),
            },
            publishable_key: format!("pk_test_harness{}", random_token(24)),
            webhook_secret: format!("whsec_{}", random_token(32)),
        };
        let Some(dir) = kept else {
            return Ok(fresh());
        };
        let path = dir.join("stack-keys.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not the keys file it should be", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let keys = fresh();
                std::fs::write(&path, serde_json::to_vec_pretty(&keys)?)
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(keys)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}
