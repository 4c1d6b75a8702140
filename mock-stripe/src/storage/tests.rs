//! Records replay into the same account; replaying one twice changes nothing.

use std::collections::BTreeMap;

use super::changes::{self, RecordIn};
use crate::engine::clock::Clock;
use crate::resources::customers;
use crate::resources::test_support::call;
use crate::store::{Account, AccountDefaults};

fn journaled() -> Account {
    let defaults = AccountDefaults {
        journaled: true,
        seed: Some(3),
        ..AccountDefaults::default()
    };
    Account::new("sk_test_unit", Clock::at(1_700_000_000), &defaults)
}

fn decoded(bytes: &[u8]) -> RecordIn {
    changes::decode(bytes).expect("a record decodes")
}

/// Customers as the API lists them, emails and ids.
fn customers_of(a: &Account) -> Vec<(String, Option<String>)> {
    a.customers
        .rows()
        .iter()
        .map(|c| (c.id.clone(), c.email.clone()))
        .collect()
}

#[test]
fn a_step_record_rebuilds_what_it_changed_and_applies_twice_harmlessly() {
    let mut live = journaled();
    let mut records = Vec::new();
    for email in ["a%40x.test", "b%40x.test"] {
        call(customers::create, &mut live, &format!("email={email}")).unwrap();
        records.push(changes::take_record(&mut live).expect("the step changed something"));
    }
    assert!(
        changes::take_record(&mut live).is_none(),
        "nothing changed since"
    );

    let mut replayed = journaled();
    let mut jobs = BTreeMap::new();
    for r in records.iter().chain(&records) {
        changes::apply(&mut replayed, decoded(r), &mut jobs);
    }
    assert_eq!(customers_of(&replayed), customers_of(&live));
    assert_eq!(replayed.events.len(), live.events.len());
    // The seeded id stream goes on where it stopped: the next id is the live one's.
    let next_live = live.ids.object("cus_");
    assert_eq!(replayed.ids.object("cus_"), next_live);
}

#[test]
fn a_snapshot_followed_by_an_overlapping_journal_ends_in_the_same_state() {
    let mut live = journaled();
    call(customers::create, &mut live, "email=first%40x.test").unwrap();
    let first = changes::take_record(&mut live).unwrap();
    let mut snapshot = Vec::new();
    changes::dump(&live, &mut |r| snapshot.push(r));
    call(customers::create, &mut live, "email=second%40x.test").unwrap();
    let second = changes::take_record(&mut live).unwrap();

    // The snapshot was taken after `first`, which the journal replays again.
    let mut replayed = journaled();
    let mut jobs = BTreeMap::new();
    for r in snapshot.iter().chain([&first, &second]) {
        changes::apply(&mut replayed, decoded(r), &mut jobs);
    }
    assert_eq!(customers_of(&replayed), customers_of(&live));
}

#[test]
fn an_emptied_account_is_recorded_as_a_reset() {
    let mut live = journaled();
    call(customers::create, &mut live, "email=gone%40x.test").unwrap();
    let before = changes::take_record(&mut live).unwrap();
    live.reset();
    let reset = changes::take_record(&mut live).expect("a reset is a change");

    let mut replayed = journaled();
    let mut jobs = BTreeMap::new();
    for r in [&before, &reset] {
        changes::apply(&mut replayed, decoded(r), &mut jobs);
    }
    assert_eq!(replayed.customers.rows().len(), 0);
}

#[test]
fn accounts_without_a_data_directory_record_nothing() {
    let mut a = Account::at(1_700_000_000);
    call(customers::create, &mut a, "email=x%40x.test").unwrap();
    assert!(changes::take_record(&mut a).is_none());
}
