//! Customers (`/v1/customers`): create, retrieve, update, delete, list (with `email`), and
//! the `customer.created` / `customer.updated` / `customer.deleted` events. Checkout creates
//! one on payment when a session asks for it ([`create_for_checkout`]).
//!
//! A deleted customer stays in the table, marked: retrieving it answers
//! `{"id": …, "object": "customer", "deleted": true}` as Stripe does, lists and searches skip
//! it, and a pagination cursor naming it still works.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{check_email, check_metadata, clearable, event_request, one_of, string_enum};
use crate::protocol::list::{ListJson, ListParams, paginate};
use crate::protocol::{
    ApiError, ApiResult, Fields, Params, RangeFilter, Reply, RequestCtx, read_expand,
};
use crate::resources::events::{EventObject, EventRequest, copied, emit, snapshot};
use crate::store::{Account, Keyed};

string_enum! {
    /// `customer.tax_exempt`.
    pub(crate) enum TaxExempt {
        None = "none",
        Exempt = "exempt",
        Reverse = "reverse",
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Shipping {
    pub address: Address,
    pub name: String,
    pub phone: Option<String>,
}

/// A customer as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub address: Option<Address>,
    pub shipping: Option<Shipping>,
    pub metadata: BTreeMap<String, String>,
    pub preferred_locales: Vec<String>,
    pub tax_exempt: TaxExempt,
    pub invoice_prefix: String,
    pub balance: i64,
    pub business_name: Option<String>,
    pub individual_name: Option<String>,
    pub deleted: bool,
}

impl Keyed for Customer {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Customer {
    /// A customer with nothing but an id, a creation time and an invoice prefix.
    fn new(account: &mut Account) -> Customer {
        Customer {
            id: account.ids.object(crate::ids::prefix::CUSTOMER),
            created: account.now(),
            email: None,
            name: None,
            phone: None,
            description: None,
            address: None,
            shipping: None,
            metadata: BTreeMap::new(),
            preferred_locales: Vec::new(),
            tax_exempt: TaxExempt::None,
            invoice_prefix: account.ids.with_len("", 8).to_ascii_uppercase(),
            balance: 0,
            business_name: None,
            individual_name: None,
            deleted: false,
        }
    }

    pub fn json(&self) -> CustomerJson<'_> {
        CustomerJson {
            id: &self.id,
            object: "customer",
            address: self.address.as_ref(),
            balance: self.balance,
            business_name: self.business_name.as_deref(),
            created: self.created,
            currency: (),
            customer_account: (),
            default_source: (),
            delinquent: false,
            description: self.description.as_deref(),
            discount: (),
            email: self.email.as_deref(),
            individual_name: self.individual_name.as_deref(),
            invoice_prefix: &self.invoice_prefix,
            invoice_settings: InvoiceSettingsJson {
                custom_fields: (),
                default_payment_method: (),
                footer: (),
                rendering_options: (),
            },
            livemode: false,
            metadata: &self.metadata,
            name: self.name.as_deref(),
            next_invoice_sequence: 1,
            phone: self.phone.as_deref(),
            preferred_locales: &self.preferred_locales,
            shipping: self.shipping.as_ref(),
            tax_exempt: self.tax_exempt.as_str(),
            test_clock: (),
        }
    }
}

#[derive(Serialize)]
struct InvoiceSettingsJson {
    custom_fields: (),
    default_payment_method: (),
    footer: (),
    rendering_options: (),
}

/// The JSON of a customer: the fields Stripe sends for one made through the API.
#[derive(Serialize)]
pub(crate) struct CustomerJson<'a> {
    id: &'a str,
    object: &'static str,
    address: Option<&'a Address>,
    balance: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_name: Option<&'a str>,
    created: i64,
    currency: (),
    customer_account: (),
    default_source: (),
    delinquent: bool,
    description: Option<&'a str>,
    discount: (),
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    individual_name: Option<&'a str>,
    invoice_prefix: &'a str,
    invoice_settings: InvoiceSettingsJson,
    livemode: bool,
    metadata: &'a BTreeMap<String, String>,
    name: Option<&'a str>,
    next_invoice_sequence: i64,
    phone: Option<&'a str>,
    preferred_locales: &'a [String],
    shipping: Option<&'a Shipping>,
    tax_exempt: &'static str,
    test_clock: (),
}

/// `{"id": …, "object": "customer", "deleted": true}`
#[derive(Serialize)]
struct DeletedJson<'a> {
    id: &'a str,
    object: &'static str,
    deleted: bool,
}

// ---------------------------------------------------------------------------------------
// Phase 1: parameters.
// ---------------------------------------------------------------------------------------

/// What create and update may set (`None`: unchanged; `Some(None)`: cleared).
#[derive(Default)]
struct CustomerIn {
    email: Option<Option<String>>,
    name: Option<Option<String>>,
    phone: Option<Option<String>>,
    description: Option<Option<String>>,
    address: Option<Option<Address>>,
    shipping: Option<Option<Shipping>>,
    metadata: Option<crate::protocol::form::MapUpdate>,
    preferred_locales: Option<Vec<String>>,
    tax_exempt: Option<Option<TaxExempt>>,
    invoice_prefix: Option<String>,
    balance: Option<i64>,
    business_name: Option<Option<String>>,
    individual_name: Option<Option<String>>,
}

/// Not modelled, accepted so that apps sending them keep working: payment sources, tax
/// ids, test clocks, invoice and cash-balance settings.
const ACCEPTED_NOT_MODELLED: &[&str] = &[
    "cash_balance",
    "default_source",
    "invoice_settings",
    "next_invoice_sequence",
    "payment_method",
    "source",
    "tax",
    "tax_id_data",
    "test_clock",
    "validate",
];

fn read_address(o: &mut Fields<'_>) -> ApiResult<Address> {
    let a = Address {
        city: o.owned("city")?,
        country: o.owned("country")?,
        line1: o.owned("line1")?,
        line2: o.owned("line2")?,
        postal_code: o.owned("postal_code")?,
        state: o.owned("state")?,
    };
    Ok(a)
}

/// `address=` clears; `address[city]=…` sets.
fn read_clearable_address(f: &mut Fields<'_>) -> ApiResult<Option<Option<Address>>> {
    let present = f.has("address");
    match f.object("address")? {
        Some(mut o) => {
            let a = read_address(&mut o)?;
            o.finish()?;
            Ok(Some(Some(a)))
        }
        None => Ok(present.then_some(None)),
    }
}

fn read_shipping(f: &mut Fields<'_>) -> ApiResult<Option<Option<Shipping>>> {
    let present = f.has("shipping");
    let Some(mut o) = f.object("shipping")? else {
        return Ok(present.then_some(None));
    };
    let address = match o.object("address")? {
        Some(mut a) => {
            let address = read_address(&mut a)?;
            a.finish()?;
            Some(address)
        }
        None => None,
    };
    let name = o.owned("name")?;
    let phone = o.owned("phone")?;
    o.finish()?;
    let address = address.ok_or_else(|| ApiError::missing("shipping[address]"))?;
    let name = name.ok_or_else(|| ApiError::missing("shipping[name]"))?;
    Ok(Some(Some(Shipping {
        address,
        name,
        phone,
    })))
}

fn read_customer(f: &mut Fields<'_>) -> ApiResult<CustomerIn> {
    let tax_exempt_present = f.has("tax_exempt");
    let tax_exempt: Option<TaxExempt> = one_of(f, "tax_exempt")?;
    let c = CustomerIn {
        email: clearable(f, "email")?,
        name: clearable(f, "name")?,
        phone: clearable(f, "phone")?,
        description: clearable(f, "description")?,
        address: read_clearable_address(f)?,
        shipping: read_shipping(f)?,
        metadata: f.string_map("metadata")?,
        preferred_locales: f.string_list("preferred_locales")?,
        tax_exempt: tax_exempt_present.then_some(tax_exempt),
        invoice_prefix: f.owned("invoice_prefix")?,
        balance: f.int("balance")?,
        business_name: clearable(f, "business_name")?,
        individual_name: clearable(f, "individual_name")?,
    };
    for key in ACCEPTED_NOT_MODELLED {
        f.ignore(key);
    }
    Ok(c)
}

/// Phase 2 for both create and update: applies `c` to `customer`, checking as it goes.
fn apply(customer: &mut Customer, c: CustomerIn) -> ApiResult<()> {
    if let Some(Some(email)) = &c.email {
        check_email("email", email)?;
    }
    if let Some(prefix) = &c.invoice_prefix {
        let ok = (3..=12).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(ApiError::invalid(
                "invoice_prefix",
                "Invoice prefix must be 3 to 12 uppercase letters or digits.",
            ));
        }
    }
    if let Some(locales) = &c.preferred_locales
        && locales.len() > 10
    {
        return Err(ApiError::invalid(
            "preferred_locales",
            "You may specify up to 10 preferred locales.",
        ));
    }
    let mut metadata = customer.metadata.clone();
    if let Some(m) = &c.metadata {
        m.apply(&mut metadata);
        check_metadata("metadata", &metadata)?;
    }
    customer.metadata = metadata;
    if let Some(v) = c.email {
        customer.email = v;
    }
    if let Some(v) = c.name {
        customer.name = v;
    }
    if let Some(v) = c.phone {
        customer.phone = v;
    }
    if let Some(v) = c.description {
        customer.description = v;
    }
    if let Some(v) = c.address {
        customer.address = v;
    }
    if let Some(v) = c.shipping {
        customer.shipping = v;
    }
    if let Some(v) = c.preferred_locales {
        customer.preferred_locales = v;
    }
    if let Some(v) = c.tax_exempt {
        customer.tax_exempt = v.unwrap_or(TaxExempt::None);
    }
    if let Some(v) = c.invoice_prefix {
        customer.invoice_prefix = v;
    }
    if let Some(v) = c.balance {
        customer.balance = v;
    }
    if let Some(v) = c.business_name {
        customer.business_name = v;
    }
    if let Some(v) = c.individual_name {
        customer.individual_name = v;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Domain functions.
// ---------------------------------------------------------------------------------------

/// A live (not deleted) customer named in a parameter (`customer` on a session …).
pub(crate) fn existing<'a>(account: &'a Account, id: &str, param: &str) -> ApiResult<&'a Customer> {
    account
        .customers
        .get(id)
        .filter(|c| !c.deleted)
        .ok_or_else(|| ApiError::no_such("customer", id, param, false))
}

fn find_live<'a>(account: &'a mut Account, id: &str) -> ApiResult<&'a mut Customer> {
    account
        .customers
        .get_mut(id)
        .filter(|c| !c.deleted)
        .ok_or_else(|| ApiError::no_such("customer", id, "customer", true))
}

fn insert(account: &mut Account, customer: Customer, request: &EventRequest) -> ApiResult<String> {
    let id = customer.id.clone();
    let obj = event_object(&customer);
    account.customers.insert(customer);
    emit(account, "customer.created", obj, request)?;
    Ok(id)
}

/// A customer's events carry a copy of it, rendered only if something reads the event.
fn event_object(customer: &Customer) -> EventObject {
    copied(customer.clone(), |c| snapshot(&c.json()))
}

/// The customer a Checkout Session creates when it is paid (`customer_creation=always`),
/// from what the payer typed; emits `customer.created`. Returns its id.
pub(crate) fn create_for_checkout(
    account: &mut Account,
    email: Option<&str>,
    name: Option<&str>,
    request: &EventRequest,
) -> ApiResult<String> {
    let mut customer = Customer::new(account);
    customer.email = email.map(str::to_string);
    customer.name = name.map(str::to_string);
    insert(account, customer, request)
}

// ---------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------

const EXPANDABLE: &[&str] = &[
    "default_source",
    "invoice_settings.default_payment_method",
    "test_clock",
];

/// `POST /v1/customers`
pub(crate) fn create(account: &mut Account, params: &Params, ctx: &RequestCtx) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let c = read_customer(&mut f)?;
    read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;
    let mut customer = Customer::new(account);
    apply(&mut customer, c)?;
    let reply = Reply::json(&customer.json());
    insert(account, customer, &event_request(ctx))?;
    reply
}

/// `GET /v1/customers/{id}`: a deleted customer answers its `deleted: true` stub.
pub(crate) fn retrieve(account: &mut Account, id: &str, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;
    let customer = account
        .customers
        .get(id)
        .ok_or_else(|| ApiError::no_such("customer", id, "customer", true))?;
    if customer.deleted {
        return Reply::json(&DeletedJson {
            id,
            object: "customer",
            deleted: true,
        });
    }
    Reply::json(&customer.json())
}

/// `POST /v1/customers/{id}`: emits `customer.updated`.
pub(crate) fn update(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let c = read_customer(&mut f)?;
    read_expand(&mut f, EXPANDABLE)?;
    f.finish()?;
    let mut customer = find_live(account, id)?.clone();
    apply(&mut customer, c)?;
    let obj = event_object(&customer);
    let reply = Reply::json(&customer.json());
    *find_live(account, id)? = customer;
    emit(account, "customer.updated", obj, &event_request(ctx))?;
    reply
}

/// `DELETE /v1/customers/{id}`: emits `customer.deleted` with the customer as it was.
pub(crate) fn delete(
    account: &mut Account,
    id: &str,
    params: &Params,
    ctx: &RequestCtx,
) -> ApiResult<Reply> {
    Fields::root(params).finish()?;
    let customer = find_live(account, id)?;
    customer.deleted = true;
    let obj = event_object(customer);
    emit(account, "customer.deleted", obj, &event_request(ctx))?;
    Reply::json(&DeletedJson {
        id,
        object: "customer",
        deleted: true,
    })
}

/// `GET /v1/customers`: filters `email` (exact, case-sensitive as on Stripe) and `created`.
pub(crate) fn list(account: &mut Account, params: &Params) -> ApiResult<Reply> {
    let mut f = Fields::root(params);
    let page = ListParams::read(&mut f)?;
    let email = f.owned("email")?;
    let created = RangeFilter::read(&mut f, "created")?;
    f.ignore("test_clock");
    read_expand(
        &mut f,
        &[
            "data.default_source",
            "data.invoice_settings.default_payment_method",
            "data.test_clock",
        ],
    )?;
    f.finish()?;
    if email.as_ref().is_some_and(|e| e.len() > 512) {
        return Err(ApiError::invalid(
            "email",
            "email must be at most 512 characters.",
        ));
    }
    let keep = |c: &Customer| {
        !c.deleted
            && email.as_ref().is_none_or(|e| c.email.as_ref() == Some(e))
            && created.matches(c.created)
    };
    let table = &account.customers;
    let (data, has_more) = paginate(
        table.rows(),
        |id| table.position(id),
        keep,
        &page,
        "customer",
    )?;
    let data: Vec<_> = data.into_iter().map(Customer::json).collect();
    Reply::json(&ListJson::new(data, has_more, "/v1/customers".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::{call, ctx, event_types};

    #[test]
    fn create_retrieve_update_delete() {
        let mut a = Account::at(1_700_000_000);
        let v = call(
            create,
            &mut a,
            "email=jenny@example.com&name=Jenny+Rosen&metadata[uid]=7&address[country]=US\
             &address[postal_code]=94103&preferred_locales[]=en&phone=%2B15555550100",
        )
        .unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("cus_"));
        assert_eq!(v["object"], "customer");
        assert_eq!(v["email"], "jenny@example.com");
        assert_eq!(v["address"]["postal_code"], "94103");
        assert_eq!(v["address"]["city"], serde_json::Value::Null);
        assert_eq!(v["balance"], 0);
        assert_eq!(v["tax_exempt"], "none");
        assert_eq!(
            v["invoice_settings"]["default_payment_method"],
            serde_json::Value::Null
        );
        assert_eq!(v["invoice_prefix"].as_str().unwrap().len(), 8);
        assert!(v.get("business_name").is_none());

        let p =
            Params::decode(&[b"name=&description=VIP&address=&metadata[uid]=".as_slice()]).unwrap();
        let u: serde_json::Value =
            serde_json::from_slice(&update(&mut a, &id, &p, &ctx()).unwrap().body).unwrap();
        assert_eq!(u["name"], serde_json::Value::Null);
        assert_eq!(u["description"], "VIP");
        assert_eq!(u["address"], serde_json::Value::Null);
        assert_eq!(u["metadata"], serde_json::json!({}));
        assert_eq!(u["email"], "jenny@example.com", "unchanged");

        let d: serde_json::Value = serde_json::from_slice(
            &delete(&mut a, &id, &Params::default(), &ctx())
                .unwrap()
                .body,
        )
        .unwrap();
        assert_eq!(
            d,
            serde_json::json!({"id": id, "object": "customer", "deleted": true})
        );
        let r: serde_json::Value =
            serde_json::from_slice(&retrieve(&mut a, &id, &Params::default()).unwrap().body)
                .unwrap();
        assert_eq!(r, d, "a deleted customer retrieves as its stub");
        assert_eq!(
            update(&mut a, &id, &Params::default(), &ctx())
                .err()
                .unwrap()
                .status
                .as_u16(),
            404
        );
        assert_eq!(
            event_types(&a),
            ["customer.created", "customer.updated", "customer.deleted"]
        );
        // Read only now, after the update and the delete: each event still shows the
        // customer as it was when it happened (its copy is rendered when first read).
        let event_object = |i: usize| -> serde_json::Value {
            serde_json::from_str(a.events.rows()[i].object().unwrap().get()).unwrap()
        };
        assert_eq!(event_object(0)["name"], "Jenny Rosen");
        assert_eq!(event_object(0)["metadata"], serde_json::json!({"uid": "7"}));
        assert_eq!(event_object(1)["name"], serde_json::Value::Null);
        assert_eq!(event_object(1)["description"], "VIP");
        assert_eq!(event_object(2)["email"], "jenny@example.com");
        let first = a.events.rows()[0].object().unwrap().get();
        assert!(
            first.starts_with(r#"{"id":"cus_"#),
            "compact, in Stripe's order"
        );
        assert!(std::ptr::eq(
            first,
            a.events.rows()[0].object().unwrap().get()
        ));
    }

    #[test]
    fn list_by_email_skips_deleted() {
        let mut a = Account::at(1_700_000_000);
        for e in ["a@x.test", "b@x.test", "a@x.test"] {
            call(create, &mut a, &format!("email={e}")).unwrap();
        }
        let gone = a.customers.rows()[0].id.clone();
        delete(&mut a, &gone, &Params::default(), &ctx()).unwrap();
        let p = Params::decode(&[b"email=a@x.test".as_slice()]).unwrap();
        let l: serde_json::Value = serde_json::from_slice(&list(&mut a, &p).unwrap().body).unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 1);
        let p = Params::decode(&[format!("starting_after={gone}").as_bytes()]).unwrap();
        let l: serde_json::Value = serde_json::from_slice(&list(&mut a, &p).unwrap().body).unwrap();
        assert_eq!(l["data"].as_array().unwrap().len(), 0, "nothing older");
    }

    #[test]
    fn errors() {
        let mut a = Account::at(1_700_000_000);
        let e = call(create, &mut a, "email=not-an-email").err().unwrap();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("email_invalid"), Some("email"))
        );
        let e = call(create, &mut a, "shipping[name]=J").err().unwrap();
        assert_eq!(e.param.as_deref(), Some("shipping[address]"));
        let e = call(create, &mut a, "address[planet]=Mars").err().unwrap();
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("parameter_unknown"), Some("address[planet]"))
        );
        let e = retrieve(&mut a, "cus_nope", &Params::default())
            .err()
            .unwrap();
        assert_eq!(
            (e.status.as_u16(), e.message.as_str()),
            (404, "No such customer: 'cus_nope'")
        );
        // Accepted and ignored: what apps commonly send along.
        call(
            create,
            &mut a,
            "payment_method=pm_card_visa&invoice_settings[footer]=x",
        )
        .unwrap();
    }

    #[test]
    fn checkout_creates_a_customer_with_its_event() {
        let mut a = Account::at(1_700_000_000);
        let id = create_for_checkout(
            &mut a,
            Some("b@e.test"),
            Some("Jenny"),
            &EventRequest::default(),
        )
        .unwrap();
        let c = a.customers.get(&id).unwrap();
        assert_eq!(c.email.as_deref(), Some("b@e.test"));
        assert_eq!(event_types(&a), ["customer.created"]);
    }
}
