//! `/_config/clock`: the account's clock. Real by default; pinning or advancing makes it
//! virtual (it stands still between moves); `DELETE` returns it to real time.

use serde::Serialize;

use super::{Call, ok};
use crate::engine::clock::Clock;
use crate::protocol::{ApiError, ApiResult, Fields};
use crate::server::Resp;
use crate::store::lock;

/// The furthest one advance may move (ten years): a bound on a client's typo, not on tests.
const MAX_ADVANCE_SECS: i64 = 10 * 366 * 86_400;

/// The latest a clock may show, pinned or advanced: 9999-12-31T23:59:59Z (dates beyond it
/// have no four-digit year, which card expiries and date formats need).
const MAX_TIME: i64 = 253_402_300_799;

#[derive(Serialize)]
struct ClockJson {
    object: &'static str,
    /// `real` or `virtual`.
    mode: &'static str,
    /// Unix seconds on the account's clock.
    now: i64,
    now_ms: i64,
    /// Jobs waiting on the clock: deliveries and retries, expiries, settlements.
    scheduled: usize,
}

fn render(clock: &Clock, scheduled: usize) -> ClockJson {
    ClockJson {
        object: "mock_clock",
        mode: if clock.is_virtual() {
            "virtual"
        } else {
            "real"
        },
        now: clock.now(),
        now_ms: clock.now_ms(),
        scheduled,
    }
}

fn current(call: &Call<'_>) -> ApiResult<Resp> {
    let acc = lock(call.account()?);
    ok(&render(&acc.clock, acc.agenda.len()))
}

/// `GET /_config/clock`
pub(super) fn show(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    current(call)
}

/// `POST /_config/clock` with `frozen_at` (unix seconds): pins the clock there. What fell
/// due before that instant runs now, in time order.
pub(super) fn pin(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let frozen_at = f
        .int("frozen_at")?
        .ok_or_else(|| ApiError::missing("frozen_at"))?;
    f.finish()?;
    if !(0..=MAX_TIME).contains(&frozen_at) {
        return Err(ApiError::invalid(
            "frozen_at",
            "frozen_at must be a unix time in seconds between 1970 and 9999.",
        ));
    }
    let account = call.account()?;
    call.app
        .engine
        .step(account, |acc| acc.clock = Clock::at(frozen_at));
    call.app.engine.run_due(account);
    current(call)
}

/// `POST /_config/clock/advance` with `seconds`: moves the clock forward, running
/// everything that falls due on the way, in time order, before answering.
pub(super) async fn advance(call: &Call<'_>) -> ApiResult<Resp> {
    let mut f = Fields::root(&call.params);
    let seconds = f
        .int("seconds")?
        .ok_or_else(|| ApiError::missing("seconds"))?;
    f.finish()?;
    if seconds < 0 {
        return Err(ApiError::too_small("seconds", 0));
    }
    if seconds > MAX_ADVANCE_SECS {
        return Err(ApiError::too_large("seconds", MAX_ADVANCE_SECS));
    }
    let account = call.account()?;
    let target = lock(account).clock.now_ms() + seconds * 1000;
    if target > MAX_TIME * 1000 + 999 {
        return Err(ApiError::invalid(
            "seconds",
            "seconds would move the clock past 9999-12-31T23:59:59Z, the latest it may show.",
        ));
    }
    call.app.engine.advance_to(account, target).await;
    current(call)
}

/// `DELETE /_config/clock`: back to real time.
pub(super) fn release(call: &Call<'_>) -> ApiResult<Resp> {
    Fields::root(&call.params).finish()?;
    let account = call.account()?;
    call.app.engine.step(account, |acc| acc.clock = Clock::Real);
    call.app.engine.run_due(account);
    current(call)
}
