//! What a refusal may quote from a file.
//!
//! Refusals are read far from the file they are about: in the daemon's logs,
//! in the reason file beside a refused file in `error/`, in
//! `ingested_files.refusal_reason`, in tickets and chat. None of those may
//! hold patient data. Support staff still need the values of the segments
//! about money and codes (an amount that does not balance, an unknown CLP02)
//! to fix or re-request a file, so the segment a value was found in decides:
//!
//! - values of the segments that carry patient data ([`PATIENT_SEGMENTS`])
//!   are told by their shape only: how long, and whether they hold control
//!   characters or characters outside ASCII;
//! - so is every value of a segment whose tag remitd does not know
//!   ([`KNOWN_TAGS`]), and such a tag is not quoted either: a "segment" with
//!   an unknown tag is often a piece of a damaged one (a stray terminator
//!   cuts `NM1*QC*1*DOE~JANE` in two, and `JANE` becomes a tag).
//!
//! A [`Found`] carries a value or tag to the refusal, told by its shape until
//! [`ParseError::new`](super::ParseError::new), the one place every refusal
//! is made, has learnt where it was found and reveals it if that segment's
//! values may be quoted. Whatever skips that step stays safe.

use std::fmt;

/// Tags of the segments remitd knows: the envelopes, every segment of the
/// built-in grammars (a test keeps the two in step) and DMG. Anything else
/// in a tag position is not quoted.
pub const KNOWN_TAGS: &[&str] = &[
    "AMT", "BPR", "CAS", "CLP", "CUR", "DMG", "DTM", "GE", "GS", "IEA", "ISA", "LQ", "LX", "MIA", "MOA", "N1", "N3", "N4", "NM1", "PER", "PLB", "QTY", "RDM",
    "REF", "SE", "ST", "SVC", "TRN", "TS2", "TS3",
];

/// Segments whose values may be patient data wherever they stand: names and
/// ids (NM1), addresses (N3, N4), birth dates (DMG), contacts (PER) and
/// reference numbers (REF). REF counts everywhere, not only in the claim
/// loops where it carries member, subscriber and group numbers: its
/// qualifier, which tells those from a payer's id, may be the very element
/// that is damaged.
pub const PATIENT_SEGMENTS: &[&str] = &["NM1", "N3", "N4", "DMG", "PER", "REF"];

/// How a location shows a tag that is not one of [`KNOWN_TAGS`].
pub const UNRECOGNISED_TAG: &str = "unrecognised tag";

/// Whether `tag` is a segment tag remitd knows (and so may quote).
pub fn known_tag(tag: &str) -> bool {
    KNOWN_TAGS.contains(&tag)
}

/// Whether values found in a segment tagged `tag` may be quoted: the tag is
/// known and the segment carries no patient data. No tag (a problem the
/// lexer found before any segment could be read) quotes nothing.
pub fn values_quotable(tag: Option<&str>) -> bool {
    tag.is_some_and(|t| known_tag(t) && !PATIENT_SEGMENTS.contains(&t))
}

/// A value or a segment tag a refusal found in the file.
///
/// Shown, a value is quoted as Rust quotes a string (`"1,250.00"`, control
/// characters escaped), or with `{:#}` without the quotes.
///
/// `Debug` prints what `Display` prints, so not even a debug print of a
/// refusal quotes what must not be quoted.
#[derive(Clone, PartialEq, Eq)]
pub enum Found {
    /// An element's value: quoted once revealed, else told by its shape.
    Value { text: Box<str>, revealed: bool },
    /// What stands where a segment tag should: quoted when it is a tag
    /// remitd knows, whatever the location.
    Tag(Box<str>),
}

impl Found {
    /// The value of an element, as bytes from the file.
    pub fn value(raw: &[u8]) -> Found {
        Found::Value { text: String::from_utf8_lossy(raw).into(), revealed: false }
    }

    /// A segment tag, as bytes from the file.
    pub fn tag(raw: &[u8]) -> Found {
        Found::Tag(String::from_utf8_lossy(raw).into())
    }

    /// The tag-like start of `bytes` (letters and digits, as many as a tag
    /// could have and one more): what a lexer found where a segment should
    /// begin.
    pub fn leading_tag(bytes: &[u8]) -> Found {
        let len = bytes.iter().take(4).take_while(|b| b.is_ascii_alphanumeric()).count();
        Found::tag(&bytes[..len])
    }

    /// Shows a value from now on if `quotable` (see [`values_quotable`]).
    pub fn reveal(&mut self, quotable: bool) {
        if let Found::Value { revealed, .. } = self {
            *revealed = quotable;
        }
    }
}

impl From<&str> for Found {
    /// An element's value already read as text.
    fn from(text: &str) -> Found {
        Found::Value { text: text.into(), revealed: false }
    }
}

impl From<crate::model::Text> for Found {
    /// An element's value already read as text.
    fn from(text: crate::model::Text) -> Found {
        Found::Value { text: text.as_str().into(), revealed: false }
    }
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `{:#}` leaves out the quotes (a count or control number reads
            // better without); control characters are escaped either way.
            Found::Value { text, revealed: true } if f.alternate() => write!(f, "{}", text.escape_debug()),
            Found::Value { text, revealed: true } => write!(f, "{text:?}"),
            Found::Value { text, revealed: false } => f.write_str(&shape(text)),
            Found::Tag(tag) if known_tag(tag) => write!(f, "segment {tag}"),
            Found::Tag(_) => f.write_str("a segment with an unrecognised tag"),
        }
    }
}

impl fmt::Debug for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a value looks like, without what it says.
fn shape(text: &str) -> String {
    let n = text.chars().count();
    if n == 0 {
        return "an empty value".into();
    }
    let plural = if n == 1 { "" } else { "s" };
    let control = text.chars().any(char::is_control);
    let outside_ascii = !text.is_ascii();
    let detail = match (control, outside_ascii) {
        (true, true) => ", including control characters and characters outside ASCII",
        (true, false) => ", including a control character",
        (false, true) => ", including characters outside ASCII",
        (false, false) => "",
    };
    format!("a value of {n} character{plural}{detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revealed(mut found: Found, quotable: bool) -> String {
        found.reveal(quotable);
        found.to_string()
    }

    #[test]
    fn values_are_shapes_until_revealed() {
        assert_eq!(Found::value(b"XJZ000000012").to_string(), "a value of 12 characters");
        assert_eq!(revealed(Found::value(b"XJZ000000012"), false), "a value of 12 characters");
        assert_eq!(revealed(Found::value(b"1,250.00"), true), "\"1,250.00\"");
        let mut count = Found::value(b"2\x1b");
        count.reveal(true);
        assert_eq!(format!("{count:#}"), "2\\u{1b}");
        assert_eq!(Found::value(b"X").to_string(), "a value of 1 character");
        assert_eq!(Found::value(b"").to_string(), "an empty value");
        assert_eq!(Found::value(b"AL\x07EX").to_string(), "a value of 5 characters, including a control character");
        assert_eq!(Found::value("JOSÉ".as_bytes()).to_string(), "a value of 4 characters, including characters outside ASCII");
        assert_eq!(Found::value(b"JOS\xC9\x01").to_string(), "a value of 5 characters, including control characters and characters outside ASCII");
        assert_eq!(format!("{:?}", Found::value(b"SMITH")), "a value of 5 characters", "Debug quotes nothing either");
    }

    #[test]
    fn only_known_tags_are_quoted() {
        assert_eq!(Found::tag(b"NM1").to_string(), "segment NM1");
        for garbage in [&b"N#1"[..], b"ALEX", b"DOE", b"nm1", b"\0N1", b""] {
            assert_eq!(Found::tag(garbage).to_string(), "a segment with an unrecognised tag", "{garbage:?}");
        }
        assert_eq!(Found::leading_tag(b"ST*835*0001").to_string(), "segment ST");
        assert_eq!(Found::leading_tag(b"SMITH*ALEX").to_string(), "a segment with an unrecognised tag");
        assert_eq!(revealed(Found::tag(b"ROE"), true), "a segment with an unrecognised tag", "revealing does not make a tag known");
    }

    #[test]
    fn patient_segments_and_unknown_tags_quote_no_values() {
        for tag in ["NM1", "N3", "N4", "DMG", "PER", "REF"] {
            assert!(!values_quotable(Some(tag)), "{tag}");
        }
        for tag in ["CLP", "CAS", "SVC", "BPR", "DTM", "SE", "GS", "ISA"] {
            assert!(values_quotable(Some(tag)), "{tag}");
        }
        assert!(!values_quotable(Some("ALEX")));
        assert!(!values_quotable(Some(UNRECOGNISED_TAG)));
        assert!(!values_quotable(None));
    }
}
