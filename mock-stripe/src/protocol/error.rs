//! Stripe's error envelope (contract §1.7).
//!
//! Every failure a client can cause is an [`ApiError`]; the server turns it into
//! `{"error": {...}}` with the status the SDKs map their exception classes from.

use http::StatusCode;
use serde::Serialize;

/// The `type` field of an error. Stripe v1 has no `authentication_error`: a bad key is an
/// `invalid_request_error` with status 401. (Checkout never answers the API with a 402
/// `card_error`; the control API's headless completion does, as a direct charge would.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // Stripe's own names: `*_error`.
pub(crate) enum ErrorType {
    InvalidRequestError,
    ApiError,
    IdempotencyError,
    CardError,
}

/// What a `card_error` adds to the envelope (and `payment_intent` to a
/// `payment_intent_unexpected_state` error).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CardDetails {
    pub decline_code: Option<String>,
    pub charge: Option<String>,
    pub payment_intent: Option<serde_json::Value>,
    /// The PaymentMethod object that was declined.
    pub payment_method: Option<serde_json::Value>,
}

/// One error response. Build it with the constructors below so the message, `code` and
/// `param` stay the ones Stripe uses for that situation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    pub card: Option<Box<CardDetails>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: Option<&'static str>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: ErrorType::InvalidRequestError,
            code,
            message: message.into(),
            param: None,
            card: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// 400 without a code: Stripe leaves `code` out for many validation messages.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, message).with_param(param)
    }

    /// 400 for a request that is wrong as a whole rather than in one parameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, message)
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
        )
        .with_param(param)
    }

    pub fn unknown(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("parameter_unknown"),
            format!("Received unknown parameter: {param}"),
        )
        .with_param(param)
    }

    pub fn invalid_integer(param: &str, value: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("parameter_invalid_integer"),
            format!("Invalid integer: {value}"),
        )
        .with_param(param)
    }

    pub fn too_small(param: &str, min: i64) -> Self {
        Self::invalid(
            param,
            format!("This value must be greater than or equal to {min}."),
        )
    }

    pub fn too_large(param: &str, max: i64) -> Self {
        Self::invalid(
            param,
            format!("This value must be less than or equal to {max}."),
        )
    }

    pub fn url_invalid(param: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("url_invalid"),
            "Not a valid URL",
        )
        .with_param(param)
    }

    pub fn exclusive(a: &str, b: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Some("parameters_exclusive"),
            format!("You may only specify one of these parameters: {a}, {b}."),
        )
        .with_param(b)
    }

    /// 404 for an id in the path; 400 for an id given as a parameter (Stripe does the same).
    pub fn no_such(object: &str, id: &str, param: &str, in_path: bool) -> Self {
        let status = if in_path {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(
            status,
            Some("resource_missing"),
            format!("No such {object}: '{id}'"),
        )
        .with_param(param)
    }

    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/."
            ),
        )
    }

    pub fn unauthorized(code: Option<&'static str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// Something went wrong on our side; never used for a client's mistake.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::ApiError,
            ..Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, message)
        }
    }

    /// 503 `api_error`: the mock is too busy to take the request (nothing was executed, so
    /// the SDKs may retry it).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::ApiError,
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, None, message)
        }
    }

    /// 400 `idempotency_error`: the key was first used with other parameters (§1.6).
    pub fn idempotency_mismatch(key: &str) -> Self {
        ApiError {
            kind: ErrorType::IdempotencyError,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                None,
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. \
                     Try using a key other than '{key}' if you meant to execute a different request."
                ),
            )
        }
    }

    /// 409 `idempotency_key_in_use`: the first request with this key is still running.
    pub fn idempotency_in_use(key: &str) -> Self {
        ApiError {
            kind: ErrorType::IdempotencyError,
            ..Self::new(
                StatusCode::CONFLICT,
                Some("idempotency_key_in_use"),
                format!(
                    "There is currently another in-progress request using this Stripe token (probably \
                     an idempotency key: '{key}'). Try the request again later."
                ),
            )
        }
    }

    /// The error Stripe answers with this status, for an injected API fault.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            429 => Self::new(
                status,
                Some("rate_limit"),
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            ),
            s if s >= 500 => ApiError {
                kind: ErrorType::ApiError,
                ..Self::new(
                    status,
                    None,
                    format!(
                        "An error occurred with our connection to Stripe ({s}, injected by mock-stripe's faults). Request was retried safely: nothing was executed."
                    ),
                )
            },
            s => Self::new(
                status,
                None,
                format!("Request failed with status {s} (injected by mock-stripe's faults)."),
            ),
        }
    }

    /// 402 `card_error`, as a declined direct charge answers.
    pub fn card(code: &'static str, message: impl Into<String>, card: CardDetails) -> Self {
        ApiError {
            kind: ErrorType::CardError,
            card: Some(Box::new(card)),
            ..Self::new(StatusCode::PAYMENT_REQUIRED, Some(code), message)
        }
    }

    /// `https://stripe.com/docs/error-codes/` + code with `_` turned into `-`.
    pub fn doc_url(&self) -> Option<String> {
        self.code.map(|c| {
            format!(
                "https://stripe.com/docs/error-codes/{}",
                c.replace('_', "-")
            )
        })
    }

    /// The JSON body, `{"error": {...}}`; absent fields are left out, as Stripe does.
    pub fn body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Inner<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            doc_url: Option<String>,
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            param: Option<&'a str>,
            #[serde(rename = "type")]
            kind: ErrorType,
            #[serde(skip_serializing_if = "Option::is_none")]
            decline_code: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            charge: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            payment_intent: Option<&'a serde_json::Value>,
            #[serde(skip_serializing_if = "Option::is_none")]
            payment_method: Option<&'a serde_json::Value>,
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Inner<'a>,
        }
        let env = Envelope {
            error: Inner {
                code: self.code,
                doc_url: self.doc_url(),
                message: &self.message,
                param: self.param.as_deref(),
                kind: self.kind,
                decline_code: self.card.as_ref().and_then(|c| c.decline_code.as_deref()),
                charge: self.card.as_ref().and_then(|c| c.charge.as_deref()),
                payment_intent: self.card.as_ref().and_then(|c| c.payment_intent.as_ref()),
                payment_method: self.card.as_ref().and_then(|c| c.payment_method.as_ref()),
            },
        };
        // Serialising plain strings cannot fail.
        serde_json::to_vec_pretty(&env).unwrap_or_default()
    }
}

/// Result alias for everything that answers with a Stripe error on failure.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_doc_url_derived_from_code() {
        let e = ApiError::missing("success_url");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "parameter_missing");
        assert_eq!(v["error"]["param"], "success_url");
        assert_eq!(
            v["error"]["message"],
            "Missing required param: success_url."
        );
        assert_eq!(
            v["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/parameter-missing"
        );
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn envelope_without_code_omits_code_and_doc_url() {
        let e = ApiError::unrecognized_url("GET", "/v1/foo");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert!(v["error"].get("code").is_none());
        assert!(v["error"].get("doc_url").is_none());
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unrecognized request URL (GET: /v1/foo).")
        );
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }
}
