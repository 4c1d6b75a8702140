use sea_orm::entity::prelude::*;

/// Where an order stands. Stored as a short string so both databases read it alike.
#[derive(Copy, Clone, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OrderStatus {
    /// Created when the shopper clicked Buy; no payment confirmed yet.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// A signed `checkout.session.completed` with `payment_status = paid` arrived.
    #[sea_orm(string_value = "paid")]
    Paid,
}

impl OrderStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
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
