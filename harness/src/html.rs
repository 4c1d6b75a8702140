//! Reading pages the way a shopper's browser would: visible text, links and forms.
//!
//! Parsing is done with `scraper` (html5ever underneath) rather than string
//! matching, so the flows keep working when markup changes shape but not meaning.

use std::sync::OnceLock;

use scraper::{ElementRef, Html, Selector};
use url::Url;

/// A fetched HTML page and the URL it came from (for resolving relative links).
///
/// Holds the markup, not the parsed tree: scraper's tree is not `Send`, and a
/// page has to cross `.await`s in the flows. Pages are small, so each question
/// about links or forms parses afresh; the visible text, asked for most, is
/// worked out once.
pub struct Page {
    pub url: Url,
    pub status: u16,
    body: String,
    text: OnceLock<String>,
}

/// A form as a browser would submit it: resolved action, method, and the
/// current value of every successful control.
#[derive(Clone, Debug)]
pub struct Form {
    pub action: Url,
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// Sets a field by name, adding it when the form has no such input, as a
    /// person typing into an input would.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
}

fn selector(css: &str) -> Selector {
    // Every selector in this module is a literal written here; a typo is a
    // programming error caught by the first test that uses it.
    Selector::parse(css).unwrap_or_else(|e| panic!("bad selector {css:?}: {e}"))
}

impl Page {
    pub fn parse(url: Url, status: u16, body: &str) -> Page {
        Page {
            url,
            status,
            body: body.to_owned(),
            text: OnceLock::new(),
        }
    }

    fn document(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The page's text as a person reads it, whitespace collapsed.
    pub fn text(&self) -> &str {
        self.text.get_or_init(|| {
            let body = selector("body");
            let document = self.document();
            let root = document
                .select(&body)
                .next()
                .unwrap_or_else(|| document.root_element());
            collapse_whitespace(&root.text().collect::<Vec<_>>().join(" "))
        })
    }

    pub fn contains_text(&self, needle: &str) -> bool {
        self.text().contains(&collapse_whitespace(needle))
    }

    /// Absolute URLs of the links whose visible text contains `label`.
    pub fn links_labelled(&self, label: &str) -> Vec<Url> {
        let a = selector("a[href]");
        self.document()
            .select(&a)
            .filter(|el| collapse_whitespace(&el.text().collect::<String>()).contains(label))
            .filter_map(|el| el.value().attr("href").and_then(|h| self.url.join(h).ok()))
            .collect()
    }

    /// Every link on the page, as absolute URLs.
    pub fn links(&self) -> Vec<Url> {
        let a = selector("a[href]");
        self.document()
            .select(&a)
            .filter_map(|el| el.value().attr("href").and_then(|h| self.url.join(h).ok()))
            .collect()
    }

    /// The forms on the page, in document order.
    pub fn forms(&self) -> Vec<Form> {
        let forms = selector("form");
        self.document()
            .select(&forms)
            .map(|f| self.read_form(f))
            .collect()
    }

    /// The first form that has an input with this name (for example the
    /// payment form, found by its `cardNumber` input as on Stripe's page).
    pub fn form_with_input(&self, name: &str) -> Option<Form> {
        self.forms().into_iter().find(|f| f.has_field(name))
    }

    /// The first form whose action path ends with `suffix`.
    pub fn form_posting_to(&self, suffix: &str) -> Option<Form> {
        self.forms()
            .into_iter()
            .find(|f| f.action.path().ends_with(suffix))
    }

    fn read_form(&self, form: ElementRef<'_>) -> Form {
        let action = form
            .value()
            .attr("action")
            .filter(|a| !a.is_empty())
            .and_then(|a| self.url.join(a).ok())
            .unwrap_or_else(|| self.url.clone());
        let method = form
            .value()
            .attr("method")
            .unwrap_or("get")
            .to_ascii_uppercase();
        let controls = selector("input[name], textarea[name], select[name]");
        let mut fields = Vec::new();
        for control in form.select(&controls) {
            let el = control.value();
            let Some(name) = el.attr("name") else {
                continue;
            };
            let value = match el.name() {
                "textarea" => control.text().collect::<String>(),
                "select" => {
                    let option = selector("option[selected], option");
                    control
                        .select(&option)
                        .next()
                        .map(|o| {
                            o.value()
                                .attr("value")
                                .map(str::to_owned)
                                .unwrap_or_else(|| o.text().collect())
                        })
                        .unwrap_or_default()
                }
                _ => {
                    let kind = el.attr("type").unwrap_or("text").to_ascii_lowercase();
                    // Browsers submit checkboxes and radios only when checked,
                    // and submit buttons only when clicked.
                    if matches!(kind.as_str(), "checkbox" | "radio") && el.attr("checked").is_none()
                    {
                        continue;
                    }
                    if matches!(kind.as_str(), "submit" | "button" | "image" | "reset") {
                        continue;
                    }
                    el.attr("value").unwrap_or_default().to_owned()
                }
            };
            fields.push((name.to_owned(), value));
        }
        Form {
            action,
            method,
            fields,
        }
    }
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> Page {
        Page::parse(
            Url::parse("http://shop.test/products/1").unwrap(),
            200,
            body,
        )
    }

    #[test]
    fn reads_forms_like_a_browser() {
        let p = page(
            r#"<form method="post" action="/products/1/buy">
                 <input type="hidden" name="csrf_token" value="abc">
                 <input type="checkbox" name="newsletter" value="yes">
                 <input type="checkbox" name="terms" value="ok" checked>
                 <button type="submit" name="go">Buy</button>
               </form>
               <form><input name="cardNumber" id="cardNumber"></form>"#,
        );
        let buy = p.form_posting_to("/buy").expect("buy form");
        assert_eq!(buy.action.as_str(), "http://shop.test/products/1/buy");
        assert_eq!(buy.method, "POST");
        assert_eq!(
            buy.fields,
            vec![
                ("csrf_token".into(), "abc".into()),
                ("terms".into(), "ok".into())
            ]
        );
        let pay = p.form_with_input("cardNumber").expect("payment form");
        assert_eq!(pay.method, "GET");
        assert_eq!(pay.action.as_str(), "http://shop.test/products/1");
    }

    #[test]
    fn text_and_links() {
        let p = page(
            "<body><p>Thanks   for\n purchasing <b>Bread</b></p><a href='/c'>Back to shop</a></body>",
        );
        assert!(p.contains_text("Thanks for purchasing Bread"));
        assert!(!p.contains_text("Thanks for purchasing Cake"));
        assert_eq!(p.links_labelled("Back")[0].as_str(), "http://shop.test/c");
    }
}
