//! HTML of the hosted payment page. Self-contained (inline CSS, no scripts, no external
//! assets); every user-supplied string is escaped.

use std::fmt::Write as _;

use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

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

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1a1f36;background:#f6f9fc}
main{max-width:920px;margin:0 auto;padding:32px 20px;display:flex;flex-wrap:wrap;gap:40px}
section{flex:1 1 360px}
.badge{display:inline-block;font-size:11px;font-weight:600;letter-spacing:.04em;text-transform:uppercase;color:#983705;background:#ffde92;border-radius:4px;padding:2px 6px;margin-left:8px;vertical-align:middle}
h1{font-size:16px;font-weight:500;color:#697386;margin:0 0 4px}
.total{font-size:34px;font-weight:600;margin:0 0 24px}
table{width:100%;border-collapse:collapse}
td{padding:10px 0;border-bottom:1px solid #e3e8ee;vertical-align:top}
td.amount{text-align:right;white-space:nowrap;padding-left:16px}
.qty,.desc{color:#697386;font-size:13px}
tr.sum td{font-weight:600;border-bottom:0}
form{background:#fff;border-radius:8px;box-shadow:0 2px 5px rgba(60,66,87,.08),0 1px 1px rgba(0,0,0,.12);padding:24px}
label{display:block;font-size:13px;font-weight:500;color:#3c4257;margin:14px 0 6px}
input{width:100%;font:inherit;padding:9px 11px;border:1px solid #d5dbe1;border-radius:6px;background:#fff}
input:focus{outline:2px solid #635bff55;border-color:#635bff}
.row{display:flex;gap:12px}.row>div{flex:1}
button{width:100%;margin-top:22px;padding:12px;font:inherit;font-weight:600;color:#fff;background:#635bff;border:0;border-radius:6px;cursor:pointer}
button:hover{background:#5851e5}
.error{margin:0 0 12px;padding:10px 12px;border-radius:6px;background:#fde8e8;color:#a41c1c;font-size:14px}
.back{display:inline-block;margin-bottom:18px;color:#635bff;text-decoration:none;font-size:14px}
.hint{margin-top:16px;font-size:12px;color:#697386}
.hint code{background:#eef1f5;padding:1px 4px;border-radius:3px}
.notice{max-width:520px;margin:80px auto;background:#fff;border-radius:8px;padding:32px;box-shadow:0 2px 5px rgba(60,66,87,.08)}
.notice h1{font-size:20px;color:#1a1f36;margin-bottom:8px}
"#;

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body>\n{body}\n</body>\n</html>\n",
        text(title)
    )
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
    let mut body = String::with_capacity(4096);
    body.push_str("<main>\n<section id=\"summary\">\n");
    if let Some(cancel) = &view.cancel_url {
        let _ = writeln!(
            body,
            "<a class=\"back\" id=\"cancel-link\" href=\"{}\">&larr; Back</a>",
            attr(cancel)
        );
    }
    let total = format_amount(view.total, &view.currency);
    let _ = writeln!(
        body,
        "<h1>Checkout <span class=\"badge\">Test mode</span></h1>"
    );
    if view.mode == Mode::Payment {
        let _ = writeln!(body, "<p class=\"total\" id=\"total\">{}</p>", text(&total));
        body.push_str("<table id=\"line-items\">\n");
        for (name, description, quantity, amount) in &view.items {
            let _ = write!(
                body,
                "<tr class=\"line-item\"><td><div class=\"name\">{}</div>",
                text(name)
            );
            if let Some(d) = description {
                let _ = write!(body, "<div class=\"desc\">{}</div>", text(d));
            }
            let _ = writeln!(
                body,
                "<div class=\"qty\">Qty {quantity}</div></td><td class=\"amount\">{}</td></tr>",
                text(&format_amount(*amount, &view.currency))
            );
        }
        let _ = writeln!(
            body,
            "<tr class=\"sum\"><td>Total due</td><td class=\"amount\">{}</td></tr>",
            text(&total)
        );
        body.push_str("</table>\n");
    } else {
        body.push_str("<p class=\"total\">Save a card for later payments</p>\n");
    }
    body.push_str("</section>\n<section>\n");
    let _ = writeln!(
        body,
        "<form method=\"post\" action=\"/c/pay/{}\" novalidate>",
        attr(&view.id)
    );
    if let Some(e) = error {
        let _ = write!(
            body,
            "<div class=\"error\" id=\"card-errors\" role=\"alert\" data-code=\"{}\"",
            attr(e.code)
        );
        if let Some(dc) = e.decline_code {
            let _ = write!(body, " data-decline-code=\"{}\"", attr(dc));
        }
        let _ = writeln!(body, ">{}</div>", text(e.message));
    }
    let field = |body: &mut String, id: &str, label: &str, kind: &str, value: &str, extra: &str| {
        let _ = writeln!(
            body,
            "<label for=\"{id}\">{label}</label>\n<input id=\"{id}\" name=\"{id}\" type=\"{kind}\" value=\"{}\" {extra}>",
            attr(value)
        );
    };
    field(
        &mut body,
        "email",
        "Email",
        "email",
        &form.email,
        "autocomplete=\"email\" required",
    );
    field(
        &mut body,
        "cardNumber",
        "Card number",
        "text",
        "",
        "inputmode=\"numeric\" autocomplete=\"cc-number\" placeholder=\"1234 1234 1234 1234\" required",
    );
    body.push_str("<div class=\"row\"><div>\n");
    field(
        &mut body,
        "cardExpiry",
        "Expiration",
        "text",
        "",
        "inputmode=\"numeric\" autocomplete=\"cc-exp\" placeholder=\"MM / YY\" required",
    );
    body.push_str("</div><div>\n");
    field(
        &mut body,
        "cardCvc",
        "CVC",
        "text",
        "",
        "inputmode=\"numeric\" autocomplete=\"cc-csc\" placeholder=\"CVC\" required",
    );
    body.push_str("</div></div>\n");
    field(
        &mut body,
        "billingName",
        "Name on card",
        "text",
        &form.name,
        "autocomplete=\"cc-name\"",
    );
    let _ = writeln!(
        body,
        "<button type=\"submit\" id=\"submitButton\">{}</button>",
        text(&button_label(view))
    );
    body.push_str(
        "<p class=\"hint\">Test mode: use <code>4242 4242 4242 4242</code> to pay, \
         <code>4000 0000 0000 0002</code> to be declined, any future date and any CVC.</p>\n",
    );
    body.push_str("</form>\n</section>\n</main>");
    document("Checkout", &body)
}

/// A page with a message instead of a form (expired, already paid, unknown session).
pub(crate) fn notice_page(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<div class=\"notice\" id=\"notice\"><h1>{}</h1><p>{}</p>",
        text(title),
        text(message)
    );
    if let Some((href, label)) = link {
        let _ = write!(
            body,
            "<p><a class=\"back\" id=\"return-link\" href=\"{}\">{}</a></p>",
            attr(href),
            text(label)
        );
    }
    body.push_str("</div>");
    document(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::checkout_sessions::Status;

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
        for id in [
            "email",
            "cardNumber",
            "cardExpiry",
            "cardCvc",
            "billingName",
        ] {
            assert!(html.contains(&format!("id=\"{id}\" name=\"{id}\"")), "{id}");
        }
        assert!(html.contains("<form method=\"post\" action=\"/c/pay/cs_test_abc\""));
        assert!(html.contains("$29.00"));
        assert!(html.contains("Pay $29.00"));
        assert!(html.contains("&lt;b&gt;Book&lt;/b&gt; &amp; co"));
        assert!(!html.contains("<b>Book</b>"));
        assert!(html.contains("value=\"x&quot;@y.test\""));
        assert!(html.contains("value=\"&lt;Jen&gt;\""));
        assert!(html.contains("href=\"https://shop.test/cart?a=1&amp;b=&quot;2&quot;\""));
        assert!(!html.contains("<script"));
        assert!(!html.contains("card-errors"));
    }

    #[test]
    fn error_is_shown_with_codes() {
        let e = PageError {
            code: "card_declined",
            decline_code: Some("generic_decline"),
            message: "Your card was declined.",
        };
        let html = form_page(&view(), &FormState::default(), Some(&e));
        assert!(html.contains("id=\"card-errors\""));
        assert!(html.contains("data-decline-code=\"generic_decline\""));
        assert!(html.contains("Your card was declined."));
    }
}
