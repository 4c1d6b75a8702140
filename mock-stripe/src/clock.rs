//! Time as a value: every account reads "now" from its own clock, so that expiry and
//! schedules can later follow a virtual clock without touching the code that uses them.

use std::time::{SystemTime, UNIX_EPOCH};

/// The clock of one account. Timestamps are unix seconds, as everywhere in Stripe.
#[derive(Clone, Debug, Default)]
pub(crate) enum Clock {
    /// The machine's clock.
    #[default]
    Real,
    /// Stands still at the given instant (unit tests).
    #[cfg_attr(not(test), allow(dead_code))]
    Fixed(i64),
}

impl Clock {
    pub fn now(&self) -> i64 {
        match self {
            Clock::Real => wall_now(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Real wall time. Only for what must stay real whatever an account's clock says:
/// the `t=` of webhook signatures, which receivers compare with their own clock.
pub(crate) fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    fn fixed_clock_stands_still() {
        assert_eq!(Clock::Fixed(42).now(), 42);
        assert!(Clock::Real.now() > 1_700_000_000);
    }
}
