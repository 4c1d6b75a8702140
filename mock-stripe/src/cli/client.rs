//! The client commands' HTTP: hyper over plain TCP, or over rustls for `https://` bases
//! (the `tls` feature, on by default: `fixtures` can run against Stripe itself), and
//! [`Api`], one account of a Stripe-compatible API (`/v1`) and of the mock's control API
//! (`/_config`).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Answers larger than this are refused (Stripe's biggest lists are far smaller).
const MAX_ANSWER: usize = 8 * 1024 * 1024;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// What went wrong before an answer arrived.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0} is not an http:// or https:// URL")]
    BadUrl(String),
    #[error("this mock-stripe was built without TLS (the `tls` feature), so it cannot reach {0}")]
    NoTls(String),
    #[error("a header is not valid: {0}")]
    BadHeader(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer within {secs} s", secs = REQUEST_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("the answer of {url} could not be read: {reason}")]
    Answer { url: String, reason: String },
}

/// An answer: status and body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A small HTTP client (no proxy, no redirects, no cookies).
#[derive(Clone)]
pub struct Http {
    client: Client<Connector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

impl Http {
    pub fn new() -> Http {
        #[cfg(feature = "tls")]
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        #[cfg(not(feature = "tls"))]
        let connector = HttpConnector::new();
        Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends one request; `body` is `(content type, bytes)`.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Answer, HttpError> {
        let parsed = url::Url::parse(url).map_err(|_| HttpError::BadUrl(url.to_string()))?;
        match parsed.scheme() {
            "http" => {}
            "https" if cfg!(feature = "tls") => {}
            "https" => return Err(HttpError::NoTls(url.to_string())),
            _ => return Err(HttpError::BadUrl(url.to_string())),
        }
        let mut req = Request::builder().method(method).uri(parsed.as_str());
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::BadHeader(name.clone()))?;
            let value =
                HeaderValue::from_str(value).map_err(|_| HttpError::BadHeader(name.to_string()))?;
            req = req.header(name, value);
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                req = req.header(http::header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Vec::new(),
        };
        let req = req
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| HttpError::BadHeader(e.to_string()))?;
        let answer = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| HttpError::Unreachable {
                    url: url.to_string(),
                    reason: reason(&e),
                })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| HttpError::Answer {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, answer)
            .await
            .map_err(|_| HttpError::Timeout {
                url: url.to_string(),
            })?
    }
}

/// The innermost cause ("Connection refused"), which is what a person needs to read.
fn reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Where the client commands send their requests, and as whom.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:12111`, `https://api.stripe.com` (no trailing slash).
    pub base: String,
    pub key: String,
    /// `Stripe-Account` (a connected account).
    pub stripe_account: Option<String>,
    /// `Stripe-Version` on `/v1` requests.
    pub api_version: Option<String>,
    /// The mock's `--control-token`, sent as `X-Control-Token` on `/_config` calls.
    pub control_token: Option<String>,
    pub http: Http,
}

/// Keys and tokens are shown masked, as everywhere in the mock.
impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("key", &crate::protocol::auth::mask_key(&self.key))
            .field("stripe_account", &self.stripe_account)
            .field("api_version", &self.api_version)
            .field(
                "control_token",
                &self.control_token.as_ref().map(|_| "****"),
            )
            .finish()
    }
}

impl Api {
    pub fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            stripe_account: None,
            api_version: None,
            control_token: None,
            http: Http::new(),
        }
    }

    /// The headers every request carries: the key (as the Stripe CLI sends it) and the
    /// connected account.
    pub fn auth_headers(&self) -> Vec<(String, String)> {
        let mut h = vec![("authorization".into(), format!("Bearer {}", self.key))];
        if let Some(acct) = &self.stripe_account {
            h.push(("stripe-account".into(), acct.clone()));
        }
        h
    }

    /// A control call (`path` after `/_config`), form-encoded.
    pub async fn control(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
    ) -> Result<Answer, HttpError> {
        let mut headers = self.auth_headers();
        if let Some(t) = &self.control_token {
            headers.push(("x-control-token".into(), t.clone()));
        }
        let body = (!form.is_empty()).then(|| {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            ("application/x-www-form-urlencoded", encoded.into_bytes())
        });
        let url = format!("{}/_config{path}", self.base);
        self.http.send(method, &url, &headers, body).await
    }

    /// A `/v1` call without parameters (`path` from `/v1/…`).
    pub async fn v1(&self, method: Method, path: &str) -> Result<Answer, HttpError> {
        let mut headers = self.auth_headers();
        if let Some(v) = &self.api_version {
            headers.push(("stripe-version".into(), v.clone()));
        }
        let url = format!("{}{path}", self.base);
        self.http.send(method, &url, &headers, None).await
    }
}

/// Stripe's error message in an answer, or what is known about it.
pub fn error_message(answer: &Answer) -> String {
    let v = answer.json();
    match v["error"]["message"].as_str() {
        Some(m) => m.to_string(),
        None => {
            let text = String::from_utf8_lossy(&answer.body);
            let text: String = text.chars().take(200).collect();
            format!("HTTP {} {text}", answer.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn https_bases_go_through_tls_when_built_with_it() {
        let http = Http::new();
        // Nothing listens on port 9: what matters is how far the request got.
        let e = http
            .send(Method::GET, "https://127.0.0.1:9/v1/products", &[], None)
            .await
            .unwrap_err();
        if cfg!(feature = "tls") {
            assert!(matches!(e, HttpError::Unreachable { .. }), "{e}");
        } else {
            assert!(matches!(e, HttpError::NoTls(_)), "{e}");
        }
        let e = http
            .send(Method::GET, "ftp://127.0.0.1/x", &[], None)
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::BadUrl(_)), "{e}");
    }

    #[test]
    fn error_messages_come_from_stripes_envelope() {
        let answer = Answer {
            status: 402,
            body: Bytes::from_static(br#"{"error": {"message": "Your card was declined."}}"#),
        };
        assert_eq!(error_message(&answer), "Your card was declined.");
        let answer = Answer {
            status: 502,
            body: Bytes::from_static(b"Bad gateway"),
        };
        assert_eq!(error_message(&answer), "HTTP 502 Bad gateway");
    }

    #[test]
    fn the_key_is_masked_in_debug_output() {
        let mut api = Api::new("http://127.0.0.1:12111/", "sk_test_supersecret1234");
        api.control_token = Some("token-token-token".into());
        let shown = format!("{api:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(!shown.contains("token-token"), "{shown}");
        assert!(shown.contains("http://127.0.0.1:12111\""), "{shown}");
    }
}
