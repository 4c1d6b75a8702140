//! Configuration, read once from the environment into a typed struct.
//!
//! Every error names the variable at fault, so a misconfigured shop says what
//! to fix instead of failing later with a confusing symptom.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// A value that must never appear in logs: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that needs it (an HTTP header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A configuration problem; the message always starts with the variable's name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{var} is not set")]
    Missing { var: &'static str },
    #[error("{var} {problem}")]
    Invalid { var: &'static str, problem: String },
}

impl SettingsError {
    /// The environment variable this error is about.
    pub fn variable(&self) -> &'static str {
        match self {
            SettingsError::Missing { var } | SettingsError::Invalid { var, .. } => var,
        }
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://storefront.sqlite?mode=rwc";
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";
pub const DEFAULT_PORT: u16 = 8000;
/// Bytes in a cookie key (what `SESSION_KEY` must decode to).
pub const SESSION_KEY_LEN: usize = 64;

#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// `STRIPE_API_BASE`: where Stripe (or mock-stripe) answers, an http(s) URL.
    pub stripe_api_base: String,
    /// `STRIPE_SECRET_KEY`: `sk_…` or `rk_…`.
    pub stripe_secret_key: Secret,
    /// `STRIPE_PUBLISHABLE_KEY`: `pk_…`.
    pub stripe_publishable_key: String,
    /// `STRIPE_WEBHOOK_SECRET`: `whsec_…`, the signing secret of our webhook endpoint.
    pub stripe_webhook_secret: Secret,
    /// `PUBLIC_URL`: how browsers and Stripe reach the shop; default `http://{host}:{bound port}`.
    pub public_url: Option<String>,
    /// `HOST`: the interface to listen on; loopback unless told otherwise.
    pub host: IpAddr,
    /// `PORT`: 0 picks a free port.
    pub port: u16,
    /// `MAIL_OUTBOX`: folder where receipts are written as `.eml` files.
    pub mail_outbox: PathBuf,
    /// `SESSION_KEY`: 64 bytes (128 hex chars) for the cookie key; `None` → random per start.
    pub session_key: Option<Vec<u8>>,
}

// By hand so the session key (plain bytes) is redacted like the other secrets.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_password(&self.database_url))
            .field("stripe_api_base", &self.stripe_api_base)
            .field("stripe_secret_key", &self.stripe_secret_key)
            .field("stripe_publishable_key", &self.stripe_publishable_key)
            .field("stripe_webhook_secret", &self.stripe_webhook_secret)
            .field("public_url", &self.public_url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("mail_outbox", &self.mail_outbox)
            .field(
                "session_key",
                &self.session_key.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (a map in tests, the environment in `from_env`).
    /// An empty value counts as unset, as it usually means "cleared" in a shell or compose file.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |var: &str| lookup(var).filter(|v| !v.trim().is_empty());
        let required = |var: &'static str| get(var).ok_or(SettingsError::Missing { var });

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                format!(
                    "must start with sqlite:, postgres:// or postgresql://, got {database_url:?}"
                ),
            ));
        }

        let stripe_api_base = match get("STRIPE_API_BASE") {
            Some(value) => parse_http_url("STRIPE_API_BASE", &value)?,
            None => DEFAULT_STRIPE_API_BASE.to_owned(),
        };

        // Secrets are never echoed back in errors: only which prefix was expected.
        let secret_key = required("STRIPE_SECRET_KEY")?;
        if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) {
            return Err(invalid(
                "STRIPE_SECRET_KEY",
                "must start with sk_ or rk_ (a secret or restricted key); the value given does not"
                    .to_owned(),
            ));
        }

        let publishable_key = required("STRIPE_PUBLISHABLE_KEY")?;
        if !publishable_key.starts_with("pk_") {
            // A secret key pasted here by mistake must not be printed either.
            return Err(invalid(
                "STRIPE_PUBLISHABLE_KEY",
                "must start with pk_ (a publishable key); the value given does not".to_owned(),
            ));
        }

        let webhook_secret = required("STRIPE_WEBHOOK_SECRET")?;
        if !webhook_secret.starts_with("whsec_") {
            return Err(invalid(
                "STRIPE_WEBHOOK_SECRET",
                "must start with whsec_ (a webhook signing secret); the value given does not"
                    .to_owned(),
            ));
        }

        let public_url = get("PUBLIC_URL")
            .map(|v| parse_http_url("PUBLIC_URL", &v))
            .transpose()?;

        let host = match get("HOST") {
            Some(value) => value.trim().parse::<IpAddr>().map_err(|_| {
                invalid(
                    "HOST",
                    format!("must be an IP address such as 127.0.0.1 or ::1, got {value:?}"),
                )
            })?,
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };

        let port = match get("PORT") {
            Some(value) => value.trim().parse::<u16>().map_err(|_| {
                invalid(
                    "PORT",
                    format!("must be a number from 0 to 65535, got {value:?}"),
                )
            })?,
            None => DEFAULT_PORT,
        };

        let mail_outbox = get("MAIL_OUTBOX")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("./outbox"));

        let session_key = get("SESSION_KEY")
            .map(|v| parse_session_key(&v))
            .transpose()?;

        Ok(Settings {
            database_url,
            stripe_api_base,
            stripe_secret_key: Secret(secret_key),
            stripe_publishable_key: publishable_key,
            stripe_webhook_secret: Secret(webhook_secret),
            public_url,
            host,
            port,
            mail_outbox,
            session_key,
        })
    }
}

/// Operating limits with safe defaults, read from the environment beside [`Settings`]
/// (kept apart so code that builds `Settings` by hand needn't know about them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// `RECEIPT_CLAIM_TIMEOUT` (seconds, default 300): how long a claim on writing a
    /// receipt holds. A writer that died after claiming blocks the receipt this long; then
    /// the receipt sweep (every half timeout, at most 30 s) or a redelivery sends it. Must
    /// exceed the time one write can take.
    pub receipt_claim_timeout: std::time::Duration,
    /// `IDLE_TIMEOUT` (seconds, default 120): a connection that sends and receives nothing
    /// for this long is closed, so clients that open connections and say nothing (or keep
    /// idle keep-alives) cannot hold them forever. Longer than HTTP clients' usual idle
    /// pool timeout (reqwest's 90 s), so they drop an idle connection before the shop does.
    /// poem closes gracefully: a request whose head has begun to arrive is waited for (it
    /// has no header read timeout).
    pub idle_timeout: std::time::Duration,
}

/// [`Tuning::idle_timeout`]'s default.
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            receipt_claim_timeout: crate::mail::DEFAULT_RECEIPT_CLAIM_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl Tuning {
    pub fn from_env() -> Result<Tuning, SettingsError> {
        Tuning::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Tuning, SettingsError> {
        let seconds = |var: &'static str, max: u64| -> Result<Option<u64>, SettingsError> {
            let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=max).contains(s))
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        var,
                        format!("must be a number of seconds from 1 to {max}, got {value:?}"),
                    )
                })
        };
        let mut tuning = Tuning::default();
        if let Some(s) = seconds("RECEIPT_CLAIM_TIMEOUT", 86_400)? {
            tuning.receipt_claim_timeout = std::time::Duration::from_secs(s);
        }
        if let Some(s) = seconds("IDLE_TIMEOUT", 3_600)? {
            tuning.idle_timeout = std::time::Duration::from_secs(s);
        }
        Ok(tuning)
    }
}

/// A database URL may carry a password (`postgres://user:pw@host/db`).
fn redact_password(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("[redacted]"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}

fn invalid(var: &'static str, problem: String) -> SettingsError {
    SettingsError::Invalid { var, problem }
}

/// Accepts an absolute http(s) URL with a host; returns it without a trailing slash
/// so callers can append paths with `format!("{base}/…")`.
fn parse_http_url(var: &'static str, value: &str) -> Result<String, SettingsError> {
    let value = value.trim();
    let problem = || format!("must be an http:// or https:// URL, got {value:?}");
    let url = url::Url::parse(value).map_err(|_| invalid(var, problem()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(var, problem()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            var,
            format!("must not have a query or fragment, got {value:?}"),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn parse_session_key(value: &str) -> Result<Vec<u8>, SettingsError> {
    let value = value.trim();
    // The key itself is secret: report its shape, never its content.
    let problem = || {
        format!(
            "must be {} hex characters ({SESSION_KEY_LEN} bytes); the value given has {} characters{}",
            SESSION_KEY_LEN * 2,
            value.len(),
            if value.chars().all(|c| c.is_ascii_hexdigit()) {
                ""
            } else {
                " and is not all hex"
            }
        )
    };
    if value.len() != SESSION_KEY_LEN * 2 {
        return Err(invalid("SESSION_KEY", problem()));
    }
    hex::decode(value).map_err(|_| invalid("SESSION_KEY", problem()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn base() -> HashMap<&'static str, String> {
        HashMap::from([
            ("STRIPE_SECRET_KEY", "sk_test_123".to_owned()),
            ("STRIPE_PUBLISHABLE_KEY", "pk_test_123".to_owned()),
            ("STRIPE_WEBHOOK_SECRET", "whsec_abc".to_owned()),
        ])
    }

    fn load(vars: &HashMap<&'static str, String>) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    fn with(var: &'static str, value: &str) -> Result<Settings, SettingsError> {
        let mut vars = base();
        vars.insert(var, value.to_owned());
        load(&vars)
    }

    fn error_message(var: &'static str, value: &str) -> String {
        let err = with(var, value).expect_err("should be rejected");
        assert_eq!(err.variable(), var);
        err.to_string()
    }

    #[test]
    fn defaults_apply_when_only_the_keys_are_set() {
        let s = load(&base()).unwrap();
        assert_eq!(s.database_url, "sqlite://storefront.sqlite?mode=rwc");
        assert_eq!(s.stripe_api_base, "https://api.stripe.com");
        assert_eq!(s.host, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(s.port, 8000);
        assert_eq!(s.public_url, None);
        assert_eq!(s.mail_outbox, PathBuf::from("./outbox"));
        assert_eq!(s.session_key, None);
        assert_eq!(s.stripe_secret_key.expose(), "sk_test_123");
        assert_eq!(s.stripe_publishable_key, "pk_test_123");
        assert_eq!(s.stripe_webhook_secret.expose(), "whsec_abc");
    }

    #[test]
    fn each_required_key_missing_is_named() {
        for var in [
            "STRIPE_SECRET_KEY",
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_WEBHOOK_SECRET",
        ] {
            let mut vars = base();
            vars.remove(var);
            let err = load(&vars).unwrap_err();
            assert_eq!(err.to_string(), format!("{var} is not set"));
            // Empty counts as unset.
            vars.insert(var, "  ".into());
            assert_eq!(
                load(&vars).unwrap_err().to_string(),
                format!("{var} is not set")
            );
        }
    }

    #[test]
    fn keys_with_the_wrong_prefix_are_rejected_without_echoing_them() {
        let msg = error_message("STRIPE_SECRET_KEY", "pk_test_oops");
        assert!(
            msg.starts_with("STRIPE_SECRET_KEY must start with sk_ or rk_"),
            "{msg}"
        );
        assert!(!msg.contains("pk_test_oops"), "{msg}");
        assert!(with("STRIPE_SECRET_KEY", "rk_test_ok").is_ok());

        let msg = error_message("STRIPE_PUBLISHABLE_KEY", "sk_test_secret");
        assert!(
            msg.starts_with("STRIPE_PUBLISHABLE_KEY must start with pk_"),
            "{msg}"
        );
        assert!(!msg.contains("sk_test_secret"), "{msg}");

        let msg = error_message("STRIPE_WEBHOOK_SECRET", "secret123");
        assert!(
            msg.starts_with("STRIPE_WEBHOOK_SECRET must start with whsec_"),
            "{msg}"
        );
        assert!(!msg.contains("secret123"), "{msg}");
    }

    #[test]
    fn port_must_be_a_16_bit_number() {
        assert_eq!(
            error_message("PORT", "abc"),
            r#"PORT must be a number from 0 to 65535, got "abc""#
        );
        assert_eq!(
            error_message("PORT", "65536"),
            r#"PORT must be a number from 0 to 65535, got "65536""#
        );
        assert_eq!(
            error_message("PORT", "-1"),
            r#"PORT must be a number from 0 to 65535, got "-1""#
        );
        assert_eq!(with("PORT", "0").unwrap().port, 0);
        assert_eq!(with("PORT", "65535").unwrap().port, 65535);
    }

    #[test]
    fn host_must_be_an_ip_address() {
        let msg = error_message("HOST", "localhost");
        assert!(msg.starts_with("HOST must be an IP address"), "{msg}");
        assert!(msg.contains("\"localhost\""), "{msg}");
        assert_eq!(with("HOST", "0.0.0.0").unwrap().host.to_string(), "0.0.0.0");
        assert_eq!(with("HOST", "::1").unwrap().host.to_string(), "::1");
    }

    #[test]
    fn urls_must_be_http_and_lose_their_trailing_slash() {
        for var in ["STRIPE_API_BASE", "PUBLIC_URL"] {
            for bad in [
                "not a url",
                "ftp://example.com",
                "mailto:a@b.c",
                "http://",
                "http://x/?a=1",
            ] {
                let msg = error_message(var, bad);
                assert!(msg.starts_with(&format!("{var} must")), "{msg}");
            }
        }
        assert_eq!(
            with("STRIPE_API_BASE", "http://127.0.0.1:12111/")
                .unwrap()
                .stripe_api_base,
            "http://127.0.0.1:12111"
        );
        assert_eq!(
            with("PUBLIC_URL", "https://shop.example.com/")
                .unwrap()
                .public_url
                .as_deref(),
            Some("https://shop.example.com")
        );
    }

    #[test]
    fn database_url_must_name_a_supported_database() {
        let msg = error_message("DATABASE_URL", "mysql://localhost/shop");
        assert!(
            msg.starts_with("DATABASE_URL must start with sqlite:"),
            "{msg}"
        );
        assert_eq!(
            with("DATABASE_URL", "postgres://u@localhost/shop")
                .unwrap()
                .database_url,
            "postgres://u@localhost/shop"
        );
    }

    #[test]
    fn session_key_is_64_bytes_of_hex() {
        let good = "ab".repeat(64);
        assert_eq!(
            with("SESSION_KEY", &good).unwrap().session_key,
            Some(vec![0xab; 64])
        );
        let msg = error_message("SESSION_KEY", "abcd");
        assert!(
            msg.starts_with("SESSION_KEY must be 128 hex characters (64 bytes)"),
            "{msg}"
        );
        let not_hex = "zz".repeat(64);
        let msg = error_message("SESSION_KEY", &not_hex);
        assert!(
            msg.contains("not all hex") && !msg.contains(&not_hex),
            "{msg}"
        );
    }

    #[test]
    fn secrets_never_print() {
        let mut vars = base();
        vars.insert("SESSION_KEY", "ab".repeat(64));
        vars.insert("DATABASE_URL", "postgres://shop:hunter2@db/shop".into());
        let s = load(&vars).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("abab"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("shop@db/shop") || debug.contains("db/shop"),
            "{debug}"
        );
        assert!(!debug.contains("sk_test_123"), "{debug}");
        assert!(!debug.contains("whsec_abc"), "{debug}");
        assert!(debug.contains("[redacted]"));
        assert_eq!(Secret::from("x").to_string(), "[redacted]");
    }

    #[test]
    fn the_receipt_claim_timeout_defaults_to_five_minutes_and_is_checked() {
        let none = |_: &str| None;
        assert_eq!(
            Tuning::from_lookup(none).unwrap().receipt_claim_timeout,
            std::time::Duration::from_secs(300)
        );
        let set = |v: &'static str| {
            move |name: &str| (name == "RECEIPT_CLAIM_TIMEOUT").then(|| v.to_owned())
        };
        assert_eq!(
            Tuning::from_lookup(set("2")).unwrap().receipt_claim_timeout,
            std::time::Duration::from_secs(2)
        );
        for bad in ["0", "-1", "abc", "86401", "1.5"] {
            let err = Tuning::from_lookup(set(bad)).unwrap_err();
            assert_eq!(err.variable(), "RECEIPT_CLAIM_TIMEOUT", "{bad}");
        }
    }

    #[test]
    fn the_idle_timeout_defaults_to_two_minutes_and_is_checked() {
        let none = |_: &str| None;
        assert_eq!(
            Tuning::from_lookup(none).unwrap().idle_timeout,
            std::time::Duration::from_secs(120)
        );
        let set =
            |v: &'static str| move |name: &str| (name == "IDLE_TIMEOUT").then(|| v.to_owned());
        assert_eq!(
            Tuning::from_lookup(set("5")).unwrap().idle_timeout,
            std::time::Duration::from_secs(5)
        );
        for bad in ["0", "x", "3601"] {
            let err = Tuning::from_lookup(set(bad)).unwrap_err();
            assert_eq!(err.variable(), "IDLE_TIMEOUT", "{bad}");
        }
    }
}
