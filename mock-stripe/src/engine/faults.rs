//! Injected faults (`/_config/faults`): rules that make API requests or webhook deliveries
//! misbehave the way a network and a busy Stripe do. Rules are per account, apply in the
//! order they were created, and are used up: each hit takes one from its `count`.
//!
//! API faults are checked before a request executes; webhook faults before each delivery
//! attempt (so `status` with `count=2` fails the first two attempts, and the retry after them
//! goes through).

use serde::Serialize;

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum FaultKind {
    /// API: answer this status with Stripe's error envelope, without executing.
    /// Webhook: the attempt is not sent and counts as this answer (so it is retried).
    Status(u16),
    /// API: execute, then close the connection without answering after `seconds` (the
    /// response is lost; a client retry with the same idempotency key gets the replay).
    /// Webhook: send, but count the attempt as timed out whatever the answer (the shop saw
    /// it; the retry makes it a duplicate).
    Timeout(u64),
    /// Webhook: send this attempt twice.
    Duplicate,
    /// Webhook: hold this delivery until the next delivery to the same endpoint has been
    /// attempted (or `seconds` passed on the account's clock), then send it.
    Reorder(u64),
    /// API: answer `seconds` later (real time; the request holds its idempotency key
    /// meanwhile, so a concurrent retry gets 409). Webhook: attempt `seconds` later on the
    /// account's clock.
    Delay(u64),
    /// Webhook: sign with a secret the endpoint does not know.
    BadSignature,
    /// API: close the connection without executing. Webhook: never deliver this event to
    /// this endpoint (no attempt, no retry).
    Drop,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Status(_) => "status",
            FaultKind::Timeout(_) => "timeout",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder(_) => "reorder",
            FaultKind::Delay(_) => "delay",
            FaultKind::BadSignature => "bad_signature",
            FaultKind::Drop => "drop",
        }
    }

    /// Kinds that mean something for API requests.
    pub fn applies_to_api(self) -> bool {
        matches!(
            self,
            FaultKind::Status(_) | FaultKind::Timeout(_) | FaultKind::Delay(_) | FaultKind::Drop
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[derive(serde::Deserialize)]
pub(crate) enum FaultTarget {
    Api,
    Webhook,
}

/// One rule.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Fault {
    pub id: String,
    pub created: i64,
    pub target: FaultTarget,
    pub kind: FaultKind,
    /// Hits left.
    pub remaining: u32,
    /// API faults: only requests to this path (`/v1/checkout/sessions`).
    pub path: Option<String>,
    /// Webhook faults: only events of this type.
    pub event_type: Option<String>,
}

/// The rules of one account, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Fault>,
}

/// Rules kept per account at most: a script adding faults in a loop must not grow memory.
pub(crate) const MAX_RULES: usize = 100;

impl Faults {
    pub fn add(&mut self, fault: Fault) -> Result<(), Fault> {
        if self.rules.len() >= MAX_RULES {
            return Err(fault);
        }
        self.rules.push(fault);
        Ok(())
    }

    pub fn list(&self) -> &[Fault] {
        &self.rules
    }

    /// Puts back the rules a data directory kept.
    pub fn restore(&mut self, rules: Vec<Fault>) {
        self.rules = rules;
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Uses up one hit of the first API rule matching `path`.
    pub fn take_api(&mut self, path: &str) -> Option<FaultKind> {
        self.take(|f| f.target == FaultTarget::Api && f.path.as_deref().is_none_or(|p| p == path))
    }

    /// Uses up one hit of the first webhook rule matching `event_type`.
    pub fn take_webhook(&mut self, event_type: &str) -> Option<FaultKind> {
        self.take(|f| {
            f.target == FaultTarget::Webhook
                && f.event_type.as_deref().is_none_or(|t| t == event_type)
        })
    }

    fn take(&mut self, matches: impl Fn(&Fault) -> bool) -> Option<FaultKind> {
        let i = self.rules.iter().position(matches)?;
        let rule = &mut self.rules[i];
        let kind = rule.kind;
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.rules.remove(i);
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(target: FaultTarget, kind: FaultKind, count: u32) -> Fault {
        Fault {
            id: "flt_1".into(),
            created: 0,
            target,
            kind,
            remaining: count,
            path: None,
            event_type: None,
        }
    }

    #[test]
    fn rules_apply_in_order_and_are_used_up() {
        let mut f = Faults::default();
        f.add(rule(FaultTarget::Api, FaultKind::Status(500), 2))
            .unwrap();
        f.add(rule(FaultTarget::Api, FaultKind::Status(429), 1))
            .unwrap();
        let hits: Vec<_> = std::iter::from_fn(|| f.take_api("/v1/x")).collect();
        assert_eq!(
            hits,
            [
                FaultKind::Status(500),
                FaultKind::Status(500),
                FaultKind::Status(429)
            ]
        );
        assert!(f.list().is_empty());
    }

    #[test]
    fn filters_by_path_and_event_type() {
        let mut f = Faults::default();
        let mut api = rule(FaultTarget::Api, FaultKind::Drop, 1);
        api.path = Some("/v1/checkout/sessions".into());
        f.add(api).unwrap();
        let mut hook = rule(FaultTarget::Webhook, FaultKind::Duplicate, 1);
        hook.event_type = Some("checkout.session.completed".into());
        f.add(hook).unwrap();
        assert_eq!(f.take_api("/v1/events"), None);
        assert_eq!(f.take_webhook("charge.succeeded"), None);
        assert_eq!(
            f.take_webhook("checkout.session.completed"),
            Some(FaultKind::Duplicate)
        );
        assert_eq!(f.take_api("/v1/checkout/sessions"), Some(FaultKind::Drop));
    }

    #[test]
    fn rule_count_is_bounded() {
        let mut f = Faults::default();
        for _ in 0..MAX_RULES {
            f.add(rule(FaultTarget::Api, FaultKind::Drop, 1)).unwrap();
        }
        assert!(f.add(rule(FaultTarget::Api, FaultKind::Drop, 1)).is_err());
    }
}
