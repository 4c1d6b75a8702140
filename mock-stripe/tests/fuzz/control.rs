//! `/_config`: every control route of `control/mod.rs`, with calls that work, mutated.
//! Faults a case creates are cleared right after it (they would turn the next cases'
//! answers into the injected 5xx on purpose); emptying the account renews its objects.

use proptest::prelude::*;

use crate::strategies::{self, Form};
use crate::{Harness, KEY, exchange};
use http_fuzz::wire::Request;

pub const ROUTES: &[(&str, &str, &[&str])] = &[
    ("GET", "/_config/health", &[""]),
    (
        "GET",
        "/_config/dashboard",
        &["key=sk_test_fuzz0001", "", "key=pk_test_x"],
    ),
    (
        "POST",
        "/_config/dashboard/redeliver",
        &["key=sk_test_fuzz0001&event={evt}"],
    ),
    (
        "POST",
        "/_config/checkout/sessions/{cs}/complete",
        &[
            "",
            "card=4000000000009995",
            "card=4000000000003220&three_d_secure=fail",
            "card=4000002500003155&three_d_secure=complete&email=a@b.test&name=A",
            "payment_method=sepa_debit&outcome=failed",
            "payment_method=us_bank_account&outcome=succeeded",
        ],
    ),
    ("GET", "/_config/clock", &[""]),
    (
        "POST",
        "/_config/clock",
        &[
            "frozen_at=1800000000",
            "frozen_at=0",
            "frozen_at=253402300799",
        ],
    ),
    (
        "POST",
        "/_config/clock/advance",
        &["seconds=86400", "seconds=0", "seconds=315360000"],
    ),
    ("DELETE", "/_config/clock", &[""]),
    ("GET", "/_config/faults", &[""]),
    (
        "POST",
        "/_config/faults",
        &[
            "target=api&kind=status&status=500&count=2&path=/v1/checkout/sessions",
            "target=webhook&kind=status&status=503&count=2&event_type=checkout.session.completed",
            "target=api&kind=delay&seconds=1",
            "target=webhook&kind=reorder&seconds=1",
            "target=webhook&kind=bad_signature",
            "target=webhook&kind=duplicate&count=3",
            "target=api&kind=drop&path=/v1/customers",
            "target=api&kind=timeout&seconds=0",
        ],
    ),
    ("DELETE", "/_config/faults", &[""]),
    (
        "GET",
        "/_config/deliveries",
        &["event={evt}&limit=5", "endpoint={we}", "limit=1000"],
    ),
    (
        "POST",
        "/_config/events/{evt}/redeliver",
        &["endpoint={we}", ""],
    ),
    ("GET", "/_config/settings", &[""]),
    (
        "POST",
        "/_config/settings",
        &[
            "redirect_timing=after&async_payment_delay=60&api_version=2020-08-27",
            "redirect_timing=concurrent&async_payment_delay=0",
            "api_version=2026-09-30.endive&redirect_timing=before",
        ],
    ),
    ("DELETE", "/_config/data", &[""]),
    (
        "POST",
        "/_config/webhooks/{id}",
        &[
            "url={receiver}&secret=whsec_x&events[]=*",
            "url=http://127.0.0.1:1/closed&events[]=checkout.session.completed",
        ],
    ),
];

impl ControlCase {
    /// Whether the case creates faults (a mixed sequence leaves those out: their 5xx and
    /// lost answers are the point of them).
    pub fn makes_faults(&self) -> bool {
        self.path.starts_with("/_config/faults") && self.method != "GET"
    }
}

#[derive(Clone, Debug)]
pub struct ControlCase {
    method: String,
    path: String,
    form: Form,
    in_query: bool,
    headers: Vec<(String, Vec<u8>)>,
    token: Option<Vec<u8>>,
}

pub fn case(token: Option<&'static str>) -> impl Strategy<Value = ControlCase> {
    (0..ROUTES.len()).prop_flat_map(move |i| {
        let (method, path, forms) = ROUTES[i];
        let id = prop_oneof![
            5 => Just(String::new()),
            2 => strategies::id(),
        ];
        let token = match token {
            Some(t) => prop_oneof![
                6 => Just(Some(t.as_bytes().to_vec())),
                1 => Just(None),
                1 => prop::sample::select(vec!["", "x", "control-token-fuzz-0001 "])
                    .prop_map(|s| Some(s.as_bytes().to_vec())),
            ]
            .boxed(),
            None => prop_oneof![4 => Just(None), 1 => Just(Some(b"anything".to_vec()))].boxed(),
        };
        (
            strategies::method(method),
            id,
            prop::sample::select(forms.to_vec()).prop_flat_map(strategies::mutated),
            prop::bool::weighted(0.15),
            strategies::api_headers(),
            token,
        )
            .prop_map(move |(method, id, form, in_query, headers, token)| {
                // Ids: the route's own placeholder, or one the case made up.
                let path = if id.is_empty() {
                    path.replace("{id}", "mine")
                } else {
                    path.replace("{cs}", &id)
                        .replace("{evt}", &id)
                        .replace("{id}", &id)
                };
                ControlCase {
                    method,
                    path,
                    form,
                    in_query,
                    headers,
                    token,
                }
            })
    })
}

pub fn run(h: &Harness, c: ControlCase) -> Result<(), proptest::test_runner::TestCaseError> {
    let f = h.fixtures(KEY);
    let mut headers = c.headers.clone();
    if let Some(t) = &c.token {
        headers.push(("X-Control-Token".into(), t.clone()));
    }
    let req = strategies::build(&c.method, &c.path, &c.form, c.in_query, &headers, &f);
    let reply = exchange(h, &req)?;
    if reply.status == 200 && c.method == "POST" && req.path() == "/_config/faults" {
        // Undo it with the same credentials (the fault is the account's).
        let mut undo = Request::new("DELETE", "/_config/faults");
        undo.headers = headers
            .iter()
            .filter(|(n, _)| n != "Content-Type")
            .cloned()
            .collect();
        let undone = exchange(h, &undo)?;
        assert_eq!(undone.status, 200, "{}", undone.summary());
    }
    if reply.status == 200 && c.method == "DELETE" && req.path() == "/_config/data" {
        h.refresh_fixtures(KEY);
    }
    Ok(())
}

#[test]
fn fuzz_control_routes() {
    let h = Harness::start(Harness::default_config());
    h.campaign("/_config", 400, case(None), run);
}

const TOKEN: &str = "control-token-fuzz-0001";

#[test]
fn fuzz_control_routes_behind_a_token() {
    let h = Harness::start(mock_stripe::Config {
        control_token: Some(TOKEN.into()),
        ..Harness::default_config()
    });
    h.campaign("/_config (token)", 200, case(Some(TOKEN)), run);
}
