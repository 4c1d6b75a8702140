//! Purchase flows, each walked as a shopper would and checked as the shop's
//! owner would: the page the shopper ends on, the order in the database, the
//! receipt in the outbox.
//!
//! Each flow gets a fresh [`Stack`], so "exactly one order" means exactly one.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use reqwest::StatusCode;
use url::Url;

use crate::catalogue::{self, CatalogueProduct};
use crate::html::Page;
use crate::shopper::{Shopper, excerpt};
use crate::stack::{Stack, StackOptions};

/// Stripe's always-succeeding Visa test card.
pub const CARD_SUCCESS: &str = "4242 4242 4242 4242";
/// Stripe's generic-decline test card.
pub const CARD_DECLINED: &str = "4000 0000 0000 0002";

const FLASH_SUCCESS_PREFIX: &str = "Thanks for purchasing";
const FLASH_CANCEL: &str =
    "There was an error while attempting to purchase this product. Try again";

/// The flows `harness run` knows, in the order it reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Flow {
    /// Pay with 4242 4242 4242 4242: one paid order, one receipt, the thank-you flash.
    PayWithTestCard,
    /// Leave the payment page by its back link: no purchase, no mail, the error flash.
    CancelAtPaymentPage,
    /// A declined card shows Stripe's message and records nothing; 4242 then succeeds once.
    DeclineThenPay,
}

impl Flow {
    pub const ALL: [Flow; 3] = [
        Flow::PayWithTestCard,
        Flow::CancelAtPaymentPage,
        Flow::DeclineThenPay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Flow::PayWithTestCard => "pay-with-test-card",
            Flow::CancelAtPaymentPage => "cancel-at-payment-page",
            Flow::DeclineThenPay => "decline-then-pay",
        }
    }

    /// Runs the flow against a stack that nothing else has used.
    pub async fn run(self, stack: &Stack) -> anyhow::Result<()> {
        let product = catalogue::first_for_sale();
        match self {
            Flow::PayWithTestCard => pay_with_test_card(stack, &product).await,
            Flow::CancelAtPaymentPage => cancel_at_payment_page(stack, &product).await,
            Flow::DeclineThenPay => decline_then_pay(stack, &product).await,
        }
    }
}

/// What one flow did, for reports.
pub struct FlowReport {
    pub flow: Flow,
    pub elapsed: Duration,
    pub result: anyhow::Result<()>,
}

/// Starts a fresh stack, runs one flow on it, and stops the stack.
pub async fn run_isolated(flow: Flow) -> FlowReport {
    run_isolated_with(flow, StackOptions::default()).await
}

/// [`run_isolated`] on a stack started with `options`.
pub async fn run_isolated_with(flow: Flow, options: StackOptions) -> FlowReport {
    let started = Instant::now();
    let result = async {
        let stack = Stack::start(options).await.context("starting the stack")?;
        let result = flow.run(&stack).await;
        stack.shutdown().await;
        result
    }
    .await;
    FlowReport {
        flow,
        elapsed: started.elapsed(),
        result,
    }
}

async fn pay_with_test_card(stack: &Stack, product: &CatalogueProduct) -> anyhow::Result<()> {
    let shopper = Shopper::new()?;
    let checkout = open_payment_page(stack, &shopper, product).await?;
    let (payment_page, session_id) = (&checkout.payment_page, &checkout.session_id);
    let landing = pay(
        stack,
        &shopper,
        payment_page,
        CARD_SUCCESS,
        "jenny@example.com",
    )
    .await?;
    expect_thank_you(&landing, &checkout, product)?;
    expect_one_paid_order(stack, session_id, product, "jenny@example.com").await?;
    expect_one_receipt(stack, product, "jenny@example.com")
}

async fn cancel_at_payment_page(stack: &Stack, product: &CatalogueProduct) -> anyhow::Result<()> {
    let shopper = Shopper::new()?;
    let checkout = open_payment_page(stack, &shopper, product).await?;
    let (payment_page, session_id) = (&checkout.payment_page, &checkout.session_id);
    let cancel_link = payment_page
        .links()
        .into_iter()
        .find(|l| {
            l.origin() == stack.shop_url.origin()
                && query_value(l, "status").as_deref() == Some("cancel")
        })
        .with_context(|| {
            format!(
                "no link back to the shop's cancel URL on the payment page: {}",
                excerpt(payment_page.text())
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
    expect_nothing_recorded(stack, "cancelling").await?;
    let order = storefront::orders::find_by_checkout_session(stack.database(), session_id).await?;
    let order = order.with_context(|| format!("the pending order for {session_id} is missing"))?;
    ensure!(
        order.status == "pending",
        "a cancelled checkout left the order {:?}, not pending",
        order.status
    );
    Ok(())
}

async fn decline_then_pay(stack: &Stack, product: &CatalogueProduct) -> anyhow::Result<()> {
    let shopper = Shopper::new()?;
    let checkout = open_payment_page(stack, &shopper, product).await?;
    let (payment_page, session_id) = (&checkout.payment_page, &checkout.session_id);

    let mut form = payment_form(payment_page)?;
    fill_card(&mut form, CARD_DECLINED, "sam@example.com");
    let declined = shopper.submit(&form).await?;
    ensure!(
        declined.redirects.is_empty(),
        "a declined card should keep the shopper on the payment page, was sent to {}",
        declined.redirects[0]
    );
    ensure!(
        declined.page.contains_text("Your card was declined"),
        "the payment page should show Stripe's decline message; it says: {}",
        excerpt(declined.page.text())
    );
    expect_nothing_recorded(stack, "a declined card").await?;

    // The shopper tries again on the page they were left on, as people do.
    let landing = pay(
        stack,
        &shopper,
        &declined.page,
        CARD_SUCCESS,
        "sam@example.com",
    )
    .await?;
    expect_thank_you(&landing, &checkout, product)?;
    expect_one_paid_order(stack, session_id, product, "sam@example.com").await?;
    expect_one_receipt(stack, product, "sam@example.com")
}

/// Where a shopper stands once Buy has taken them to the payment page.
struct Checkout {
    product_url: Url,
    payment_page: Page,
    session_id: String,
}

/// From the shop's front page to Stripe's (the mock's) payment page for `product`.
async fn open_payment_page(
    stack: &Stack,
    shopper: &Shopper,
    product: &CatalogueProduct,
) -> anyhow::Result<Checkout> {
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
    let visit = shopper.submit(&buy).await?.expect_status(StatusCode::OK)?;
    let payment_page = visit.page;
    ensure!(
        payment_page.url.origin() == stack.mock_url.origin(),
        "Buy should lead to the payment page on {}, led to {}",
        stack.mock_url,
        payment_page.url
    );
    ensure!(
        payment_page.contains_text(&product.name) && payment_page.contains_text(&price),
        "the payment page should show {:?} at {price}: {}",
        product.name,
        excerpt(payment_page.text())
    );
    let session_id = session_id_of(&payment_page.url)?;
    Ok(Checkout {
        product_url: product_page.url,
        payment_page,
        session_id,
    })
}

/// Fills the payment form on `page` with `card` and submits it; the payment
/// must succeed and send the shopper back to the shop.
async fn pay(
    stack: &Stack,
    shopper: &Shopper,
    page: &Page,
    card: &str,
    email: &str,
) -> anyhow::Result<crate::shopper::Visit> {
    let mut form = payment_form(page)?;
    fill_card(&mut form, card, email);
    let visit = shopper.submit(&form).await?.expect_status(StatusCode::OK)?;
    let first_hop = visit.redirects.first().with_context(|| {
        format!(
            "paying with {card} did not redirect; the page says: {}",
            excerpt(visit.page.text())
        )
    })?;
    ensure!(
        first_hop.origin() == stack.shop_url.origin(),
        "paying should send the shopper back to the shop, sent to {first_hop}"
    );
    Ok(visit)
}

fn payment_form(page: &Page) -> anyhow::Result<crate::html::Form> {
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

fn fill_card(form: &mut crate::html::Form, card: &str, email: &str) {
    form.set("email", email)
        .set("cardNumber", card)
        .set("cardExpiry", "12 / 34")
        .set("cardCvc", "123")
        .set("billingName", "Jenny Rosen");
}

fn expect_thank_you(
    landing: &crate::shopper::Visit,
    checkout: &Checkout,
    product: &CatalogueProduct,
) -> anyhow::Result<()> {
    let session_id = checkout.session_id.as_str();
    let success_url = &landing.redirects[0];
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
    Ok(())
}

async fn expect_one_paid_order(
    stack: &Stack,
    session_id: &str,
    product: &CatalogueProduct,
    email: &str,
) -> anyhow::Result<()> {
    let paid = storefront::orders::paid_orders(stack.database()).await?;
    ensure!(
        paid.len() == 1,
        "expected exactly one paid order, found {}",
        paid.len()
    );
    let order = &paid[0];
    ensure!(
        order.checkout_session_id.as_deref() == Some(session_id),
        "the paid order belongs to session {:?}, not {session_id}",
        order.checkout_session_id
    );
    ensure!(
        order.amount_cents == product.price_cents,
        "the order was recorded at {} cents, the product costs {}",
        order.amount_cents,
        product.price_cents
    );
    ensure!(
        order.buyer_email.as_deref() == Some(email),
        "the order's buyer is {:?}, not {email}",
        order.buyer_email
    );
    Ok(())
}

/// Neither a paid order nor an email: what cancelling or a decline must leave behind.
async fn expect_nothing_recorded(stack: &Stack, what: &str) -> anyhow::Result<()> {
    let paid = storefront::orders::paid_orders(stack.database()).await?;
    ensure!(
        paid.is_empty(),
        "{what} recorded {} paid order(s)",
        paid.len()
    );
    let receipts = stack.receipts()?;
    ensure!(
        receipts.is_empty(),
        "{what} sent {} email(s)",
        receipts.len()
    );
    Ok(())
}

fn expect_one_receipt(
    stack: &Stack,
    product: &CatalogueProduct,
    email: &str,
) -> anyhow::Result<()> {
    let receipts = stack.receipts()?;
    ensure!(
        receipts.len() == 1,
        "expected exactly one receipt in {}, found {}",
        stack.outbox.display(),
        receipts.len()
    );
    let receipt = &receipts[0];
    for (what, needle) in [
        ("buyer", email),
        ("product", product.name.as_str()),
        ("amount", &product.price_label()),
    ] {
        ensure!(
            receipt.contains(needle),
            "the receipt does not name the {what} ({needle:?}):\n{receipt}"
        );
    }
    Ok(())
}

fn session_id_of(payment_url: &Url) -> anyhow::Result<String> {
    let id = payment_url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    if !id.starts_with("cs_test_") {
        bail!("the payment page URL {payment_url} does not end in a cs_test_ session id");
    }
    Ok(id.to_owned())
}

fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
