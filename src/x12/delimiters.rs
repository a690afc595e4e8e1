//! The ISA header: the one fixed-shape segment, which tells how to read every
//! other segment of its interchange.
//!
//! The element separator is the byte right after `ISA`; ISA16 is the component
//! separator; the byte right after ISA16 is the segment terminator; in 5010,
//! ISA11 is the repetition separator. Real files pad ISA fields with dots or
//! make them wider than the 106 characters the standard intends, so ISA is
//! split on its element separator rather than read at fixed offsets.

use nom::bytes::complete::{tag, take, take_till};
use nom::multi::count;
use nom::sequence::terminated;
use nom::{IResult, Parser};

/// The separators one interchange uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub element: u8,
    pub component: u8,
    /// ISA11 when it is a separator (5010); `None` in 4010, where ISA11 is `U`.
    pub repetition: Option<u8>,
    pub segment: u8,
}

impl Delimiters {
    /// Whether CR and LF are noise to be dropped (hard wraps, line breaks after
    /// terminators) rather than the terminator itself.
    pub fn strips_line_breaks(&self) -> bool {
        !matches!(self.segment, b'\r' | b'\n')
    }
}

/// The sixteen ISA elements, as found (padding included), plus the delimiters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaHeader {
    /// ISA01 to ISA16; `elements[0]` is ISA01.
    pub elements: Vec<Vec<u8>>,
    pub delimiters: Delimiters,
}

/// Longest ISA accepted: 106 characters by the standard, with room for the
/// padded and widened headers real senders produce.
pub const MAX_ISA_LEN: usize = 1024;

fn is_line_break(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// nom parser for an ISA whose line breaks have been removed: `ISA`, the
/// element separator, fifteen separated fields, ISA16 and the terminator.
/// ISA split into: element separator, ISA01 to ISA15, ISA16, terminator.
type IsaFields<'a> = (u8, Vec<&'a [u8]>, u8, u8);

fn isa_fields(input: &[u8]) -> IResult<&[u8], IsaFields<'_>> {
    let (rest, _) = tag(&b"ISA"[..]).parse(input)?;
    let (rest, sep) = take(1usize).parse(rest)?;
    let sep = sep[0];
    let (rest, fields) = count(terminated(take_till(|b| b == sep), tag(&[sep][..])), 15).parse(rest)?;
    let (rest, isa16) = take(1usize).parse(rest)?;
    let (rest, term) = take(1usize).parse(rest)?;
    Ok((rest, (sep, fields, isa16[0], term[0])))
}

/// Outcome of looking for an ISA at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum IsaScan {
    /// A complete header and how many raw bytes it used (terminator included).
    Found(IsaHeader, usize),
    /// The buffer ends before the header does; read more and try again.
    NeedMore,
    /// The bytes cannot be an ISA header.
    Invalid(String),
}

/// Reads the ISA header at the start of `raw`. Line breaks inside ISA01 to
/// ISA16 are dropped (hard-wrapped files break the ISA at column 80); the byte
/// right after ISA16 is taken raw, since it may itself be a newline.
pub fn scan_isa(raw: &[u8], at_eof: bool) -> IsaScan {
    if raw.len() < 4 {
        return if at_eof { IsaScan::Invalid("file ends inside the ISA header".into()) } else { IsaScan::NeedMore };
    }
    let sep = raw[3];
    if sep.is_ascii_alphanumeric() || is_line_break(sep) || sep == b' ' {
        return IsaScan::Invalid(format!("element separator after ISA is {:?}, which cannot be a separator", sep as char));
    }
    // Copy the header without line breaks up to and including ISA16, then the
    // terminator byte as it stands.
    let mut clean = Vec::with_capacity(128);
    let mut seps = 0;
    let mut i = 0;
    while i < raw.len() && i < MAX_ISA_LEN {
        let b = raw[i];
        i += 1;
        if seps < 16 && is_line_break(b) {
            continue;
        }
        clean.push(b);
        if b == sep {
            seps += 1;
        }
        if seps == 16 && clean.last() != Some(&sep) {
            // `b` was ISA16; the next raw byte is the terminator.
            if i >= raw.len() {
                break;
            }
            clean.push(raw[i]);
            i += 1;
            return match isa_fields(&clean) {
                Ok((_, (sep, fields, component, segment))) => {
                    build_header(sep, &fields, component, segment).map_or_else(IsaScan::Invalid, |h| IsaScan::Found(h, i))
                }
                // Not the parser's error: it would quote the bytes it
                // stopped at, and a refusal quotes nothing it cannot vouch
                // for (see `privacy`).
                Err(_) => IsaScan::Invalid("could not split the ISA header into its 16 elements".into()),
            };
        }
    }
    if i >= MAX_ISA_LEN {
        IsaScan::Invalid(format!("no complete ISA header within {MAX_ISA_LEN} bytes (expected 16 elements)"))
    } else if at_eof {
        IsaScan::Invalid(format!("file ends inside the ISA header after {seps} of 16 elements"))
    } else {
        IsaScan::NeedMore
    }
}

fn build_header(sep: u8, fields: &[&[u8]], component: u8, segment: u8) -> Result<IsaHeader, String> {
    let repetition = fields[10].first().copied().filter(|&r| fields[10].len() == 1 && !r.is_ascii_alphanumeric() && r != b' ');
    let delimiters = Delimiters { element: sep, component, repetition, segment };
    if component.is_ascii_alphanumeric() || component == b' ' {
        return Err(format!("ISA16 component separator is {:?}, which cannot be a separator", component as char));
    }
    if segment.is_ascii_alphanumeric() || segment == b' ' {
        return Err(format!("segment terminator after ISA16 is {:?}, which cannot be a terminator", segment as char));
    }
    let distinct = [sep, component, segment];
    if distinct[0] == distinct[1] || distinct[0] == distinct[2] || distinct[1] == distinct[2] {
        return Err("element separator, component separator and segment terminator must all differ".into());
    }
    let mut elements: Vec<Vec<u8>> = fields.iter().map(|f| f.to_vec()).collect();
    elements.push(vec![component]);
    Ok(IsaHeader { elements, delimiters })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &[u8] = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~GS*";

    fn found(raw: &[u8]) -> (IsaHeader, usize) {
        match scan_isa(raw, false) {
            IsaScan::Found(h, n) => (h, n),
            other => panic!("expected a header, got {other:?}"),
        }
    }

    #[test]
    fn reads_standard_delimiters() {
        let (h, used) = found(STANDARD);
        assert_eq!(used, 106);
        assert_eq!(h.delimiters, Delimiters { element: b'*', component: b':', repetition: Some(b'^'), segment: b'~' });
        assert_eq!(h.elements[12], b"000000001");
        assert_eq!(h.elements.len(), 16);
    }

    #[test]
    fn tolerates_wide_dotted_and_wrapped_headers() {
        let wide = b"ISA|00|          |00|          |ZZ|MADE UP CLEARING HOUSE         |ZZ|611358935      |130508|0641|U|00401|000003063|0|P|^~";
        let (h, _) = found(wide);
        assert_eq!(h.delimiters.repetition, None);
        assert_eq!(h.delimiters.component, b'^');
        let wrapped: Vec<u8> = [&STANDARD[..80], b"\r\n", &STANDARD[80..]].concat();
        let (h2, used) = found(&wrapped);
        assert_eq!(h2.elements, found(STANDARD).0.elements);
        assert_eq!(used, 108);
    }

    #[test]
    fn newline_terminator_is_kept() {
        let raw = b"ISA+00+..........+01+SECRET....+ZZ+SUBMITTERS.ID..+ZZ+RECEIVERS.ID...+030101+1253+~+00501+000000905+1+T+>\r\nGS";
        let (h, _) = found(raw);
        assert_eq!(h.delimiters.segment, b'\r');
        assert!(!h.delimiters.strips_line_breaks());
    }

    #[test]
    fn short_input_asks_for_more_or_fails_at_eof() {
        assert_eq!(scan_isa(&STANDARD[..50], false), IsaScan::NeedMore);
        assert!(matches!(scan_isa(&STANDARD[..50], true), IsaScan::Invalid(_)));
        assert!(matches!(scan_isa(b"ISAAC*", true), IsaScan::Invalid(_)));
    }
}
