//! `/v1`: every route of `router.rs` (`match_route`), each with requests that work, mutated;
//! methods, ids, headers and encodings generated too.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::strategies::{self, Form, SESSION_FORM};
use crate::{Harness, KEY, exchange};

/// `(method, path, forms that work)`: every route the router knows.
pub const ROUTES: &[(&str, &str, &[&str])] = &[
    (
        "POST",
        "/v1/checkout/sessions",
        &[
            SESSION_FORM,
            "mode=payment&success_url=https://shop.test/ok&line_items[0][price]={price}\
         &line_items[0][quantity]=1&discounts[0][coupon]={coupon}&customer={cus}",
            "mode=payment&success_url=https://shop.test/ok&line_items[0][price]={price}\
         &line_items[0][quantity]=3&line_items[0][adjustable_quantity][enabled]=true\
         &discounts[0][promotion_code]={promo}&customer_creation=always\
         &payment_intent_data[capture_method]=manual&metadata[order]=1&expand[]=line_items",
            "mode=payment&success_url=https://shop.test/ok&payment_method_types[]=sepa_debit\
         &payment_method_types[]=card&line_items[0][price_data][currency]=eur\
         &line_items[0][price_data][unit_amount]=500&line_items[0][price_data][product]={prod}\
         &line_items[0][quantity]=1&expires_at=1900000000&locale=fr",
            "success_url=https://shop.test/ok&line_items[0][name]=Legacy&line_items[0][amount]=100\
         &line_items[0][currency]=usd&line_items[0][quantity]=1&payment_method_types[]=card",
        ],
    ),
    (
        "GET",
        "/v1/checkout/sessions",
        &[
            "limit=3&starting_after={cs}",
            "payment_intent={pi}&customer={cus}&status=open&expand[]=data.payment_intent",
            "created[gte]=0&created[lt]=99999999999&ending_before={cs}",
        ],
    ),
    (
        "GET",
        "/v1/checkout/sessions/{id}",
        &[
            "",
            "expand[]=line_items&expand[]=payment_intent.latest_charge",
        ],
    ),
    (
        "POST",
        "/v1/checkout/sessions/{id}",
        &["metadata[a]=b&metadata[c]="],
    ),
    ("POST", "/v1/checkout/sessions/{id}/expire", &[""]),
    (
        "GET",
        "/v1/checkout/sessions/{id}/line_items",
        &["limit=1", "expand[]=data.price.product"],
    ),
    (
        "GET",
        "/v1/payment_intents/search",
        &[
            "query=status:'succeeded' AND amount>100&limit=2",
            "query=metadata['k']:'v' OR customer:'{cus}'&page=x",
        ],
    ),
    (
        "GET",
        "/v1/payment_intents/{id}",
        &["", "expand[]=latest_charge&client_secret=x"],
    ),
    (
        "POST",
        "/v1/payment_intents",
        &[
            "amount=2000&currency=usd",
            "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true&customer={cus}\
         &metadata[k]=v&description=d&receipt_email=a@b.test",
            "amount=3000&currency=usd&payment_method=pm_card_authenticationRequired&confirm=true\
         &return_url=https://shop.test/back&off_session=true",
            "amount=1000&currency=eur&payment_method_types[]=sepa_debit&payment_method_data[type]=sepa_debit\
         &payment_method_data[sepa_debit][iban]=AT611904300234573201&confirm=true\
         &mandate_data[customer_acceptance][type]=offline",
            "amount=1000&currency=usd&automatic_payment_methods[enabled]=true&capture_method=manual\
         &payment_method={pm}&confirm=true&setup_future_usage=off_session",
        ],
    ),
    (
        "GET",
        "/v1/payment_intents",
        &[
            "limit=2&customer={cus}",
            "created[gt]=1&starting_after={pi}",
        ],
    ),
    (
        "POST",
        "/v1/payment_intents/{id}",
        &[
            "amount=1500&metadata[x]=y&description=new",
            "payment_method=pm_card_visa",
        ],
    ),
    (
        "POST",
        "/v1/payment_intents/{id}/confirm",
        &[
            "payment_method=pm_card_visa&return_url=https://shop.test/back",
            "payment_method=pm_card_chargeDeclined",
        ],
    ),
    (
        "POST",
        "/v1/payment_intents/{id}/capture",
        &["", "amount_to_capture=500"],
    ),
    (
        "POST",
        "/v1/payment_intents/{id}/cancel",
        &["", "cancellation_reason=requested_by_customer"],
    ),
    (
        "POST",
        "/v1/payment_methods",
        &[
            "type=card&card[token]=tok_visa",
            "type=card&card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2034&card[cvc]=123\
         &billing_details[name]=A&billing_details[email]=a@b.test",
            "type=sepa_debit&sepa_debit[iban]=AT611904300234573201&billing_details[name]=A",
            "type=us_bank_account&us_bank_account[routing_number]=110000000\
         &us_bank_account[account_number]=000123456789&us_bank_account[account_holder_type]=individual",
        ],
    ),
    ("GET", "/v1/payment_methods/{id}", &[""]),
    ("GET", "/v1/payment_pages/{id}", &[""]),
    (
        "POST",
        "/v1/payment_pages/{id}/confirm",
        &[
            "payment_method={pm}&expected_amount=3998&email=a@b.test",
            "payment_method=pm_card_visa",
        ],
    ),
    (
        "GET",
        "/v1/charges",
        &[
            "payment_intent={pi}&limit=1",
            "customer={cus}&created[lte]=9999999999",
        ],
    ),
    ("GET", "/v1/charges/{id}", &["", "expand[]=payment_intent"]),
    (
        "POST",
        "/v1/refunds",
        &[
            "charge={ch}&amount=50&reason=requested_by_customer&metadata[k]=v",
            "payment_intent={pi}",
            "payment_intent={pim}&amount=1",
        ],
    ),
    (
        "GET",
        "/v1/refunds",
        &["charge={ch}", "payment_intent={pi}&limit=5"],
    ),
    ("GET", "/v1/refunds/{id}", &[""]),
    ("POST", "/v1/refunds/{id}", &["metadata[k]=v2"]),
    ("POST", "/v1/refunds/{id}/cancel", &[""]),
    (
        "POST",
        "/v1/products",
        &[
            "name=Book&description=A+book&metadata[isbn]=1&images[]=https://img.test/a.png",
            "name=Shirt&default_price_data[currency]=usd&default_price_data[unit_amount]=2500\
         &shippable=true&url=https://shop.test/p&active=true&id=prod_fuzz_custom",
        ],
    ),
    (
        "GET",
        "/v1/products",
        &["active=true&limit=2", "ids[]={prod}&shippable=false"],
    ),
    (
        "GET",
        "/v1/products/search",
        &[
            "query=name~'Boo' AND active:'true'",
            "query=metadata['isbn']:'1'",
        ],
    ),
    ("GET", "/v1/products/{id}", &[""]),
    (
        "POST",
        "/v1/products/{id}",
        &[
            "name=New&metadata[a]=&default_price={price}",
            "active=false",
        ],
    ),
    ("DELETE", "/v1/products/{id}", &[""]),
    (
        "POST",
        "/v1/prices",
        &[
            "product={prod}&currency=usd&unit_amount=1500&lookup_key=std&transfer_lookup_key=true",
            "product_data[name]=Sub&currency=usd&unit_amount=500&recurring[interval]=month\
         &recurring[interval_count]=3&nickname=n&metadata[a]=b",
            "product={prod}&currency=usd&unit_amount_decimal=12.5&tax_behavior=exclusive",
        ],
    ),
    (
        "GET",
        "/v1/prices",
        &[
            "product={prod}&active=true&type=one_time",
            "lookup_keys[]=std&expand[]=data.product",
        ],
    ),
    (
        "GET",
        "/v1/prices/search",
        &["query=currency:'usd' AND product:'{prod}'"],
    ),
    ("GET", "/v1/prices/{id}", &["", "expand[]=product"]),
    (
        "POST",
        "/v1/prices/{id}",
        &["active=false&nickname=x&lookup_key=k2&metadata[m]=1"],
    ),
    (
        "POST",
        "/v1/customers",
        &[
            "email=a@b.test&name=A&phone=1&description=d&metadata[k]=v",
            "address[line1]=1+Main&address[country]=US&shipping[name]=A&shipping[address][city]=X\
         &preferred_locales[]=en&invoice_prefix=ABC&tax_exempt=none",
        ],
    ),
    (
        "GET",
        "/v1/customers",
        &[
            "email=a@b.test&limit=3",
            "created[gte]=1&starting_after={cus}",
        ],
    ),
    (
        "GET",
        "/v1/customers/search",
        &[
            "query=email:'a@b.test' OR name~'Fuz'",
            "query=created>1&limit=1",
        ],
    ),
    ("GET", "/v1/customers/{id}", &[""]),
    (
        "POST",
        "/v1/customers/{id}",
        &["name=B&metadata[k]=&email=c@d.test"],
    ),
    ("DELETE", "/v1/customers/{id}", &[""]),
    (
        "POST",
        "/v1/coupons",
        &[
            "percent_off=20&duration=once&name=Spring&max_redemptions=2&redeem_by=2000000000",
            "amount_off=500&currency=usd&duration=repeating&duration_in_months=3\
         &applies_to[products][]={prod}&id=FUZZ&metadata[a]=b",
        ],
    ),
    ("GET", "/v1/coupons", &["limit=2"]),
    ("GET", "/v1/coupons/{id}", &[""]),
    (
        "POST",
        "/v1/promotion_codes",
        &[
            "promotion[type]=coupon&promotion[coupon]={coupon}&code=SPRING&max_redemptions=5",
            "promotion[type]=coupon&promotion[coupon]={coupon}&customer={cus}&expires_at=2000000000\
         &restrictions[minimum_amount]=1000&restrictions[minimum_amount_currency]=usd\
         &restrictions[first_time_transaction]=true&active=true",
        ],
    ),
    (
        "GET",
        "/v1/promotion_codes",
        &["code=SPRING", "coupon={coupon}&active=true&customer={cus}"],
    ),
    ("GET", "/v1/promotion_codes/{id}", &[""]),
    (
        "POST",
        "/v1/promotion_codes/{id}",
        &["active=false&metadata[k]=v"],
    ),
    (
        "POST",
        "/v1/webhook_endpoints",
        &[
            "url={receiver}&enabled_events[]=*",
            "url=https://shop.test/hook&enabled_events[]=checkout.session.completed\
         &api_version=2020-08-27&connect=true&description=d&metadata[a]=b",
        ],
    ),
    ("GET", "/v1/webhook_endpoints", &["limit=1"]),
    ("GET", "/v1/webhook_endpoints/{id}", &[""]),
    (
        "POST",
        "/v1/webhook_endpoints/{id}",
        &["disabled=true&enabled_events[]=charge.*&url={receiver}"],
    ),
    ("DELETE", "/v1/webhook_endpoints/{id}", &[""]),
    (
        "GET",
        "/v1/events",
        &[
            "type=checkout.session.*&limit=5",
            "types[]=charge.succeeded&created[gt]=1&delivery_success=false",
        ],
    ),
    ("GET", "/v1/events/{id}", &[""]),
];

/// The id placeholder a route's `{id}` takes when the case keeps it.
fn natural_id(path: &str) -> &'static str {
    let p = |s: &str| path.contains(s);
    if p("checkout/sessions") {
        "{cs}"
    } else if p("payment_intents/{id}/capture") {
        "{pim}"
    } else if p("payment_intents/{id}/confirm") {
        "{pi3ds}"
    } else if p("payment_intents") {
        "{pi}"
    } else if p("payment_methods") {
        "{pm}"
    } else if p("charges") {
        "{ch}"
    } else if p("refunds") {
        "{re}"
    } else if p("products") {
        "{prod}"
    } else if p("prices") {
        "{price}"
    } else if p("customers") {
        "{cus}"
    } else if p("coupons") {
        "{coupon}"
    } else if p("promotion_codes") {
        "{promo}"
    } else if p("webhook_endpoints") {
        "{we}"
    } else {
        "{evt}"
    }
}

#[derive(Clone, Debug)]
pub struct ApiCase {
    method: String,
    path: String,
    form: Form,
    in_query: bool,
    headers: Vec<(String, Vec<u8>)>,
}

pub fn case() -> impl Strategy<Value = ApiCase> {
    (0..ROUTES.len()).prop_flat_map(|i| {
        let (method, path, forms) = ROUTES[i];
        let id = prop_oneof![
            6 => Just(natural_id(path).to_string()),
            2 => strategies::id(),
        ];
        let suffix = prop_oneof![
            20 => Just(String::new()),
            1 => prop::sample::select(vec!["/", "/x", "//", "/%2F", "/..", "?", "?&&="])
                .prop_map(str::to_string),
        ];
        (
            strategies::method(method),
            id,
            suffix,
            prop::sample::select(forms.to_vec()).prop_flat_map(strategies::mutated),
            prop::bool::weighted(0.1),
            strategies::api_headers(),
        )
            .prop_map(
                move |(method, id, suffix, form, in_query, headers)| ApiCase {
                    method,
                    path: format!("{}{suffix}", path.replace("{id}", &id)),
                    form,
                    in_query,
                    headers,
                },
            )
    })
}

/// Sends one case and judges the answer.
pub fn run(h: &Harness, c: &ApiCase, f: &crate::Fixtures) -> Result<(), TestCaseError> {
    let req = strategies::build(&c.method, &c.path, &c.form, c.in_query, &c.headers, f);
    exchange(h, &req)?;
    Ok(())
}

#[test]
fn fuzz_v1_routes() {
    let h = Harness::start(Harness::default_config());
    h.campaign("/v1", 400, case(), |h, c| run(h, &c, &h.fixtures(KEY)));
}

#[test]
fn fuzz_v1_fresh_objects_every_few_cases() {
    // Open sessions, intents waiting for 3-D Secure and capturable intents get used up by
    // the campaign above; this one renews them every 20 cases so each state is fuzzed.
    let h = Harness::start(Harness::default_config());
    let counter = std::sync::atomic::AtomicU32::new(0);
    h.campaign("/v1 (fresh objects)", 200, case(), |h, c| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let f = if n.is_multiple_of(20) {
            h.refresh_fixtures(KEY)
        } else {
            h.fixtures(KEY)
        };
        run(h, &c, &f)
    });
}
