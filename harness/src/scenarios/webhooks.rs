//! What Stripe's webhooks can do to a shop: arrive twice, late, out of order, after the
//! shopper is back, fail and be retried, never arrive, be forged or replayed.

use std::time::Duration;

use anyhow::{Context, ensure};
use mock_stripe::control_client::Fault;

use super::Ctx;
use super::payments::now_unix;
use super::steps::*;
use crate::catalogue::{first_for_sale, for_sale};

const COMPLETED: &str = "checkout.session.completed";

/// Buy, pay with 4242 and land back at the shop with the thank-you message.
async fn buy_and_pay(ctx: &Ctx, email: &str) -> anyhow::Result<Checkout> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let landing = pay(ctx, &shopper, &checkout.payment_page, CARD_SUCCESS, email).await?;
    expect_thank_you(ctx, &landing, &checkout, &product)?;
    Ok(checkout)
}

async fn paid_once(ctx: &Ctx, checkout: &Checkout, email: &str) -> anyhow::Result<()> {
    let product = first_for_sale();
    expect_order(ctx, &checkout.session_id, "paid", &product, Some(email)).await?;
    expect_paid_orders(ctx, 1).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}

pub async fn duplicated(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.note_stripe("fault: the next checkout.session.completed is delivered twice");
    ctx.control
        .add_fault(&Fault::webhook_duplicate().event_type(COMPLETED))
        .await?;
    let email = "dup@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    expect_shop_accepted(ctx, COMPLETED).await?;
    paid_once(ctx, &checkout, email).await
}

pub async fn after_redirect(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.note_stripe("redirect timing: after (the shopper is back before the webhook)");
    ctx.control.set_redirect_timing("after").await?;
    let email = "late@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    eventually_order(ctx, &checkout.session_id, "paid").await?;
    expect_shop_accepted(ctx, COMPLETED).await?;
    paid_once(ctx, &checkout, email).await
}

pub async fn delayed_minutes(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.control.pin_clock(now_unix()).await?;
    ctx.note_stripe("fault: checkout.session.completed is delivered 5 minutes late");
    ctx.control
        .add_fault(&Fault::webhook_delay(300).event_type(COMPLETED))
        .await?;
    let email = "slow@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    // Back with the thank-you message, but nothing is fulfilled from the redirect.
    expect_order(
        ctx,
        &checkout.session_id,
        "pending",
        &first_for_sale(),
        None,
    )
    .await?;
    expect_nothing_recorded(ctx, "the redirect alone").await?;
    ctx.note_stripe("advance the clock by 5 minutes");
    ctx.control.advance(300).await?;
    expect_shop_accepted(ctx, COMPLETED).await?;
    paid_once(ctx, &checkout, email).await
}

pub async fn reordered(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.note_stripe("fault: the first checkout.session.completed waits for the next one");
    ctx.control
        .add_fault(&Fault::webhook_reorder().event_type(COMPLETED))
        .await?;
    let products = for_sale();
    let (first, second) = (&products[0], &products[1 % products.len()]);
    let a = ctx.shopper()?;
    let b = ctx.shopper()?;
    let a_checkout = open_payment_page(ctx, &a, first).await?;
    let a_landing = pay(
        ctx,
        &a,
        &a_checkout.payment_page,
        CARD_SUCCESS,
        "a@example.com",
    )
    .await?;
    expect_thank_you(ctx, &a_landing, &a_checkout, first)?;
    // A's completion is held; B's goes first, and releases A's behind it.
    let b_checkout = open_payment_page(ctx, &b, second).await?;
    let b_landing = pay(
        ctx,
        &b,
        &b_checkout.payment_page,
        CARD_SUCCESS,
        "b@example.com",
    )
    .await?;
    expect_thank_you(ctx, &b_landing, &b_checkout, second)?;
    eventually_order(ctx, &a_checkout.session_id, "paid").await?;
    eventually_order(ctx, &b_checkout.session_id, "paid").await?;
    expect_paid_orders(ctx, 2).await?;
    expect_shop_accepted_times(ctx, COMPLETED, 2).await?;
    expect_receipts(ctx, 2, None, None).await
}

pub async fn fails_then_retried(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.control.pin_clock(now_unix()).await?;
    ctx.note_stripe("fault: the first two deliveries of checkout.session.completed fail with 500");
    ctx.control
        .add_fault(&Fault::webhook_status(500).count(2).event_type(COMPLETED))
        .await?;
    let email = "retry@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    expect_nothing_recorded(ctx, "two failed deliveries").await?;
    ctx.note_stripe("advance the clock by a minute: Stripe retries");
    ctx.control.advance(60).await?;
    let attempts = ctx.control.deliveries(None).await?;
    let mut tries: Vec<_> = attempts
        .iter()
        .filter(|a| a.event_type == COMPLETED)
        .map(|a| (a.attempt, a.succeeded))
        .collect();
    tries.sort();
    ensure!(
        tries == [(1, false), (2, false), (3, true)],
        "expected two failed attempts then a delivered one, got {tries:?}"
    );
    ctx.timeline
        .check("attempts 1 and 2 failed, attempt 3 was delivered");
    paid_once(ctx, &checkout, email).await
}

pub async fn dropped(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.note_stripe("fault: checkout.session.completed is never delivered");
    ctx.control
        .add_fault(&Fault::webhook_drop().event_type(COMPLETED))
        .await?;
    let checkout = buy_and_pay(ctx, "lost@example.com").await?;
    // Give a shop that fulfils from the redirect every chance to show it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_order(
        ctx,
        &checkout.session_id,
        "pending",
        &first_for_sale(),
        None,
    )
    .await?;
    expect_nothing_recorded(ctx, "a purchase whose webhook never came").await
}

pub async fn forged_signature(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.control.pin_clock(now_unix()).await?;
    ctx.note_stripe(
        "fault: the first delivery of checkout.session.completed is signed with a wrong secret",
    );
    ctx.control
        .add_fault(&Fault::webhook_bad_signature().event_type(COMPLETED))
        .await?;
    let email = "forged@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    let attempts = ctx.control.deliveries(None).await?;
    let forged = attempts
        .iter()
        .find(|a| a.event_type == COMPLETED && a.attempt == 1)
        .context("no first attempt of checkout.session.completed")?;
    ensure!(
        forged.status.is_some_and(|s| (400..500).contains(&s)),
        "the shop should refuse a forged signature with a 4xx, answered {:?}",
        forged.status
    );
    ctx.timeline
        .check("the shop refused the forged delivery with a 4xx");
    expect_nothing_recorded(ctx, "a forged delivery").await?;
    ctx.control.advance(60).await?;
    expect_shop_accepted(ctx, COMPLETED).await?;
    paid_once(ctx, &checkout, email).await
}

pub async fn replayed_old_signature(ctx: &Ctx) -> anyhow::Result<()> {
    let email = "replay@example.com";
    let checkout = buy_and_pay(ctx, email).await?;
    paid_once(ctx, &checkout, email).await?;
    // An attacker (or a confused proxy) replays the genuine body with its old signature.
    let events: serde_json::Value = reqwest::Client::new()
        .get(format!("{}v1/events?type={COMPLETED}", ctx.stack.mock_url))
        .basic_auth(&ctx.stack.secret_key, Some(""))
        .send()
        .await?
        .json()
        .await?;
    let event = &events["data"][0];
    let body = serde_json::to_vec_pretty(event)?;
    let hook = ctx.stack.shop_url.join("/webhooks/stripe")?;
    let an_hour_ago = now_unix() - 3600;
    let stale = mock_stripe::signature::sign(&ctx.stack.webhook_secret, an_hour_ago, &body);
    let answer = reqwest::Client::new()
        .post(hook.clone())
        .header("Stripe-Signature", stale)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    ensure!(
        answer.status().is_client_error(),
        "a signature an hour old should be refused with a 4xx, got {}",
        answer.status()
    );
    ctx.timeline.check(format!(
        "the shop refused the replay signed an hour ago ({})",
        answer.status()
    ));
    // Stripe itself resending the event (fresh signature) changes nothing either.
    ctx.note_stripe("redeliver checkout.session.completed");
    ctx.control
        .redeliver(event["id"].as_str().context("the event has an id")?)
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    paid_once(ctx, &checkout, email).await
}
