//! Streaming segment lexer.
//!
//! Reads any `Read` in fixed-size chunks and hands out one segment at a time,
//! so a 1 GB file costs a buffer, not a gigabyte. Each interchange brings its
//! own delimiters (see [`delimiters`](super::delimiters)); between an IEA and
//! the next ISA the lexer knows none and only accepts a new ISA.
//!
//! What real files do, and what happens to it here:
//! - a UTF-8 byte-order mark or whitespace before the ISA: skipped;
//! - CR/LF after terminators or hard wraps every 80 columns, even inside an
//!   element: every CR and LF is dropped when the terminator is neither;
//! - spaces around segments and empty segments: trimmed and skipped;
//! - a last segment with no terminator before end of file: accepted.

use std::borrow::Cow;
use std::io::Read;

use memchr::{memchr, memchr2};
use nom::{IResult, Needed};

use super::delimiters::{scan_isa, Delimiters, IsaHeader, IsaScan};
use super::error::{Location, ParseError, Problem, Result};
use super::privacy::Found;
use super::scan;
use super::syntax;

const CHUNK: usize = 256 * 1024;
/// No 835 segment comes near this; a "segment" this long means the file's
/// terminator is not what its ISA says, and buffering on would eat memory.
pub const MAX_SEGMENT: usize = 1024 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// nom parser for one segment: everything up to the terminator, which is
/// consumed. Streaming: at the end of the buffer it asks for more input.
pub fn segment(terminator: u8) -> impl Fn(&[u8]) -> IResult<&[u8], &[u8]> {
    move |input: &[u8]| match memchr(terminator, input) {
        Some(end) => Ok((&input[end + 1..], &input[..end])),
        None => Err(nom::Err::Incomplete(Needed::Unknown)),
    }
}

/// nom parser for what may stand before a segment: whitespace and, at the
/// very start of a file, a byte-order mark.
pub fn padding(input: &[u8]) -> IResult<&[u8], &[u8]> {
    let skip_bom = if input.starts_with(BOM) { BOM.len() } else { 0 };
    let ws = input[skip_bom..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    let used = skip_bom + ws;
    if used == input.len() {
        return Err(nom::Err::Incomplete(Needed::Unknown));
    }
    Ok((&input[used..], &input[..used]))
}

/// One item from the lexer.
#[derive(Debug)]
pub enum Token<'a> {
    /// A new interchange begins; its delimiters apply until its IEA.
    Interchange(IsaHeader),
    /// A segment of the current interchange, trimmed, line breaks removed,
    /// with the interchange's delimiters and its ordinal in the file.
    Segment { bytes: Cow<'a, [u8]>, delimiters: Delimiters, ordinal: u64 },
}

/// One item from [`Lexer::next_split`]: a [`Token`] whose segment has been
/// split into elements already.
#[derive(Debug)]
pub enum Split<'a> {
    /// As [`Token::Interchange`], with the ISA's ordinal in the file.
    Interchange { header: IsaHeader, ordinal: u64 },
    /// A segment as in [`Token::Segment`]; its elements are in the vector
    /// passed to [`Lexer::next_split`]. `ascii`: every byte of `bytes` is
    /// below 0x80, which callers may rely on for memory safety (element
    /// text then needs no UTF-8 check). `control`: some byte of `bytes` is
    /// below 0x20 (maybe only a separator), so its values need a look.
    /// `seps`: where the element separators stand in `bytes`, a bit per
    /// byte, when the fast lane split a segment shorter than 64 bytes; else
    /// [`scan::NO_SEPARATORS`] (see [`scan::elements_at`]). The delimiters
    /// are the interchange's, as its [`Split::Interchange`] gave them: not
    /// repeated here, since a copy of the small struct, assembled on the
    /// stack byte by byte and read back wider, stalled every segment.
    Segment { bytes: &'a [u8], ordinal: u64, ascii: bool, control: bool, seps: u64 },
}

/// Where a cleaned segment's bytes are.
enum Place {
    /// In the input buffer: start and length.
    Buf(usize, usize),
    /// In `Lexer::scratch`, line breaks removed.
    Scratch,
}

/// Streaming lexer over any reader.
pub struct Lexer<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    delimiters: Option<Delimiters>,
    /// Segments read so far in the file, envelope included.
    pub segments_read: u64,
    /// Bytes consumed so far, for progress reporting.
    pub bytes_read: u64,
    /// A segment with its line breaks removed (see [`Lexer::next_split`]).
    scratch: Vec<u8>,
}

impl<R: Read> Lexer<R> {
    pub fn new(src: R) -> Self {
        Lexer { src, buf: vec![0; CHUNK], start: 0, end: 0, eof: false, delimiters: None, segments_read: 0, bytes_read: 0, scratch: Vec::new() }
    }

    /// The delimiters of the interchange being read, if inside one.
    pub fn delimiters(&self) -> Option<Delimiters> {
        self.delimiters
    }

    /// Called after an IEA: the next thing in the file must be a new ISA or
    /// the end of the file.
    pub fn end_interchange(&mut self) {
        self.delimiters = None;
    }

    /// Reads more bytes, keeping the unread tail. Returns false at end of input.
    fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_SEGMENT + CHUNK {
                return Err(ParseError::new(Location::default(), Problem::SegmentTooLong { limit: MAX_SEGMENT }));
            }
            self.buf.resize(self.buf.len() + CHUNK, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ParseError::new(Location::default(), Problem::Io { detail: e.to_string() })),
            }
        }
    }

    /// The next token, or `None` at a clean end of input.
    pub fn next_token(&mut self) -> Result<Option<Token<'_>>> {
        if !self.skip_padding()? {
            return Ok(None);
        }
        match self.delimiters {
            None => self.next_interchange().map(|h| Some(Token::Interchange(h))),
            Some(d) => {
                let ordinal = self.segments_read + 1;
                self.next_segment(d).map(|s| s.map(|bytes| Token::Segment { bytes, delimiters: d, ordinal }))
            }
        }
    }

    /// [`next_token`](Self::next_token), with the segment split into its
    /// elements (the tag is element 0) in `els`, as [`syntax::split`] would.
    pub fn next_split<'s>(&'s mut self, els: &mut Vec<&'s [u8]>) -> Result<Option<Split<'s>>> {
        els.clear();
        if !self.skip_padding()? {
            return Ok(None);
        }
        let Some(d) = self.delimiters else {
            let header = self.next_interchange()?;
            return Ok(Some(Split::Interchange { header, ordinal: self.segments_read }));
        };
        let ordinal = self.segments_read + 1;
        let bytes = match self.next_segment_place(d)? {
            None => return Ok(None),
            Some(Place::Buf(start, len)) => &self.buf[start..start + len],
            Some(Place::Scratch) => &self.scratch[..],
        };
        syntax::split(d.element, bytes, els);
        let (ascii, control) = (bytes.is_ascii(), bytes.iter().any(|&b| b < 0x20));
        Ok(Some(Split::Segment { bytes, ordinal, ascii, control, seps: scan::NO_SEPARATORS }))
    }

    /// The fast lane of [`next_split`](Self::next_split): the next segment of
    /// an interchange, when it lies whole in the buffer after what padding
    /// comes first, and needs no line breaks removed and no trimming. It is
    /// found and split in one pass by [`scan::segment`], straight into `els`.
    /// Anything else gives `None`, having consumed nothing; `els` may then
    /// hold some elements, and the caller goes the way of `next_split`.
    ///
    /// Two methods rather than one: the elements borrow the buffer, which the
    /// slow path may have to refill.
    pub fn fast_split<'s>(&'s mut self, els: &mut Vec<&'s [u8]>) -> Option<Split<'s>> {
        els.clear();
        // By reference: a copy of the small struct was assembled on the
        // stack byte by byte and read back whole, a store-forwarding stall.
        let d = self.delimiters.as_ref()?;
        let window = &self.buf[self.start..self.end];
        // Whitespace first rules out a byte-order mark: this is exactly what
        // `padding` would skip.
        let skip = window.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if !window.get(skip).is_some_and(|&b| skip > 0 || b != BOM[0]) {
            return None;
        }
        let rest = &window[skip..];
        let found = scan::segment(rest, d.element, d.segment, els)?;
        let bytes = &rest[..found.len];
        if !is_clean(bytes, found.control, d) {
            return None;
        }
        // Counters are updated together, here: a store to one of them just
        // before the others are read back costs a stall.
        let used = skip + found.len + 1;
        let ordinal = self.segments_read + 1;
        self.start += used;
        self.bytes_read += used as u64;
        self.segments_read = ordinal;
        Some(Split::Segment { bytes, ordinal, ascii: found.ascii, control: found.control, seps: found.seps })
    }

    /// Skips what may stand before a segment (see [`padding`]); false at the
    /// end of input.
    fn skip_padding(&mut self) -> Result<bool> {
        loop {
            let window = &self.buf[self.start..self.end];
            // Nearly always the next segment starts right here, or after a
            // line break. Whitespace first rules out a byte-order mark, so
            // this is what `padding` would skip.
            let ws = window.iter().take_while(|b| b.is_ascii_whitespace()).count();
            if window.get(ws).is_some_and(|&b| ws > 0 || b != BOM[0]) {
                self.consume(ws);
                return Ok(true);
            }
            match padding(window) {
                Ok((rest, _)) => {
                    let used = window.len() - rest.len();
                    self.consume(used);
                    return Ok(true);
                }
                Err(_) => {
                    // Only padding left in the buffer: drop it and read on.
                    let bom_partial = window.ends_with(&BOM[..1]) || window.ends_with(&BOM[..2]);
                    if !bom_partial {
                        let n = window.len();
                        self.consume(n);
                    }
                    if !self.fill()? {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// Reads every token to the end or the first error, ending each
    /// interchange at its IEA as the reader does, and returns how many
    /// segments were read. For checks that only ask whether the lexer gets
    /// through an input (the fuzz target and its regression test).
    pub fn drain(mut self) -> Result<u64> {
        loop {
            let is_iea = match self.next_token()? {
                None => return Ok(self.segments_read),
                Some(Token::Interchange(_)) => false,
                Some(Token::Segment { bytes, .. }) => bytes.starts_with(b"IEA"),
            };
            if is_iea {
                self.end_interchange();
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.bytes_read += n as u64;
    }

    fn next_interchange(&mut self) -> Result<IsaHeader> {
        loop {
            let window = &self.buf[self.start..self.end];
            if window.len() >= 3 && !window.starts_with(b"ISA") {
                let found = Found::leading_tag(window);
                let problem = if self.segments_read == 0 {
                    Problem::NoEnvelope { found }
                } else {
                    Problem::UnexpectedSegment { found, hint: " (after IEA only a new ISA or the end of the file may follow)".into() }
                };
                return Err(ParseError::new(Location { segment: Some(self.segments_read + 1), ..Location::default() }, problem));
            }
            match scan_isa(window, self.eof) {
                IsaScan::Found(header, used) => {
                    self.consume(used);
                    self.segments_read += 1;
                    self.delimiters = Some(header.delimiters);
                    return Ok(header);
                }
                IsaScan::Invalid(detail) => {
                    let at = Location { segment: Some(self.segments_read + 1), tag: Some("ISA".into()), ..Location::default() };
                    return Err(ParseError::new(at, Problem::BadIsa { detail }));
                }
                IsaScan::NeedMore => {
                    if !self.fill()? && self.start == self.end {
                        return Err(ParseError::new(Location::default(), Problem::Truncated { context: "the ISA header", expected: "16 elements" }));
                    }
                }
            }
        }
    }

    fn next_segment(&mut self, d: Delimiters) -> Result<Option<Cow<'_, [u8]>>> {
        Ok(self.next_segment_place(d)?.map(|place| match place {
            Place::Buf(start, len) => Cow::Borrowed(&self.buf[start..start + len]),
            Place::Scratch => Cow::Owned(std::mem::take(&mut self.scratch)),
        }))
    }

    /// The next non-empty segment, cleaned and trimmed: where its bytes are.
    fn next_segment_place(&mut self, d: Delimiters) -> Result<Option<Place>> {
        let (raw_start, raw_len) = loop {
            let Some((start, len)) = self.find_segment(d)? else { return Ok(None) };
            // Empty segments (`~~`, blank lines) carry nothing.
            if !self.buf[start..start + len].iter().all(u8::is_ascii_whitespace) {
                break (start, len);
            }
        };
        let raw = &self.buf[raw_start..raw_start + raw_len];
        if d.strips_line_breaks() && memchr2(b'\r', b'\n', raw).is_some() {
            self.scratch.clear();
            self.scratch.extend(raw.iter().copied().filter(|&b| b != b'\r' && b != b'\n'));
            let (lead, trail) = trim_bounds(&self.scratch);
            self.scratch.truncate(self.scratch.len() - trail);
            self.scratch.drain(..lead);
            return Ok(Some(Place::Scratch));
        }
        let (lead, trail) = trim_bounds(raw);
        Ok(Some(Place::Buf(raw_start + lead, raw_len - lead - trail)))
    }

    /// Finds the next segment and consumes it with its terminator; returns
    /// where its bytes are in the buffer, or `None` at end of input.
    fn find_segment(&mut self, d: Delimiters) -> Result<Option<(usize, usize)>> {
        let (raw_start, raw_len, consumed) = loop {
            let window = &self.buf[self.start..self.end];
            match segment(d.segment)(window) {
                Ok((rest, seg)) => break (self.start, seg.len(), window.len() - rest.len()),
                Err(_) => {
                    if window.len() > MAX_SEGMENT {
                        let at = Location { segment: Some(self.segments_read + 1), ..Location::default() };
                        return Err(ParseError::new(at, Problem::SegmentTooLong { limit: MAX_SEGMENT }));
                    }
                    if !self.fill()? {
                        // A last segment without its terminator.
                        let n = self.end - self.start;
                        if n == 0 {
                            return Ok(None);
                        }
                        break (self.start, n, n);
                    }
                }
            }
        };
        self.consume(consumed);
        let raw = &self.buf[raw_start..raw_start + raw_len];
        if !raw.iter().all(u8::is_ascii_whitespace) {
            self.segments_read += 1;
        }
        Ok(Some((raw_start, raw_len)))
    }
}

/// Whether the segment `raw` (terminator excluded) reads as it stands: not
/// empty, nothing to trim, no line break to remove. `control` says whether a
/// byte below 0x20 is in it at all, which spares the search nearly always.
fn is_clean(raw: &[u8], control: bool, d: &Delimiters) -> bool {
    let (Some(first), Some(last)) = (raw.first(), raw.last()) else { return false };
    let trimmed = first.is_ascii_whitespace() || last.is_ascii_whitespace();
    let line_breaks = control && d.strips_line_breaks() && memchr2(b'\r', b'\n', raw).is_some();
    !trimmed && !line_breaks
}

/// How many whitespace bytes lead and trail `seg` (none counted twice).
fn trim_bounds(seg: &[u8]) -> (usize, usize) {
    let lead = seg.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let trail = seg[lead..].iter().rev().take_while(|b| b.is_ascii_whitespace()).count();
    (lead, trail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISA: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~";

    fn tokens(input: &[u8]) -> Vec<String> {
        let mut lexer = Lexer::new(input);
        let mut out = Vec::new();
        while let Some(tok) = lexer.next_token().unwrap() {
            match tok {
                Token::Interchange(_) => out.push("<ISA>".to_string()),
                Token::Segment { bytes, .. } => {
                    let s = String::from_utf8(bytes.into_owned()).unwrap();
                    let is_iea = s.starts_with("IEA");
                    out.push(s);
                    if is_iea {
                        lexer.end_interchange();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn splits_segments_and_strips_noise() {
        let file = format!("\u{feff}  \r\n{ISA}\r\nGS*HP~ ST*835*1 ~\r\n\r\nSE*2*1~~IEA*1*000000001~\n");
        assert_eq!(tokens(file.as_bytes()), ["<ISA>", "GS*HP", "ST*835*1", "SE*2*1", "IEA*1*000000001"]);
    }

    #[test]
    fn hard_wraps_inside_elements_are_removed() {
        let body = format!("{ISA}GS*HP*SENDER~NM1*QC*1*DOE*JANE~IEA*1*000000001~");
        let wrapped: String = body.as_bytes().chunks(80).map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap())).collect();
        assert_eq!(tokens(wrapped.as_bytes()), ["<ISA>", "GS*HP*SENDER", "NM1*QC*1*DOE*JANE", "IEA*1*000000001"]);
    }

    #[test]
    fn newline_terminated_and_unterminated_last_segment() {
        let isa = ISA.replace('~', "\n");
        let file = format!("{isa}GS*HP\r\nIEA*1*000000001");
        assert_eq!(tokens(file.as_bytes()), ["<ISA>", "GS*HP", "IEA*1*000000001"]);
    }

    #[test]
    fn second_interchange_may_change_delimiters() {
        let second = ISA.replace('*', "|").replace('~', "!");
        let file = format!("{ISA}IEA*1*000000001~{second}GS|HP!IEA|1|000000001!");
        assert_eq!(tokens(file.as_bytes()), ["<ISA>", "IEA*1*000000001", "<ISA>", "GS|HP", "IEA|1|000000001"]);
    }

    #[test]
    fn reads_across_chunk_boundaries() {
        let mut file = String::from(ISA);
        for i in 0..40_000 {
            file.push_str(&format!("REF*6R*LINE{i}~"));
        }
        let toks = tokens(file.as_bytes());
        assert_eq!(toks.len(), 40_001);
        assert_eq!(toks[40_000], "REF*6R*LINE39999");
    }

    #[test]
    fn refuses_a_file_without_envelope() {
        let mut lexer = Lexer::new(&b"ST*835*0001~BPR*I~"[..]);
        let err = lexer.next_token().unwrap_err();
        assert!(matches!(err.problem(), Problem::NoEnvelope { .. }), "{err}");
    }
}
