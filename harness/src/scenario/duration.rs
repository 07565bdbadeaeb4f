//! Durations as scenario files write them: `"500us"`, `"1ms"`, `"1.5s"`, `"1m"`.

use std::fmt;
use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// The string starts with `-`: durations (and points in time) are never negative.
    Negative,
    /// Not a number followed by a unit.
    Malformed,
    /// A number without a unit (other than a plain `0`).
    MissingUnit,
    /// A unit other than `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    UnknownUnit(String),
    /// More than about 584 years, which does not fit in nanoseconds.
    TooLarge,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Negative => write!(f, "is negative"),
            DurationError::Malformed => {
                write!(
                    f,
                    "is not a duration (write a number and a unit, like \"1.5s\")"
                )
            }
            DurationError::MissingUnit => {
                write!(f, "has no unit (add one of ns, us, ms, s, m, h)")
            }
            DurationError::UnknownUnit(u) => {
                write!(f, "has unknown unit \"{u}\" (use ns, us, ms, s, m or h)")
            }
            DurationError::TooLarge => write!(f, "is too large"),
        }
    }
}

/// Parses a duration such as `"1ms"`, `"2s"`, `"1.5s"`, `"500us"` or `"1m"`.
///
/// Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`. A fraction is allowed
/// (`"0.25s"`) and truncated to whole nanoseconds; `"0"` alone is zero.
///
/// ```
/// use std::time::Duration;
/// use tumult_harness::scenario::parse_duration;
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
/// assert!(parse_duration("-1s").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: String = number.chars().filter(|&c| c != '_').collect();
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    if (int_part.is_empty() && frac_part.is_empty())
        || frac_part.contains('.')
        || (number.contains('.') && frac_part.is_empty())
    {
        return Err(DurationError::Malformed);
    }
    let unit = unit.trim();
    let scale: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "" => {
            let all_zero = int_part.chars().chain(frac_part.chars()).all(|c| c == '0');
            return if all_zero {
                Ok(Duration::ZERO)
            } else {
                Err(DurationError::MissingUnit)
            };
        }
        other => {
            if other.chars().any(|c| c.is_ascii_digit() || c == '.') {
                return Err(DurationError::Malformed);
            }
            return Err(DurationError::UnknownUnit(other.to_string()));
        }
    };
    let whole: u128 = if int_part.is_empty() {
        0
    } else {
        if int_part.len() > 30 {
            return Err(DurationError::TooLarge);
        }
        int_part.parse().map_err(|_| DurationError::Malformed)?
    };
    let mut nanos = whole.checked_mul(scale).ok_or(DurationError::TooLarge)?;
    // The fraction: digits beyond nanosecond precision are truncated.
    let mut place = scale;
    for c in frac_part.chars() {
        let d = c.to_digit(10).ok_or(DurationError::Malformed)? as u128;
        if place < 10 {
            break;
        }
        place /= 10;
        nanos += d * place;
    }
    if nanos > u64::MAX as u128 {
        return Err(DurationError::TooLarge);
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Renders a duration the way scenario files write it, choosing the largest
/// unit that keeps it exact: `1.5s`, `500us`, `3ms`, `0s`.
///
/// ```
/// use std::time::Duration;
/// use tumult_harness::scenario::format_duration;
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(format_duration(Duration::from_secs(2)), "2s");
/// ```
pub fn format_duration(d: Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0s".to_string();
    }
    for (unit, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if n.is_multiple_of(scale) {
            return format!("{}{unit}", n / scale);
        }
    }
    format!("{n}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("500µs"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1_000ms"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("0.0000000019s"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn refuses_bad_durations() {
        assert_eq!(parse_duration("-1s"), Err(DurationError::Negative));
        assert_eq!(parse_duration("5"), Err(DurationError::MissingUnit));
        assert_eq!(
            parse_duration("5 parsecs"),
            Err(DurationError::UnknownUnit("parsecs".into()))
        );
        assert_eq!(parse_duration("s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration(""), Err(DurationError::Malformed));
        assert_eq!(parse_duration("1.2.3s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("1.s"), Err(DurationError::Malformed));
        assert_eq!(parse_duration("1s5ms"), Err(DurationError::Malformed));
        assert_eq!(
            parse_duration("99999999999999999999999999999999h"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(parse_duration("6000000h"), Err(DurationError::TooLarge));
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1ms", "2s", "500us", "1m", "7ns", "0s", "1500ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
