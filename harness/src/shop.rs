//! The shop under test, as the harness sees it: a URL to shop at, and what its owner
//! would look at (orders, receipts). The stack starts our storefront by default; tests
//! start other shops through [`StartShop`] (the deliberately broken ones that prove the
//! checks can fail).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use url::Url;

/// One order, as the shop recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: i64,
    pub session_id: Option<String>,
    /// `pending`, `paid`, `awaiting_payment`, `payment_failed`, `expired`.
    pub status: String,
    pub amount_cents: i64,
    pub buyer_email: Option<String>,
}

/// A running shop.
pub trait Shop: Send + Sync {
    fn url(&self) -> &Url;
    /// Every order, oldest first.
    fn orders(&self) -> BoxFuture<'_, anyhow::Result<Vec<OrderRecord>>>;
    /// Every email the shop sent, as raw text, oldest first.
    fn receipts(&self) -> anyhow::Result<Vec<String>>;
    /// Whether the shop has work in hand that will change what it shows (a receipt it
    /// owes and will write after answering Stripe): a check that finds it behind then
    /// waits for it longer (see [`crate::patience::CatchUp`]). A shop that cannot say
    /// answers `false`, and is given a moment only.
    fn busy(&self) -> BoxFuture<'_, anyhow::Result<bool>> {
        Box::pin(async { Ok(false) })
    }
    /// Where it keeps its data, for people to read (`harness up`).
    fn describe(&self) -> String;
    fn shutdown(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// What a shop needs to sell through the mock.
#[derive(Clone, Debug)]
pub struct ShopWiring {
    pub stripe_api_base: String,
    pub secret_key: String,
    pub publishable_key: String,
    pub webhook_secret: String,
    /// A folder of its own, for its files.
    pub data_dir: PathBuf,
    pub host: IpAddr,
    pub port: u16,
}

/// Starts a shop; the stack then registers `{shop}/webhooks/stripe` with the mock.
pub type StartShop =
    Arc<dyn Fn(ShopWiring) -> BoxFuture<'static, anyhow::Result<Box<dyn Shop>>> + Send + Sync>;

/// The paid orders among `orders`.
pub fn paid(orders: &[OrderRecord]) -> Vec<&OrderRecord> {
    orders.iter().filter(|o| o.status == "paid").collect()
}
