use sea_orm::entity::prelude::*;

/// Where an order stands. Stored as a short string so both databases read it alike.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OrderStatus {
    /// Created when the shopper clicked Buy; no payment confirmed yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// A signed `checkout.session.completed` with `payment_status = paid` arrived, or
    /// `checkout.session.async_payment_succeeded` for a delayed method.
    #[sea_orm(string_value = "paid")]
    Paid,
    /// Checkout completed with a delayed method (a bank debit): the money is on its way.
    #[sea_orm(string_value = "awaiting_payment")]
    AwaitingPayment,
    /// The delayed payment failed (`checkout.session.async_payment_failed`).
    #[sea_orm(string_value = "payment_failed")]
    PaymentFailed,
    /// The Checkout Session expired unpaid (`checkout.session.expired`).
    #[sea_orm(string_value = "expired")]
    Expired,
}

impl OrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::PaymentFailed => "payment_failed",
            OrderStatus::Expired => "expired",
        }
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// So checks can read `order.status == "paid"`, as the stored value reads.
impl PartialEq<str> for OrderStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for OrderStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for OrderStatus {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub product_id: i64,
    pub status: OrderStatus,
    pub amount_cents: i64,
    pub currency: String,
    #[sea_orm(unique)]
    pub checkout_session_id: Option<String>,
    pub buyer_email: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub paid_at: Option<DateTimeWithTimeZone>,
    pub receipt_sent_at: Option<DateTimeWithTimeZone>,
    /// Set (to the claim's time) by the process writing the receipt, before it writes;
    /// a claim older than the receipt lease is stale and may be taken over.
    pub receipt_claimed_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::products::Entity",
        from = "Column::ProductId",
        to = "super::products::Column::Id"
    )]
    Product,
}

impl Related<super::products::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Product.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
