//! Scenarios against any shop whose buy button leads to Stripe Checkout (`harness run
//! --shop URL --buy PATH --stripe-base URL --stripe-key KEY`), judged from the shopper's
//! side (where the redirects end, what the page says, no error page) and from Stripe's
//! (sessions paid, the shop's answers to genuine deliveries 2xx, to forged ones 4xx). The
//! shop's records are not visible, so scenarios that need them are skipped with the reason.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use mock_stripe::control_client::Fault;
use reqwest::StatusCode;
use url::Url;

use super::steps::{CARD_SUCCESS, expect_declined, payment_form, session_id_of, submit_card};
use super::{Ctx, Scenario};
use crate::html::Form;
use crate::patience::{ANSWER_WAIT, Patience};
use crate::shopper::{Shopper, Visit, excerpt};

/// Where the shop and its Stripe are.
#[derive(Clone, Debug)]
pub struct ExternalShop {
    pub shop_url: Url,
    /// The page with the buy button (a form or a link), relative to `shop_url`.
    pub buy_path: String,
    pub stripe_base: Url,
    /// The shop's secret key on that Stripe (its account on the mock).
    pub stripe_key: String,
}

/// Why a scenario cannot run against an external shop, if it cannot.
pub fn unsupported(scenario: Scenario, has_control_api: bool) -> Option<&'static str> {
    use Scenario::*;
    match scenario {
        PayWithTestCard
        | DeclineGenericThenPay
        | DeclineInsufficientFundsThenPay
        | DeclineExpiredCardThenPay
        | DeclineIncorrectCvcThenPay
        | CancelAtPaymentPage
        | ThreeDSecureCompleted
        | ThreeDSecureFailedThenPay => None,
        WebhookDuplicated | WebhookForgedSignature | SessionExpires if has_control_api => None,
        WebhookDuplicated | WebhookForgedSignature | SessionExpires => {
            Some("needs mock-stripe's control API (faults, clock) at --stripe-base")
        }
        _ => Some("needs the shop's records (orders, email), which only our own stack can read"),
    }
}

pub async fn run(scenario: Scenario, ctx: &Ctx, shop: &ExternalShop) -> anyhow::Result<()> {
    use Scenario::*;
    match scenario {
        PayWithTestCard => pay_with(ctx, shop, None).await,
        DeclineGenericThenPay => {
            pay_with(
                ctx,
                shop,
                Some(("4000 0000 0000 0002", "Your card was declined.")),
            )
            .await
        }
        DeclineInsufficientFundsThenPay => {
            pay_with(
                ctx,
                shop,
                Some(("4000 0000 0000 9995", "Your card has insufficient funds.")),
            )
            .await
        }
        DeclineExpiredCardThenPay => {
            pay_with(
                ctx,
                shop,
                Some(("4000 0000 0000 0069", "Your card has expired.")),
            )
            .await
        }
        DeclineIncorrectCvcThenPay => {
            pay_with(
                ctx,
                shop,
                Some((
                    "4000 0000 0000 0127",
                    "Your card's security code is incorrect.",
                )),
            )
            .await
        }
        CancelAtPaymentPage => cancel(ctx, shop).await,
        ThreeDSecureCompleted => three_d_secure(ctx, shop, true).await,
        ThreeDSecureFailedThenPay => three_d_secure(ctx, shop, false).await,
        WebhookDuplicated => {
            ctx.control
                .add_fault(&Fault::webhook_duplicate().event_type(COMPLETED))
                .await?;
            pay_with(ctx, shop, None).await
        }
        WebhookForgedSignature => forged(ctx, shop).await,
        SessionExpires => expires(ctx, shop).await,
        other => bail!("{} cannot run against an external shop", other.name()),
    }
}

const COMPLETED: &str = "checkout.session.completed";

/// Opens the buy page and follows its buy button to the payment page.
async fn to_payment_page(
    ctx: &Ctx,
    shop: &ExternalShop,
    shopper: &Shopper,
) -> anyhow::Result<(String, Visit)> {
    let page_url = shop.shop_url.join(&shop.buy_path)?;
    let page = shopper
        .open(&page_url)
        .await?
        .expect_status(StatusCode::OK)?
        .page;
    let looks_like_buy = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.contains("buy") || s.contains("checkout") || s.contains("purchase") || s.contains("pay")
    };
    let visit = match pick_form(page.forms(), looks_like_buy) {
        Some(form) => shopper.submit(&form).await?,
        None => {
            let link = page
                .links()
                .into_iter()
                .find(|l| looks_like_buy(l.as_str()))
                .with_context(|| {
                    format!(
                        "no buy form or link on {page_url}: {}",
                        excerpt(page.text())
                    )
                })?;
            shopper.open(&link).await?
        }
    };
    let visit = visit.expect_status(StatusCode::OK)?;
    ensure!(
        visit.page.url.origin() == shop.stripe_base.origin(),
        "the buy button should lead to Stripe Checkout on {}, led to {}",
        shop.stripe_base,
        visit.page.url
    );
    let session_id = session_id_of(&visit.page.url)?;
    ctx.timeline
        .check(format!("the buy button led to Checkout ({session_id})"));
    Ok((session_id, visit))
}

fn pick_form(forms: Vec<Form>, looks_like_buy: impl Fn(&str) -> bool) -> Option<Form> {
    let posts: Vec<Form> = forms
        .into_iter()
        .filter(|f| f.method.eq_ignore_ascii_case("post"))
        .collect();
    let preferred = posts.iter().position(|f| looks_like_buy(f.action.as_str()));
    match preferred {
        Some(i) => posts.into_iter().nth(i),
        None => posts.into_iter().next(),
    }
}

/// Back at the shop, on a page that is not an error.
fn expect_back_at_shop(ctx: &Ctx, shop: &ExternalShop, visit: &Visit) -> anyhow::Result<()> {
    let first = visit.redirects.first().context("paying did not redirect")?;
    ensure!(
        first.origin() == shop.shop_url.origin(),
        "the shopper should be sent back to the shop, was sent to {first}"
    );
    ensure!(
        visit.page.status < 400,
        "the shop answered {} to the returning shopper: {}",
        visit.page.status,
        excerpt(visit.page.text())
    );
    ctx.timeline.check(format!(
        "back at the shop on {} ({})",
        visit.page.url, visit.page.status
    ));
    Ok(())
}

async fn session(ctx: &Ctx, id: &str) -> anyhow::Result<serde_json::Value> {
    let resp = reqwest::Client::new()
        .get(format!("{}v1/checkout/sessions/{id}", ctx.stack.mock_url))
        .bearer_auth(&ctx.stack.secret_key)
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "Stripe does not know {id} for this key: {}",
        resp.status()
    );
    Ok(resp.json().await?)
}

/// Stripe's side: the session is paid, and the shop answered 2xx to its completion.
async fn expect_paid_and_accepted(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let s = session(ctx, id).await?;
    ensure!(
        s["status"] == "complete" && s["payment_status"] == "paid",
        "the session should be complete and paid: {} / {}",
        s["status"],
        s["payment_status"]
    );
    ctx.timeline.check("Stripe says the session is paid");
    if ctx.control.healthy().await {
        let event = completed_event_of(ctx, id).await?;
        let mut patience = Patience::new(ANSWER_WAIT);
        loop {
            ctx.observe_deliveries().await?;
            let attempts = ctx.control.deliveries(Some(&event)).await?;
            let answers: Vec<_> = attempts
                .iter()
                .filter(|a| a.event_type == COMPLETED)
                .collect();
            if answers.iter().any(|a| a.succeeded) {
                ctx.timeline
                    .check("the shop answered 2xx to checkout.session.completed");
                return Ok(());
            }
            if patience.run_out() {
                bail!(
                    "the shop never answered 2xx to checkout.session.completed (is its signing secret right?): {:?}",
                    answers
                        .iter()
                        .map(|a| (a.attempt, a.status, a.error.clone()))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// The id of the `checkout.session.completed` event of session `id` (the account may
/// hold other purchases' events: the shop is shared by every scenario of the run).
async fn completed_event_of(ctx: &Ctx, id: &str) -> anyhow::Result<String> {
    let events: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}v1/events?type={COMPLETED}&limit=100",
            ctx.stack.mock_url
        ))
        .bearer_auth(&ctx.stack.secret_key)
        .send()
        .await?
        .json()
        .await?;
    events["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["data"]["object"]["id"] == id)
        .and_then(|e| e["id"].as_str())
        .map(str::to_string)
        .with_context(|| format!("Stripe sent no checkout.session.completed for {id}"))
}

async fn pay_with(
    ctx: &Ctx,
    shop: &ExternalShop,
    decline_first: Option<(&str, &str)>,
) -> anyhow::Result<()> {
    let shopper = ctx.shopper()?;
    let (id, visit) = to_payment_page(ctx, shop, &shopper).await?;
    let mut page = visit.page;
    if let Some((card, message)) = decline_first {
        let declined = submit_card(&shopper, &page, card, "buyer@example.com").await?;
        expect_declined(ctx, &declined, message)?;
        let s = session(ctx, &id).await?;
        ensure!(
            s["status"] == "open",
            "a decline should leave the session open: {}",
            s["status"]
        );
        page = declined.page;
    }
    let paid = submit_card(&shopper, &page, CARD_SUCCESS, "buyer@example.com").await?;
    expect_back_at_shop(ctx, shop, &paid)?;
    expect_paid_and_accepted(ctx, &id).await
}

async fn cancel(ctx: &Ctx, shop: &ExternalShop) -> anyhow::Result<()> {
    let shopper = ctx.shopper()?;
    let (id, visit) = to_payment_page(ctx, shop, &shopper).await?;
    let back = visit
        .page
        .links()
        .into_iter()
        .find(|l| l.origin() == shop.shop_url.origin())
        .context("no link back to the shop on the payment page (cancel_url)")?;
    let visit = shopper.open(&back).await?;
    ensure!(
        visit.page.status < 400,
        "the shop answered {} to a shopper who cancelled: {}",
        visit.page.status,
        excerpt(visit.page.text())
    );
    ctx.timeline
        .check("back at the shop after cancelling, no error page");
    let s = session(ctx, &id).await?;
    ensure!(
        s["payment_status"] == "unpaid",
        "nothing should be paid after cancelling"
    );
    Ok(())
}

async fn three_d_secure(ctx: &Ctx, shop: &ExternalShop, complete: bool) -> anyhow::Result<()> {
    let shopper = ctx.shopper()?;
    let (id, visit) = to_payment_page(ctx, shop, &shopper).await?;
    let challenge = submit_card(
        &shopper,
        &visit.page,
        "4000 0000 0000 3220",
        "buyer@example.com",
    )
    .await?
    .expect_status(StatusCode::OK)?;
    let mut form = challenge
        .page
        .form_with_input("challenge")
        .context("no 3-D Secure challenge after a 3-D Secure card")?;
    form.set("outcome", if complete { "complete" } else { "fail" });
    let answered = shopper.submit(&form).await?;
    if complete {
        expect_back_at_shop(ctx, shop, &answered)?;
    } else {
        expect_declined(ctx, &answered, "failed authentication")?;
        payment_form(&answered.page)?;
        let paid = submit_card(&shopper, &answered.page, CARD_SUCCESS, "buyer@example.com").await?;
        expect_back_at_shop(ctx, shop, &paid)?;
    }
    expect_paid_and_accepted(ctx, &id).await
}

async fn forged(ctx: &Ctx, shop: &ExternalShop) -> anyhow::Result<()> {
    ctx.control
        .add_fault(&Fault::webhook_bad_signature().event_type(COMPLETED))
        .await?;
    let shopper = ctx.shopper()?;
    let (id, visit) = to_payment_page(ctx, shop, &shopper).await?;
    let paid = submit_card(&shopper, &visit.page, CARD_SUCCESS, "buyer@example.com").await?;
    expect_back_at_shop(ctx, shop, &paid)?;
    let event = completed_event_of(ctx, &id).await?;
    let attempts = ctx.control.deliveries(Some(&event)).await?;
    let forged = attempts
        .iter()
        .find(|a| a.event_type == COMPLETED && a.fault.as_deref() == Some("bad_signature"))
        .context("no forged delivery was made")?;
    ensure!(
        forged.status.is_some_and(|s| (400..500).contains(&s)),
        "the shop should refuse a forged signature with a 4xx, answered {:?}",
        forged.status
    );
    ctx.timeline
        .check("the shop refused the forged delivery with a 4xx");
    // Stripe retries a second later, genuinely signed.
    ctx.control.advance(60).await?;
    expect_paid_and_accepted(ctx, &id).await
}

async fn expires(ctx: &Ctx, shop: &ExternalShop) -> anyhow::Result<()> {
    let shopper = ctx.shopper()?;
    let (id, _) = to_payment_page(ctx, shop, &shopper).await?;
    ctx.control.advance(86_401).await?;
    let s = session(ctx, &id).await?;
    ensure!(
        s["status"] == "expired",
        "the session should have expired: {}",
        s["status"]
    );
    let attempts = ctx.control.deliveries(None).await?;
    ensure!(
        attempts
            .iter()
            .any(|a| a.event_type == "checkout.session.expired" && a.succeeded),
        "the shop never answered 2xx to checkout.session.expired"
    );
    ctx.timeline
        .check("the shop answered 2xx to checkout.session.expired");
    Ok(())
}
