//! HTML of the hosted payment page, rendered from the askama templates in
//! `mock-stripe/templates/` (`base.html` holds the head and the stylesheet). Self-contained
//! (inline CSS, no scripts, no external assets); askama escapes every `{{ }}`, so every
//! user-supplied string (product names, URLs, what the payer typed) is escaped.

use askama::Template;

use crate::money::format_amount;
use crate::resources::checkout_sessions::{Mode, PageView};

/// What the payer typed, echoed back when the page is shown again with an error.
#[derive(Clone, Debug, Default)]
pub(crate) struct FormState {
    pub email: String,
    pub name: String,
}

/// An error shown above the form.
pub(crate) struct PageError<'a> {
    pub code: &'a str,
    pub decline_code: Option<&'a str>,
    pub message: &'a str,
}

/// `checkout.html`: the payment form of an open session.
#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage<'a> {
    session_id: &'a str,
    cancel_url: Option<&'a str>,
    /// `mode=payment`: the line items and the total; otherwise (setup) a sentence.
    payment: bool,
    total: String,
    items: Vec<LineRow<'a>>,
    error: Option<&'a PageError<'a>>,
    email: &'a str,
    name: &'a str,
    button_label: String,
    /// The payment methods the session offers.
    card: bool,
    sepa_debit: bool,
    us_bank_account: bool,
}

/// A line item as the summary shows it.
struct LineRow<'a> {
    name: &'a str,
    description: Option<&'a str>,
    quantity: i64,
    /// Formatted, `$19.99`.
    amount: String,
}

/// `notice.html`: a message instead of the form.
#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    title: &'a str,
    message: &'a str,
    link: Option<Link<'a>>,
}

struct Link<'a> {
    href: &'a str,
    label: &'a str,
}

/// `three_d_secure.html`: the bank's 3-D Secure challenge.
#[derive(Template)]
#[template(path = "three_d_secure.html")]
struct ThreeDSecurePage<'a> {
    amount: String,
    action: &'a str,
    token: &'a str,
}

/// Renders a template. The templates only display strings and numbers, so this cannot
/// fail short of a bug; if it does, the payer gets a bare page saying so and the log has
/// the cause.
fn render<T: Template>(page: &T) -> String {
    page.render().unwrap_or_else(|err| {
        tracing::error!(error = %err, "rendering the hosted page failed");
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Something went wrong</title></head>\n\
         <body><p>mock-stripe could not render this page. See its log.</p></body>\n</html>\n"
            .to_owned()
    })
}

fn button_label(view: &PageView) -> String {
    if view.mode == Mode::Setup {
        return "Save card".into();
    }
    let verb = match view.submit_type {
        Some("book") => "Book",
        Some("donate") => "Donate",
        Some("subscribe") => "Subscribe",
        _ => "Pay",
    };
    format!("{verb} {}", format_amount(view.total, &view.currency))
}

/// The payment form for an open session.
pub(crate) fn form_page(
    view: &PageView,
    form: &FormState,
    error: Option<&PageError<'_>>,
) -> String {
    let items = view
        .items
        .iter()
        .map(|(name, description, quantity, amount)| LineRow {
            name,
            description: description.as_deref(),
            quantity: *quantity,
            amount: format_amount(*amount, &view.currency),
        })
        .collect();
    render(&CheckoutPage {
        session_id: &view.id,
        cancel_url: view.cancel_url.as_deref(),
        payment: view.mode == Mode::Payment,
        total: format_amount(view.total, &view.currency),
        items,
        error,
        email: &form.email,
        name: &form.name,
        button_label: button_label(view),
        card: view.methods.contains(&"card"),
        sepa_debit: view.methods.contains(&"sepa_debit"),
        us_bank_account: view.methods.contains(&"us_bank_account"),
    })
}

/// A page with a message instead of a form (expired, already paid, unknown session).
pub(crate) fn notice_page(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    render(&NoticePage {
        title,
        message,
        link: link.map(|(href, label)| Link { href, label }),
    })
}

/// The 3-D Secure challenge of a payment, as Stripe's test mode shows it ("3D Secure 2
/// Test Page"): the amount and one form POSTing to `action` with the hidden
/// `challenge=<token>` and the payer's choice, `outcome=complete` or `outcome=fail`
/// (the buttons `#complete-authentication` and `#fail-authentication`).
pub(crate) fn three_d_secure_page(view: &PageView, action: &str, token: &str) -> String {
    challenge_page(view.total, &view.currency, action, token)
}

/// [`three_d_secure_page`] for any amount: a PaymentIntent's `next_action` page too.
pub(crate) fn challenge_page(amount: i64, currency: &str, action: &str, token: &str) -> String {
    render(&ThreeDSecurePage {
        amount: format_amount(amount, currency),
        action,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::checkout_sessions::Status;

    const INPUT_IDS: [&str; 5] = [
        "email",
        "cardNumber",
        "cardExpiry",
        "cardCvc",
        "billingName",
    ];

    fn view() -> PageView {
        PageView {
            id: "cs_test_abc".into(),
            status: Status::Open,
            mode: Mode::Payment,
            currency: "usd".into(),
            items: vec![(
                "<b>Book</b> & co".into(),
                Some("A \"good\" one".into()),
                1,
                2900,
            )],
            total: 2900,
            customer_email: Some("buyer@example.com".into()),
            cancel_url: Some("https://shop.test/cart?a=1&b=\"2\"".into()),
            submit_type: None,
            redirect: None,
            methods: vec!["card"],
        }
    }

    #[test]
    fn form_has_stripe_input_ids_and_escapes_everything() {
        let html = form_page(
            &view(),
            &FormState {
                email: "x\"@y.test".into(),
                name: "<Jen>".into(),
            },
            None,
        );
        for id in INPUT_IDS {
            assert!(html.contains(&format!("id=\"{id}\" name=\"{id}\"")), "{id}");
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "label {id}"
            );
        }
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<title>Checkout</title>"));
        assert!(html.contains(".notice h1{"), "the stylesheet is inlined");
        assert!(html.contains(
            "<form method=\"post\" action=\"/c/pay/cs_test_abc\" id=\"card-form\" novalidate>"
        ));
        assert!(html.contains("<p class=\"total\" id=\"total\">$29.00</p>"));
        assert!(html.contains("<div class=\"qty\">Qty 1</div>"));
        assert!(html.contains(">Pay $29.00</button>"));
        assert!(html.contains("<code>4242 4242 4242 4242</code> to pay"));
        assert!(html.contains("<code>4000 0000 0000 0002</code> to be declined"));
        assert!(html.contains("&#60;b&#62;Book&#60;/b&#62; &#38; co"));
        assert!(!html.contains("<b>Book</b>"));
        assert!(html.contains("A &#34;good&#34; one"));
        assert!(html.contains("value=\"x&#34;@y.test\""));
        assert!(html.contains("value=\"&#60;Jen&#62;\""));
        assert!(html.contains("href=\"https://shop.test/cart?a=1&#38;b=&#34;2&#34;\""));
        assert!(!html.contains("<script"));
        assert!(!html.contains("card-errors"));
    }

    #[test]
    fn a_script_in_a_product_name_is_shown_as_text() {
        let mut v = view();
        v.items[0].0 = "<script>alert(1)</script>".into();
        v.items[0].1 = Some("<script>alert(2)</script>".into());
        let html = form_page(&v, &FormState::default(), None);
        assert!(html.contains(
            "<div class=\"name\">&#60;script&#62;alert(1)&#60;/script&#62;</div>\
             <div class=\"desc\">&#60;script&#62;alert(2)&#60;/script&#62;</div>"
        ));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn setup_mode_saves_a_card_without_a_summary_table() {
        let mut v = view();
        v.mode = Mode::Setup;
        v.cancel_url = None;
        let html = form_page(&v, &FormState::default(), None);
        assert!(html.contains("Save a card for later payments"));
        assert!(html.contains(">Save card</button>"));
        assert!(!html.contains("line-items"));
        assert!(!html.contains("cancel-link"));
        for id in INPUT_IDS {
            assert!(html.contains(&format!("id=\"{id}\" name=\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn error_is_shown_with_codes() {
        let e = PageError {
            code: "card_declined",
            decline_code: Some("generic_decline"),
            message: "Your card was declined.",
        };
        let html = form_page(&view(), &FormState::default(), Some(&e));
        assert!(html.contains(
            "<div class=\"error\" id=\"card-errors\" role=\"alert\" data-code=\"card_declined\" \
             data-decline-code=\"generic_decline\">Your card was declined.</div>"
        ));

        let e = PageError {
            code: "invalid_expiry_month",
            decline_code: None,
            message: "Your card's <expiration> month is invalid.",
        };
        let html = form_page(&view(), &FormState::default(), Some(&e));
        assert!(html.contains(
            "data-code=\"invalid_expiry_month\">Your card&#39;s &#60;expiration&#62; month is invalid.</div>"
        ));
        assert!(!html.contains("data-decline-code"));
    }

    #[test]
    fn notice_escapes_its_texts_and_link() {
        let html = notice_page(
            "Gone <now>",
            "It's \"expired\".",
            Some((
                "https://shop.test/?a=1&b=\"><script>x</script>",
                "Back <home>",
            )),
        );
        assert!(html.contains("<title>Gone &#60;now&#62;</title>"));
        assert!(html.contains("<h1>Gone &#60;now&#62;</h1><p>It&#39;s &#34;expired&#34;.</p>"));
        assert!(html.contains(
            "<a class=\"back\" id=\"return-link\" \
             href=\"https://shop.test/?a=1&#38;b=&#34;&#62;&#60;script&#62;x&#60;/script&#62;\">Back &#60;home&#62;</a>"
        ));
        assert!(!html.contains("<script"));

        let html = notice_page("Not found", "No such session.", None);
        assert!(html.contains(
            "<div class=\"notice\" id=\"notice\"><h1>Not found</h1><p>No such session.</p></div>"
        ));
        assert!(!html.contains("return-link"));
    }

    #[test]
    fn three_d_secure_page_has_both_outcomes_and_the_escaped_token() {
        let html = three_d_secure_page(
            &view(),
            "/c/3ds/pi_123?x=1&y=2",
            "tok\"><script>alert(1)</script>",
        );
        assert!(html.contains("3D Secure 2 Test Page"));
        assert!(html.contains("$29.00"));
        assert!(html.contains("<form method=\"post\" action=\"/c/3ds/pi_123?x=1&#38;y=2\""));
        assert_eq!(html.matches("<form").count(), 1, "one form");
        assert!(html.contains(
            "<input type=\"hidden\" name=\"challenge\" \
             value=\"tok&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;\">"
        ));
        assert!(html.contains(
            "<button name=\"outcome\" value=\"complete\" id=\"complete-authentication\">Complete authentication</button>"
        ));
        assert!(html.contains(
            "<button name=\"outcome\" value=\"fail\" id=\"fail-authentication\">Fail authentication</button>"
        ));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn bank_debits_get_forms_of_their_own_and_cards_only_when_offered() {
        let mut v = view();
        v.methods = vec!["sepa_debit"];
        let html = form_page(&v, &FormState::default(), None);
        assert!(html.contains("id=\"sepa-debit-form\""));
        assert!(html.contains("name=\"paymentMethod\" value=\"sepa_debit\""));
        assert!(html.contains("id=\"iban\""));
        assert!(
            !html.contains("id=\"cardNumber\""),
            "no card form when not offered"
        );
        v.methods = vec!["card", "us_bank_account"];
        let html = form_page(&v, &FormState::default(), None);
        assert!(html.contains("id=\"cardNumber\""));
        assert!(html.contains("id=\"routingNumber\"") && html.contains("id=\"accountNumber\""));
        assert!(!html.contains("id=\"iban\""));
    }
}
