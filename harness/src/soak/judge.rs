//! After a soak has settled: what Stripe (the mock) says happened to every Checkout
//! Session, against what the shop recorded (its database) and sent (its outbox), and what
//! the shoppers were told.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::shop::OrderRecord;

/// One Checkout Session, as Stripe lists it.
#[derive(Clone, Debug)]
pub struct StripeSession {
    pub id: String,
    /// `open`, `complete`, `expired`.
    pub status: String,
    pub paid: bool,
}

impl StripeSession {
    pub fn from_json(session: &Value) -> Option<StripeSession> {
        Some(StripeSession {
            id: session["id"].as_str()?.to_string(),
            status: session["status"].as_str()?.to_string(),
            paid: session["payment_status"] == "paid",
        })
    }
}

/// What a shopper was told about one session.
#[derive(Clone, Debug)]
pub struct ShopperSaw {
    pub session_id: String,
    /// Sent back with the thank-you message.
    pub paid: bool,
}

/// What the checks found; every list holds the culprits (session ids, order ids,
/// addresses), empty when all is well.
#[derive(Clone, Debug, Default)]
pub struct Findings {
    pub sessions: usize,
    pub paid_sessions: usize,
    pub expired_sessions: usize,
    pub paid_orders: usize,
    pub receipts: usize,
    /// Paid sessions without a paid order.
    pub lost: Vec<String>,
    /// Paid orders beyond the first for one session.
    pub duplicates: Vec<String>,
    /// Paid orders whose session Stripe does not have as paid.
    pub paid_without_payment: Vec<i64>,
    /// Paid orders without exactly one receipt to their buyer, and receipts to an address
    /// no paid order has.
    pub receipt_mismatches: Vec<String>,
    /// Expired sessions whose order is not expired.
    pub not_expired: Vec<String>,
    /// Sessions where the shopper was told otherwise than Stripe says (thanked but not
    /// paid, or paid but never thanked).
    pub shoppers_misinformed: Vec<String>,
}

impl Findings {
    pub fn clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.paid_without_payment.is_empty()
            && self.receipt_mismatches.is_empty()
            && self.not_expired.is_empty()
            && self.shoppers_misinformed.is_empty()
    }
}

/// Compares the three views.
pub fn judge(
    stripe: &[StripeSession],
    orders: &[OrderRecord],
    receipts: &[String],
    shoppers: &[ShopperSaw],
) -> Findings {
    let mut findings = Findings {
        sessions: stripe.len(),
        paid_sessions: stripe.iter().filter(|s| s.paid).count(),
        expired_sessions: stripe.iter().filter(|s| s.status == "expired").count(),
        receipts: receipts.len(),
        ..Findings::default()
    };
    let mut orders_of: HashMap<&str, Vec<&OrderRecord>> = HashMap::new();
    for order in orders {
        if let Some(session) = &order.session_id {
            orders_of.entry(session).or_default().push(order);
        }
    }
    let paid_orders: Vec<&OrderRecord> = orders.iter().filter(|o| o.status == "paid").collect();
    findings.paid_orders = paid_orders.len();
    let by_id: HashMap<&str, &StripeSession> = stripe.iter().map(|s| (s.id.as_str(), s)).collect();

    for session in stripe {
        let mine = orders_of.get(session.id.as_str()).map_or(&[][..], |v| v);
        let paid = mine.iter().filter(|o| o.status == "paid").count();
        if session.paid && paid == 0 {
            findings.lost.push(session.id.clone());
        }
        for _ in 1..paid {
            findings.duplicates.push(session.id.clone());
        }
        if session.status == "expired" && !mine.iter().any(|o| o.status == "expired") {
            findings.not_expired.push(session.id.clone());
        }
    }
    for order in &paid_orders {
        let stripe_paid = order
            .session_id
            .as_deref()
            .and_then(|s| by_id.get(s))
            .is_some_and(|s| s.paid);
        if !stripe_paid {
            findings.paid_without_payment.push(order.id);
        }
    }

    // Receipts by recipient: every flow's shopper has an address of their own.
    let mut receipts_to: BTreeMap<String, usize> = BTreeMap::new();
    for receipt in receipts {
        *receipts_to.entry(recipient(receipt)).or_default() += 1;
    }
    let mut paid_by: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for order in &paid_orders {
        let buyer = order.buyer_email.clone().unwrap_or_default();
        paid_by.entry(buyer).or_default().push(order.id);
    }
    for (buyer, ids) in &paid_by {
        let n = receipts_to.get(buyer).copied().unwrap_or(0);
        if n != ids.len() {
            findings.receipt_mismatches.push(format!(
                "{buyer:?}: {n} receipt(s) for paid order(s) {ids:?}"
            ));
        }
    }
    for (to, n) in &receipts_to {
        if !paid_by.contains_key(to) {
            findings
                .receipt_mismatches
                .push(format!("{n} receipt(s) to {to}, who has no paid order"));
        }
    }

    for saw in shoppers {
        let paid = by_id.get(saw.session_id.as_str()).is_some_and(|s| s.paid);
        if paid != saw.paid {
            findings.shoppers_misinformed.push(format!(
                "{}: the shopper {} but Stripe has it {}",
                saw.session_id,
                if saw.paid {
                    "was thanked"
                } else {
                    "did not pay"
                },
                if paid { "paid" } else { "unpaid" }
            ));
        }
    }
    findings
}

/// The address a receipt went to (its `To:` header).
fn recipient(receipt: &str) -> String {
    let to = receipt
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix("To:"))
        .unwrap_or_default()
        .trim();
    match (to.find('<'), to.rfind('>')) {
        (Some(open), Some(close)) if open < close => to[open + 1..close].to_string(),
        _ => to.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, status: &str, paid: bool) -> StripeSession {
        StripeSession {
            id: id.into(),
            status: status.into(),
            paid,
        }
    }

    fn order(id: i64, session: &str, status: &str, email: &str) -> OrderRecord {
        OrderRecord {
            id,
            session_id: Some(session.into()),
            status: status.into(),
            amount_cents: 100,
            buyer_email: Some(email.into()),
        }
    }

    fn receipt(to: &str) -> String {
        format!("From: shop@example.test\r\nTo: {to}\r\nSubject: Your receipt\r\n\r\nThanks")
    }

    #[test]
    fn a_clean_run_finds_nothing() {
        let stripe = [
            session("cs_1", "complete", true),
            session("cs_2", "expired", false),
        ];
        let orders = [
            order(1, "cs_1", "paid", "a@example.com"),
            order(2, "cs_2", "expired", ""),
        ];
        let shoppers = [
            ShopperSaw {
                session_id: "cs_1".into(),
                paid: true,
            },
            ShopperSaw {
                session_id: "cs_2".into(),
                paid: false,
            },
        ];
        let found = judge(&stripe, &orders, &[receipt("a@example.com")], &shoppers);
        assert!(found.clean(), "{found:?}");
        assert_eq!((found.paid_sessions, found.paid_orders), (1, 1));
    }

    #[test]
    fn lost_duplicate_unpaid_receipts_and_expiry_are_each_found() {
        let stripe = [
            session("cs_lost", "complete", true),
            session("cs_dup", "complete", true),
            session("cs_open", "open", false),
            session("cs_exp", "expired", false),
        ];
        let orders = [
            order(1, "cs_lost", "pending", "lost@example.com"),
            order(2, "cs_dup", "paid", "dup@example.com"),
            order(3, "cs_dup", "paid", "dup@example.com"),
            order(4, "cs_open", "paid", "free@example.com"),
            order(5, "cs_exp", "pending", ""),
        ];
        let receipts = [
            receipt("Dup <dup@example.com>"),
            receipt("stranger@example.com"),
        ];
        let shoppers = [ShopperSaw {
            session_id: "cs_open".into(),
            paid: true,
        }];
        let found = judge(&stripe, &orders, &receipts, &shoppers);
        assert_eq!(found.lost, ["cs_lost"]);
        assert_eq!(found.duplicates, ["cs_dup"]);
        assert_eq!(found.paid_without_payment, [4]);
        assert_eq!(found.not_expired, ["cs_exp"]);
        assert_eq!(found.shoppers_misinformed.len(), 1);
        // dup@ got one receipt for two paid orders, free@ none, and a stranger one.
        assert_eq!(found.receipt_mismatches.len(), 3, "{found:?}");
    }

    #[test]
    fn recipients_are_read_from_the_header() {
        assert_eq!(recipient(&receipt("a@example.com")), "a@example.com");
        assert_eq!(recipient(&receipt("Ann <a@example.com>")), "a@example.com");
        assert_eq!(recipient("Subject: x\r\n\r\nTo: body@example.com"), "");
    }
}
