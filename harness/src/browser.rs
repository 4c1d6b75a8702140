//! The purchase in a real browser: headless Chromium driven over WebDriver
//! (`chromedriver`, Debian's `chromium-driver`), clicking through the shop and the
//! payment page by Stripe's input ids, with a screenshot per step on the timeline.
//!
//! A WebDriver client in Rust (fantoccini) rather than a Node script: the harness binary
//! then needs only Chromium and its driver, no npm packages.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use fantoccini::{Client, ClientBuilder, Locator};
use url::Url;

use crate::catalogue::{CatalogueProduct, first_for_sale};
use crate::patience::Patience;
use crate::scenarios::steps::{FLASH_CANCEL, FLASH_SUCCESS_PREFIX, expect_order, expect_receipts};
use crate::scenarios::{Ctx, Scenario};
use crate::timeline::Actor;

/// Where Debian puts them; `CHROMIUM` and `CHROMEDRIVER` override.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long one page may take to load or one element to appear.
const PATIENCE: Duration = Duration::from_secs(15);

/// A running chromedriver. Each scenario opens its own browser session on it.
pub struct Driver {
    process: Child,
    url: String,
    /// chromedriver's and Chromium's TMPDIR. Chromium leaves a folder for its singleton
    /// socket in TMPDIR after every session, even one closed properly, and a killed run
    /// leaves its profile too: in a folder of our own, all of it goes with the driver.
    scratch: tempfile::TempDir,
}

impl Drop for Driver {
    /// Kills chromedriver and every browser it started: they share its process group.
    /// Killing chromedriver alone left a browser whose session was never closed (a
    /// scenario cut off by its deadline) running, adopted by init, for as long as the
    /// machine was up.
    fn drop(&mut self) {
        if let Ok(group) = libc::pid_t::try_from(self.process.id()) {
            // SAFETY: kill(2) with a negative pid signals that process group; it reads no
            // memory of ours. The group is chromedriver's own (`process_group(0)`), so
            // nothing else is in it.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        // Then `scratch` is removed, with whatever the browsers left in it.
    }
}

/// Why the browser scenarios cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    for (var, default, package) in [
        ("CHROMIUM", CHROMIUM, "chromium"),
        ("CHROMEDRIVER", CHROMEDRIVER, "chromium-driver"),
    ] {
        let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
        if !std::path::Path::new(&path).exists() {
            return Some(format!(
                "{path} not found: install Debian's {package} (or set {var})"
            ));
        }
    }
    None
}

impl Driver {
    pub async fn start() -> anyhow::Result<Driver> {
        if let Some(why) = missing() {
            bail!(why);
        }
        let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let scratch = tempfile::Builder::new()
            .prefix("harness-chromium-")
            .tempdir()
            .context("creating a folder for Chromium's temporary files")?;
        let process = Command::new(&driver)
            // A process group of its own, which its browsers join: see `Drop`.
            .process_group(0)
            .arg(format!("--port={port}"))
            .env("TMPDIR", scratch.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {driver}"))?;
        let url = format!("http://127.0.0.1:{port}");
        let mut patience = Patience::new(PATIENCE);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(
                !patience.run_out(),
                "{driver} did not listen within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Driver {
            process,
            url,
            scratch,
        })
    }

    /// Where chromedriver and its browsers keep their temporary files; removed with the driver.
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.scratch.path()
    }

    /// The process group of chromedriver and its browsers (its pid).
    pub fn process_group(&self) -> u32 {
        self.process.id()
    }

    /// A fresh headless Chromium (own cookies).
    pub async fn session(&self) -> anyhow::Result<Client> {
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                // Root in a container: no sandbox. Small /dev/shm on CI machines.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1100,900"]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .context("opening a Chromium session through chromedriver")
    }
}

/// The scenarios that also run in the browser with `harness run --browser`.
pub const SCENARIOS: [Scenario; 4] = [
    Scenario::PayWithTestCard,
    Scenario::DeclineGenericThenPay,
    Scenario::ThreeDSecureCompleted,
    Scenario::CancelAtPaymentPage,
];

async fn screenshot(ctx: &Ctx, browser: &Client, what: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await.context("taking a screenshot")?;
    let url = browser.current_url().await?;
    ctx.timeline.record(
        Actor::Screenshot,
        format!("{what} ({url})"),
        Some(base64::engine::general_purpose::STANDARD.encode(png)),
    );
    Ok(())
}

async fn body_text(browser: &Client) -> anyhow::Result<String> {
    Ok(browser.find(Locator::Css("body")).await?.text().await?)
}

/// Waits until the browser is on `origin` (the shop or the payment page).
async fn wait_for_origin(browser: &Client, origin: &Url, what: &str) -> anyhow::Result<Url> {
    let mut patience = Patience::new(PATIENCE);
    loop {
        let url = browser.current_url().await?;
        if url.origin() == origin.origin() {
            return Ok(url);
        }
        ensure!(
            !patience.run_out(),
            "{what}: still on {url} after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the page's text contains `text` (the shop's flash after a redirect).
async fn wait_for_text(browser: &Client, text: &str) -> anyhow::Result<()> {
    let mut patience = Patience::new(PATIENCE);
    while !body_text(browser).await?.contains(text) {
        ensure!(!patience.run_out(), "the shop never said {text:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(())
}

async fn fill(browser: &Client, id: &str, value: &str) -> anyhow::Result<()> {
    let input = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Id(id))
        .await
        .with_context(|| format!("no #{id} on the payment page"))?;
    input.clear().await?;
    input.send_keys(value).await?;
    Ok(())
}

/// The product page, then Buy: the browser ends on the payment page. Returns the session id.
async fn to_payment_page(
    ctx: &Ctx,
    browser: &Client,
    product: &CatalogueProduct,
) -> anyhow::Result<String> {
    browser.goto(ctx.stack.shop_url.as_str()).await?;
    browser
        .find(Locator::LinkText(&product.name))
        .await
        .with_context(|| format!("no link to {:?} on the front page", product.name))?
        .click()
        .await?;
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("form[action$='/buy'] button"))
        .await
        .context("no Buy button on the product page")?
        .click()
        .await?;
    let url = wait_for_origin(browser, &ctx.stack.mock_url, "after Buy").await?;
    screenshot(ctx, browser, "the payment page").await?;
    let id = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_string();
    ensure!(
        id.starts_with("cs_test_"),
        "Buy led to {url}, not a Checkout Session"
    );
    ctx.timeline
        .check(format!("Buy led the browser to the payment page of {id}"));
    Ok(id)
}

async fn pay_card(browser: &Client, card: &str, email: &str) -> anyhow::Result<()> {
    fill(browser, "email", email).await?;
    fill(browser, "cardNumber", card).await?;
    fill(browser, "cardExpiry", "12 / 34").await?;
    fill(browser, "cardCvc", "123").await?;
    fill(browser, "billingName", "Jenny Rosen").await?;
    browser
        .find(Locator::Id("submitButton"))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn expect_thank_you(
    ctx: &Ctx,
    browser: &Client,
    product: &CatalogueProduct,
) -> anyhow::Result<()> {
    wait_for_origin(browser, &ctx.stack.shop_url, "after paying").await?;
    let flash = format!("{FLASH_SUCCESS_PREFIX} {}", product.name);
    wait_for_text(browser, &flash).await?;
    screenshot(ctx, browser, "back at the shop").await?;
    ctx.timeline
        .check("the browser is back at the shop with the thank-you message");
    Ok(())
}

/// A browser session that is closed even when its scenario is dropped mid-way (cut off
/// by its deadline): otherwise its Chromium runs on beside the next scenarios.
struct OpenSession(Option<Client>);

impl OpenSession {
    async fn close(mut self) {
        if let Some(browser) = self.0.take() {
            let _ = browser.close().await;
        }
    }
}

impl Drop for OpenSession {
    fn drop(&mut self) {
        if let (Some(browser), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = browser.close().await;
            });
        }
    }
}

/// Runs one of [`SCENARIOS`] in a fresh browser session.
pub async fn run(scenario: Scenario, ctx: &Ctx, driver: &Driver) -> anyhow::Result<()> {
    let browser = driver.session().await?;
    let open = OpenSession(Some(browser.clone()));
    let result = run_in(scenario, ctx, &browser).await;
    if result.is_err() {
        let _ = screenshot(ctx, &browser, "where it failed").await;
    }
    open.close().await;
    result
}

async fn run_in(scenario: Scenario, ctx: &Ctx, browser: &Client) -> anyhow::Result<()> {
    let product = first_for_sale();
    let email = "browser@example.com";
    let session = to_payment_page(ctx, browser, &product).await?;
    match scenario {
        Scenario::PayWithTestCard => {
            pay_card(browser, "4242 4242 4242 4242", email).await?;
            expect_thank_you(ctx, browser, &product).await?;
        }
        Scenario::DeclineGenericThenPay => {
            pay_card(browser, "4000 0000 0000 0002", email).await?;
            let error = browser
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Id("card-errors"))
                .await
                .context("no decline message on the payment page")?;
            let text = error.text().await?;
            ensure!(
                text.contains("Your card was declined."),
                "the page says {text:?}"
            );
            screenshot(ctx, browser, "the decline").await?;
            ctx.timeline.check("the payment page showed the decline");
            pay_card(browser, "4242 4242 4242 4242", email).await?;
            expect_thank_you(ctx, browser, &product).await?;
        }
        Scenario::ThreeDSecureCompleted => {
            pay_card(browser, "4000 0000 0000 3220", email).await?;
            let complete = browser
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Id("complete-authentication"))
                .await
                .context("no 3-D Secure page after a 3-D Secure card")?;
            screenshot(ctx, browser, "the 3-D Secure page").await?;
            complete.click().await?;
            expect_thank_you(ctx, browser, &product).await?;
        }
        Scenario::CancelAtPaymentPage => {
            browser
                .find(Locator::Id("cancel-link"))
                .await?
                .click()
                .await?;
            wait_for_origin(browser, &ctx.stack.shop_url, "after cancelling").await?;
            wait_for_text(browser, FLASH_CANCEL).await?;
            screenshot(ctx, browser, "back at the shop after cancelling").await?;
            expect_order(ctx, &session, "pending", &product, None).await?;
            return expect_receipts(ctx, 0, None, None).await;
        }
        other => bail!("{} has no browser version", other.name()),
    }
    expect_order(ctx, &session, "paid", &product, Some(email)).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}
