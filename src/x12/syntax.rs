//! X12 syntax as nom parsers: how a segment divides into elements, an
//! element into repetitions and a composite into components.
//!
//! The simple data types (`R`, `N0`, `DT`, `TM`, `ID`, `AN`) are nom parsers
//! too, in [`values`](super::values); every parser here and there fails with
//! a [`SyntaxError`], which carries the [`Problem`] a refusal will report,
//! the way der-parser and x509-parser carry their own error enums through
//! nom. So a parser deep in a value says what it expected, and the caller
//! adds only what it alone knows: the element's name and place.
//!
//! The lexer's vector fast lane ([`scan`](super::scan)) splits nearly every
//! segment without these parsers; [`split`] is the reference it is checked
//! against (the scan tests and the `lexer` fuzz target) and the path every
//! other segment takes.

use nom::bytes::take_till;
use nom::error::{ContextError, ErrorKind, ParseError};
use nom::Parser;

use super::error::Problem;
use super::privacy::Found;

/// Why a syntax parser failed: the [`Problem`] to report, boxed so that a
/// parser's `Result` stays small on the path where nothing fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(Box<Problem>);

impl SyntaxError {
    /// A value that is not what `expected` describes.
    #[cold]
    pub fn expected(expected: &str, found: &[u8]) -> SyntaxError {
        SyntaxError(Box::new(Problem::BadValue { expected: expected.to_string(), found: Found::value(found) }))
    }

    /// The problem, to report.
    pub fn problem(&self) -> &Problem {
        &self.0
    }

    /// The problem, for an element named `name`: what was expected is
    /// followed by the name, as every element refusal reads
    /// (`expected a calendar date CCYYMMDD (Claim Date), found ...`).
    pub fn for_element(self, name: &str) -> Problem {
        match *self.0 {
            Problem::BadValue { expected, found } => Problem::BadValue { expected: format!("{expected} ({name})"), found },
            other => other,
        }
    }
}

impl<'a> ParseError<&'a [u8]> for SyntaxError {
    /// nom's own failures say only which combinator gave up; the value's
    /// parser wraps itself in [`nom::error::context`], which replaces this
    /// with what the value should have been.
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        SyntaxError::expected(kind.description(), input)
    }

    fn append(_: &'a [u8], _: ErrorKind, other: Self) -> Self {
        other
    }
}

impl<'a> ContextError<&'a [u8]> for SyntaxError {
    /// The outermost context wins: it names the whole value (`input` is
    /// where that parser started) and what it should have been.
    fn add_context(input: &'a [u8], expected: &'static str, _: Self) -> Self {
        SyntaxError::expected(expected, input)
    }
}

/// One element, component or repetition: everything up to `separator`.
fn piece<'a>(separator: u8) -> impl Parser<&'a [u8], Output = &'a [u8], Error = SyntaxError> {
    take_till(move |b| b == separator)
}

/// Splits `input` on `separator` into `out` (cleared first, its allocation
/// reused): a segment into its elements (the tag is element 0), a
/// composite into its components, a repeating element into its
/// repetitions (the 835 defines none; ISA11 in a value is data to it). Never fails: an
/// empty input is one empty piece, as X12 reads it.
pub fn split<'a>(separator: u8, input: &'a [u8], out: &mut Vec<&'a [u8]>) {
    out.clear();
    out.extend(pieces(separator, input));
}

/// The pieces of `input` split on `separator`, one at a time: a piece,
/// then, as long as a separator follows, that separator and the next
/// piece. Callers that look at pieces in turn (a composite's components)
/// need no vector.
#[inline]
pub fn pieces(separator: u8, input: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(input);
    std::iter::from_fn(move || {
        let (after, p) = piece(separator).parse_complete(rest?).ok()?;
        // What follows a piece is its separator or nothing (`take_till`
        // stopped at one or at the end).
        rest = after.get(1..);
        Some(p)
    })
}

/// Refuses a control character (a byte below 0x20) other than `allowed`
/// (the component and repetition separators in force, which may themselves
/// be control characters).
pub fn printable(allowed: [u8; 2], value: &[u8]) -> Result<(), SyntaxError> {
    let mut text = take_till::<_, _, SyntaxError>(|b: u8| b < 0x20 && !allowed.contains(&b));
    match text.parse_complete(value) {
        Ok((b"", _)) => Ok(()),
        _ => Err(SyntaxError::expected("text without control characters", value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(sep: u8, input: &[u8]) -> Vec<&[u8]> {
        let mut out = vec![&b"stale"[..]];
        split(sep, input, &mut out);
        out
    }

    #[test]
    fn splits_as_x12_reads_separators() {
        assert_eq!(split_all(b'*', b"CLP*A**3"), [&b"CLP"[..], b"A", b"", b"3"]);
        assert_eq!(split_all(b'*', b""), [&b""[..]]);
        assert_eq!(split_all(b'*', b"*"), [&b""[..], b""]);
        assert_eq!(split_all(b':', b"HC:99213:25"), [&b"HC"[..], b"99213", b"25"]);
    }

    #[test]
    fn pieces_read_as_split_does() {
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b"*:A9 \x80";
        for _ in 0..20_000 {
            let input: Vec<u8> = (0..rng.usize(0..40)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            assert_eq!(pieces(b'*', &input).collect::<Vec<_>>(), split_all(b'*', &input), "{input:?}");
        }
    }

    #[test]
    fn errors_carry_the_problem_for_the_element() {
        let e = SyntaxError::expected("a whole number", b"x");
        assert_eq!(e.for_element("Quantity").to_string(), "expected a whole number (Quantity), found a value of 1 character");
        assert!(printable([b':', b'^'], b"A:B").is_ok());
        assert!(printable([b':', b'^'], b"A\x1bB").is_err());
        assert!(printable([0x1f, b'^'], b"A\x1fB").is_ok());
    }
}
