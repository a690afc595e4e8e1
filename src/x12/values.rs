//! X12 simple data types: what an element's bytes must look like, and the
//! typed value they carry.
//!
//! These functions are the one place amounts and dates are read, so the
//! grammar's type checks and the model builder can never disagree about what
//! a valid `R` or `DT` is.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Most significant digits an X12 `R` value may have (its longest form in
/// the standard). The bound matters beyond validity: it keeps every sum a
/// file can produce (at most one amount per byte) far below `Decimal`'s
/// limit of about 7.9e28, so adding amounts can never overflow.
pub const MAX_DIGITS: u32 = 18;

/// Reads an X12 `R` (decimal) value: optional leading minus, digits with at
/// most one decimal point anywhere (`.5` and `150` are both fine), no plus,
/// no exponent, no thousands separator, at most [`MAX_DIGITS`] significant
/// digits.
///
/// Built from the digits directly (not through `str::parse`) so that nothing
/// the X12 standard forbids is accepted by accident.
pub fn decimal(raw: &[u8]) -> Option<Decimal> {
    amount(raw).map(|(value, _)| value)
}

/// [`decimal`], with the number of digits in `raw`: what the length of an
/// `R` value is measured in (signs and the decimal point do not count). The
/// grammar check needs both, and gets them from one pass over the bytes.
// Inlined: a `Decimal` handed back through memory costs a store-forwarding
// stall in the caller that is longer than the parse itself.
#[inline(always)]
pub fn amount(raw: &[u8]) -> Option<(Decimal, usize)> {
    let (negative, body) = sign(raw);
    if body.len() <= 18 {
        return short_decimal(negative, body);
    }
    general_decimal(negative, body)
}

/// [`amount`] for any length (after the sign): leading zeros beyond
/// [`MAX_DIGITS`] are fine, significant digits are counted. The reference
/// the shortcut [`short_decimal`] is tested against.
fn general_decimal(negative: bool, body: &[u8]) -> Option<(Decimal, usize)> {
    let mut mantissa: i128 = 0;
    let mut digits = 0u32;
    let mut scale: Option<u32> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                if digits >= MAX_DIGITS {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(b - b'0');
                if mantissa != 0 {
                    digits += 1;
                }
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    let all_digits = body.iter().filter(|b| b.is_ascii_digit()).count();
    if all_digits == 0 {
        return None;
    }
    let scale = scale.unwrap_or(0);
    if scale > 28 {
        return None;
    }
    let value = if negative { -mantissa } else { mantissa };
    Decimal::try_from_i128_with_scale(value, scale).ok().map(|d| (d, all_digits))
}

/// [`amount`] for at most 18 characters: the digits fit a `u64`, which is
/// several times cheaper to accumulate than an `i128`, and nearly every
/// amount in a real file is this short.
#[inline(always)]
fn short_decimal(negative: bool, body: &[u8]) -> Option<(Decimal, usize)> {
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

/// The optional leading minus of a numeric value, and the rest.
#[inline(always)]
fn sign(raw: &[u8]) -> (bool, &[u8]) {
    match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    }
}

/// Reads an X12 `N0` (whole number) value: optional minus, then digits.
pub fn integer(raw: &[u8]) -> Option<i64> {
    let (negative, body) = sign(raw);
    if body.is_empty() || body.len() > 18 || !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = body.iter().fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
    Some(if negative { -n } else { n })
}

fn digits_to_u32(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0')))
}

/// Reads an X12 `DT` value `CCYYMMDD` and checks it is a real calendar day.
pub fn date(raw: &[u8]) -> Option<NaiveDate> {
    if raw.len() != 8 {
        return None;
    }
    let year = digits_to_u32(&raw[0..4])?;
    let month = digits_to_u32(&raw[4..6])?;
    let day = digits_to_u32(&raw[6..8])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Reads the ISA09 interchange date `YYMMDD`. Two-digit years below 70 are
/// taken as 20YY, the usual pivot for X12 envelopes.
pub fn short_date(raw: &[u8]) -> Option<NaiveDate> {
    if raw.len() != 6 {
        return None;
    }
    let yy = digits_to_u32(&raw[0..2])?;
    let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
    let month = digits_to_u32(&raw[2..4])?;
    let day = digits_to_u32(&raw[4..6])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Checks an X12 `TM` value `HHMM[SS[d..]]` and returns it unchanged.
pub fn time(raw: &[u8]) -> Option<&str> {
    if !(raw.len() == 4 || (6..=8).contains(&raw.len())) {
        return None;
    }
    let hh = digits_to_u32(&raw[0..2])?;
    let mm = digits_to_u32(&raw[2..4])?;
    if hh > 23 || mm > 59 {
        return None;
    }
    if raw.len() >= 6 {
        let ss = digits_to_u32(&raw[4..6])?;
        if ss > 59 {
            return None;
        }
        if raw.len() > 6 {
            digits_to_u32(&raw[6..])?;
        }
    }
    std::str::from_utf8(raw).ok()
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

    #[test]
    fn amount_counts_digits_and_matches_the_general_reading() {
        assert_eq!(amount(b"-1.27"), Some((d("-1.27"), 3)));
        assert_eq!(amount(b"0000000000000000000000000000000012.5"), Some((d("12.5"), 35)));
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = b"0123456789.-9+";
        for _ in 0..50_000 {
            let raw: Vec<u8> = (0..rng.usize(0..34)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let text = std::str::from_utf8(&raw).unwrap();
            let read = amount(&raw);
            let (negative, body) = sign(&raw);
            let general = general_decimal(negative, body);
            assert_eq!(read.map(|(v, n)| (v.serialize(), n)), general.map(|(v, n)| (v.serialize(), n)), "{text}");
            if let Some((_, digits)) = read {
                assert_eq!(digits, raw.iter().filter(|b| b.is_ascii_digit()).count(), "{text}");
            }
        }
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
    }

    #[test]
    fn integers() {
        assert_eq!(integer(b"28"), Some(28));
        assert_eq!(integer(b"-3"), Some(-3));
        assert_eq!(integer(b"2.0"), None);
        assert_eq!(integer(b""), None);
    }
}
