//! An API that fails while the shop creates the Checkout Session.

use anyhow::{Context, ensure};
use mock_stripe::control_client::Fault;
use reqwest::StatusCode;

use super::Ctx;
use super::steps::*;
use crate::catalogue::first_for_sale;
use crate::shopper::excerpt;

const SESSIONS: &str = "/v1/checkout/sessions";

#[derive(Clone, Copy, Debug)]
pub enum Trouble {
    /// One 429.
    RateLimited,
    /// Two 500s.
    ServerErrors,
    /// The session is created, the answer lost.
    LostAnswer,
}

/// The sessions on the shop's account, as Stripe lists them.
async fn sessions(ctx: &Ctx) -> anyhow::Result<Vec<String>> {
    let list: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}v1/checkout/sessions?limit=100",
            ctx.stack.mock_url
        ))
        .basic_auth(&ctx.stack.secret_key, Some(""))
        .send()
        .await?
        .json()
        .await?;
    Ok(list["data"]
        .as_array()
        .context("a list of sessions")?
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect())
}

pub async fn retried_create(ctx: &Ctx, trouble: Trouble) -> anyhow::Result<()> {
    let fault = match trouble {
        Trouble::RateLimited => Fault::api_status(429),
        Trouble::ServerErrors => Fault::api_status(500).count(2),
        Trouble::LostAnswer => Fault::api_timeout(),
    };
    ctx.note_stripe(format!("fault on {SESSIONS}: {trouble:?}"));
    ctx.control.add_fault(&fault.path(SESSIONS)).await?;
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let faults = ctx.control.faults().await?;
    ensure!(faults.is_empty(), "the fault was not used up: {faults:?}");
    let listed = sessions(ctx).await?;
    ensure!(
        listed == [checkout.session_id.clone()],
        "one purchase should make exactly one Checkout Session, found {listed:?}"
    );
    ctx.timeline
        .check("the shop's retries made exactly one Checkout Session");
    let email = "again@example.com";
    let landing = pay(ctx, &shopper, &checkout.payment_page, CARD_SUCCESS, email).await?;
    expect_thank_you(ctx, &landing, &checkout, &product)?;
    expect_order(ctx, &checkout.session_id, "paid", &product, Some(email)).await?;
    expect_paid_orders(ctx, 1).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}

pub async fn down_then_try_again(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.note_stripe(format!(
        "fault on {SESSIONS}: 503, three times (every retry)"
    ));
    ctx.control
        .add_fault(&Fault::api_status(503).count(3).path(SESSIONS))
        .await?;
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let (_, visit) = buy(ctx, &shopper, &product).await?;
    ensure!(
        visit.page.status == StatusCode::BAD_GATEWAY.as_u16()
            && visit.page.contains_text("try again"),
        "with Stripe down, Buy should answer a clear 'try again' page; got {}: {}",
        visit.page.status,
        excerpt(visit.page.text())
    );
    ctx.timeline
        .check("the shopper got a clear page asking to try again");
    expect_nothing_recorded(ctx, "Stripe being down").await?;
    // The shopper tries again: Stripe is back.
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let email = "patient@example.com";
    let landing = pay(ctx, &shopper, &checkout.payment_page, CARD_SUCCESS, email).await?;
    expect_thank_you(ctx, &landing, &checkout, &product)?;
    expect_paid_orders(ctx, 1).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}
