//! `*` wildcards in event types (`type=checkout.session.*` on `GET /v1/events`, the
//! `enabled_events` of webhook endpoints).
//!
//! A naive matcher that tries every split for every `*` is exponential in the number of
//! stars: a `type=` of fourteen stars took minutes while holding the account lock. This one
//! is the classic greedy two-pointer: when a literal fails to match, only the most recent
//! `*` is made to swallow one more character. That is enough because a later `*` can absorb
//! whatever an earlier one could, so the work is at most len(pattern) × len(text), without
//! allocating.

use super::error::ApiError;

/// Longest pattern accepted. Stripe's event types are under 60 characters; the bound keeps
/// the (already polynomial) matching cost per event small.
pub(crate) const MAX_PATTERN_LEN: usize = 100;

/// Whether `text` matches `pattern`, where `*` matches any run of characters (empty
/// included) and every other character matches only itself.
///
/// Works on bytes: `*` is ASCII and UTF-8 is self-synchronizing, so a literal can only match
/// at character boundaries and the answer is the same as matching by `char`.
pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // After the last `*` seen: the pattern index just past it, and the text index where the
    // part matched by that star ends.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, ti));
            }
            Some(&c) if c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                // Backtrack: the last star takes one more character.
                Some((after_star, star_end)) => {
                    pi = after_star;
                    ti = star_end + 1;
                    star = Some((after_star, ti));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// Rejects a pattern longer than [`MAX_PATTERN_LEN`] bytes with a 400 naming `param`.
pub(crate) fn check_pattern(param: &str, pattern: &str) -> Result<(), ApiError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(ApiError::invalid(
            param,
            format!("Invalid {param}: it may be at most {MAX_PATTERN_LEN} characters long."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use std::time::{Duration, Instant};

    #[test]
    fn wildcards() {
        assert!(matches("*", "checkout.session.completed"));
        assert!(matches("checkout.session.*", "checkout.session.completed"));
        assert!(!matches("checkout.session.*", "charge.succeeded"));
        assert!(matches("charge.succeeded", "charge.succeeded"));
        assert!(!matches("charge", "charge.succeeded"));
        assert!(matches("*.succeeded", "payment_intent.succeeded"));
        assert!(!matches("*.succeeded", "payment_intent.payment_failed"));
    }

    #[test]
    fn edges() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("*", ""));
        assert!(matches("**", ""));
        assert!(!matches("a", ""));
        assert!(matches("a*", "a"));
        assert!(matches("*a", "a"));
        assert!(!matches("*a", "ab"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(matches("a*b*c", "abbbcbc"));
        assert!(!matches("a*b*c", "abbbcb"));
        // Everything other than `*` is literal.
        assert!(!matches("charge?succeeded", "charge.succeeded"));
        assert!(!matches("charge.", "chargeX"));
        // Non-ASCII text and patterns.
        assert!(matches("é*", "été"));
        assert!(matches("*té", "été"));
        assert!(!matches("*t", "été"));
        assert!(matches("*🦀*", "a🦀b"));
        assert!(!matches("a*é", "a🦀"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let text = "a".repeat(10_000);
        let started = Instant::now();
        assert!(!matches("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", &text));
        let worst = format!("{}b", "*a".repeat(49));
        assert!(worst.len() <= MAX_PATTERN_LEN);
        assert!(!matches(&worst, &text));
        assert!(matches("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", &text));
        assert!(matches(&"*".repeat(MAX_PATTERN_LEN), &text));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    /// Tries every split for every star: obviously right, exponential, fine for short input.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    /// Every string over `alphabet` of length 0..=max_len.
    fn all_strings(alphabet: &[char], max_len: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    #[test]
    fn agrees_with_the_reference_on_all_short_strings() {
        // Texts may contain `*` too: there it is an ordinary character.
        let patterns = all_strings(&['a', 'b', '*', '.'], 5);
        let texts = all_strings(&['a', 'b', '.', '*'], 5);
        let mut checked = 0;
        for p in &patterns {
            let pc: Vec<char> = p.chars().collect();
            for t in &texts {
                let tc: Vec<char> = t.chars().collect();
                assert_eq!(matches(p, t), reference(&pc, &tc), "{p:?} vs {t:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 1365 * 1365);
    }

    #[test]
    fn agrees_with_the_reference_on_multibyte_text() {
        for p in all_strings(&['é', '*', 'a'], 4) {
            let pc: Vec<char> = p.chars().collect();
            for t in all_strings(&['é', 'a', '🦀'], 4) {
                let tc: Vec<char> = t.chars().collect();
                assert_eq!(matches(&p, &t), reference(&pc, &tc), "{p:?} vs {t:?}");
            }
        }
    }

    #[test]
    fn check_pattern_limits_length() {
        check_pattern("type", "checkout.session.*").unwrap();
        check_pattern("type", &"*".repeat(MAX_PATTERN_LEN)).unwrap();
        let err = check_pattern("types[2]", &"*".repeat(MAX_PATTERN_LEN + 1)).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some("types[2]"));
        assert_eq!(
            err.message,
            "Invalid types[2]: it may be at most 100 characters long."
        );
    }
}
