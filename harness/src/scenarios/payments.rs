//! Paying, declines, cancelling, expiry, 3-D Secure and delayed (bank debit) payments.

use anyhow::{Context, ensure};
use mock_stripe::control_client::Completion;
use reqwest::StatusCode;

use super::Ctx;
use super::steps::*;
use crate::catalogue::first_for_sale;
use crate::shopper::excerpt;

pub async fn pay_with_test_card(ctx: &Ctx) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let email = "jenny@example.com";
    let landing = pay(ctx, &shopper, &checkout.payment_page, CARD_SUCCESS, email).await?;
    expect_thank_you(ctx, &landing, &checkout, &product)?;
    expect_order(ctx, &checkout.session_id, "paid", &product, Some(email)).await?;
    expect_paid_orders(ctx, 1).await?;
    expect_shop_accepted(ctx, "checkout.session.completed").await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}

pub async fn decline_then_pay(ctx: &Ctx, card: &str, message: &str) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let email = "sam@example.com";
    let declined = submit_card(&shopper, &checkout.payment_page, card, email).await?;
    expect_declined(ctx, &declined, message)?;
    expect_nothing_recorded(ctx, "a declined card").await?;
    // The shopper tries again on the page they were left on, as people do.
    let landing = pay(ctx, &shopper, &declined.page, CARD_SUCCESS, email).await?;
    expect_thank_you(ctx, &landing, &checkout, &product)?;
    expect_order(ctx, &checkout.session_id, "paid", &product, Some(email)).await?;
    expect_paid_orders(ctx, 1).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}

pub async fn cancel_at_payment_page(ctx: &Ctx) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let cancel_link = checkout
        .payment_page
        .links()
        .into_iter()
        .find(|l| {
            l.origin() == ctx.stack.shop_url.origin()
                && query_value(l, "status").as_deref() == Some("cancel")
        })
        .with_context(|| {
            format!(
                "no link back to the shop's cancel URL on the payment page: {}",
                excerpt(checkout.payment_page.text())
            )
        })?;
    let visit = shopper
        .open(&cancel_link)
        .await?
        .expect_status(StatusCode::OK)?;
    ensure!(
        visit.page.url == checkout.product_url,
        "cancelling should end on the product page {}, ended on {}",
        checkout.product_url,
        visit.page.url
    );
    ensure!(
        visit.page.contains_text(FLASH_CANCEL),
        "the product page after cancelling should say {FLASH_CANCEL:?}; it says: {}",
        excerpt(visit.page.text())
    );
    ctx.timeline
        .check("the shopper is back with the cancel message");
    expect_nothing_recorded(ctx, "cancelling").await?;
    expect_order(ctx, &checkout.session_id, "pending", &product, None).await
}

pub async fn session_expires(ctx: &Ctx) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    // A day and a second later, on the account's clock.
    ctx.note_stripe("advance the clock by 24 h");
    ctx.control.advance(86_401).await?;
    expect_shop_accepted(ctx, "checkout.session.expired").await?;
    expect_order(ctx, &checkout.session_id, "expired", &product, None).await?;
    let gone = shopper.open(&checkout.payment_page.url).await?;
    ensure!(
        gone.page.status == 410 && gone.page.contains_text("no longer available"),
        "the payment page of an expired session should say it is gone; got {}: {}",
        gone.page.status,
        excerpt(gone.page.text())
    );
    ctx.timeline
        .check("the payment page says the session is no longer available");
    expect_nothing_recorded(ctx, "an expired session").await
}

/// 4000 0000 0000 3220 asks for 3-D Secure. `complete`: the shopper completes it and pays;
/// otherwise they fail it, see Stripe's error, and pay with 4242.
pub async fn three_d_secure(ctx: &Ctx, complete: bool) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let email = "ada@example.com";
    let challenge = submit_card(
        &shopper,
        &checkout.payment_page,
        "4000 0000 0000 3220",
        email,
    )
    .await?
    .expect_status(StatusCode::OK)?;
    ensure!(
        challenge.page.contains_text("Complete authentication")
            && challenge.page.contains_text("Fail authentication"),
        "a 3-D Secure card should lead to the authentication page; got: {}",
        excerpt(challenge.page.text())
    );
    ctx.timeline
        .check("the 3-D Secure page asks the shopper to authenticate");
    let mut form = challenge
        .page
        .form_with_input("challenge")
        .context("no challenge form on the 3-D Secure page")?;
    form.set("outcome", if complete { "complete" } else { "fail" });
    let answered = shopper.submit(&form).await?;
    if complete {
        let answered = answered.expect_status(StatusCode::OK)?;
        expect_back_at_shop(ctx, &answered, "3-D Secure")?;
        expect_thank_you(ctx, &answered, &checkout, &product)?;
    } else {
        expect_declined(ctx, &answered, "failed authentication")?;
        expect_nothing_recorded(ctx, "failed 3-D Secure").await?;
        let landing = pay(ctx, &shopper, &answered.page, CARD_SUCCESS, email).await?;
        expect_thank_you(ctx, &landing, &checkout, &product)?;
    }
    expect_order(ctx, &checkout.session_id, "paid", &product, Some(email)).await?;
    expect_paid_orders(ctx, 1).await?;
    expect_receipts(ctx, 1, Some(&product), Some(email)).await
}

/// A US bank debit (headless completion): the session completes unpaid, and the debit
/// settles or fails three days later on the account's clock.
pub async fn delayed_payment(ctx: &Ctx, succeeds: bool) -> anyhow::Result<()> {
    let product = first_for_sale();
    let shopper = ctx.shopper()?;
    let checkout = open_payment_page(ctx, &shopper, &product).await?;
    let email = "grace@example.com";
    ctx.control.pin_clock(now_unix()).await?;
    ctx.note_stripe(format!(
        "pay {} by US bank account ({})",
        checkout.session_id,
        if succeeds { "settles" } else { "fails" }
    ));
    let session = ctx
        .control
        .complete(
            &checkout.session_id,
            &Completion {
                email: Some(email.into()),
                bank_debit: Some("us_bank_account".into()),
                bank_debit_succeeds: Some(succeeds),
                ..Completion::default()
            },
        )
        .await?;
    ensure!(
        session["payment_status"] == "unpaid",
        "a bank debit completes the session unpaid: {session}"
    );
    expect_shop_accepted(ctx, "checkout.session.completed").await?;
    expect_order(
        ctx,
        &checkout.session_id,
        "awaiting_payment",
        &product,
        Some(email),
    )
    .await?;
    expect_nothing_recorded(ctx, "a bank debit on its way").await?;
    ctx.note_stripe("advance the clock by 3 days");
    ctx.control.advance(3 * 86_400).await?;
    if succeeds {
        expect_shop_accepted(ctx, "checkout.session.async_payment_succeeded").await?;
        eventually_order(ctx, &checkout.session_id, "paid").await?;
        expect_paid_orders(ctx, 1).await?;
        expect_receipts(ctx, 1, Some(&product), Some(email)).await
    } else {
        expect_shop_accepted(ctx, "checkout.session.async_payment_failed").await?;
        expect_order(
            ctx,
            &checkout.session_id,
            "payment_failed",
            &product,
            Some(email),
        )
        .await?;
        expect_nothing_recorded(ctx, "a failed bank debit").await
    }
}

pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
