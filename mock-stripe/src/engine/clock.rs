//! Time as a value: every account reads "now" from its own clock. Real by default; virtual
//! once a test pins or advances it (`/_config/clock`), and then it stands still between
//! moves, so what a test sees does not depend on how fast the machine is.
//!
//! Rules:
//! * everything time-driven reads the account's clock: `created`, `expires_at`, webhook
//!   retry due times, delayed payment outcomes (see `agenda.rs` for what falls due);
//! * the only reader of wall time besides `Clock::Real` is the `t=` of webhook signatures
//!   ([`wall_now`]), because receivers compare it with their own clock;
//! * the clock keeps milliseconds (retry schedules are finer than a second); Stripe's
//!   timestamps are its whole seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// The clock of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Clock {
    /// The machine's clock.
    #[default]
    Real,
    /// Stands at this instant (unix milliseconds) until it is moved.
    Virtual(i64),
}

impl Clock {
    /// A virtual clock at `unix` seconds.
    pub fn at(unix: i64) -> Clock {
        Clock::Virtual(unix.saturating_mul(1000))
    }

    /// Unix seconds, as in every Stripe timestamp.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::Real => wall_now_ms(),
            Clock::Virtual(ms) => *ms,
        }
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    /// Makes the clock virtual at `ms`.
    pub fn set_ms(&mut self, ms: i64) {
        *self = Clock::Virtual(ms);
    }
}

/// Real wall time in seconds. Only for what must stay real whatever an account's clock
/// says: the `t=` of webhook signatures, which receivers compare with their own clock.
pub(crate) fn wall_now() -> i64 {
    wall_now_ms().div_euclid(1000)
}

pub(crate) fn wall_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Calendar (year, month 1..=12) of a unix timestamp, UTC. Used to check card expiry dates.
pub(crate) fn year_month(unix: i64) -> (i64, u32) {
    // Days since 1970-01-01 → civil date (proleptic Gregorian), by eras of 400 years.
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_month_known_dates() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_700_000_000), (2023, 11)); // 2023-11-14
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
        assert_eq!(year_month(1_709_251_199), (2024, 2)); // 2024-02-29 23:59:59
        assert_eq!(year_month(1_709_251_200), (2024, 3));
    }

    #[test]
    fn a_virtual_clock_stands_still_until_moved() {
        let mut c = Clock::at(42);
        assert_eq!(c.now(), 42);
        assert_eq!(c.now_ms(), 42_000);
        assert!(c.is_virtual());
        c.set_ms(43_500);
        assert_eq!(c.now(), 43);
        assert!(Clock::Real.now() > 1_700_000_000);
        assert!(!Clock::Real.is_virtual());
    }
}
