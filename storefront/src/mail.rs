//! Receipts, written as `.eml` files into the outbox folder (no SMTP server needed offline).

use std::path::{Path, PathBuf};

use lettre::message::Mailbox;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};

use crate::money::format_cents;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the buyer's address {0:?} is not a valid email address")]
    BadRecipient(String),
    #[error("building the email failed")]
    Build(#[from] lettre::error::Error),
    #[error("writing the email into the outbox failed")]
    Write(#[from] lettre::transport::file::Error),
}

/// What a receipt says.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub order_id: i64,
    pub product_name: String,
    pub amount_cents: i64,
    pub currency: String,
    pub buyer_email: String,
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

/// Sends mail from the shop's address into `MAIL_OUTBOX`.
pub struct Mailer {
    transport: AsyncFileTransport<Tokio1Executor>,
    from: Mailbox,
    shop_name: String,
    outbox: PathBuf,
    /// Held while one receipt is checked, sent and recorded, so two concurrent
    /// deliveries of the same event can't both see "not sent yet" and mail twice.
    receipt_lock: tokio::sync::Mutex<()>,
}

impl Mailer {
    /// Creates the outbox folder if it is missing.
    pub fn new(outbox: &Path, from: Mailbox) -> std::io::Result<Mailer> {
        std::fs::create_dir_all(outbox)?;
        Ok(Mailer {
            transport: AsyncFileTransport::new(outbox),
            shop_name: from.name.clone().unwrap_or_else(|| from.email.to_string()),
            from,
            outbox: outbox.to_owned(),
            receipt_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    pub(crate) async fn lock_receipts(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.receipt_lock.lock().await
    }

    /// Writes the receipt; returns the message id (the `.eml` file's stem).
    pub async fn send_receipt(&self, receipt: &Receipt) -> Result<String, MailError> {
        let to: Mailbox = receipt
            .buyer_email
            .parse()
            .map_err(|_| MailError::BadRecipient(receipt.buyer_email.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(receipt.subject())
            .header(ContentType::TEXT_PLAIN)
            // 8bit keeps non-ASCII product names readable in the .eml file.
            .header(ContentTransferEncoding::EightBit)
            .body(receipt.body(&self.shop_name))?;
        let id = self.transport.send(message).await?;
        Ok(id.to_string())
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
        }
    }

    #[tokio::test]
    async fn a_receipt_lands_in_the_outbox_readable() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("new-outbox");
        let from: Mailbox = "Shop <shop@example.test>".parse().unwrap();
        let mailer = Mailer::new(&outbox, from).unwrap();
        let id = mailer.send_receipt(&receipt()).await.unwrap();

        let text = std::fs::read_to_string(outbox.join(format!("{id}.eml"))).unwrap();
        assert!(text.contains("To: jenny@example.com"), "{text}");
        assert!(text.contains("From: Shop <shop@example.test>"), "{text}");
        assert!(text.contains("Product: Café Crème Brûlée Guide"), "{text}");
        assert!(text.contains("Amount paid: $7.50"), "{text}");
        assert!(text.contains("Order number: 7"), "{text}");
        assert!(text.contains("Buyer: jenny@example.com"), "{text}");
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
