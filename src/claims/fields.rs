//! The values of the claims CSV, each checked against what its column in
//! the database holds, before any statement runs.
//!
//! The database would catch part of this itself (a charge beyond
//! NUMERIC(14,2), a count beyond INTEGER, a NUL in text), but only inside
//! the import's set-based statements, where no CSV line is known anymore.
//! The rest it would store as given: a date or an amount written loosely
//! (`2024-2-3`, `+2024-01-01`, `1e3`) is a sign of an export gone wrong,
//! and a negative charge is no charge. So every value has one plain form
//! here, and anything else is refused with what was expected.
//!
//! Every check is pure and takes one field; [`super::import::read`] names the
//! line and the column. A [`Problem`] quotes what it found only for dates,
//! amounts, counts and procedures: text columns (the patient's name among
//! them) are described, never quoted, so a refusal can be shown where
//! patient data must not be.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// The largest amount the ledger's money columns hold: NUMERIC(14,2), 12
/// digits before the point. Also bounds a claim's total charge, which a
/// write-off of the whole claim takes as one amount.
pub const AMOUNT_MAX: Decimal = Decimal::from_parts(0x107A_3FFF, 0x5AF3, 0, false, 2);

/// Digits an amount may have before its point (leading zeros aside).
const AMOUNT_WHOLE_DIGITS: usize = 12;

/// The largest count an INTEGER column (`times_billed`) holds.
pub const COUNT_MAX: i32 = i32::MAX;

/// Longest claim id: CLP01, the patient control number the 837 sent and the
/// 835 sends back, is at most 38 characters in both guides (005010X221A1,
/// 004010X091A1); a longer id could never come back whole.
pub const CLAIM_ID_MAX: usize = 38;

/// Longest account number and payer id. Both are the practice's own codes,
/// stored as TEXT, with no X12 bound: 80 characters is far beyond any real
/// one and keeps a mangled export (a whole row in one field) out.
pub const CODE_MAX: usize = 80;

/// Longest patient name: the longest name an 835's NM1 carries (last 60,
/// first 35, middle 25, suffix 10) written `LAST, FIRST MIDDLE SUFFIX` is
/// 134 characters; 150 leaves room for other punctuation.
pub const PATIENT_NAME_MAX: usize = 150;

/// Longest procedure code: SVC01-2 is at most 48 characters.
pub const PROCEDURE_CODE_MAX: usize = 48;

/// A procedure modifier is exactly two characters (SVC01-3 to SVC01-6); a
/// line carries at most four.
pub const MODIFIER_LEN: usize = 2;
pub const MODIFIERS_MAX: usize = 4;

/// Longest line control number: REF02 of REF*6R is at most 50 characters.
pub const LINE_CONTROL_NUMBER_MAX: usize = 50;

/// What is wrong with one value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("is empty")]
    Empty,
    #[error("is not valid UTF-8")]
    NotUtf8,
    #[error("contains the control character U+{code:04X} at character {at}")]
    Control { code: u32, at: usize },
    #[error("is {chars} characters long, at most {max}")]
    TooLong { chars: usize, max: usize },
    #[error("must be a date YYYY-MM-DD, found {0}")]
    Date(Found),
    #[error("must be an amount: digits with at most two decimals (123, 123.4, 123.45), found {0}")]
    Amount(Found),
    #[error("must not be negative, found {0}")]
    Negative(Found),
    #[error("has more than two decimals, found {0}")]
    Decimals(Found),
    #[error("is beyond {AMOUNT_MAX}, the most a NUMERIC(14,2) column holds, found {0}")]
    TooLarge(Found),
    #[error("must be a whole number from 0 to {COUNT_MAX}, found {0}")]
    Count(Found),
    #[error("has no procedure code before its modifiers")]
    NoCode,
    #[error("has a procedure code of {chars} characters, at most {PROCEDURE_CODE_MAX}")]
    CodeTooLong { chars: usize },
    #[error("has the modifier {0}: a modifier is {MODIFIER_LEN} characters")]
    Modifier(Found),
    #[error("carries more than {MODIFIERS_MAX} modifiers")]
    Modifiers,
}

/// A value as a refusal quotes it: escaped, and cut after 24 characters so
/// a message stays one short line whatever the file holds. Used only for
/// values that are not patient data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found(String);

impl Found {
    const SHOWN: usize = 24;

    fn of(raw: &str) -> Found {
        Found(raw.to_string())
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(Found::SHOWN) {
            Some((cut, _)) => write!(f, "{:?}...", &self.0[..cut]),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// A field's bytes as text: valid UTF-8 with no control character (C0,
/// DEL or C1) anywhere, in every column alike. No value of this file has a
/// use for one: PostgreSQL refuses a NUL only mid-import, and a tab or a
/// line break in an id matches nothing an 835 sends (so a quoted field may
/// not span lines either).
pub fn plain(raw: &[u8]) -> Result<&str, Problem> {
    let text = std::str::from_utf8(raw).map_err(|_| Problem::NotUtf8)?;
    match text.chars().enumerate().find(|(_, c)| c.is_control()) {
        Some((i, c)) => Err(Problem::Control { code: u32::from(c), at: i + 1 }),
        None => Ok(text),
    }
}

/// A text value (ids, names, procedures), or `None` when empty. Spaces
/// around it are dropped: matching compares claim ids without them
/// (`upper(btrim(claim_id))`), so ` CLM-1 ` and `CLM-1` are one claim and
/// are stored as one. Spaces inside are kept.
pub fn text(raw: &str, max: usize) -> Result<Option<&str>, Problem> {
    let value = raw.trim_matches(' ');
    let chars = value.chars().count();
    if chars > max {
        return Err(Problem::TooLong { chars, max });
    }
    Ok(Some(value).filter(|v| !v.is_empty()))
}

/// [`text`] that must not be empty.
pub fn required(raw: &str, max: usize) -> Result<&str, Problem> {
    text(raw, max)?.ok_or(Problem::Empty)
}

/// A date in its one form, `YYYY-MM-DD`: exactly four, two and two digits,
/// a day of the calendar (from year 1; chrono's year 0 is 1 BC), no sign, no
/// spaces.
pub fn date(raw: &str) -> Result<NaiveDate, Problem> {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let shaped = b.len() == 10 && b[4] == b'-' && b[7] == b'-' && digits(0..4) && digits(5..7) && digits(8..10);
    let number = |r: std::ops::Range<usize>| raw[r].parse::<u32>().ok();
    shaped
        .then(|| NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?))
        .flatten()
        .filter(|d| d.year() >= 1)
        .ok_or_else(|| Problem::Date(Found::of(raw)))
}

/// An optional [`date`]: empty is `None`.
pub fn optional_date(raw: &str) -> Result<Option<NaiveDate>, Problem> {
    if raw.is_empty() {
        return Ok(None);
    }
    date(raw).map(Some)
}

/// A charge: digits, optionally a point and one or two more (`123`,
/// `123.4`, `123.45`; leading zeros are fine), at most [`AMOUNT_MAX`]. No
/// sign (a claim line's charge is never negative: what it does not cost
/// is a payer's adjustment), no exponent, no separators, no spaces.
/// Read from the digits, never through a float.
pub fn amount(raw: &str) -> Result<Decimal, Problem> {
    let found = || Found::of(raw);
    if let Some(rest) = raw.strip_prefix('-') {
        return match amount(rest) {
            Ok(_) => Err(Problem::Negative(found())),
            Err(_) => Err(Problem::Amount(found())),
        };
    }
    let (whole, fraction) = match raw.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (raw, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(Problem::Amount(found()));
    }
    let fraction = fraction.unwrap_or_default();
    if fraction.len() > 2 {
        return Err(Problem::Decimals(found()));
    }
    let whole = whole.trim_start_matches('0');
    if whole.len() > AMOUNT_WHOLE_DIGITS {
        return Err(Problem::TooLarge(found()));
    }
    // At most 14 digits: the mantissa fits an i64 with room to spare.
    let mantissa = format!("{whole}{fraction}").parse::<i64>().unwrap_or_default();
    Ok(Decimal::new(mantissa, fraction.len() as u32))
}

/// A count (`times_billed`): digits only (leading zeros are fine), from 0
/// to [`COUNT_MAX`]. Empty is `None`.
pub fn count(raw: &str) -> Result<Option<i32>, Problem> {
    if raw.is_empty() {
        return Ok(None);
    }
    let digits = raw.trim_start_matches('0');
    let refused = || Problem::Count(Found::of(raw));
    if !raw.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 10 {
        return Err(refused());
    }
    if digits.is_empty() {
        return Ok(Some(0));
    }
    digits.parse::<i32>().map(Some).map_err(|_| refused())
}

/// A procedure as `CODE[:MOD[:MOD...]]`, spaces around it dropped as for
/// [`text`]: the code (at most [`PROCEDURE_CODE_MAX`] characters) and up to
/// [`MODIFIERS_MAX`] modifiers of [`MODIFIER_LEN`] characters each, as
/// SVC01 carries them. Empty modifier slots (`99213::25`, `99213:`) are
/// skipped, as exports with four fixed slots write them.
pub fn procedure(raw: &str) -> Result<(String, Vec<String>), Problem> {
    // No bound on the whole: its parts have theirs.
    let value = required(raw, usize::MAX)?;
    let mut parts = value.split(':');
    let code = parts.next().unwrap_or_default();
    if code.is_empty() {
        return Err(Problem::NoCode);
    }
    let chars = code.chars().count();
    if chars > PROCEDURE_CODE_MAX {
        return Err(Problem::CodeTooLong { chars });
    }
    let modifiers: Vec<String> = parts.filter(|m| !m.is_empty()).map(str::to_string).collect();
    if let Some(m) = modifiers.iter().find(|m| m.chars().count() != MODIFIER_LEN) {
        return Err(Problem::Modifier(Found::of(m)));
    }
    if modifiers.len() > MODIFIERS_MAX {
        return Err(Problem::Modifiers);
    }
    Ok((code.to_string(), modifiers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_max_is_the_largest_numeric_14_2() {
        assert_eq!(AMOUNT_MAX.to_string(), "999999999999.99");
        assert_eq!(amount("999999999999.99"), Ok(AMOUNT_MAX));
        assert!(matches!(amount("1000000000000"), Err(Problem::TooLarge(_))));
    }

    #[test]
    fn only_the_plain_form_of_a_date_is_one() {
        assert_eq!(date("2024-02-29"), Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()));
        for bad in ["2024-2-3", "+2024-01-01", "2024-02-30", " 2024-01-01", "2024-01-01 ", "20240101", "0000-01-01", "2024/01/01", "２０２４-01-01", ""] {
            assert!(matches!(date(bad), Err(Problem::Date(_))), "{bad:?}");
        }
        assert_eq!(optional_date(""), Ok(None));
    }

    #[test]
    fn only_plain_decimals_are_amounts() {
        for (raw, value) in [("123", "123"), ("123.4", "123.4"), ("123.45", "123.45"), ("0", "0"), ("0007.50", "7.50"), ("0.00", "0.00")] {
            assert_eq!(amount(raw), Ok(value.parse().unwrap()), "{raw}");
        }
        for bad in ["1e3", "+5", "1,000.00", " 5", "5 ", ".5", "5.", "", "-", "1.2.3", "0x10", "NaN", "١٢٣"] {
            assert!(matches!(amount(bad), Err(Problem::Amount(_))), "{bad:?}");
        }
        assert!(matches!(amount("-5.00"), Err(Problem::Negative(_))));
        assert!(matches!(amount("1.005"), Err(Problem::Decimals(_))));
        assert!(matches!(amount(&"9".repeat(10_000)), Err(Problem::TooLarge(_))));
    }

    #[test]
    fn counts_are_plain_and_fit_an_integer() {
        assert_eq!(count("2147483647"), Ok(Some(i32::MAX)));
        assert_eq!(count("000"), Ok(Some(0)));
        assert_eq!(count(""), Ok(None));
        for bad in ["2147483648", "99999999999", "-1", "+1", "1.0", "1e2", " 1"] {
            assert!(matches!(count(bad), Err(Problem::Count(_))), "{bad:?}");
        }
    }

    #[test]
    fn text_drops_surrounding_spaces_and_has_a_length() {
        assert_eq!(required("  CLM-1 ", CLAIM_ID_MAX), Ok("CLM-1"));
        assert_eq!(required("   ", CLAIM_ID_MAX), Err(Problem::Empty));
        assert_eq!(text(&"é".repeat(CLAIM_ID_MAX), CLAIM_ID_MAX), Ok(Some("é".repeat(CLAIM_ID_MAX).as_str())));
        assert_eq!(required(&"x".repeat(39), CLAIM_ID_MAX), Err(Problem::TooLong { chars: 39, max: 38 }));
    }

    #[test]
    fn control_characters_and_broken_utf8_are_refused_anywhere() {
        assert_eq!(plain(b"A\x001"), Err(Problem::Control { code: 0, at: 2 }));
        assert_eq!(plain(b"\tA"), Err(Problem::Control { code: 9, at: 1 }));
        assert_eq!(plain(b"A\x7f"), Err(Problem::Control { code: 0x7f, at: 2 }));
        assert_eq!(plain("A\u{85}".as_bytes()), Err(Problem::Control { code: 0x85, at: 2 }));
        assert_eq!(plain(b"a\xffb"), Err(Problem::NotUtf8));
        assert_eq!(plain("DOE, JOSÉ".as_bytes()), Ok("DOE, JOSÉ"));
    }

    #[test]
    fn procedures_carry_a_code_and_up_to_four_modifiers() {
        assert_eq!(procedure("99213:25"), Ok(("99213".into(), vec!["25".into()])));
        assert_eq!(procedure("99213::25:"), Ok(("99213".into(), vec!["25".into()])));
        assert_eq!(procedure(" 99213:25 "), Ok(("99213".into(), vec!["25".into()])));
        assert_eq!(procedure(""), Err(Problem::Empty));
        assert_eq!(procedure(":25"), Err(Problem::NoCode));
        assert!(matches!(procedure("99213:255"), Err(Problem::Modifier(_))));
        assert_eq!(procedure("99213:A1:A2:A3:A4:A5"), Err(Problem::Modifiers));
        assert_eq!(procedure(&"9".repeat(49)), Err(Problem::CodeTooLong { chars: 49 }));
    }

    #[test]
    fn a_quoted_value_is_cut() {
        assert_eq!(Found::of(&"1".repeat(30)).to_string(), format!("\"{}\"...", "1".repeat(24)));
    }
}
