//! One purchase flow of a soak, as a shopper goes through it: the shop's front page, the
//! product, Buy, the payment page, then paying (4242 or 3-D Secure), failing first
//! (declined, 3-D Secure failed), leaving, or going back to the shop. Every page the
//! shopper is shown is checked: a 5xx anywhere is a [`ServerError`], told apart from other
//! failures because the soak counts them.

use anyhow::{Context, bail, ensure};
use rand::Rng;
use rand::rngs::StdRng;
use url::Url;

use crate::catalogue::CatalogueProduct;
use crate::properties::Card;
use crate::scenarios::steps::{
    FLASH_CANCEL, FLASH_SUCCESS_PREFIX, query_value, session_id_of, submit_card,
};
use crate::shopper::{Shopper, Visit, excerpt};

/// What the shopper means to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Pays with this card (4242, or 3-D Secure completed).
    Pay(Card),
    /// This card fails (declined, 3-D Secure failed), then 4242 pays.
    FailThenPay(Card),
    /// This card fails, and the shopper leaves: the session expires.
    FailThenLeave(Card),
    /// Leaves the payment page: the session expires.
    Leave,
    /// Goes back to the shop from the payment page; the session expires too.
    Cancel,
}

impl Plan {
    /// Seven shoppers in ten pay; the others leave an unpaid session behind.
    pub fn draw(rng: &mut StdRng) -> Plan {
        let fail_card = if rng.random_bool(0.5) {
            Card::Declined
        } else {
            Card::ThreeDSecureFailed
        };
        match rng.random_range(0..100) {
            0..45 => Plan::Pay(Card::Succeeds),
            45..55 => Plan::Pay(Card::ThreeDSecureCompleted),
            55..70 => Plan::FailThenPay(fail_card),
            70..80 => Plan::FailThenLeave(fail_card),
            80..90 => Plan::Leave,
            _ => Plan::Cancel,
        }
    }

    /// Whether the shopper ends up paying.
    pub fn pays(self) -> bool {
        matches!(self, Plan::Pay(_) | Plan::FailThenPay(_))
    }
}

/// A page with a 5xx status, shown to a shopper.
#[derive(Debug, thiserror::Error)]
#[error("the shopper was shown a {status} at {url}: {text}")]
pub struct ServerError {
    pub status: u16,
    pub url: Url,
    pub text: String,
}

/// Where the shopper shops, and where Stripe's pages are.
#[derive(Clone, Debug)]
pub struct Site {
    pub shop: Url,
    pub mock: Url,
}

/// How a flow ended, from the shopper's side.
#[derive(Clone, Debug)]
pub struct Done {
    pub session_id: String,
    /// Sent back to the shop with the thank-you message.
    pub paid: bool,
}

/// Runs one flow. A 5xx page is a [`ServerError`] inside the error.
pub async fn run(
    shopper: &Shopper,
    site: &Site,
    product: &CatalogueProduct,
    plan: Plan,
    email: &str,
) -> anyhow::Result<Done> {
    let home = ok(shown(shopper.open(&site.shop).await?)?)?;
    let link = home
        .page
        .links_labelled(&product.name)
        .into_iter()
        .next()
        .with_context(|| format!("no link to {:?} on the front page", product.name))?;
    let product_page = ok(shown(shopper.open(&link).await?)?)?.page;
    let buy = product_page
        .form_posting_to("/buy")
        .with_context(|| format!("no Buy form on {}", product_page.url))?;
    let payment = ok(shown(shopper.submit(&buy).await?)?)?;
    ensure!(
        payment.page.url.origin() == site.mock.origin(),
        "Buy should lead to the payment page, led to {}: {}",
        payment.page.url,
        excerpt(payment.page.text())
    );
    let session_id = session_id_of(&payment.page.url)?;
    let back_at_shop =
        |visit: &Visit| expect_thank_you(visit, site, &session_id, &product_page.url, product);
    match plan {
        Plan::Pay(card) => {
            let landing = pay(shopper, payment, card, email).await?;
            back_at_shop(&landing)?;
        }
        Plan::FailThenPay(card) => {
            let again = fail(shopper, payment, card, email).await?;
            let landing = pay(shopper, again, Card::Succeeds, email).await?;
            back_at_shop(&landing)?;
        }
        Plan::FailThenLeave(card) => {
            fail(shopper, payment, card, email).await?;
        }
        Plan::Leave => {}
        Plan::Cancel => {
            let cancel = payment
                .page
                .links()
                .into_iter()
                .find(|l| {
                    l.origin() == site.shop.origin()
                        && query_value(l, "status").as_deref() == Some("cancel")
                })
                .context("no link back to the shop on the payment page")?;
            let back = ok(shown(shopper.open(&cancel).await?)?)?;
            ensure!(
                back.page.url == product_page.url && back.page.contains_text(FLASH_CANCEL),
                "going back should end on {} with {FLASH_CANCEL:?}; ended on {}: {}",
                product_page.url,
                back.page.url,
                excerpt(back.page.text())
            );
        }
    }
    Ok(Done {
        session_id,
        paid: plan.pays(),
    })
}

/// The page the shopper was shown, unless it is a 5xx: that is a [`ServerError`].
fn shown(visit: Visit) -> anyhow::Result<Visit> {
    let status = visit.page.status;
    if status >= 500 {
        return Err(ServerError {
            status,
            url: visit.page.url.clone(),
            text: excerpt(visit.page.text()),
        }
        .into());
    }
    Ok(visit)
}

/// A page that must be a 200 (a decline is Stripe's 402 page, checked by its message).
fn ok(visit: Visit) -> anyhow::Result<Visit> {
    let status = visit.page.status;
    ensure!(
        status == 200,
        "{status} at {}: {}",
        visit.page.url,
        excerpt(visit.page.text())
    );
    Ok(visit)
}

/// Pays on the payment page with a card that pays (completing 3-D Secure if it asks):
/// where the shopper is sent afterwards.
async fn pay(shopper: &Shopper, page: Visit, card: Card, email: &str) -> anyhow::Result<Visit> {
    let visit = ok(shown(
        submit_card(shopper, &page.page, card.number(), email).await?,
    )?)?;
    match card {
        Card::ThreeDSecureCompleted => ok(authenticate(shopper, visit, true).await?),
        _ => Ok(visit),
    }
}

/// A card that fails: the shopper must be back on the payment page with Stripe's message.
async fn fail(shopper: &Shopper, page: Visit, card: Card, email: &str) -> anyhow::Result<Visit> {
    let visit = shown(submit_card(shopper, &page.page, card.number(), email).await?)?;
    let (visit, message) = match card {
        Card::ThreeDSecureFailed => (
            authenticate(shopper, ok(visit)?, false).await?,
            "failed authentication",
        ),
        Card::Declined => (visit, "Your card was declined."),
        other => bail!("{other:?} does not fail"),
    };
    ensure!(
        visit.redirects.is_empty() && visit.page.contains_text(message),
        "{} should leave the shopper on the payment page with {message:?}; ended on {}: {}",
        card.number(),
        visit.page.url,
        excerpt(visit.page.text())
    );
    Ok(visit)
}

/// Answers the 3-D Secure challenge page.
async fn authenticate(
    shopper: &Shopper,
    challenge: Visit,
    complete: bool,
) -> anyhow::Result<Visit> {
    let mut form = challenge
        .page
        .form_with_input("challenge")
        .with_context(|| {
            format!(
                "no 3-D Secure challenge at {}: {}",
                challenge.page.url,
                excerpt(challenge.page.text())
            )
        })?;
    form.set("outcome", if complete { "complete" } else { "fail" });
    shown(shopper.submit(&form).await?)
}

/// Sent back through the shop's success URL (the session id filled in) to the product
/// page with the thank-you message.
fn expect_thank_you(
    landing: &Visit,
    site: &Site,
    session_id: &str,
    product_url: &Url,
    product: &CatalogueProduct,
) -> anyhow::Result<()> {
    let success = landing.redirects.first().with_context(|| {
        format!(
            "paying did not redirect; the page says: {}",
            excerpt(landing.page.text())
        )
    })?;
    ensure!(
        success.origin() == site.shop.origin()
            && query_value(success, "status").as_deref() == Some("success")
            && query_value(success, "session_id").as_deref() == Some(session_id),
        "paying should send the shopper to the shop's success URL, sent to {success}"
    );
    let thanks = format!("{FLASH_SUCCESS_PREFIX} {}", product.name);
    ensure!(
        &landing.page.url == product_url && landing.page.contains_text(&thanks),
        "after paying the shopper should see {thanks:?} on {product_url}; ended on {}: {}",
        landing.page.url,
        excerpt(landing.page.text())
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::html::Page;

    fn visit(status: u16) -> Visit {
        let url = Url::parse("http://127.0.0.1:8000/products/1/buy").unwrap();
        Visit {
            page: Page::parse(url, status, "<p>Something went wrong</p>"),
            redirects: Vec::new(),
        }
    }

    #[test]
    fn a_5xx_page_is_counted_apart_and_a_decline_page_is_shown() {
        for status in [500, 502, 503] {
            let Err(err) = shown(visit(status)) else {
                panic!("a {status} page passed as shown");
            };
            let server_error = err.downcast_ref::<ServerError>();
            assert_eq!(server_error.map(|e| e.status), Some(status), "{err:#}");
        }
        // Stripe's decline page is a 402: shown, judged by its message, not counted.
        assert!(shown(visit(402)).is_ok());
        let Err(not_ok) = ok(visit(402)) else {
            panic!("a 402 where a page was due passed");
        };
        assert!(not_ok.downcast_ref::<ServerError>().is_none());
    }
}
