//! A shopper: a cookie-keeping HTTP client that follows redirects and fills
//! forms by their input names, as a browser would.
//!
//! Redirects are followed here rather than by reqwest so every hop is kept:
//! a flow can then assert where the payment page sent the shopper (for
//! example that `{CHECKOUT_SESSION_ID}` was replaced) and not only where the
//! shopper ended up.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode, redirect};
use url::Url;

use crate::html::{Form, Page};
use crate::timeline::{Actor, Timeline};

/// Browsers give up after about twenty hops; a purchase takes at most three.
const MAX_REDIRECTS: usize = 10;

pub struct Shopper {
    client: reqwest::Client,
    /// Where every request, answer and redirect is recorded, when a scenario watches.
    timeline: Option<Arc<Timeline>>,
}

/// The end of a navigation: the page reached and every URL redirected through.
pub struct Visit {
    pub page: Page,
    pub redirects: Vec<Url>,
}

impl Shopper {
    pub fn new() -> anyhow::Result<Shopper> {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the shopper's HTTP client")?;
        Ok(Shopper {
            client,
            timeline: None,
        })
    }

    /// A shopper whose every step lands on `timeline`.
    pub fn recorded(timeline: Arc<Timeline>) -> anyhow::Result<Shopper> {
        let mut shopper = Shopper::new()?;
        shopper.timeline = Some(timeline);
        Ok(shopper)
    }

    fn note(&self, summary: String, detail: Option<String>) {
        if let Some(t) = &self.timeline {
            t.record(Actor::Shopper, summary, detail);
        }
    }

    /// Opens a URL and follows redirects to the final page.
    pub async fn open(&self, url: &Url) -> anyhow::Result<Visit> {
        let response = self.send(Method::GET, url, None).await?;
        self.follow(url.clone(), response).await
    }

    /// Submits a form as a browser would (GET puts the fields in the query,
    /// POST sends them form-encoded) and follows redirects.
    pub async fn submit(&self, form: &Form) -> anyhow::Result<Visit> {
        let method = Method::from_bytes(form.method.as_bytes()).unwrap_or(Method::GET);
        let response = if method == Method::GET {
            let mut url = form.action.clone();
            url.query_pairs_mut().clear().extend_pairs(&form.fields);
            self.send(Method::GET, &url, None).await?
        } else {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&form.fields)
                .finish();
            self.send(method, &form.action, Some(body)).await?
        };
        self.follow(form.action.clone(), response).await
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        form_body: Option<String>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.client.request(method.clone(), url.clone());
        if let Some(body) = form_body {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let result = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"));
        match &result {
            Ok(r) => self.note(format!("{method} {url} → {}", r.status().as_u16()), None),
            Err(e) => self.note(format!("{method} {url} failed"), Some(format!("{e:#}"))),
        }
        result
    }

    async fn follow(&self, mut url: Url, mut response: reqwest::Response) -> anyhow::Result<Visit> {
        let mut redirects = Vec::new();
        while response.status().is_redirection() {
            if redirects.len() == MAX_REDIRECTS {
                bail!("more than {MAX_REDIRECTS} redirects, last at {url}");
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok())
                .with_context(|| {
                    format!("{} from {url} without a Location header", response.status())
                })?;
            url = url
                .join(location)
                .with_context(|| format!("bad Location {location:?} from {url}"))?;
            redirects.push(url.clone());
            // 301/302/303 turn into GET, as browsers do.
            response = self.send(Method::GET, &url, None).await?;
        }
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading {url}"))?;
        let page = Page::parse(url, status.as_u16(), &body);
        self.note(
            format!("sees {} ({})", page.url, status.as_u16()),
            Some(excerpt(page.text())),
        );
        Ok(Visit { page, redirects })
    }
}

impl Visit {
    /// Fails with the page's text when the final status is not the expected one.
    pub fn expect_status(self, expected: StatusCode) -> anyhow::Result<Visit> {
        if self.page.status != expected.as_u16() {
            bail!(
                "expected {expected} at {}, got {}: {}",
                self.page.url,
                self.page.status,
                excerpt(self.page.text())
            );
        }
        Ok(self)
    }
}

/// The first few hundred characters of a page, for failure messages.
pub fn excerpt(text: &str) -> String {
    const LIMIT: usize = 300;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
