//! `mock-stripe listen --forward-to URL`: `stripe listen` for a running mock. It is a
//! client of the mock, not a second server:
//!
//! 1. it registers a webhook endpoint for the key's account with localstripe's control
//!    call `POST /_config/webhooks/we_listen_…` (`url`, `secret`, `events[]`), which lets it
//!    choose the signing secret;
//! 2. it prints `Ready! … Your webhook signing secret is whsec_… (^C to quit)`;
//! 3. every 250 ms it reads the endpoint's delivery attempts
//!    (`GET /_config/deliveries?endpoint=we_listen_…`) and prints two lines per new
//!    attempt, as the Stripe CLI does: `--> type [evt_…]` and `<-- [status] POST URL
//!    [evt_…]` (retries print their `<--` line again);
//! 4. on Ctrl-C (or SIGTERM) it deletes the endpoint (`DELETE /v1/webhook_endpoints/…`).
//!
//! The signing secret is derived from the key (an HMAC), so it is the same every time for
//! an account, as `stripe listen`'s is per account and device: an app configures it once,
//! and `--print-secret` can print it without registering anything. If the mock stops
//! answering, listen keeps polling and registers again once it is back (a restarted mock
//! has forgotten the endpoint); it also checks every few seconds that the endpoint still
//! exists (an emptied account loses it).

use std::io::Write;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use http::Method;
use rand::Rng;
use serde::Deserialize;
use sha2::Sha256;

use super::client::{Answer, Api, error_message};

/// How often the delivery log is read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// Attempts read per poll (the control API's page).
const PAGE: usize = 100;
/// Every this many polls, check that the endpoint still exists.
const CHECK_EVERY: u32 = 20;

/// What `listen` does.
#[derive(Clone, Debug)]
pub struct ListenOptions {
    /// Where the mock delivers (already normalized by [`forward_url`]).
    pub forward_to: String,
    /// Event types to forward (`*` for all).
    pub events: Vec<String>,
}

/// Why listen stopped.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{0}")]
    Invalid(String),
    #[error("cannot attach to the mock at {base}: {reason}")]
    Attach { base: String, reason: String },
}

/// `--forward-to` as the Stripe CLI reads it: a bare port is `localhost:PORT`, a path is
/// on `localhost`, and `http://` is added when no scheme is given.
pub fn forward_url(given: &str) -> Result<String, ListenError> {
    let mut url = given.trim().to_string();
    if url.parse::<u16>().is_ok() {
        url = format!("localhost:{url}");
    }
    if url.starts_with('/') {
        url = format!("localhost{url}");
    }
    if !url.starts_with("http://") && !url.starts_with("https://") {
        url = format!("http://{url}");
    }
    match url::Url::parse(&url) {
        Ok(u) if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        _ => Err(ListenError::Invalid(format!(
            "--forward-to {given:?} is not a URL such as localhost:4242/webhook"
        ))),
    }
}

/// `--events a,b`: event types, or `*`.
pub fn event_list(given: &[String]) -> Result<Vec<String>, ListenError> {
    let events: Vec<String> = given
        .iter()
        .flat_map(|e| e.split(','))
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if events.is_empty() {
        return Ok(vec!["*".into()]);
    }
    for e in &events {
        let plausible = e == "*"
            || (e.contains('.')
                && e.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
                }));
        if !plausible {
            return Err(ListenError::Invalid(format!(
                "--events: {e:?} is not an event type such as checkout.session.completed"
            )));
        }
    }
    Ok(events)
}

/// The signing secret `listen` uses for the account of `key` (and connected account):
/// the same every time.
pub fn signing_secret(key: &str, stripe_account: Option<&str>) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(b"mock-stripe listen signing secret\0");
    mac.update(stripe_account.unwrap_or("").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("whsec_{}", hex::encode(&digest[..])) // 64 hex digits, like Stripe CLI secrets
}

/// One attempt, as `/_config/deliveries` reports it.
#[derive(Debug, Deserialize)]
struct Attempt {
    id: String,
    event: String,
    event_type: String,
    url: String,
    attempt: u32,
    status: Option<u16>,
    error: Option<String>,
}

/// `whatt_00000042` → 42: attempts are numbered in the order they happened.
fn sequence(id: &str) -> u64 {
    id.trim_start_matches("whatt_").parse().unwrap_or(0)
}

fn now() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The Stripe CLI's lines for one attempt.
fn lines(a: &Attempt) -> Vec<String> {
    let mut out = Vec::new();
    if a.attempt <= 1 {
        out.push(format!("{}   --> {} [{}]", now(), a.event_type, a.event));
    }
    let retry = if a.attempt > 1 {
        format!(" (attempt {})", a.attempt)
    } else {
        String::new()
    };
    out.push(match (a.status, &a.error) {
        (Some(status), _) => format!(
            "{}  <--  [{status}] POST {} [{}]{retry}",
            now(),
            a.url,
            a.event
        ),
        (None, error) => format!(
            "{}            [ERROR] Failed to POST: {} [{}]{retry}: {}",
            now(),
            a.url,
            a.event,
            error.as_deref().unwrap_or("no answer")
        ),
    });
    out
}

/// Registers (or registers again) the endpoint.
async fn register(
    api: &Api,
    id: &str,
    options: &ListenOptions,
    secret: &str,
) -> Result<(), String> {
    let mut form = vec![
        ("url", options.forward_to.clone()),
        ("secret", secret.to_string()),
    ];
    for e in &options.events {
        form.push(("events[]", e.clone()));
    }
    let answer = api
        .control(Method::POST, &format!("/webhooks/{id}"), &form)
        .await
        .map_err(|e| e.to_string())?;
    if answer.is_success() {
        Ok(())
    } else {
        Err(format!(
            "POST /_config/webhooks/{id} answered {}: {}",
            answer.status,
            error_message(&answer)
        ))
    }
}

async fn api_version(api: &Api) -> Result<String, String> {
    let answer: Answer = api
        .control(Method::GET, "/settings", &[])
        .await
        .map_err(|e| e.to_string())?;
    match answer.json()["api_version"].as_str() {
        Some(v) if answer.is_success() => Ok(v.to_string()),
        _ => Err(format!(
            "GET /_config/settings answered {}: {} (is this a mock-stripe?)",
            answer.status,
            error_message(&answer)
        )),
    }
}

/// Attaches to the mock and prints deliveries until `stop` resolves; then removes the
/// endpoint.
pub async fn run<W: Write>(
    api: &Api,
    options: &ListenOptions,
    out: &mut W,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ListenError> {
    let attach = |reason: String| ListenError::Attach {
        base: api.base.clone(),
        reason,
    };
    let version = api_version(api).await.map_err(attach)?;
    let secret = signing_secret(&api.key, api.stripe_account.as_deref());
    let suffix: String = rand::rng()
        .sample_iter(&rand::distr::Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let id = format!("we_listen_{suffix}");
    register(api, &id, options, &secret).await.map_err(attach)?;
    if options.forward_to.starts_with("https://") {
        let _ = writeln!(
            out,
            "warning: mock-stripe delivers webhooks over plain HTTP; {} will not be reached",
            options.forward_to
        );
    }
    let _ = writeln!(
        out,
        "Ready! You are using Stripe API Version [{version}]. Your webhook signing secret is {secret} (^C to quit)"
    );
    let _ = out.flush();

    tokio::pin!(stop);
    let mut seen = 0u64;
    let mut polls = 0u32;
    let mut lost = false;
    let path = format!("/deliveries?endpoint={id}&limit={PAGE}");
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
        polls = polls.wrapping_add(1);
        let answer = match api.control(Method::GET, &path, &[]).await {
            Ok(a) if a.is_success() => a,
            Ok(a) => {
                if !lost {
                    let _ = writeln!(
                        out,
                        "{}  lost the mock at {}: {}; retrying",
                        now(),
                        api.base,
                        error_message(&a)
                    );
                    lost = true;
                }
                continue;
            }
            Err(e) => {
                if !lost {
                    let _ = writeln!(
                        out,
                        "{}  lost the mock at {}: {e}; retrying",
                        now(),
                        api.base
                    );
                    lost = true;
                }
                continue;
            }
        };
        let check = polls.is_multiple_of(CHECK_EVERY);
        if lost || check {
            let gone = match api
                .v1(Method::GET, &format!("/v1/webhook_endpoints/{id}"))
                .await
            {
                Ok(a) => a.status == 404,
                Err(_) => false,
            };
            if gone || lost {
                match register(api, &id, options, &secret).await {
                    Ok(()) => {
                        if lost || gone {
                            let _ = writeln!(
                                out,
                                "{}  attached again to {} (same signing secret)",
                                now(),
                                api.base
                            );
                        }
                        lost = false;
                    }
                    Err(e) => {
                        let _ = writeln!(out, "{}  cannot register again: {e}; retrying", now());
                        continue;
                    }
                }
            }
        }
        let list = answer.json();
        let mut attempts: Vec<Attempt> = list["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| serde_json::from_value(v.clone()).ok())
                    .collect()
            })
            .unwrap_or_default();
        attempts.sort_by_key(|a| sequence(&a.id));
        // A mock that restarted (or an emptied account) numbers attempts from 1 again.
        if attempts.last().is_some_and(|a| sequence(&a.id) < seen) {
            seen = 0;
        }
        let fresh: Vec<&Attempt> = attempts.iter().filter(|a| sequence(&a.id) > seen).collect();
        if list["has_more"] == true
            && seen > 0
            && attempts.first().is_some_and(|a| sequence(&a.id) > seen + 1)
        {
            let _ = writeln!(
                out,
                "{}  (more than {PAGE} deliveries in {POLL_EVERY:?}: some are not shown)",
                now()
            );
        }
        for a in fresh {
            for line in lines(a) {
                let _ = writeln!(out, "{line}");
            }
            seen = seen.max(sequence(&a.id));
        }
        let _ = out.flush();
    }
    let removed = api
        .v1(Method::DELETE, &format!("/v1/webhook_endpoints/{id}"))
        .await;
    match removed {
        Ok(a) if a.is_success() || a.status == 404 => {}
        Ok(a) => {
            let _ = writeln!(
                out,
                "could not remove the endpoint {id}: {}",
                error_message(&a)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "could not remove the endpoint {id}: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_to_is_read_as_the_stripe_cli_reads_it() {
        assert_eq!(forward_url("4242").unwrap(), "http://localhost:4242");
        assert_eq!(forward_url("/webhook").unwrap(), "http://localhost/webhook");
        assert_eq!(
            forward_url("localhost:4242/webhook").unwrap(),
            "http://localhost:4242/webhook"
        );
        assert_eq!(
            forward_url("https://shop.test/hook").unwrap(),
            "https://shop.test/hook"
        );
        assert!(forward_url("http://").is_err());
    }

    #[test]
    fn events_are_a_comma_list_or_everything() {
        assert_eq!(event_list(&[]).unwrap(), ["*"]);
        assert_eq!(
            event_list(&["checkout.session.completed, charge.refunded".into()]).unwrap(),
            ["checkout.session.completed", "charge.refunded"]
        );
        assert!(event_list(&["Checkout".into()]).is_err());
    }

    #[test]
    fn the_secret_is_stable_per_account_and_never_the_key() {
        let a = signing_secret("sk_test_a", None);
        assert_eq!(a, signing_secret("sk_test_a", None));
        assert_ne!(a, signing_secret("sk_test_b", None));
        assert_ne!(a, signing_secret("sk_test_a", Some("acct_1")));
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64, "{a}");
        assert!(!a.contains("sk_test_a"));
    }

    #[test]
    fn attempts_print_the_stripe_cli_lines() {
        let a = Attempt {
            id: "whatt_00000007".into(),
            event: "evt_1".into(),
            event_type: "checkout.session.completed".into(),
            url: "http://localhost:4242/webhook".into(),
            attempt: 1,
            status: Some(200),
            error: None,
        };
        assert_eq!(sequence(&a.id), 7);
        let l = lines(&a);
        assert!(
            l[0].ends_with("   --> checkout.session.completed [evt_1]"),
            "{l:?}"
        );
        assert!(
            l[1].ends_with("  <--  [200] POST http://localhost:4242/webhook [evt_1]"),
            "{l:?}"
        );
        let retry = Attempt {
            attempt: 2,
            status: None,
            error: Some("connection refused".into()),
            ..a
        };
        let l = lines(&retry);
        assert_eq!(l.len(), 1);
        assert!(l[0].contains("[ERROR] Failed to POST: http://localhost:4242/webhook [evt_1] (attempt 2): connection refused"), "{l:?}");
    }
}
