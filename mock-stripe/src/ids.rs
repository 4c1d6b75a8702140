//! Object ids with Stripe's prefixes (contract §1.11). Ids are opaque to clients; lengths
//! roughly follow what real ones look like.
//!
//! Every account draws its ids from its own [`IdGen`]. Random by default; with a seed
//! (`--seed N`) each account's generator is seeded from `N` and the account's key, so a run
//! that makes the same requests per account gets the same ids, whatever the interleaving of
//! accounts, and a failing run can be replayed exactly.

use rand::distr::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// A source of ids: the thread's random generator, or a seeded one.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct IdGen {
    seeded: Option<Seeded>,
}

/// A seeded stream: id number `drawn` comes from a generator seeded with `key` and
/// `drawn`, so the stream's whole state is two numbers (a data directory keeps them, and
/// a restarted mock goes on where it stopped).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Seeded {
    key: [u8; 32],
    drawn: u64,
}

impl IdGen {
    /// `seed` `None`: fresh random ids. `Some(n)`: a stream derived from `n` and `scope`
    /// (an account's key, or a name for ids that belong to no account).
    pub fn new(seed: Option<u64>, scope: &str) -> IdGen {
        IdGen {
            seeded: seed.map(|n| {
                let mut h = Sha256::new();
                h.update(n.to_le_bytes());
                h.update(scope.as_bytes());
                Seeded {
                    key: h.finalize().into(),
                    drawn: 0,
                }
            }),
        }
    }

    fn alnum(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        self.push_alnum(&mut out, len);
        out
    }

    /// Appends `len` random ASCII letters and digits to `out`.
    fn push_alnum(&mut self, out: &mut String, len: usize) {
        match &mut self.seeded {
            Some(s) => {
                s.drawn += 1;
                let mut h = Sha256::new();
                h.update(s.key);
                h.update(s.drawn.to_le_bytes());
                sample(&mut StdRng::from_seed(h.finalize().into()), out, len);
            }
            None => sample(&mut rand::rng(), out, len),
        }
    }

    /// `prefix` followed by `len` random ASCII letters and digits.
    pub fn with_len(&mut self, prefix: &str, len: usize) -> String {
        let mut id = String::with_capacity(prefix.len() + len);
        id.push_str(prefix);
        self.push_alnum(&mut id, len);
        id
    }

    /// `prefix` + 24 characters: `pi_…`, `evt_…`, `we_…`.
    pub fn object(&mut self, prefix: &str) -> String {
        self.with_len(prefix, 24)
    }

    /// `cs_test_` + 58 characters, about as long as real session ids (≈ 66 chars).
    pub fn session(&mut self) -> String {
        self.with_len("cs_test_", 58)
    }

    /// `req_` + 14 characters, like `req_7qTbBITXPt3pCH`.
    pub fn request(&mut self) -> String {
        self.with_len("req_", 14)
    }

    /// `whsec_` + 32 characters.
    pub fn webhook_secret(&mut self) -> String {
        self.with_len("whsec_", 32)
    }

    /// A client secret for an object: `{id}_secret_…`.
    pub fn client_secret(&mut self, id: &str) -> String {
        format!("{id}_secret_{}", self.alnum(25))
    }
}

fn sample(rng: &mut impl Rng, out: &mut String, len: usize) {
    out.extend(rng.sample_iter(&Alphanumeric).take(len).map(char::from));
}

/// Prefixes of the objects whose ids are `prefix` + 24 characters.
pub(crate) mod prefix {
    pub const PAYMENT_INTENT: &str = "pi_";
    pub const CHARGE: &str = "ch_";
    pub const EVENT: &str = "evt_";
    pub const WEBHOOK_ENDPOINT: &str = "we_";
    pub const LINE_ITEM: &str = "li_";
    pub const PRICE: &str = "price_";
    pub const PRODUCT: &str = "prod_";
    pub const PAYMENT_METHOD: &str = "pm_";
    pub const REFUND: &str = "re_";
    pub const CUSTOMER: &str = "cus_";
    pub const PROMOTION_CODE: &str = "promo_";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let mut ids = IdGen::new(None, "sk_test_a");
        let cs = ids.session();
        assert!(cs.starts_with("cs_test_"));
        assert_eq!(cs.len(), 66);
        assert!(cs[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(ids.request().len(), 18);
        assert!(ids.object(prefix::EVENT).starts_with("evt_"));
        assert_ne!(ids.session(), ids.session());
    }

    #[test]
    fn a_seed_makes_ids_repeat_per_scope() {
        let run = |scope: &str| {
            let mut ids = IdGen::new(Some(7), scope);
            (ids.session(), ids.object(prefix::EVENT))
        };
        assert_eq!(run("sk_test_a"), run("sk_test_a"));
        assert_ne!(run("sk_test_a"), run("sk_test_b"), "accounts draw apart");
        let mut other_seed = IdGen::new(Some(8), "sk_test_a");
        assert_ne!(run("sk_test_a").0, other_seed.session());
    }
}
