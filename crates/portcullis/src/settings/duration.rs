//! Durations: cbsecurity's whole minutes, or `ms`-style literals.
//!
//! * A plain integer means **whole minutes**, as in cbsecurity (`expiration = 60`).
//! * A string is a literal made of one or more `<number><unit>` parts: `"500ms"`, `"90s"`,
//!   `"15m"`, `"2h"`, `"1d"`, `"1w"`, `"1h30m"`, `"1.5h"`. Units: `ms`, `s`, `m`, `h`, `d`, `w`
//!   and their long forms (`sec`, `seconds`, `min`, `minutes`, `hours`, `days`, `weeks`).
//! * A string of digits only (`"60"`) is minutes too, so environment variables behave like
//!   the file.
//! * Negative values and precision finer than a millisecond are errors.
//!
//! Durations are written back as a compact literal (`5400 s` → `"1h30m"`).
//!
//! A few portcullis keys that are naturally short (`jwt.leeway`, `jwt.refresh_reuse_overlap`)
//! require a unit: a bare number there is refused rather than silently read as minutes.
//!
//! ```
//! use std::time::Duration;
//! use portcullis::settings::duration;
//!
//! assert_eq!(duration::parse("1h30m"), Ok(Duration::from_secs(5400)));
//! assert_eq!(duration::parse("60"), Ok(Duration::from_secs(3600)));
//! assert_eq!(duration::format(Duration::from_secs(5400)), "1h30m");
//! assert!(duration::parse("abc").is_err());
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;

const HINT: &str = "use whole minutes, or a literal such as 90s, 15m, 1d";

const MILLI: u128 = 1_000_000;
const UNITS: &[(&[&str], u128)] = &[
    (
        &["ms", "msec", "msecs", "millisecond", "milliseconds"],
        MILLI,
    ),
    (&["s", "sec", "secs", "second", "seconds"], 1_000 * MILLI),
    (&["m", "min", "mins", "minute", "minutes"], 60_000 * MILLI),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000 * MILLI),
    (&["d", "day", "days"], 86_400_000 * MILLI),
    (&["w", "wk", "wks", "week", "weeks"], 604_800_000 * MILLI),
];

fn not_a_duration(text: &str) -> String {
    format!("{text:?} is not a duration ({HINT})")
}

/// Whole minutes as a duration, or an error if the number is too large.
pub fn from_minutes(minutes: u64) -> Result<Duration, String> {
    minutes
        .checked_mul(60)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{minutes} minutes is too long a duration"))
}

/// Parses a duration literal (see the module documentation). A string of digits alone is
/// whole minutes.
///
/// # Errors
/// A message such as `"abc" is not a duration (use whole minutes, or a literal such as 90s,
/// 15m, 1d)`; the caller adds the setting's key.
pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') {
        return Err(format!(
            "{text:?} is negative: durations cannot be negative"
        ));
    }
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let minutes = trimmed.parse::<u64>().map_err(|_| not_a_duration(text))?;
        return from_minutes(minutes);
    }
    let mut rest = trimmed;
    let mut total: u128 = 0;
    let mut parts = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = UNITS
            .iter()
            .find(|(names, _)| names.iter().any(|name| name.eq_ignore_ascii_case(unit)))
            .map(|(_, scale)| *scale)
            .ok_or_else(|| not_a_duration(text))?;
        let nanos = scaled(number, scale).ok_or_else(|| not_a_duration(text))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        parts += 1;
        rest = after.trim_start();
    }
    if parts == 0 {
        return Err(not_a_duration(text));
    }
    if total % MILLI != 0 {
        return Err(format!(
            "{text:?} is finer than a millisecond: durations are whole milliseconds"
        ));
    }
    let millis =
        u64::try_from(total / MILLI).map_err(|_| format!("{text:?} is too long a duration"))?;
    Ok(Duration::from_millis(millis))
}

/// `number` (digits with an optional fraction) times `scale` nanoseconds.
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || !digits_only(fraction) || fraction.len() > 9 {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(scale)?;
    if !fraction.is_empty() {
        let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
        let numerator: u128 = fraction.parse().ok()?;
        let part = numerator.checked_mul(scale)?;
        if part % denominator != 0 {
            return None;
        }
        nanos = nanos.checked_add(part / denominator)?;
    }
    Some(nanos)
}

/// Writes a duration as a compact literal: `1w1d`, `1h30m`, `90ms`; zero is `0s`.
/// Sub-millisecond remainders (which [`parse`] never produces) are dropped.
pub fn format(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800_000u128),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        let count = millis / size;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(unit);
            millis %= size;
        }
    }
    out
}

struct DurationVisitor {
    unit_required: bool,
}

impl DurationVisitor {
    fn minutes_to_duration<E: de::Error>(&self, minutes: u64) -> Result<Duration, E> {
        if self.unit_required && minutes != 0 {
            return Err(E::custom(format!(
                "{minutes} has no unit: write a literal such as {minutes}s (a bare number would \
                 be read as minutes)"
            )));
        }
        from_minutes(minutes).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a duration ({HINT})")
    }

    fn visit_u64<E: de::Error>(self, minutes: u64) -> Result<Duration, E> {
        self.minutes_to_duration(minutes)
    }

    fn visit_i64<E: de::Error>(self, minutes: i64) -> Result<Duration, E> {
        match u64::try_from(minutes) {
            Ok(minutes) => self.minutes_to_duration(minutes),
            Err(_) => Err(E::custom(format!(
                "{minutes} is negative: durations cannot be negative"
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
        Err(E::custom(format!("{value} is not a duration ({HINT})")))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        let trimmed = text.trim();
        if self.unit_required
            && !trimmed.is_empty()
            && trimmed != "0"
            && trimmed.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(E::custom(format!(
                "{text:?} has no unit: write a literal such as {trimmed}s (a bare number would \
                 be read as minutes)"
            )));
        }
        parse(text).map_err(E::custom)
    }
}

/// Serializes a duration as a compact literal.
fn serialize_literal<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(*duration))
}

/// `#[serde(with)]` module: an integer is whole minutes, a string a literal.
pub(crate) mod minutes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        serialize_literal(duration, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor {
            unit_required: false,
        })
    }
}

/// `#[serde(with)]` module for short, portcullis-only durations: a literal with a unit is
/// required (only `0` may stand alone).
pub(crate) mod literal {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        serialize_literal(duration, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor {
            unit_required: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn every_literal_form() {
        for (text, expected) in [
            ("90s", secs(90)),
            ("15m", secs(900)),
            ("2h", secs(7200)),
            ("1d", secs(86_400)),
            ("1w", secs(604_800)),
            ("500ms", Duration::from_millis(500)),
            ("1h30m", secs(5400)),
            ("1h 30m", secs(5400)),
            ("1.5h", secs(5400)),
            ("2 days", secs(172_800)),
            ("10 Minutes", secs(600)),
            ("60", secs(3600)),
            (" 0 ", secs(0)),
            ("0s", secs(0)),
        ] {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn bad_literals() {
        assert_eq!(
            parse("abc"),
            Err(
                "\"abc\" is not a duration (use whole minutes, or a literal such as 90s, 15m, \
                 1d)"
                .to_owned()
            )
        );
        for text in [
            "",
            "5x",
            "1h30",
            "h",
            "1..5h",
            "-5m",
            "1.5ms5",
            "99999999999999999999w",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        assert!(parse("-5m").unwrap_err().contains("negative"));
        assert!(parse("0.5ms").unwrap_err().contains("millisecond"));
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format(secs(0)), "0s");
        assert_eq!(format(secs(5400)), "1h30m");
        assert_eq!(format(secs(604_800 + 86_400)), "1w1d");
        assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
        for text in ["1h30m", "1w1d", "10s", "500ms", "61m"] {
            let parsed = parse(text).unwrap();
            assert_eq!(parse(&format(parsed)), Ok(parsed));
        }
    }

    #[test]
    fn integers_are_minutes() {
        assert_eq!(minutes::deserialize(json!(60)).unwrap(), secs(3600));
        assert!(minutes::deserialize(json!(-1))
            .unwrap_err()
            .to_string()
            .contains("negative"));
        assert!(minutes::deserialize(json!(1.5)).is_err());
        assert!(minutes::deserialize(json!(u64::MAX)).is_err());
    }

    #[test]
    fn literal_requires_a_unit() {
        assert_eq!(literal::deserialize(json!("30s")).unwrap(), secs(30));
        assert_eq!(literal::deserialize(json!(0)).unwrap(), secs(0));
        let err = literal::deserialize(json!(30)).unwrap_err().to_string();
        assert!(err.contains("has no unit"), "{err}");
        assert!(literal::deserialize(json!("30")).is_err());
    }
}
