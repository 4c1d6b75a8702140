//! The two programs as real processes: the `mock-stripe` and `storefront` binaries found
//! next to the harness, started on free ports and wired together the way `harness up`
//! wires them in process (mock first, then the shop pointed at it, then the shop's webhook
//! URL registered with the mock). Each child is killed when its guard is dropped, so a
//! failed or interrupted soak leaves nothing running.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use futures::future::BoxFuture;
use mock_stripe::control_client::Control;
use sea_orm::DatabaseConnection;
use url::Url;

use crate::shop::{OrderRecord, Shop};
use crate::stack::{
    ScratchPostgres, StackDatabase, describe_database, random_token, read_outbox, storefront_busy,
    storefront_orders,
};

/// How long a binary may take to say it is listening (a debug build on a busy machine,
/// migrations on PostgreSQL).
const START_PATIENCE: Duration = Duration::from_secs(60);

/// The two binaries the soak starts.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub mock_stripe: PathBuf,
    pub storefront: PathBuf,
}

impl Binaries {
    /// The binaries of the same build as the running program: beside it in
    /// `target/<profile>/` (a test runs from `target/<profile>/deps/`, so one level up).
    pub fn beside_current_exe() -> anyhow::Result<Binaries> {
        let exe = std::env::current_exe().context("locating the running program")?;
        let find = |name: &str| {
            exe.ancestors()
                .skip(1)
                .take(2)
                .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
                .find(|p| p.is_file())
        };
        let (Some(mock_stripe), Some(storefront)) = (find("mock-stripe"), find("storefront"))
        else {
            let release = if cfg!(debug_assertions) {
                ""
            } else {
                " --release"
            };
            bail!(
                "the mock-stripe and storefront binaries are not beside {}; build them first: \
                 cargo build{release} -p mock-stripe -p storefront",
                exe.display()
            );
        };
        Ok(Binaries {
            mock_stripe,
            storefront,
        })
    }
}

/// A child process, killed and reaped when dropped.
pub struct ChildGuard {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, from `/proc/<pid>/status` (`None` where there is no /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    /// Fails if the process has exited (it must outlive the soak).
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!(
                "{} exited ({status}); its log: {}",
                self.name,
                self.log.display()
            ),
            Err(e) => Err(e).with_context(|| format!("checking on {}", self.name)),
        }
    }

    /// Starts `command`, its stderr appended to `log`, and waits for the line on stdout
    /// where it says `… listening on URL`; answers the URL.
    async fn spawn(
        name: &'static str,
        mut command: Command,
        log: PathBuf,
    ) -> anyhow::Result<(ChildGuard, Url)> {
        let stderr =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {:?}", command.get_program()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let mut guard = ChildGuard { name, child, log };
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads stdout to its end: a child writing to a closed pipe would fail.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some((_, url)) = line.split_once("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = match tokio::time::timeout(START_PATIENCE, rx).await {
            Ok(Ok(url)) => url,
            Ok(Err(_)) => {
                // Its stdout closed without the line: it exited; say why.
                tokio::time::sleep(Duration::from_millis(100)).await;
                guard.ensure_running()?;
                bail!("{name} closed its stdout without saying where it listens")
            }
            Err(_) => bail!(
                "{name} did not say it was listening within {START_PATIENCE:?}; its log: {}",
                guard.log.display()
            ),
        };
        let url = Url::parse(&url).with_context(|| format!("{name}'s URL {url:?}"))?;
        Ok((guard, url))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A command with only what it is given (and PATH): nothing from the caller's environment
/// (a `DATABASE_URL`, `MOCK_STRIPE_PORT`…) changes what the soak runs.
fn clean_command(program: &Path, log_filter: &str) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", log_filter);
    command
}

/// How the mock is started.
#[derive(Clone, Debug)]
pub struct MockOptions {
    pub seed: u64,
    /// `--retry-schedule`.
    pub retry_schedule: String,
    /// The secret the mock signs the shop's webhooks with; `None`: the shop's own.
    /// Another one stands for a misconfigured shop, which the soak must catch.
    pub signing_secret: Option<String>,
}

/// mock-stripe and the storefront, running, wired together.
pub struct Processes {
    pub mock_url: Url,
    /// The shop's account on the mock.
    pub secret_key: String,
    pub control: Control,
    pub mock: ChildGuard,
    pub shop: ProcessShop,
    /// The logs, the SQLite file and the outbox.
    pub dir: tempfile::TempDir,
}

impl Processes {
    pub async fn start(
        binaries: &Binaries,
        database: &StackDatabase,
        mock: &MockOptions,
    ) -> anyhow::Result<Processes> {
        let dir = tempfile::Builder::new()
            .prefix("harness-soak-")
            .tempdir()
            .context("creating a temporary folder")?;

        let mut command = clean_command(&binaries.mock_stripe, "warn");
        command
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--seed")
            .arg(mock.seed.to_string())
            .arg("--retry-schedule")
            .arg(&mock.retry_schedule);
        let (mock_guard, mock_url) =
            ChildGuard::spawn("mock-stripe", command, dir.path().join("mock-stripe.log")).await?;

        // Seeded: the mock derives an account's ids from its key too.
        let secret_key = format!("sk_test_soak_seeded_{}", mock.seed);
        let webhook_secret = format!("whsec_{}", random_token(32));
        let shop = ProcessShop::start(
            &binaries.storefront,
            database,
            &ShopEnv {
                stripe_api_base: mock_url.as_str().trim_end_matches('/').to_string(),
                secret_key: secret_key.clone(),
                webhook_secret: webhook_secret.clone(),
                dir: dir.path().to_owned(),
            },
        )
        .await?;

        let control = Control::new(mock_url.as_str(), &secret_key);
        let hook = shop.url.join("/webhooks/stripe")?;
        let signing_secret = mock.signing_secret.as_deref().unwrap_or(&webhook_secret);
        if let Err(e) = register_webhook(&mock_url, &secret_key, &hook, signing_secret).await {
            Box::new(shop).shutdown().await;
            return Err(e);
        }
        Ok(Processes {
            mock_url,
            secret_key,
            control,
            mock: mock_guard,
            shop,
            dir,
        })
    }
}

/// The shop's endpoint on its account, every event (localstripe's `/_config/webhooks/{id}`,
/// which lets the caller choose the signing secret the shop already has).
async fn register_webhook(
    mock_url: &Url,
    secret_key: &str,
    hook: &Url,
    webhook_secret: &str,
) -> anyhow::Result<()> {
    let answer = reqwest::Client::new()
        .post(mock_url.join("/_config/webhooks/we_soak")?)
        .basic_auth(secret_key, Some(""))
        .form(&[
            ("url", hook.as_str()),
            ("secret", webhook_secret),
            ("events[]", "*"),
        ])
        .send()
        .await
        .context("registering the shop's webhook endpoint with the mock")?;
    if !answer.status().is_success() {
        bail!(
            "registering the shop's webhook endpoint: {} {}",
            answer.status(),
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(())
}

struct ShopEnv {
    stripe_api_base: String,
    secret_key: String,
    webhook_secret: String,
    dir: PathBuf,
}

/// The storefront binary, running; read as its owner would (its database, its outbox).
pub struct ProcessShop {
    pub process: ChildGuard,
    url: Url,
    database_url: String,
    outbox: PathBuf,
    db: DatabaseConnection,
    postgres: Option<ScratchPostgres>,
}

impl ProcessShop {
    async fn start(
        binary: &Path,
        database: &StackDatabase,
        env: &ShopEnv,
    ) -> anyhow::Result<ProcessShop> {
        let (database_url, postgres) = match database {
            StackDatabase::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    env.dir.join("storefront.sqlite").display()
                ),
                None,
            ),
            StackDatabase::Postgres { admin_url } => {
                let scratch = ScratchPostgres::create(admin_url).await?;
                (scratch.url().to_string(), Some(scratch))
            }
        };
        let outbox = env.dir.join("outbox");
        let mut command = clean_command(binary, "warn");
        command
            .env("DATABASE_URL", &database_url)
            .env("STRIPE_API_BASE", &env.stripe_api_base)
            .env("STRIPE_SECRET_KEY", &env.secret_key)
            .env(
                "STRIPE_PUBLISHABLE_KEY",
                format!("pk_test_soak{}", random_token(24)),
            )
            .env("STRIPE_WEBHOOK_SECRET", &env.webhook_secret)
            .env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("MAIL_OUTBOX", &outbox)
            // A key of our own: the shop's warning about a random one would only be noise.
            .env("SESSION_KEY", hex::encode(rand::random::<[u8; 64]>()));
        let started = async {
            let (process, url) =
                ChildGuard::spawn("storefront", command, env.dir.join("storefront.log")).await?;
            // The shop has migrated its database by the time it listens.
            let db = sea_orm::Database::connect(&database_url)
                .await
                .context("opening the storefront's database to read its orders")?;
            anyhow::Ok((process, url, db))
        };
        match started.await {
            Ok((process, url, db)) => Ok(ProcessShop {
                process,
                url,
                database_url,
                outbox,
                db,
                postgres,
            }),
            Err(e) => {
                if let Some(p) = postgres {
                    p.drop_database().await;
                }
                Err(e)
            }
        }
    }

    /// Keeps its PostgreSQL database (for a person to look at after a failure).
    pub fn keep_database(&mut self) -> Option<String> {
        self.postgres.take().map(|p| p.name().to_string())
    }
}

impl Shop for ProcessShop {
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

    fn describe(&self) -> String {
        let database = describe_database(&self.database_url);
        format!(
            "storefront pid {}, database {database}, receipts in {}",
            self.process.pid(),
            self.outbox.display()
        )
    }

    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let ProcessShop {
                process,
                db,
                postgres,
                ..
            } = *self;
            drop(process);
            let _ = db.close().await;
            if let Some(postgres) = postgres {
                postgres.drop_database().await;
            }
        })
    }
}
