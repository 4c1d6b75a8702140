//! The whole stack, in process: mock-stripe and the storefront wired to each
//! other, each on its own port, with its own database and mail outbox.
//!
//! Nothing is shared between two stacks but the binary, so tests and flows
//! run in parallel without seeing each other's orders, sessions or mail.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use mock_stripe::{MockStripe, WebhookTarget};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::DatabaseConnection;
use storefront::{Application, Settings};
use tokio::task::JoinHandle;
use url::Url;

/// Where and how to start a stack. Ports 0 pick free ones.
#[derive(Clone, Debug)]
pub struct StackOptions {
    pub host: IpAddr,
    pub mock_port: u16,
    pub shop_port: u16,
    /// Keeps the database and outbox here; `None` uses a temporary folder
    /// removed when the stack is dropped.
    pub data_dir: Option<PathBuf>,
    /// The secret mock-stripe signs webhooks with; `None` uses the one the
    /// storefront expects. Another value stands for a misconfigured shop,
    /// which the flows must notice.
    pub mock_signing_secret: Option<String>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions { host: IpAddr::V4(Ipv4Addr::LOCALHOST), mock_port: 0, shop_port: 0, data_dir: None, mock_signing_secret: None }
    }
}

pub struct Stack {
    pub mock: MockStripe,
    pub mock_url: Url,
    pub shop_url: Url,
    pub database_url: String,
    pub outbox: PathBuf,
    /// The secret key the storefront uses: its account on the mock.
    pub secret_key: String,
    pub webhook_secret: String,
    db: DatabaseConnection,
    shop: JoinHandle<std::io::Result<()>>,
    _temp: Option<tempfile::TempDir>,
}

impl Stack {
    /// Starts the mock, then the storefront pointed at it, then registers the
    /// storefront's webhook URL with the mock (the shop's port is only known
    /// once it is bound, and the shop needs the mock's URL to start).
    pub async fn start(options: StackOptions) -> anyhow::Result<Stack> {
        let (temp, dir) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let temp = tempfile::Builder::new().prefix("harness-").tempdir().context("creating a temporary folder")?;
                let path = temp.path().to_owned();
                (Some(temp), path)
            }
        };

        let mock = MockStripe::start(mock_stripe::Config {
            host: options.host,
            port: options.mock_port,
            ..mock_stripe::Config::default()
        })
        .await
        .with_context(|| format!("starting mock-stripe on {}:{}", options.host, options.mock_port))?;
        let mock_url = Url::parse(&mock.base_url()).context("mock-stripe's base URL")?;

        let secret_key = format!("sk_test_harness{}", random_token(24));
        let webhook_secret = format!("whsec_{}", random_token(32));
        let database_url = format!("sqlite://{}?mode=rwc", dir.join("storefront.sqlite").display());
        let outbox = dir.join("outbox");
        let settings = Settings {
            database_url: database_url.clone(),
            stripe_api_base: mock.base_url(),
            stripe_secret_key: secret_key.clone().into(),
            stripe_publishable_key: format!("pk_test_harness{}", random_token(24)),
            stripe_webhook_secret: webhook_secret.clone().into(),
            public_url: None,
            host: options.host,
            port: options.shop_port,
            mail_outbox: outbox.clone(),
            session_key: None,
        };
        let app = Application::build(settings).await.context("starting the storefront")?;
        let shop_url = Url::parse(&app.base_url()).context("the storefront's base URL")?;
        let db = app.database();
        let shop = tokio::spawn(app.run_until_stopped());

        mock.add_webhook(WebhookTarget {
            url: shop_url.join("/webhooks/stripe")?.to_string(),
            secret: options.mock_signing_secret.clone().unwrap_or_else(|| webhook_secret.clone()),
        });

        Ok(Stack { mock, mock_url, shop_url, database_url, outbox, secret_key, webhook_secret, db, shop, _temp: temp })
    }

    /// The storefront's database, to check what was recorded.
    pub fn database(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Every email the storefront wrote, as raw RFC 5322 text, oldest first.
    pub fn receipts(&self) -> anyhow::Result<Vec<String>> {
        read_outbox(&self.outbox)
    }

    pub async fn shutdown(self) {
        self.shop.abort();
        self.mock.shutdown().await;
    }
}

fn read_outbox(outbox: &Path) -> anyhow::Result<Vec<String>> {
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

fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}
