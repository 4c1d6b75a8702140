//! Receipts, written as `.eml` files into the outbox folder (no SMTP server needed offline).
//!
//! A receipt's file is named after its purchase (order id and Checkout Session) and
//! appears whole or not at all (written aside, flushed, then linked into place), so
//! writing the same receipt twice leaves one file: the second write finds the first and
//! changes nothing. `orders::send_receipt_if_due` and the receipt sweep rely on that after a
//! crash between writing a receipt and recording it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};

use crate::money::format_cents;

/// How long a receipt claim holds before another writer may take it over: far longer
/// than writing one receipt takes, short enough that a receipt whose writer died is sent
/// minutes later by the receipt sweep (`receipts::sweep`) or by one of Stripe's retries.
pub const DEFAULT_RECEIPT_CLAIM_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Temporary files older than this are leftovers of a writer that died.
const STALE_TEMP_FILE: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the buyer's address {0:?} is not a valid email address")]
    BadRecipient(String),
    #[error("building the email failed")]
    Build(#[from] lettre::error::Error),
    #[error("writing the email into the outbox failed")]
    Write(#[source] std::io::Error),
}

/// What a receipt says.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub order_id: i64,
    pub product_name: String,
    pub amount_cents: i64,
    pub currency: String,
    pub buyer_email: String,
    /// Names this purchase's receipt (file name and Message-ID), the same every time the
    /// receipt is written: see [`receipt_key`].
    pub key: String,
}

/// `order-{id}-{session}`: the order id alone would collide when a database is reset
/// beside an old outbox, and the Checkout Session id is unique at Stripe. Only ASCII
/// letters, digits, `_` and `-` are kept, so it is a safe file name.
pub fn receipt_key(order_id: i64, checkout_session_id: Option<&str>) -> String {
    let session: String = checkout_session_id
        .unwrap_or("none")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(200)
        .collect();
    format!("order-{order_id}-{session}")
}

impl Receipt {
    pub fn subject(&self) -> String {
        format!("Your receipt for {}", self.product_name)
    }

    pub fn body(&self, shop_name: &str) -> String {
        format!(
            "Thank you for your purchase from {shop_name}!\n\
             \n\
             Order number: {order}\n\
             Product: {product}\n\
             Amount paid: {amount}\n\
             Buyer: {buyer}\n\
             \n\
             Keep this email as your receipt.\n",
            order = self.order_id,
            product = self.product_name,
            amount = format_cents(self.amount_cents, &self.currency),
            buyer = self.buyer_email,
        )
    }
}

/// The outcome of writing a receipt into the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The message id: the `.eml` file's stem (the receipt's key).
    pub id: String,
    /// `false` when the file was already there (an earlier write of the same receipt,
    /// not yet recorded in the database): nothing was written this time.
    pub new: bool,
}

/// Sends mail from the shop's address into `MAIL_OUTBOX`.
pub struct Mailer {
    from: Mailbox,
    shop_name: String,
    outbox: PathBuf,
    receipt_claim_timeout: Duration,
}

impl Mailer {
    /// Creates the outbox folder if it is missing, and clears temporary files that a
    /// writer killed mid-write left there long ago.
    pub fn new(outbox: &Path, from: Mailbox) -> std::io::Result<Mailer> {
        std::fs::create_dir_all(outbox)?;
        remove_stale_temp_files(outbox);
        Ok(Mailer {
            shop_name: from.name.clone().unwrap_or_else(|| from.email.to_string()),
            from,
            outbox: outbox.to_owned(),
            receipt_claim_timeout: DEFAULT_RECEIPT_CLAIM_TIMEOUT,
        })
    }

    /// How long a receipt claim holds (default [`DEFAULT_RECEIPT_CLAIM_TIMEOUT`]).
    pub fn with_receipt_claim_timeout(mut self, timeout: Duration) -> Mailer {
        self.receipt_claim_timeout = timeout;
        self
    }

    pub fn receipt_claim_timeout(&self) -> Duration {
        self.receipt_claim_timeout
    }

    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// Writes the receipt as `{key}.eml`, unless that file exists already.
    pub async fn send_receipt(&self, receipt: &Receipt) -> Result<Written, MailError> {
        let bytes = self.render(receipt)?;
        let mut written = self
            .write_receipts(vec![(receipt.key.clone(), bytes)])
            .await;
        written.pop().unwrap_or_else(|| {
            Err(MailError::Write(std::io::Error::other(
                "the outbox writer returned nothing",
            )))
        })
    }

    /// The receipt as the bytes of an `.eml` file.
    pub fn render(&self, receipt: &Receipt) -> Result<Vec<u8>, MailError> {
        let to: Mailbox = receipt
            .buyer_email
            .parse()
            .map_err(|_| MailError::BadRecipient(receipt.buyer_email.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(receipt.subject())
            // The same id every time: a mail system that deduplicates by Message-ID
            // sees one receipt.
            .message_id(Some(format!(
                "<{}@{}>",
                receipt.key,
                self.from.email.domain()
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(encoded_body(receipt.body(&self.shop_name)))?;
        Ok(message.formatted())
    }

    /// Writes each `(key, bytes)` as `{key}.eml` unless that file exists already, in
    /// order, on one blocking thread; the folder is synced once for all the new names.
    /// One result per receipt, in the same order.
    pub async fn write_receipts(
        &self,
        receipts: Vec<(String, Vec<u8>)>,
    ) -> Vec<Result<Written, MailError>> {
        let count = receipts.len();
        let outbox = self.outbox.clone();
        match tokio::task::spawn_blocking(move || write_all_once(&outbox, receipts)).await {
            Ok(results) => results,
            Err(join) => {
                let message = join.to_string();
                (0..count)
                    .map(|_| Err(MailError::Write(std::io::Error::other(message.clone()))))
                    .collect()
            }
        }
    }
}

/// [`write_once`] for each receipt, then one sync of the folder if any name is new:
/// the new names must survive a power cut too, not only a killed process, before the
/// caller records them as sent.
fn write_all_once(
    outbox: &Path,
    receipts: Vec<(String, Vec<u8>)>,
) -> Vec<Result<Written, MailError>> {
    let mut results: Vec<Result<Written, MailError>> = receipts
        .into_iter()
        .map(|(id, bytes)| {
            write_once(outbox, &id, &bytes)
                .map(|new| Written { id, new })
                .map_err(MailError::Write)
        })
        .collect();
    if results.iter().any(|r| matches!(r, Ok(w) if w.new)) {
        let synced = std::fs::File::open(outbox).and_then(|dir| dir.sync_all());
        if let Err(err) = synced {
            // Not durable: report every new one as failed, so none is recorded as sent.
            // Their files stay; the next attempt finds them and records them.
            let message = err.to_string();
            for result in &mut results {
                if matches!(result, Ok(w) if w.new) {
                    *result = Err(MailError::Write(std::io::Error::other(message.clone())));
                }
            }
        }
    }
    results
}

/// 8bit keeps non-ASCII product names readable in the .eml file. A text 8bit can't carry
/// (a line over 998 bytes, e.g. a long product name or currency; a NUL) gets the encoding
/// lettre finds best instead: forcing 8bit on it makes lettre panic.
fn encoded_body(text: String) -> Body {
    Body::new_with_encoding(text.clone(), ContentTransferEncoding::EightBit)
        .unwrap_or_else(|_| Body::new(text))
}

/// Writes `{name}.eml` whole or not at all, and never over an existing one: the bytes go
/// to a temporary file (not `.eml`, so readers skip it), are flushed to disk, then are
/// hard-linked to the final name, which fails if it exists. `Ok(false)`: it existed.
/// The folder is not synced here: [`write_all_once`] does it once for a batch.
fn write_once(outbox: &Path, name: &str, bytes: &[u8]) -> std::io::Result<bool> {
    let target = outbox.join(format!("{name}.eml"));
    if target.exists() {
        return Ok(false);
    }
    let temp = outbox.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut file = std::fs::File::create_new(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        match std::fs::hard_link(&temp, &target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

/// Best effort: a leftover temporary file costs disk, never a receipt.
fn remove_stale_temp_files(outbox: &Path) {
    let Ok(entries) = std::fs::read_dir(outbox) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP_FILE);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt() -> Receipt {
        Receipt {
            order_id: 7,
            product_name: "Café Crème Brûlée Guide".into(),
            amount_cents: 750,
            currency: "usd".into(),
            buyer_email: "jenny@example.com".into(),
            key: receipt_key(7, Some("cs_test_a1")),
        }
    }

    #[tokio::test]
    async fn a_receipt_lands_in_the_outbox_readable() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("new-outbox");
        let from: Mailbox = "Shop <shop@example.test>".parse().unwrap();
        let mailer = Mailer::new(&outbox, from).unwrap();
        let written = mailer.send_receipt(&receipt()).await.unwrap();
        assert!(written.new);
        assert_eq!(written.id, "order-7-cs_test_a1");

        let text = std::fs::read_to_string(outbox.join(format!("{}.eml", written.id))).unwrap();
        assert!(text.contains("To: jenny@example.com"), "{text}");
        assert!(text.contains("From: Shop <shop@example.test>"), "{text}");
        assert!(text.contains("Product: Café Crème Brûlée Guide"), "{text}");
        assert!(text.contains("Amount paid: $7.50"), "{text}");
        assert!(text.contains("Order number: 7"), "{text}");
        assert!(text.contains("Buyer: jenny@example.com"), "{text}");
        assert!(
            text.contains("Message-ID: <order-7-cs_test_a1@example.test>"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn writing_the_same_receipt_twice_leaves_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), "shop@example.test".parse().unwrap()).unwrap();
        let first = mailer.send_receipt(&receipt()).await.unwrap();
        let again = mailer.send_receipt(&receipt()).await.unwrap();
        assert!(first.new && !again.new, "{first:?} {again:?}");
        assert_eq!(first.id, again.id);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            ["order-7-cs_test_a1.eml"],
            "no temporary file is left"
        );
        // Another purchase gets its own file.
        let mut other = receipt();
        other.key = receipt_key(8, Some("cs_test_b2"));
        assert!(mailer.send_receipt(&other).await.unwrap().new);
    }

    #[test]
    fn receipt_keys_are_safe_file_names() {
        assert_eq!(receipt_key(3, Some("cs_test_Ab9")), "order-3-cs_test_Ab9");
        assert_eq!(receipt_key(3, None), "order-3-none");
        assert_eq!(
            receipt_key(4, Some("../../etc/passwd x")),
            "order-4-etcpasswdx"
        );
    }

    #[test]
    fn old_temporary_files_are_cleared_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".order-1-cs.0000000000000001.tmp");
        let fresh = dir.path().join(".order-2-cs.0000000000000002.tmp");
        std::fs::write(&old, "x").unwrap();
        std::fs::write(&fresh, "x").unwrap();
        let long_ago = std::time::SystemTime::now() - 2 * STALE_TEMP_FILE;
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        Mailer::new(dir.path(), "shop@example.test".parse().unwrap()).unwrap();
        assert!(!old.exists());
        assert!(fresh.exists());
    }

    /// Found by fuzzing the webhook (`tests/fuzz`): a line 8bit can't carry (over 998
    /// bytes) made lettre panic while building the receipt.
    #[tokio::test]
    async fn a_receipt_with_an_overlong_line_is_written_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), "shop@example.test".parse().unwrap()).unwrap();
        let mut long_name = receipt();
        long_name.key = receipt_key(9, Some("cs_test_c3"));
        long_name.product_name = "Crème ".repeat(400);
        let mut long_currency = receipt();
        long_currency.key = receipt_key(8, Some("cs_test_b2"));
        long_currency.currency = "a".repeat(2000);
        for r in [long_name, long_currency] {
            let written = mailer.send_receipt(&r).await.unwrap();
            let text =
                std::fs::read_to_string(dir.path().join(format!("{}.eml", written.id))).unwrap();
            assert!(!text.contains("Content-Transfer-Encoding: 8bit"), "{text}");
            assert!(text.lines().all(|line| line.len() <= 998), "{text}");
        }
        // The usual receipt keeps 8bit, readable.
        let usual = mailer.send_receipt(&receipt()).await.unwrap();
        let text = std::fs::read_to_string(dir.path().join(format!("{}.eml", usual.id))).unwrap();
        assert!(text.contains("Content-Transfer-Encoding: 8bit"), "{text}");
    }

    #[tokio::test]
    async fn a_bad_address_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(dir.path(), "shop@example.test".parse().unwrap()).unwrap();
        let mut r = receipt();
        r.buyer_email = "not an address".into();
        assert!(matches!(
            mailer.send_receipt(&r).await,
            Err(MailError::BadRecipient(_))
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
