//! What a shopper does (find a product, Buy, pay, go back) and what an owner checks
//! (the page, the order, the receipt, the shop's answers to Stripe), shared by every
//! scenario. Each check that holds lands on the timeline; the first that doesn't is the
//! scenario's failure, with what was found.

use std::time::Duration;

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use url::Url;

use super::Ctx;
use crate::catalogue::CatalogueProduct;
use crate::html::{Form, Page};
use crate::patience::{ANSWER_WAIT, CatchUp, Patience};
use crate::shop::OrderRecord;
use crate::shopper::{Shopper, Visit, excerpt};
use crate::timeline::Actor;

/// Stripe's always-succeeding Visa test card.
pub const CARD_SUCCESS: &str = "4242 4242 4242 4242";

pub const FLASH_SUCCESS_PREFIX: &str = "Thanks for purchasing";
pub const FLASH_CANCEL: &str =
    "There was an error while attempting to purchase this product. Try again";

/// Where a shopper stands once Buy has taken them to the payment page.
pub struct Checkout {
    pub product_url: Url,
    pub payment_page: Page,
    pub session_id: String,
}

/// From the shop's front page to the product's page, then Buy: the page Buy leads to.
pub async fn buy(
    ctx: &Ctx,
    shopper: &Shopper,
    product: &CatalogueProduct,
) -> anyhow::Result<(Url, Visit)> {
    let stack = &ctx.stack;
    let home = shopper
        .open(&stack.shop_url)
        .await?
        .expect_status(StatusCode::OK)?
        .page;
    let link = home
        .links_labelled(&product.name)
        .into_iter()
        .next()
        .with_context(|| {
            format!(
                "no link to {:?} on the shop's front page: {}",
                product.name,
                excerpt(home.text())
            )
        })?;
    let product_page = shopper
        .open(&link)
        .await?
        .expect_status(StatusCode::OK)?
        .page;
    let price = product.price_label();
    ensure!(
        product_page.contains_text(&price),
        "the product page does not show the price {price}"
    );
    let buy = product_page
        .form_posting_to("/buy")
        .with_context(|| format!("no Buy form on {}", product_page.url))?;
    let visit = shopper.submit(&buy).await?;
    Ok((product_page.url, visit))
}

/// Buy, and check that it led to the payment page for `product`.
pub async fn open_payment_page(
    ctx: &Ctx,
    shopper: &Shopper,
    product: &CatalogueProduct,
) -> anyhow::Result<Checkout> {
    let (product_url, visit) = buy(ctx, shopper, product).await?;
    let payment_page = visit.expect_status(StatusCode::OK)?.page;
    let price = product.price_label();
    ensure!(
        payment_page.url.origin() == ctx.stack.mock_url.origin(),
        "Buy should lead to the payment page on {}, led to {}",
        ctx.stack.mock_url,
        payment_page.url
    );
    ensure!(
        payment_page.contains_text(&product.name) && payment_page.contains_text(&price),
        "the payment page should show {:?} at {price}: {}",
        product.name,
        excerpt(payment_page.text())
    );
    let session_id = session_id_of(&payment_page.url)?;
    ctx.timeline
        .check(format!("Buy led to the payment page of {session_id}"));
    Ok(Checkout {
        product_url,
        payment_page,
        session_id,
    })
}

pub fn payment_form(page: &Page) -> anyhow::Result<Form> {
    let form = page
        .form_with_input("cardNumber")
        .with_context(|| format!("no payment form (input cardNumber) on {}", page.url))?;
    for input in [
        "email",
        "cardNumber",
        "cardExpiry",
        "cardCvc",
        "billingName",
    ] {
        ensure!(
            form.has_field(input),
            "the payment form has no {input:?} input, as Stripe's page does"
        );
    }
    Ok(form)
}

pub fn fill_card(form: &mut Form, card: &str, email: &str) {
    form.set("email", email)
        .set("cardNumber", card)
        .set("cardExpiry", "12 / 34")
        .set("cardCvc", "123")
        .set("billingName", "Jenny Rosen");
}

/// Submits the payment form on `page` with `card`; whatever happens next.
pub async fn submit_card(
    shopper: &Shopper,
    page: &Page,
    card: &str,
    email: &str,
) -> anyhow::Result<Visit> {
    let mut form = payment_form(page)?;
    fill_card(&mut form, card, email);
    shopper.submit(&form).await
}

/// Pays on `page` with `card`; the payment must succeed and send the shopper back to
/// the shop.
pub async fn pay(
    ctx: &Ctx,
    shopper: &Shopper,
    page: &Page,
    card: &str,
    email: &str,
) -> anyhow::Result<Visit> {
    let visit = submit_card(shopper, page, card, email)
        .await?
        .expect_status(StatusCode::OK)?;
    expect_back_at_shop(ctx, &visit, card)?;
    Ok(visit)
}

pub fn expect_back_at_shop(ctx: &Ctx, visit: &Visit, how: &str) -> anyhow::Result<()> {
    let first_hop = visit.redirects.first().with_context(|| {
        format!(
            "paying with {how} did not redirect; the page says: {}",
            excerpt(visit.page.text())
        )
    })?;
    ensure!(
        first_hop.origin() == ctx.stack.shop_url.origin(),
        "paying should send the shopper back to the shop, sent to {first_hop}"
    );
    Ok(())
}

/// The shopper is on the payment page again, with Stripe's message for a decline.
pub fn expect_declined(ctx: &Ctx, visit: &Visit, message: &str) -> anyhow::Result<()> {
    ensure!(
        visit.redirects.is_empty(),
        "a declined payment should keep the shopper on the payment page, was sent to {}",
        visit.redirects[0]
    );
    ensure!(
        visit.page.contains_text(message),
        "the payment page should say {message:?}; it says: {}",
        excerpt(visit.page.text())
    );
    ctx.timeline
        .check(format!("the payment page said {message:?}"));
    Ok(())
}

pub fn expect_thank_you(
    ctx: &Ctx,
    landing: &Visit,
    checkout: &Checkout,
    product: &CatalogueProduct,
) -> anyhow::Result<()> {
    let session_id = checkout.session_id.as_str();
    let success_url = landing
        .redirects
        .first()
        .context("no redirect back to the shop")?;
    ensure!(
        success_url.path().ends_with("/post_checkout")
            && query_value(success_url, "status").as_deref() == Some("success"),
        "payment should return to the shop's post_checkout?status=success, returned to {success_url}"
    );
    let returned_id = query_value(success_url, "session_id");
    ensure!(
        returned_id.as_deref() == Some(session_id),
        "the success URL should carry session_id={session_id} ({{CHECKOUT_SESSION_ID}} substituted), carried {returned_id:?}"
    );
    ensure!(
        landing.page.url == checkout.product_url,
        "after paying the shopper should end on the product page {}, ended on {}",
        checkout.product_url,
        landing.page.url
    );
    let flash = format!(
        "{FLASH_SUCCESS_PREFIX} {}. You will receive an email shortly",
        product.name
    );
    ensure!(
        landing.page.contains_text(&flash),
        "the page after paying should say {flash:?}; it says: {}",
        excerpt(landing.page.text())
    );
    ctx.timeline
        .check("the shopper is back on the product page with the thank-you message");
    Ok(())
}

/// The order of `session_id` has `status`; for a paid one, the product's price and buyer.
pub async fn expect_order(
    ctx: &Ctx,
    session_id: &str,
    status: &str,
    product: &CatalogueProduct,
    email: Option<&str>,
) -> anyhow::Result<()> {
    let order = order_of(ctx, session_id)
        .await?
        .with_context(|| format!("no order for {session_id}"))?;
    ensure!(
        order.status == status,
        "the order of {session_id} is {:?}, expected {status:?}",
        order.status
    );
    ensure!(
        order.amount_cents == product.price_cents,
        "the order was recorded at {} cents, the product costs {}",
        order.amount_cents,
        product.price_cents
    );
    if let Some(email) = email {
        ensure!(
            order.buyer_email.as_deref() == Some(email),
            "the order's buyer is {:?}, not {email}",
            order.buyer_email
        );
    }
    ctx.timeline.record(
        Actor::Shop,
        format!("order {} of {session_id} is {status}", order.id),
        None,
    );
    Ok(())
}

/// The shop's order for a Checkout Session.
pub async fn order_of(ctx: &Ctx, session_id: &str) -> anyhow::Result<Option<OrderRecord>> {
    Ok(ctx
        .stack
        .orders()
        .await?
        .into_iter()
        .find(|o| o.session_id.as_deref() == Some(session_id)))
}

/// The shop's paid orders.
pub async fn paid_orders(ctx: &Ctx) -> anyhow::Result<Vec<OrderRecord>> {
    Ok(ctx
        .stack
        .orders()
        .await?
        .into_iter()
        .filter(|o| o.status == "paid")
        .collect())
}

/// Exactly `n` paid orders in the shop.
pub async fn expect_paid_orders(ctx: &Ctx, n: usize) -> anyhow::Result<Vec<OrderRecord>> {
    let paid = paid_orders(ctx).await?;
    ensure!(
        paid.len() == n,
        "expected exactly {n} paid order(s), found {}",
        paid.len()
    );
    ctx.timeline
        .record(Actor::Shop, format!("{n} paid order(s)"), None);
    Ok(paid)
}

/// Exactly `n` emails, each naming `email` (when given) and `product`. A receipt may be
/// written after the shop answered the webhook: fewer than `n` are waited for (see
/// [`CatchUp`]); more than `n` fail at once.
pub async fn expect_receipts(
    ctx: &Ctx,
    n: usize,
    product: Option<&CatalogueProduct>,
    email: Option<&str>,
) -> anyhow::Result<()> {
    let mut catch_up = CatchUp::default();
    let receipts = loop {
        ctx.observe().await?;
        let receipts = ctx.stack.receipts()?;
        if receipts.len() >= n || catch_up.give_up(ctx.stack.shop_busy().await?) {
            break receipts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    ensure!(
        receipts.len() == n,
        "expected exactly {n} receipt(s), found {} ({})",
        receipts.len(),
        ctx.stack.shop.describe()
    );
    for receipt in &receipts {
        if let Some(email) = email {
            ensure!(
                receipt.contains(email),
                "a receipt does not name the buyer {email}:\n{receipt}"
            );
        }
        if let Some(product) = product {
            for needle in [product.name.clone(), product.price_label()] {
                ensure!(
                    receipt.contains(&needle),
                    "a receipt does not name {needle:?}:\n{receipt}"
                );
            }
        }
    }
    ctx.timeline.check(format!("{n} receipt(s) went out"));
    Ok(())
}

/// Neither a paid order nor an email.
pub async fn expect_nothing_recorded(ctx: &Ctx, what: &str) -> anyhow::Result<()> {
    ctx.observe().await?;
    let paid = paid_orders(ctx).await?;
    ensure!(
        paid.is_empty(),
        "{what} recorded {} paid order(s)",
        paid.len()
    );
    let receipts = ctx.stack.receipts()?;
    ensure!(
        receipts.is_empty(),
        "{what} sent {} email(s)",
        receipts.len()
    );
    ctx.timeline
        .check(format!("{what}: no paid order, no email"));
    Ok(())
}

/// The shop answered 2xx to a genuine delivery of `event_type`.
pub async fn expect_shop_accepted(ctx: &Ctx, event_type: &str) -> anyhow::Result<()> {
    expect_shop_accepted_times(ctx, event_type, 1).await
}

/// The shop answered 2xx to `times` deliveries of `event_type` (as the mock's log says).
pub async fn expect_shop_accepted_times(
    ctx: &Ctx,
    event_type: &str,
    times: usize,
) -> anyhow::Result<()> {
    // The shop commits before it answers, and the mock logs the attempt once the answer is
    // in: give the log a moment to catch up with what the shop already shows.
    let mut patience = Patience::new(ANSWER_WAIT);
    loop {
        ctx.observe().await?;
        let attempts = ctx.control.deliveries(None).await?;
        let accepted = attempts
            .iter()
            .filter(|a| a.event_type == event_type && a.succeeded)
            .count();
        if accepted >= times {
            ctx.timeline.check(if times == 1 {
                format!("the shop answered 2xx to {event_type}")
            } else {
                format!("the shop answered 2xx to {times} deliveries of {event_type}")
            });
            return Ok(());
        }
        if patience.run_out() {
            bail!(
                "the shop answered 2xx to {accepted} of the {times} expected deliveries of {event_type}: {:?}",
                attempts
                    .iter()
                    .filter(|a| a.event_type == event_type)
                    .map(|a| (a.attempt, a.status, a.error.clone()))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits (up to [`ANSWER_WAIT`]) for the order of `session_id` to reach `status`.
pub async fn eventually_order(ctx: &Ctx, session_id: &str, status: &str) -> anyhow::Result<()> {
    let mut patience = Patience::new(ANSWER_WAIT);
    loop {
        let order = order_of(ctx, session_id).await?;
        if order.as_ref().is_some_and(|o| o.status == status) {
            ctx.timeline.record(
                Actor::Shop,
                format!("the order of {session_id} became {status}"),
                None,
            );
            return Ok(());
        }
        if patience.run_out() {
            bail!(
                "the order of {session_id} did not become {status} within {ANSWER_WAIT:?}; it is {:?}",
                order.map(|o| o.status)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn session_id_of(payment_url: &Url) -> anyhow::Result<String> {
    let id = payment_url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    if !id.starts_with("cs_test_") {
        bail!("the payment page URL {payment_url} does not end in a cs_test_ session id");
    }
    Ok(id.to_owned())
}

pub fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
