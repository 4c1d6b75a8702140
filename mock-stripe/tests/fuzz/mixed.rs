//! Sequences mixing every family: `/v1` calls, control calls (the clock, settings, data,
//! headless completion; not faults, whose 5xx are on purpose) and the browser's pages, so
//! that each request meets the state the others leave (a clock pinned at 9999, a session
//! paid by the page then expired through the API, an account emptied under a page).

use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::{Harness, KEY, control, pages, v1};

#[derive(Clone, Debug)]
pub enum Step {
    Api(v1::ApiCase),
    Control(control::ControlCase),
    Page(pages::PageCase),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => v1::case().prop_map(Step::Api),
        2 => control::case(None)
            .prop_filter("faults are fuzzed alone", |c| !c.makes_faults())
            .prop_map(Step::Control),
        3 => pages::case().prop_map(Step::Page),
    ]
}

#[test]
fn fuzz_mixed_sequences() {
    let h = Harness::start(Harness::default_config());
    let counter = AtomicU32::new(0);
    h.campaign(
        "mixed",
        150,
        prop::collection::vec(step(), 1..6),
        |h, steps| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(10) {
                h.refresh_fixtures(KEY);
            }
            for s in steps {
                let mut f = h.fixtures(KEY);
                match s {
                    Step::Api(c) => v1::run(h, &c, &f)?,
                    Step::Control(c) => control::run(h, c)?,
                    Step::Page(c) => pages::run(h, &c, &mut f)?,
                }
            }
            Ok::<(), TestCaseError>(())
        },
    );
}
