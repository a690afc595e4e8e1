//! X12 simple data types as nom parsers: what an element's bytes must look
//! like, and the typed value they carry.
//!
//! These parsers are the one place amounts and dates are read, so the
//! grammar's type checks and the model builder can never disagree about what
//! a valid `R` or `DT` is. Each reads a whole element (`all_consuming`) and
//! fails with a [`SyntaxError`] naming the type it expected; the `Option`
//! forms ([`decimal`], [`date`], ...) are for callers with their own words.
//! `ID` and `AN` have no syntax of their own beyond
//! [`syntax::printable`](super::syntax::printable): their limits are the
//! grammar's code lists and lengths.

use chrono::NaiveDate;
use nom::bytes::{take, take_while};
use nom::character::{char, digit1};
use nom::combinator::{all_consuming, map_opt, opt, recognize, verify};
use nom::error::context;
use nom::sequence::preceded;
use nom::Parser;
use rust_decimal::Decimal;

use super::syntax::SyntaxError;

/// Most significant digits an X12 `R` value may have (its longest form in
/// the standard). The bound matters beyond validity: it keeps every sum a
/// file can produce (at most one amount per byte) far below `Decimal`'s
/// limit of about 7.9e28, so adding amounts can never overflow.
pub const MAX_DIGITS: u32 = 18;

/// What each type's parser says it expected when a value is not one.
pub const EXPECTED_R: &str = "an amount of X12 type R";
pub const EXPECTED_N0: &str = "a whole number";
pub const EXPECTED_DT: &str = "a calendar date CCYYMMDD";
pub const EXPECTED_TM: &str = "a time HHMM[SS[d..]]";
const EXPECTED_ISA_DATE: &str = "a date YYMMDD";

/// Runs one of this module's parsers (each reads a whole element) over
/// `raw`.
#[inline(always)]
pub fn whole<'a, T>(mut parser: impl Parser<&'a [u8], Output = T, Error = SyntaxError>, raw: &'a [u8]) -> Result<T, SyntaxError> {
    match parser.parse_complete(raw) {
        Ok((_, value)) => Ok(value),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e),
        Err(nom::Err::Incomplete(_)) => Err(SyntaxError::expected("a complete value", raw)),
    }
}

/// nom parser for an X12 `R` (decimal) element: optional leading minus,
/// digits with at most one decimal point anywhere (`.5` and `150` are both
/// fine), no plus, no exponent, no thousands separator, at most
/// [`MAX_DIGITS`] significant digits. Gives the value and the number of
/// digits written, which is what the length of an `R` is measured in (signs
/// and the point do not count).
///
/// Built from the digits directly (not through `str::parse`) so that
/// nothing the X12 standard forbids is accepted by accident.
// Inlined: a `Decimal` handed back through memory costs a store-forwarding
// stall in the caller that is longer than the parse itself.
#[inline(always)]
pub fn type_r<'a>() -> impl Parser<&'a [u8], Output = (Decimal, usize), Error = SyntaxError> {
    let digits = || take_while(|b: u8| b.is_ascii_digit());
    let number = (opt(char('-')), digits(), opt(preceded(char('.'), digits())));
    let value = map_opt(number, |(minus, whole, fraction): (Option<char>, &[u8], Option<&[u8]>)| r_value(minus.is_some(), whole, fraction.unwrap_or_default()));
    context(EXPECTED_R, all_consuming(value))
}

/// The value of an `R` from its parts, `None` when it has no digit or too
/// many significant ones.
#[inline(always)]
fn r_value(negative: bool, whole: &[u8], fraction: &[u8]) -> Option<(Decimal, usize)> {
    let written = whole.len() + fraction.len();
    if written == 0 {
        return None;
    }
    // Leading zeros are not significant; every digit after the first other
    // one is. At most 18 significant digits fit a `u64`.
    let mut mantissa: u64 = 0;
    let mut significant = 0u32;
    for &b in whole.iter().chain(fraction) {
        mantissa = mantissa * 10 + u64::from(b - b'0');
        significant += u32::from(mantissa != 0);
        if significant > MAX_DIGITS {
            return None;
        }
    }
    // rust_decimal's scale reaches 28.
    let scale = u32::try_from(fraction.len()).ok().filter(|&s| s <= 28)?;
    Some((Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, negative, scale), written))
}

/// [`type_r`] over a whole element: the amount and its digit count.
///
/// This is the fast lane every amount of every file takes: one pass over
/// at most 18 characters accumulating a `u64`, where the nom parser makes
/// three and builds its answer through `Option`s; on a large file the
/// difference is a tenth of the reading. Longer values (leading zeros)
/// and every refusal go to [`type_r`], and a property test holds the two
/// to the same answer for any input.
// Inlined: a `Decimal` handed back through memory costs a store-forwarding
// stall in the caller that is longer than the parse itself.
#[inline(always)]
pub fn amount(raw: &[u8]) -> Option<(Decimal, usize)> {
    let (negative, body) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    if body.len() > 18 {
        return whole(type_r(), raw).ok();
    }
    let mut mantissa: u64 = 0;
    let mut point: Option<usize> = None;
    for (i, &b) in body.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit < 10 {
            mantissa = mantissa * 10 + u64::from(digit);
        } else if b == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    // Every byte is a digit but the one point, if any.
    let digits = body.len() - usize::from(point.is_some());
    if digits == 0 {
        return None;
    }
    // At most 17 digits follow the point, well within rust_decimal's 28.
    let scale = point.map_or(0, |p| body.len() - p - 1) as u32;
    Some((Decimal::from_parts(mantissa as u32, (mantissa >> 32) as u32, 0, negative, scale), digits))
}

/// [`type_r`] over a whole element: the amount.
pub fn decimal(raw: &[u8]) -> Option<Decimal> {
    amount(raw).map(|(value, _)| value)
}

/// nom parser for an X12 `N0` (whole number): optional minus, then at most
/// 18 digits.
pub fn type_n0<'a>() -> impl Parser<&'a [u8], Output = i64, Error = SyntaxError> {
    let digits = verify(digit1(), |d: &[u8]| d.len() <= 18);
    let number = (opt(char('-')), digits).map(|(minus, d): (Option<char>, &[u8])| {
        let n = d.iter().fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
        if minus.is_some() {
            -n
        } else {
            n
        }
    });
    context(EXPECTED_N0, all_consuming(number))
}

/// [`type_n0`] over a whole element.
pub fn integer(raw: &[u8]) -> Option<i64> {
    whole(type_n0(), raw).ok()
}

/// nom parser for exactly `n` digits, as a number.
fn digits<'a>(n: usize) -> impl Parser<&'a [u8], Output = u32, Error = SyntaxError> {
    map_opt(take(n), |d: &[u8]| d.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))))
}

/// A calendar day, `None` when there is none such.
fn day(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// nom parser for an X12 `DT` value `CCYYMMDD` that is a real calendar day.
pub fn type_dt<'a>() -> impl Parser<&'a [u8], Output = NaiveDate, Error = SyntaxError> {
    let date = map_opt((digits(4), digits(2), digits(2)), |(y, m, d)| day(y, m, d));
    context(EXPECTED_DT, all_consuming(date))
}

/// [`type_dt`] over a whole element.
pub fn date(raw: &[u8]) -> Option<NaiveDate> {
    whole(type_dt(), raw).ok()
}

/// nom parser for the ISA09 interchange date `YYMMDD`. Two-digit years
/// below 70 are taken as 20YY, the usual pivot for X12 envelopes.
pub fn isa_date<'a>() -> impl Parser<&'a [u8], Output = NaiveDate, Error = SyntaxError> {
    let date = map_opt((digits(2), digits(2), digits(2)), |(yy, m, d)| day(if yy < 70 { 2000 + yy } else { 1900 + yy }, m, d));
    context(EXPECTED_ISA_DATE, all_consuming(date))
}

/// [`isa_date`] over a whole element.
pub fn short_date(raw: &[u8]) -> Option<NaiveDate> {
    whole(isa_date(), raw).ok()
}

/// nom parser for an X12 `TM` value `HHMM[SS[d..]]` (hours to 23, minutes
/// and seconds to 59, one or two digits of a second's fraction), given back
/// as written.
pub fn type_tm<'a>() -> impl Parser<&'a [u8], Output = &'a str, Error = SyntaxError> {
    let below = |limit: u32| verify(digits(2), move |&v| v < limit);
    let fraction = verify(digit1(), |d: &[u8]| d.len() <= 2);
    let time = recognize((below(24), below(60), opt((below(60), opt(fraction)))));
    let text = map_opt(time, |t: &[u8]| std::str::from_utf8(t).ok());
    context(EXPECTED_TM, all_consuming(text))
}

/// [`type_tm`] over a whole element.
pub fn time(raw: &[u8]) -> Option<&str> {
    whole(type_tm(), raw).ok()
}

/// The separator a composite element really uses. Normally ISA16; but some
/// payers write `HC>99213` in a file whose ISA16 is `:`. When `declared` does
/// not occur and a common separator stands right after a two-character
/// qualifier, that one is used (the grammar check reports it as a warning).
pub fn component_separator(value: &[u8], declared: u8) -> u8 {
    if value.contains(&declared) {
        return declared;
    }
    match value.get(2) {
        Some(&b) if matches!(b, b'>' | b':' | b'^' | b'!' | b'|') && value[..2].iter().all(u8::is_ascii_alphanumeric) => b,
        _ => declared,
    }
}

/// Text as it stands in the file. X12's basic character set is ASCII; bytes
/// outside UTF-8 (Latin-1 names from old systems) are replaced rather than
/// refused, since they never carry amounts or keys.
// Inlined so the string is built where it is stored: handed back through
// memory it costs the caller a store-forwarding stall.
#[inline(always)]
pub fn text(raw: &[u8]) -> crate::model::Text {
    match std::str::from_utf8(raw) {
        Ok(s) => crate::model::Text::new(s),
        Err(_) => crate::model::Text::from(String::from_utf8_lossy(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_follow_x12_type_r() {
        assert_eq!(decimal(b"150"), Some(d("150")));
        assert_eq!(decimal(b"150.00"), Some(d("150.00")));
        assert_eq!(decimal(b".5"), Some(d("0.5")));
        assert_eq!(decimal(b"5."), Some(d("5")));
        assert_eq!(decimal(b"-1.27"), Some(d("-1.27")));
        assert_eq!(decimal(b"-0"), Some(d("0")));
        assert_eq!(decimal(b"0000000000000000000000000000000012.5"), Some(d("12.5")));
        for bad in [&b""[..], b"-", b".", b"+5", b"1e5", b"1,250.00", b"1.2.3", b" 5", b"--5", b"5-"] {
            assert_eq!(decimal(bad), None, "{:?} must be refused", String::from_utf8_lossy(bad));
        }
    }

    /// The reading an `R` should have, written the plain way: the X12
    /// shape checked character by character, the value left to
    /// rust_decimal's own parser.
    fn reference(raw: &[u8]) -> Option<(Decimal, usize)> {
        let text = std::str::from_utf8(raw).ok()?;
        let body = text.strip_prefix('-').unwrap_or(text);
        let digits = body.bytes().filter(u8::is_ascii_digit).count();
        let points = body.bytes().filter(|&b| b == b'.').count();
        if digits == 0 || points > 1 || digits + points != body.len() {
            return None;
        }
        let significant = body.bytes().filter(u8::is_ascii_digit).skip_while(|&b| b == b'0').count();
        if significant > MAX_DIGITS as usize {
            return None;
        }
        let scale = body.find('.').map_or(0, |p| body.len() - p - 1);
        let mantissa: i128 = body.bytes().filter(u8::is_ascii_digit).fold(0, |acc, b| acc * 10 + i128::from(b - b'0'));
        let value = Decimal::try_from_i128_with_scale(if text.starts_with('-') { -mantissa } else { mantissa }, u32::try_from(scale).ok()?).ok()?;
        Some((value, digits))
    }

    #[test]
    fn amount_counts_digits_and_matches_the_plain_reading_and_the_nom_parser() {
        assert_eq!(amount(b"-1.27"), Some((d("-1.27"), 3)));
        assert_eq!(amount(b"0000000000000000000000000000000012.5"), Some((d("12.5"), 35)));
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = b"0123456789.-9+0";
        for _ in 0..50_000 {
            let raw: Vec<u8> = (0..rng.usize(0..34)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let text = std::str::from_utf8(&raw).unwrap();
            let read = amount(&raw).map(|(v, n)| (v.serialize(), n));
            assert_eq!(read, reference(&raw).map(|(v, n)| (v.serialize(), n)), "{text}");
            let nom = whole(type_r(), &raw).ok().map(|(v, n)| (v.serialize(), n));
            assert_eq!(read, nom, "the fast lane and the nom parser differ on {text}");
        }
    }

    #[test]
    fn refusals_say_what_was_expected() {
        let Err(e) = whole(type_r(), b"1,250.00") else { panic!("not an R") };
        assert_eq!(e.for_element("Claim Payment Amount").to_string(), "expected an amount of X12 type R (Claim Payment Amount), found a value of 8 characters");
        let Err(e) = whole(type_dt(), b"20230230") else { panic!("no such day") };
        assert_eq!(e.problem().to_string(), "expected a calendar date CCYYMMDD, found a value of 8 characters");
        assert!(matches!(whole(type_tm(), b"2400"), Err(e) if e.problem().to_string().starts_with("expected a time")));
    }

    #[test]
    fn amounts_keep_their_scale_exactly() {
        assert_eq!(decimal(b"138018.40").unwrap().to_string(), "138018.40");
        assert_eq!(decimal(b"0.01").unwrap() + decimal(b"0.02").unwrap(), d("0.03"));
    }

    #[test]
    fn too_many_digits_is_refused_not_wrapped() {
        assert!(decimal(b"12345678901234567890123456789").is_none());
        assert!(decimal(b"1234567890123456789").is_none(), "19 significant digits");
        assert!(decimal(b"1234567890123456.789").is_none(), "19 significant digits with a point");
        assert_eq!(decimal(b"123456789012345678").map(|d| d.to_string()), Some("123456789012345678".into()));
        assert_eq!(decimal(b"0000000000000000000000.12").map(|d| d.to_string()), Some("0.12".into()), "leading zeros are not significant");
    }

    #[test]
    fn dates_must_exist() {
        assert_eq!(date(b"20240229"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(date(b"20230229"), None);
        assert_eq!(date(b"20230230"), None);
        assert_eq!(date(b"2023011"), None);
        assert_eq!(date(b"2023-1-1"), None);
        assert_eq!(short_date(b"991231"), NaiveDate::from_ymd_opt(1999, 12, 31));
        assert_eq!(short_date(b"130508"), NaiveDate::from_ymd_opt(2013, 5, 8));
    }

    #[test]
    fn times() {
        assert_eq!(time(b"1253"), Some("1253"));
        assert_eq!(time(b"125959"), Some("125959"));
        assert_eq!(time(b"12595912"), Some("12595912"));
        assert_eq!(time(b"2400"), None);
        assert_eq!(time(b"12"), None);
        assert_eq!(time(b"12a0"), None);
        assert_eq!(time(b"12595"), None, "seconds are two digits");
        assert_eq!(time(b"125959123"), None, "at most two digits of a fraction");
        assert_eq!(time(b"1260"), None);
    }

    #[test]
    fn integers() {
        assert_eq!(integer(b"28"), Some(28));
        assert_eq!(integer(b"-3"), Some(-3));
        assert_eq!(integer(b"2.0"), None);
        assert_eq!(integer(b""), None);
    }
}
