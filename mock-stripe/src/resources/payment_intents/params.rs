//! Request parameters of the PaymentIntents API → typed inputs (phase 1: types and unknown
//! keys; `lifecycle` checks what they mean against the intent).

use super::object::{
    CancellationReason, CaptureMethod, ConfirmationMethod, SetupFutureUsage, Shipping,
};
use crate::protocol::expand::Expand;
use crate::protocol::form::MapUpdate;
use crate::protocol::list::ListParams;
use crate::protocol::{ApiError, ApiResult, Fields, Params, RangeFilter};
use crate::resources::expandable;
use crate::resources::payment_methods::{self, NewPaymentMethod};
use crate::resources::{check_url, one_of};

const KIND: &str = "payment_intent";

/// Keys Stripe takes that the mock accepts without modelling (Connect, shipping labels,
/// per-method options, Stripe.js hints).
const ACCEPTED_NOT_MODELLED: &[&str] = &[
    "application_fee_amount",
    "on_behalf_of",
    "transfer_data",
    "payment_method_options",
    "payment_method_configuration",
    "radar_options",
    "mandate",
    "mandate_data",
    "use_stripe_sdk",
    "statement_descriptor_suffix_kanji",
    "payment_details",
    "amount_details",
    "hooks",
    "excluded_payment_method_types",
];

fn ignore_not_modelled(f: &mut Fields<'_>) {
    for key in ACCEPTED_NOT_MODELLED {
        f.ignore(key);
    }
}

/// What create and update share.
#[derive(Debug, Default)]
pub(super) struct Common {
    pub capture_method: Option<CaptureMethod>,
    pub customer: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<MapUpdate>,
    pub receipt_email: Option<String>,
    pub setup_future_usage: Option<SetupFutureUsage>,
    pub shipping: Option<Shipping>,
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub transfer_group: Option<String>,
    pub payment_method_types: Option<Vec<String>>,
}

impl Common {
    fn read(f: &mut Fields<'_>) -> ApiResult<Common> {
        let metadata = f.string_map("metadata")?;
        if let Some(m) = &metadata {
            crate::resources::check_metadata("metadata", &m.to_map())?;
        }
        Ok(Common {
            capture_method: one_of(f, "capture_method")?,
            customer: f.owned("customer")?,
            description: f.owned("description")?,
            metadata,
            receipt_email: f.owned("receipt_email")?,
            setup_future_usage: one_of(f, "setup_future_usage")?,
            shipping: f.object("shipping")?.map(Shipping::read).transpose()?,
            statement_descriptor: f.owned("statement_descriptor")?,
            statement_descriptor_suffix: f.owned("statement_descriptor_suffix")?,
            transfer_group: f.owned("transfer_group")?,
            payment_method_types: f.string_list("payment_method_types")?,
        })
    }
}

/// `payment_method_data`: a PaymentMethod described inline (the parameters of
/// `POST /v1/payment_methods`).
fn read_payment_method_data(f: &mut Fields<'_>, now: i64) -> ApiResult<Option<NewPaymentMethod>> {
    let Some(mut d) = f.object("payment_method_data")? else {
        return Ok(None);
    };
    let new = payment_methods::read_new(&mut d, now)?;
    d.finish()?;
    Ok(Some(new))
}

/// The payment method to confirm with and how.
#[derive(Debug, Default)]
pub(crate) struct ConfirmIn {
    /// A `pm_…` id or a test PaymentMethod (`pm_card_visa`).
    pub payment_method: Option<String>,
    /// A PaymentMethod described inline (`payment_method_data[type]=card&…`).
    pub payment_method_data: Option<NewPaymentMethod>,
    pub return_url: Option<String>,
    /// The payer is not there: a card that asks for 3-D Secure declines instead.
    pub off_session: bool,
    pub error_on_requires_action: bool,
    pub receipt_email: Option<String>,
    pub setup_future_usage: Option<SetupFutureUsage>,
    pub capture_method: Option<CaptureMethod>,
    pub payment_method_types: Option<Vec<String>>,
    pub shipping: Option<Shipping>,
}

impl ConfirmIn {
    /// The keys of the payment method and of confirming (not the create-only ones).
    fn read_method(f: &mut Fields<'_>, now: i64, c: &mut ConfirmIn) -> ApiResult<()> {
        c.payment_method = f.owned("payment_method")?;
        c.payment_method_data = read_payment_method_data(f, now)?;
        if c.payment_method.is_some() && c.payment_method_data.is_some() {
            return Err(ApiError::exclusive("payment_method", "payment_method_data"));
        }
        c.return_url = f.owned("return_url")?;
        if let Some(u) = &c.return_url {
            check_url("return_url", u)?;
        }
        // `off_session` is a boolean, or `one_off` / `recurring` on create.
        c.off_session = match f.string("off_session")? {
            None | Some("false") => false,
            Some("true" | "one_off" | "recurring") => true,
            Some(other) => {
                return Err(ApiError::invalid(
                    "off_session",
                    format!("Invalid boolean: {other}"),
                ));
            }
        };
        c.error_on_requires_action = f.bool("error_on_requires_action")?.unwrap_or(false);
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct CreateIn {
    pub amount: i64,
    pub currency: String,
    pub confirm: bool,
    pub confirmation_method: Option<ConfirmationMethod>,
    pub common: Common,
    pub confirm_in: ConfirmIn,
    pub expand: Expand,
}

/// `POST /v1/payment_intents`
pub(super) fn read_create(params: &Params, now: i64) -> ApiResult<CreateIn> {
    let mut f = Fields::root(params);
    let amount = f
        .int("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    let raw_currency = f
        .owned("currency")?
        .ok_or_else(|| ApiError::missing("currency"))?;
    let currency = crate::money::normalize(&raw_currency).ok_or_else(|| {
        ApiError::invalid(
            "currency",
            format!(
                "Invalid currency: {raw_currency}. See https://stripe.com/docs/currencies for supported currencies."
            ),
        )
    })?;
    let confirm = f.bool("confirm")?.unwrap_or(false);
    let confirmation_method = one_of(&mut f, "confirmation_method")?;
    // Enabled or not, the mock offers the methods it simulates (`card` unless listed).
    let automatic_payment_methods = match f.object("automatic_payment_methods")? {
        Some(mut a) => {
            let enabled = a.bool("enabled")?.unwrap_or(false);
            a.one_of("allow_redirects", &["always", "never"])?;
            a.finish()?;
            enabled
        }
        None => false,
    };
    let common = Common::read(&mut f)?;
    if automatic_payment_methods && common.payment_method_types.is_some() {
        return Err(ApiError::exclusive(
            "automatic_payment_methods",
            "payment_method_types",
        ));
    }
    let mut confirm_in = ConfirmIn::default();
    ConfirmIn::read_method(&mut f, now, &mut confirm_in)?;
    for (given, key) in [
        (confirm_in.return_url.is_some(), "return_url"),
        (confirm_in.off_session, "off_session"),
        (
            confirm_in.error_on_requires_action,
            "error_on_requires_action",
        ),
    ] {
        if given && !confirm {
            return Err(ApiError::invalid(
                key,
                format!("{key} can only be used with confirm=true."),
            ));
        }
    }
    let expand = expandable::read(&mut f, KIND)?;
    ignore_not_modelled(&mut f);
    f.ignore("confirmation_token");
    f.finish()?;
    Ok(CreateIn {
        amount,
        currency,
        confirm,
        confirmation_method,
        common,
        confirm_in,
        expand,
    })
}

#[derive(Debug)]
pub(super) struct UpdateIn {
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub common: Common,
    pub payment_method: Option<String>,
    pub payment_method_data: Option<NewPaymentMethod>,
    pub expand: Expand,
}

/// `POST /v1/payment_intents/{id}`
pub(super) fn read_update(params: &Params, now: i64) -> ApiResult<UpdateIn> {
    let mut f = Fields::root(params);
    let amount = f.int("amount")?;
    let currency =
        match f.owned("currency")? {
            Some(raw) => Some(crate::money::normalize(&raw).ok_or_else(|| {
                ApiError::invalid("currency", format!("Invalid currency: {raw}."))
            })?),
            None => None,
        };
    let common = Common::read(&mut f)?;
    let payment_method = f.owned("payment_method")?;
    let payment_method_data = read_payment_method_data(&mut f, now)?;
    if payment_method.is_some() && payment_method_data.is_some() {
        return Err(ApiError::exclusive("payment_method", "payment_method_data"));
    }
    let expand = expandable::read(&mut f, KIND)?;
    ignore_not_modelled(&mut f);
    f.finish()?;
    Ok(UpdateIn {
        amount,
        currency,
        common,
        payment_method,
        payment_method_data,
        expand,
    })
}

/// `POST /v1/payment_intents/{id}/confirm`
pub(super) fn read_confirm(params: &Params, now: i64) -> ApiResult<(ConfirmIn, Expand)> {
    let mut f = Fields::root(params);
    let mut c = ConfirmIn::default();
    ConfirmIn::read_method(&mut f, now, &mut c)?;
    c.receipt_email = f.owned("receipt_email")?;
    c.setup_future_usage = one_of(&mut f, "setup_future_usage")?;
    c.capture_method = one_of(&mut f, "capture_method")?;
    c.payment_method_types = f.string_list("payment_method_types")?;
    c.shipping = f.object("shipping")?.map(Shipping::read).transpose()?;
    // Sent by Stripe.js with a publishable key; with a secret key it is optional.
    f.ignore("client_secret");
    f.ignore("confirmation_token");
    let expand = expandable::read(&mut f, KIND)?;
    ignore_not_modelled(&mut f);
    f.finish()?;
    Ok((c, expand))
}

#[derive(Debug)]
pub(super) struct CaptureIn {
    pub amount_to_capture: Option<i64>,
    pub metadata: Option<MapUpdate>,
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    pub expand: Expand,
}

/// `POST /v1/payment_intents/{id}/capture`
pub(super) fn read_capture(params: &Params) -> ApiResult<CaptureIn> {
    let mut f = Fields::root(params);
    let c = CaptureIn {
        amount_to_capture: f.int("amount_to_capture")?,
        metadata: f.string_map("metadata")?,
        statement_descriptor: f.owned("statement_descriptor")?,
        statement_descriptor_suffix: f.owned("statement_descriptor_suffix")?,
        expand: expandable::read(&mut f, KIND)?,
    };
    for key in [
        "final_capture",
        "application_fee_amount",
        "transfer_data",
        "hooks",
        "payment_details",
        "amount_details",
    ] {
        f.ignore(key);
    }
    f.finish()?;
    Ok(c)
}

/// `POST /v1/payment_intents/{id}/cancel`
pub(super) fn read_cancel(params: &Params) -> ApiResult<(Option<CancellationReason>, Expand)> {
    let mut f = Fields::root(params);
    let reason = f
        .one_of(
            "cancellation_reason",
            &[
                "duplicate",
                "fraudulent",
                "requested_by_customer",
                "abandoned",
            ],
        )?
        .map(|r| {
            <CancellationReason as crate::resources::StringEnum>::parse(r)
                .expect("one of the names")
        });
    let expand = expandable::read(&mut f, KIND)?;
    f.finish()?;
    Ok((reason, expand))
}

pub(super) struct ListIn {
    pub page: ListParams,
    pub customer: Option<String>,
    pub created: RangeFilter,
    pub expand: Expand,
}

/// `GET /v1/payment_intents`
pub(super) fn read_list(params: &Params) -> ApiResult<ListIn> {
    let mut f = Fields::root(params);
    let l = ListIn {
        page: ListParams::read(&mut f)?,
        customer: f.owned("customer")?,
        created: RangeFilter::read(&mut f, "created")?,
        expand: expandable::read_list(&mut f, KIND)?,
    };
    f.ignore("customer_account");
    f.finish()?;
    Ok(l)
}

/// `GET /v1/payment_intents/{id}`: `client_secret` is optional with a secret key (Stripe.js
/// sends it with a publishable one); when given it must be the intent's own.
pub(super) fn read_retrieve(params: &Params) -> ApiResult<(Option<String>, Expand)> {
    let mut f = Fields::root(params);
    let client_secret = f.owned("client_secret")?;
    let expand = expandable::read(&mut f, KIND)?;
    f.finish()?;
    Ok((client_secret, expand))
}
