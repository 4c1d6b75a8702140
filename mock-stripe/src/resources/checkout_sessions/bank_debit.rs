//! Paying a session by bank debit (SEPA Direct Debit, US bank account): the session
//! completes unpaid at once, and the debit settles or fails later, on the account's clock
//! (contract §2.3, delayed-notification methods). Card payments and 3-D Secure are in
//! `lifecycle.rs`, whose helpers this shares.

use super::lifecycle::{PayResult, ensure_payment_intent, open_session, session_object};
use super::object::{CustomerDetails, PaymentStatus, Status};
use crate::bank_debits::BankAccount;
use crate::engine::agenda::Job;
use crate::ids::prefix;
use crate::protocol::ApiResult;
use crate::resources::events::{EventRequest, emit, snapshot};
use crate::resources::payment_intents::{Charge, ChargeMethod, LastError, MethodType, PiStatus};
use crate::resources::payment_methods;
use crate::store::Account;

/// Pays an open session by bank debit (a delayed-notification method, contract §2.3): the
/// session completes with `payment_status=unpaid` and emits `payment_intent.created` (first
/// attempt), `charge.pending`, `payment_intent.processing`, `checkout.session.completed`;
/// the debit settles (or fails) after the account's `async_payment_delay`, on its clock
/// ([`settle_payment`]).
pub(crate) fn pay_by_bank(
    account: &mut Account,
    id: &str,
    bank: &BankAccount,
    email: &str,
    name: Option<&str>,
) -> ApiResult<PayResult> {
    pay_by_bank_with_method(account, id, bank, email, name, None)
}

/// [`pay_by_bank`] with a PaymentMethod that exists already (see [`pay_with_method`]).
pub(crate) fn pay_by_bank_with_method(
    account: &mut Account,
    id: &str,
    bank: &BankAccount,
    email: &str,
    name: Option<&str>,
    method: Option<&str>,
) -> ApiResult<PayResult> {
    let request = EventRequest::default();
    if let Err(answer) = open_session(account, id)? {
        return Ok(answer);
    }
    let pi_id = ensure_payment_intent(account, id, bank.kind.as_str(), &request)?;
    let now = account.now();
    let (amount, currency, description, customer) = {
        let pi = account.payment_intents.get(&pi_id).expect("ensured above");
        (
            pi.amount,
            pi.currency.clone(),
            pi.data.description.clone(),
            pi.customer.clone(),
        )
    };
    let charge = Charge {
        id: account.ids.object(prefix::CHARGE),
        created: now,
        amount,
        currency,
        payment_intent: pi_id.clone(),
        payment_method: match method {
            Some(pm) => pm.to_string(),
            None => payment_methods::record_bank(account, bank, Some(email), name),
        },
        method: ChargeMethod::Bank(bank.clone()),
        email: Some(email.to_string()),
        name: name.map(str::to_string),
        pending: true,
        failure: None,
        description,
        capture: Default::default(),
        amount_refunded: 0,
        customer,
    };
    let charge_obj = snapshot(&charge.json())?;
    let (charge_id, pm_id) = (charge.id.clone(), charge.payment_method.clone());
    account.charges.insert(charge);
    let pi = account
        .payment_intents
        .get_mut(&pi_id)
        .expect("ensured above");
    pi.latest_charge = Some(charge_id.clone());
    pi.payment_method = Some(pm_id);
    pi.status = PiStatus::Processing;
    pi.last_payment_error = None;
    let charge_obj =
        super::catalog::on_completion(account, id, Some(email), name, &request, Some(&charge_id))?
            .unwrap_or(charge_obj);
    let pi = account
        .payment_intents
        .get_mut(&pi_id)
        .expect("ensured above");
    let pi_obj = snapshot(&pi.json(None))?;
    let session = account.sessions.get_mut(id).expect("checked above");
    session.status = Status::Complete;
    session.customer_details = Some(Box::new(CustomerDetails {
        email: Some(email.to_string()),
        name: name.map(str::to_string),
    }));
    session.pending_authentication = None;
    let session = session.clone();
    let session_obj = session_object(&session);
    emit(account, "charge.pending", charge_obj, &request)?;
    emit(account, "payment_intent.processing", pi_obj, &request)?;
    emit(account, "checkout.session.completed", session_obj, &request)?;
    let due = (now + account.settings.async_payment_delay_secs).saturating_mul(1000);
    account
        .agenda
        .schedule(due, Job::SettlePayment(id.to_string()));
    Ok(PayResult::Completed(session.redirect_url()))
}

/// The agenda's settlement job: the bank debit of a completed, unpaid session succeeds
/// (`charge.succeeded`, `payment_intent.succeeded`,
/// `checkout.session.async_payment_succeeded`; the session becomes `paid`) or fails
/// (`charge.failed`, `payment_intent.payment_failed`,
/// `checkout.session.async_payment_failed`), as its account number says.
pub(crate) fn settle_payment(account: &mut Account, id: &str) -> ApiResult<()> {
    let Some(session) = account.sessions.get(id) else {
        return Ok(());
    };
    let Some(pi_id) = session.payment_intent.clone() else {
        return Ok(());
    };
    let processing = account
        .payment_intents
        .get(&pi_id)
        .is_some_and(|pi| pi.status == PiStatus::Processing);
    if session.payment_status != PaymentStatus::Unpaid || !processing {
        return Ok(());
    }
    let request = EventRequest::default();
    let charge_id = account
        .payment_intents
        .get(&pi_id)
        .and_then(|pi| pi.latest_charge.clone())
        .unwrap_or_default();
    let Some(charge) = account.charges.get_mut(&charge_id) else {
        return Ok(());
    };
    let (failure, method_type) = match &charge.method {
        ChargeMethod::Bank(b) => (b.failure.clone(), MethodType::Bank(b.kind)),
        ChargeMethod::Card(_) => (None, MethodType::Card),
    };
    charge.pending = false;
    charge.failure = failure.clone();
    let charge_obj = snapshot(&charge.json())?;
    let pi = account
        .payment_intents
        .get_mut(&pi_id)
        .expect("looked up above");
    match failure {
        None => {
            pi.status = PiStatus::Succeeded;
            let pi_obj = snapshot(&pi.json(None))?;
            let session = account.sessions.get_mut(id).expect("looked up above");
            session.payment_status = PaymentStatus::Paid;
            let session = session.clone();
            let obj = session_object(&session);
            emit(account, "charge.succeeded", charge_obj, &request)?;
            emit(account, "payment_intent.succeeded", pi_obj, &request)?;
            emit(
                account,
                "checkout.session.async_payment_succeeded",
                obj,
                &request,
            )
        }
        Some(error) => {
            pi.status = PiStatus::RequiresPaymentMethod;
            pi.last_payment_error = Some(LastError {
                error,
                method_type,
                charge: Some(charge_id),
            });
            let pi_obj = snapshot(&pi.json(None))?;
            let session = account.sessions.get(id).expect("looked up above").clone();
            let obj = session_object(&session);
            emit(account, "charge.failed", charge_obj, &request)?;
            emit(account, "payment_intent.payment_failed", pi_obj, &request)?;
            emit(
                account,
                "checkout.session.async_payment_failed",
                obj,
                &request,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::resources::test_support::event_types;

    #[test]
    fn a_bank_debit_completes_unpaid_and_settles_on_the_clock() {
        let mut a = account();
        let id = new_session(&mut a);
        let bank = crate::bank_debits::BankKind::UsBankAccount.test_account(true);
        let r = pay_by_bank(&mut a, &id, &bank, "b@e.test", Some("Jenny")).unwrap();
        assert!(matches!(r, PayResult::Completed(Some(_))));
        let s = a.sessions.get(&id).unwrap();
        assert_eq!(
            (s.status, s.payment_status),
            (Status::Complete, PaymentStatus::Unpaid)
        );
        // Settlement is due after the account's delay (3 days by default), not before.
        let due = (NOW + a.settings.async_payment_delay_secs) * 1000;
        let settles = Job::SettlePayment(id.clone());
        let before: Vec<Job> = std::iter::from_fn(|| a.agenda.pop_due(due - 1))
            .map(|(_, j)| j)
            .collect();
        assert!(!before.contains(&settles), "{before:?}");
        assert_eq!(a.agenda.pop_due(due).map(|(_, j)| j), Some(settles));
        settle_payment(&mut a, &id).unwrap();
        assert_eq!(
            a.sessions.get(&id).unwrap().payment_status,
            PaymentStatus::Paid
        );
        settle_payment(&mut a, &id).unwrap();
        assert_eq!(
            &event_types(&a)[1..],
            [
                "charge.pending",
                "payment_intent.processing",
                "checkout.session.completed",
                "charge.succeeded",
                "payment_intent.succeeded",
                "checkout.session.async_payment_succeeded"
            ],
            "settles once"
        );
    }
}
