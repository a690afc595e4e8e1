//! The streaming 835 reader: envelopes, transaction sets, validation.
//!
//! [`Reader`] is an iterator of transaction sets. Each one is placed segment
//! by segment in its grammar, checked element by element, built into the
//! typed model, balanced, and only then handed out, so memory holds one
//! transaction set at a time however large the file is. Envelope trailers
//! (SE, GE, IEA) are checked as they arrive: a caller that must not act on a
//! file that turns out invalid later (posting) reads the whole file once
//! before acting on any of it.

use std::collections::HashSet;
use std::io::Read;
use std::sync::Arc;

use super::assemble::{element_warning, Assembler, Begin, Close};
use super::builder::LoopRoles;
use super::pipeline;
use super::segment::Seg;
use crate::grammar::elements::{self, ElementWarning, Lane, Values};
use crate::grammar::machine::Machine;
use crate::grammar::Grammar;
use crate::model::{GroupHeader, InterchangeHeader, Text, Transaction, Usage};
use crate::x12::delimiters::{Delimiters, IsaHeader};
use crate::x12::error::{Location, ParseError, Problem, Result, Warning};
use crate::x12::lexer::{Lexer, Split};
use crate::x12::privacy::Found;
use crate::x12::{tag_code, values};

/// Warnings kept per file; past this they are only counted, so a file with a
/// million over-long values cannot grow memory without bound.
pub const MAX_WARNINGS: usize = 1000;

/// Claims per part for readers that must stay in bounded memory whatever
/// a payer sends (ingesting, summaries): about 2.5 MB of model. Sets this
/// size or smaller, which is nearly all of them, come whole.
pub const PART_CLAIMS: usize = 1000;

/// One valid transaction set with the envelopes it came in, or one part
/// of a large one (see [`Reader::in_parts`]).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub interchange: Arc<InterchangeHeader>,
    pub group: Arc<GroupHeader>,
    /// The set's header with this part's claims; the provider adjustments
    /// (PLB, after every claim) only in the last part.
    pub transaction: Transaction,
    pub part: Part,
}

/// Which part of its transaction set a [`Parsed`] is. Only the last part
/// of a set has been validated whole (SE, the transaction balance): a
/// caller acting on earlier parts must be able to undo what it did, or
/// must have read the file through once before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 0 for the first part.
    pub index: u32,
    pub last: bool,
}

impl Part {
    /// A whole transaction set.
    pub const WHOLE: Part = Part { index: 0, last: true };

    pub fn is_whole(self) -> bool {
        self == Part::WHOLE
    }

    pub fn is_first(self) -> bool {
        self.index == 0
    }
}

struct OpenInterchange {
    header: Arc<InterchangeHeader>,
    groups: u64,
}

struct OpenGroup {
    header: Arc<GroupHeader>,
    /// The GS segment's place in the file, for errors about GS elements
    /// found only when a transaction set starts (GS08).
    ordinal: u64,
    transactions: u64,
    seen: HashSet<Text>,
}

struct OpenTransaction {
    grammar: &'static Grammar,
    machine: Machine<'static>,
    control_number: Text,
    ordinal: u64,
    /// Parts handed out so far.
    parts: u32,
    /// Claims begun since the last part (the open one included, once
    /// there is one): what the builder holds.
    claims_in_part: usize,
}

/// What the lexer tells of a segment besides its elements.
#[derive(Clone, Copy)]
struct Shape<'a> {
    /// The segment's bytes, which split on `separator` are its elements.
    bytes: &'a [u8],
    /// The element separator in force.
    separator: u8,
    /// ISA16, the component separator in force.
    component: u8,
    /// ISA11 when it is a separator, else ISA16 again: with ISA16, the
    /// bytes a value may hold even when they are control characters.
    repetition: u8,
    /// Every byte of the segment is ASCII (see [`Split::Segment`]).
    ascii: bool,
    /// Some byte of the segment is below 0x20 (see [`Split::Segment`]).
    control: bool,
    /// Where the element separators stand (see [`Split::Segment`]).
    seps: u64,
}

impl<'a> Shape<'a> {
    fn of(m: Marks, bytes: &'a [u8], ascii: bool, control: bool, seps: u64) -> Shape<'a> {
        Shape { bytes, separator: m.separator, component: m.component, repetition: m.repetition, ascii, control, seps }
    }
}

/// The separators of the interchange being read, as [`Shape`] holds them:
/// kept by the [`Reader`] from the ISA rather than handed over with each
/// segment (see [`Split::Segment`]).
#[derive(Clone, Copy, Default)]
struct Marks {
    separator: u8,
    component: u8,
    repetition: u8,
}

impl Marks {
    fn of(d: &Delimiters) -> Marks {
        Marks { separator: d.element, component: d.component, repetition: d.repetition.unwrap_or(d.component) }
    }
}

/// What a segment asks the reader to do next.
enum Step {
    Continue,
    Yield(Box<Parsed>),
    EndInterchange,
    /// The end of the input, which was clean.
    Finished,
}

/// Where the reader sends the segments it has placed and checked, to be
/// built into the model (see [`super::assemble`]).
enum Out {
    /// Built here, in the same call: the [`Reader`] iterator.
    Here(Box<Assembler>),
    /// Sent in batches to an assembler on another thread.
    Batched(pipeline::Sender),
}

impl Default for Out {
    fn default() -> Self {
        Out::Here(Box::default())
    }
}

impl Out {
    fn begin(&mut self, begin: Begin) {
        match self {
            Out::Here(a) => a.begin(begin),
            Out::Batched(s) => s.begin(begin),
        }
    }

    /// One placed segment (`def`, in loop `loop_idx`), checked `whole` or
    /// in the reader's lane only.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // One segment's parts, as the reader holds them.
    fn segment(&mut self, loop_idx: usize, def: usize, whole: bool, els: &[&[u8]], code: u32, ordinal: u64, shape: Shape<'_>, values: &Values) -> Result<()> {
        match self {
            Out::Here(a) => {
                // SAFETY: `shape.ascii` is the lexer's finding that every
                // byte of this segment is below 0x80 (`Split::Segment::ascii`),
                // and `els` are slices of it.
                let seg = unsafe { Seg::of(els[0], code, &els[1..], shape.component, values, shape.ascii) };
                a.segment(loop_idx, &seg, ordinal)
            }
            Out::Batched(s) => s.segment(loop_idx, def, whole, shape.bytes, shape.separator, shape.seps, code, ordinal, shape.component, shape.ascii),
        }
    }

    fn warning(&mut self, warning: Warning) {
        match self {
            Out::Here(a) => a.keep(warning),
            Out::Batched(s) => s.warning(warning),
        }
    }

    fn part(&mut self, index: u32, ordinal: u64, interchange: Arc<InterchangeHeader>, group: Arc<GroupHeader>) -> Result<Step> {
        match self {
            Out::Here(a) => a.part(index, ordinal, interchange, group).map(|p| Step::Yield(Box::new(p))),
            Out::Batched(s) => {
                s.part(index, ordinal, interchange, group);
                Ok(Step::Continue)
            }
        }
    }

    fn close(&mut self, close: Close) -> Result<Step> {
        match self {
            Out::Here(a) => a.close(close).map(|p| Step::Yield(Box::new(p))),
            Out::Batched(s) => {
                s.close(close);
                Ok(Step::Continue)
            }
        }
    }
}

#[derive(Default)]
struct State {
    interchange: Option<OpenInterchange>,
    group: Option<OpenGroup>,
    tx: Option<OpenTransaction>,
    interchanges: u64,
    /// ISA13 values seen in this file: a repeat is worth a warning (a resend
    /// concatenated to the original), not a refusal.
    interchange_controls: HashSet<Text>,
    element_warnings: Vec<ElementWarning>,
    /// Amounts and dates of the current segment, read by the element check.
    values: Box<Values>,
    /// Claims per part when sets are read in parts (see [`Reader::in_parts`]).
    part_claims: Option<usize>,
    out: Out,
}

/// Streaming reader of one 835 file.
pub struct Reader<R> {
    lexer: Lexer<R>,
    state: State,
    /// The open interchange's separators.
    marks: Marks,
    /// Reused element buffer (see [`recycle`]).
    elements: Vec<&'static [u8]>,
    finished: bool,
}

/// Empties a vector of borrowed slices so its allocation can hold slices of
/// another lifetime: the in-place collect reuses the buffer, and since the
/// vector is empty no value crosses lifetimes.
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| -> &'b [u8] { unreachable!("vector was cleared") }).collect()
}

impl<R: Read> Reader<R> {
    /// Hands out whole transaction sets, however large.
    pub fn new(src: R) -> Self {
        Reader { lexer: Lexer::new(src), state: State::default(), marks: Marks::default(), elements: Vec::with_capacity(32), finished: false }
    }

    /// Hands out a set of more than `claims` claims in parts of `claims`
    /// claims (the last part has the rest), so memory holds one part
    /// however large a set is. Each part carries the set's header; see
    /// [`Part`] for what is validated when.
    pub fn in_parts(src: R, claims: usize) -> Self {
        Reader::parted(src, Some(claims))
    }

    /// [`Reader::in_parts`] with `part_claims`, else [`Reader::new`].
    pub(super) fn parted(src: R, part_claims: Option<usize>) -> Self {
        let mut reader = Reader::new(src);
        reader.state.part_claims = part_claims.map(|n| n.max(1));
        reader
    }

    /// A reader that sends what it reads to `out` (see [`pipeline`]).
    pub(super) fn sending(src: R, part_claims: Option<usize>, out: pipeline::Sender) -> Self {
        let mut reader = Reader::parted(src, part_claims);
        reader.state.out = Out::Batched(out);
        reader
    }

    /// The sender of a reader made by [`Reader::sending`], taken back.
    pub(super) fn take_sender(&mut self) -> Option<pipeline::Sender> {
        match std::mem::take(&mut self.state.out) {
            Out::Batched(sender) => Some(sender),
            Out::Here(_) => None,
        }
    }

    /// Warnings so far (at most [`MAX_WARNINGS`]) and how many more were dropped.
    pub fn warnings(&self) -> (&[Warning], u64) {
        match &self.state.out {
            Out::Here(a) => a.warnings(),
            Out::Batched(_) => (&[], 0),
        }
    }

    /// Bytes of input consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.lexer.bytes_read
    }

    pub(super) fn step(&mut self) -> Result<Option<Box<Parsed>>> {
        loop {
            match self.next_step()? {
                Step::Continue => {}
                Step::Yield(parsed) => return Ok(Some(parsed)),
                Step::EndInterchange => self.lexer.end_interchange(),
                Step::Finished => return Ok(None),
            }
        }
    }

    /// Reads one token and acts on it.
    fn next_step(&mut self) -> Result<Step> {
        let mut els = recycle(std::mem::take(&mut self.elements));
        if let Some(Split::Segment { bytes, ordinal, ascii, control, seps }) = self.lexer.fast_split(&mut els) {
            let step = self.state.segment(&els, Shape::of(self.marks, bytes, ascii, control, seps), ordinal);
            self.elements = recycle(els);
            return step;
        }
        let mut els = recycle(els);
        let step = match self.lexer.next_split(&mut els) {
            Err(e) => Err(e),
            Ok(None) => self.state.end_of_file().map(|_| Step::Finished),
            Ok(Some(Split::Interchange { header, ordinal })) => {
                self.marks = Marks::of(&header.delimiters);
                self.state.open_interchange(&header, ordinal).map(|_| Step::Continue)
            }
            Ok(Some(Split::Segment { bytes, ordinal, ascii, control, seps })) => {
                if bytes.is_empty() {
                    Ok(Step::Continue)
                } else {
                    self.state.segment(&els, Shape::of(self.marks, bytes, ascii, control, seps), ordinal)
                }
            }
        };
        self.elements = recycle(els);
        step
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Parsed>;

    /// The next valid transaction set; after the first error, `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        match self.step() {
            Ok(Some(p)) => Some(Ok(*p)),
            Ok(None) => {
                self.finished = true;
                None
            }
            Err(e) => {
                self.finished = true;
                Some(Err(e))
            }
        }
    }
}

/// A hint when a tag does not start with a letter or digit: the byte before
/// it is then probably not the segment terminator the file uses (one is
/// taken from the byte after ISA16), or a separator is doubled.
fn delimiter_hint(raw_tag: &[u8]) -> String {
    match raw_tag.first() {
        Some(b) if !b.is_ascii_alphanumeric() => format!(
            "; the tag starts with the byte 0x{b:02X} ({}), so the segment terminator may not be the one this file uses: remitd takes it from the byte right after ISA16",
            if b.is_ascii_graphic() { format!("'{}'", *b as char) } else { "a control character".to_string() }
        ),
        _ => String::new(),
    }
}

/// A tag as text for messages: `?` when it is not UTF-8.
pub(super) fn tag_text(raw: &[u8]) -> &str {
    std::str::from_utf8(raw).unwrap_or("?")
}

fn isa_text(h: &IsaHeader, n: usize) -> Text {
    values::text(h.elements[n - 1].trim_ascii())
}

/// Control numbers match when equal as text or, both being digits, as numbers
/// (`000000001` and `1`).
fn same_control(a: &str, b: &str) -> bool {
    a == b || matches!((values::integer(a.as_bytes()), values::integer(b.as_bytes())), (Some(x), Some(y)) if x == y)
}

impl State {
    fn loc(&self, segment: Option<u64>, tag: &str, element: Option<String>) -> Location {
        Location {
            interchange: self.interchange.as_ref().map(|i| i.header.control_number.to_string()),
            transaction: self.tx.as_ref().map(|t| t.control_number.to_string()),
            segment,
            tag: Some(tag.to_string()),
            element,
        }
    }

    fn fail<T>(&self, segment: u64, tag: &str, element: Option<&str>, problem: Problem) -> Result<T> {
        Err(ParseError::new(self.loc(Some(segment), tag, element.map(str::to_string)), problem))
    }

    fn warn(&mut self, at: Location, message: String) {
        self.keep(Warning { at, message });
    }

    fn keep(&mut self, warning: Warning) {
        self.out.warning(warning);
    }

    fn open_interchange(&mut self, h: &IsaHeader, ordinal: u64) -> Result<()> {
        let control_number = isa_text(h, 13);
        let at = |el: &str| Location { interchange: None, transaction: None, segment: Some(ordinal), tag: Some("ISA".into()), element: Some(el.into()) };
        let bad = |el: &str, expected: &str, found: Text| Err(ParseError::new(at(el), Problem::BadValue { expected: expected.into(), found: found.into() }));
        if control_number.is_empty() || values::integer(control_number.as_bytes()).is_none() {
            return bad("ISA13", "a numeric interchange control number", control_number);
        }
        let Some(date) = values::short_date(h.elements[8].trim_ascii()) else {
            return bad("ISA09", "an interchange date YYMMDD", isa_text(h, 9));
        };
        let time = isa_text(h, 10);
        if values::time(time.as_bytes()).is_none() {
            return bad("ISA10", "an interchange time HHMM", time);
        }
        let usage = match h.elements[14].trim_ascii() {
            b"P" => Usage::Production,
            b"T" => Usage::Test,
            _ => return bad("ISA15", "P (production) or T (test)", isa_text(h, 15)),
        };
        let header = InterchangeHeader {
            control_number,
            sender_qualifier: isa_text(h, 5),
            sender_id: isa_text(h, 6),
            receiver_qualifier: isa_text(h, 7),
            receiver_id: isa_text(h, 8),
            date,
            time,
            version: isa_text(h, 12),
            usage,
        };
        self.interchanges += 1;
        let repeated = !self.interchange_controls.insert(header.control_number.clone());
        let control_number = header.control_number.clone();
        self.interchange = Some(OpenInterchange { header: Arc::new(header), groups: 0 });
        if repeated {
            let at = Location {
                interchange: Some(control_number.to_string()),
                segment: Some(ordinal),
                tag: Some("ISA".into()),
                element: Some("ISA13".into()),
                ..Location::default()
            };
            self.warn(at, format!("interchange control number {control_number} is used more than once in this file"));
        }
        Ok(())
    }

    fn end_of_file(&self) -> Result<()> {
        let open = if self.tx.is_some() {
            Some(("a transaction set", "SE, GE and IEA"))
        } else if self.group.is_some() {
            Some(("a functional group", "GE and IEA"))
        } else if self.interchange.is_some() {
            Some(("an interchange", "IEA"))
        } else {
            None
        };
        if let Some((context, expected)) = open {
            let at = Location {
                interchange: self.interchange.as_ref().map(|i| i.header.control_number.to_string()),
                transaction: self.tx.as_ref().map(|t| t.control_number.to_string()),
                segment: self.tx.as_ref().map(|t| t.ordinal),
                ..Location::default()
            };
            return Err(ParseError::new(at, Problem::Truncated { context, expected }));
        }
        if self.interchanges == 0 {
            return Err(ParseError::new(Location::default(), Problem::EmptyFile));
        }
        Ok(())
    }

    /// One segment inside an interchange. `file_ordinal` counts from the first ISA.
    fn segment(&mut self, els: &[&[u8]], shape: Shape<'_>, file_ordinal: u64) -> Result<Step> {
        let raw_tag = els[0];
        // Tags are compared as packed codes; the length check keeps the
        // comparison exact (a code alone does not tell `ST` from `\0ST`).
        let code = tag_code(raw_tag);
        let is = |tag: &[u8]| raw_tag.len() == tag.len() && code == tag_code(tag);
        if self.tx.is_some() {
            if is(b"ST") || is(b"GE") || is(b"GS") || is(b"IEA") {
                let t = self.tx.as_ref().map_or(0, |t| t.ordinal + 1);
                let problem = Problem::MissingSegment { tag: "SE".into(), name: "Transaction Set Trailer".into(), loop_id: "835".into() };
                return self.fail(t, tag_text(raw_tag), None, problem);
            }
            return self.transaction_segment(code, els, shape);
        }
        let in_group = self.group.is_some();
        if in_group && is(b"ST") {
            self.open_transaction(els, shape)
        } else if in_group && is(b"GE") {
            self.close_group(els, file_ordinal)
        } else if !in_group && is(b"GS") {
            self.open_group(els, file_ordinal)
        } else if !in_group && is(b"IEA") {
            self.close_interchange(els, file_ordinal)
        } else {
            let expected = if in_group { "ST or GE" } else { "GS or IEA" };
            let problem = Problem::UnexpectedSegment { found: Found::tag(raw_tag), hint: format!(" (expected {expected}){}", delimiter_hint(raw_tag)) };
            self.fail(file_ordinal, tag_text(raw_tag), None, problem)
        }
    }

    fn open_group(&mut self, els: &[&[u8]], ordinal: u64) -> Result<Step> {
        let get = |n: usize| els.get(n).map(|e| values::text(e.trim_ascii())).unwrap_or_default();
        let bad =
            |el: &str, expected: &str, found: Text| self.fail(ordinal, "GS", Some(el), Problem::BadValue { expected: expected.into(), found: found.into() });
        let Some(date) = values::date(get(4).as_bytes()) else {
            return bad("GS04", "a group date CCYYMMDD", get(4));
        };
        if values::time(get(5).as_bytes()).is_none() {
            return bad("GS05", "a group time HHMM", get(5));
        }
        if values::integer(get(6).as_bytes()).is_none() {
            return bad("GS06", "a numeric group control number", get(6));
        }
        if get(8).is_empty() {
            return self.fail(ordinal, "GS", Some("GS08"), Problem::MissingElement { name: "Version / Release / Industry Identifier Code".into() });
        }
        let header = GroupHeader { control_number: get(6), functional_id: get(1), sender: get(2), receiver: get(3), date, time: get(5), version: get(8) };
        if let Some(i) = self.interchange.as_mut() {
            i.groups += 1;
        }
        // Nothing in the money depends on GS01, and each set says what it is
        // (ST01 must be 835): another functional id is worth a warning only.
        let id = get(1);
        if id != "HP" {
            let shown = if !id.is_empty() && id.len() <= 3 && id.bytes().all(|b| b.is_ascii_alphanumeric()) { id.to_string() } else { "another value".into() };
            let at = self.loc(Some(ordinal), "GS", Some("GS01".into()));
            self.warn(at, format!("GS01 is {shown}, not HP (health care claim payment/advice); the group's transaction sets are read as what their ST01 says"));
        }
        self.group = Some(OpenGroup { header: Arc::new(header), ordinal, transactions: 0, seen: HashSet::new() });
        Ok(Step::Continue)
    }

    fn close_group(&mut self, els: &[&[u8]], ordinal: u64) -> Result<Step> {
        let Some(group) = self.group.as_ref() else { return Ok(Step::Continue) };
        let count = els.get(1).map(|e| values::text(e)).unwrap_or_default();
        let control = els.get(2).map(|e| values::text(e)).unwrap_or_default();
        if values::integer(count.as_bytes()) != Some(group.transactions as i64) {
            let problem = Problem::CountMismatch {
                what: "GE01 (number of transaction sets)",
                expected: group.transactions.to_string(),
                found: count.into(),
                expected_from: "the group",
            };
            return self.fail(ordinal, "GE", Some("GE01"), problem);
        }
        if !same_control(&control, &group.header.control_number) {
            let problem = Problem::CountMismatch {
                what: "GE02 (group control number)",
                expected: group.header.control_number.to_string(),
                found: control.into(),
                expected_from: "GS06",
            };
            return self.fail(ordinal, "GE", Some("GE02"), problem);
        }
        self.group = None;
        Ok(Step::Continue)
    }

    fn close_interchange(&mut self, els: &[&[u8]], ordinal: u64) -> Result<Step> {
        let Some(ic) = self.interchange.as_ref() else { return Ok(Step::Continue) };
        let count = els.get(1).map(|e| values::text(e)).unwrap_or_default();
        let control = els.get(2).map(|e| values::text(e)).unwrap_or_default();
        if values::integer(count.as_bytes()) != Some(ic.groups as i64) {
            let problem = Problem::CountMismatch {
                what: "IEA01 (number of functional groups)",
                expected: ic.groups.to_string(),
                found: count.into(),
                expected_from: "the interchange",
            };
            return self.fail(ordinal, "IEA", Some("IEA01"), problem);
        }
        if !same_control(&control, &ic.header.control_number) {
            let problem = Problem::CountMismatch {
                what: "IEA02 (interchange control number)",
                expected: ic.header.control_number.to_string(),
                found: control.into(),
                expected_from: "ISA13",
            };
            return self.fail(ordinal, "IEA", Some("IEA02"), problem);
        }
        self.interchange = None;
        Ok(Step::EndInterchange)
    }

    fn open_transaction(&mut self, els: &[&[u8]], shape: Shape<'_>) -> Result<Step> {
        let get = |n: usize| els.get(n).map(|e| values::text(e)).unwrap_or_default();
        let control_number = get(2);
        let group = self.group.as_mut().map(|g| {
            g.transactions += 1;
            (g.seen.insert(control_number.clone()), g.header.clone(), g.ordinal)
        });
        let Some((first_time, group_header, group_ordinal)) = group else { return Ok(Step::Continue) };
        self.tx = None;
        if get(1) != "835" {
            return self.fail(1, "ST", Some("ST01"), Problem::BadValue { expected: "835 (health care claim payment/advice)".into(), found: get(1).into() });
        }
        let declared = if get(3).is_empty() { group_header.version.clone() } else { get(3) };
        let Some(grammar) = grammar_for(&declared) else {
            let supported = Grammar::built_in_guides().collect::<Vec<_>>().join(", ");
            let problem = Problem::UnsupportedGuide { guide: declared.to_string(), supported };
            // Named where it was read: ST03, or else the group's GS08.
            return match get(3).is_empty() {
                true => self.fail(group_ordinal, "GS", Some("GS08"), problem),
                false => self.fail(1, "ST", Some("ST03"), problem),
            };
        };
        let Some(roles) = LoopRoles::of(grammar) else { unreachable!("built-in grammars define every 835 loop (checked by the grammar tests)") };
        let interchange = self.interchange.as_ref().map(|i| i.header.control_number.clone()).unwrap_or_default();
        self.out.begin(Begin { grammar, roles, interchange, control_number: control_number.clone() });
        self.tx =
            Some(OpenTransaction { grammar, machine: Machine::new(grammar), control_number: control_number.clone(), ordinal: 0, parts: 0, claims_in_part: 0 });
        if !first_time {
            let at = self.loc(Some(1), "ST", Some("ST02".into()));
            self.warn(at, format!("transaction set control number {control_number} is used more than once in group {}", group_header.control_number));
        }
        self.transaction_segment(tag_code(b"ST"), els, shape)
    }

    fn transaction_segment(&mut self, code: u32, els: &[&[u8]], shape: Shape<'_>) -> Result<Step> {
        let Some(tx) = self.tx.as_mut() else { return Ok(Step::Continue) };
        tx.ordinal += 1;
        let ordinal = tx.ordinal;
        let raw_tag = els[0];
        let qualifier = els.get(1).copied().unwrap_or(b"");
        let placement = match tx.machine.place(code, raw_tag, qualifier) {
            Ok(p) => p,
            Err(problem) => {
                let element = matches!(problem, Problem::UnknownQualifier { .. }).then(|| format!("{}01", tag_text(raw_tag)));
                return self.fail(ordinal, tag_text(raw_tag), element.as_deref(), problem);
            }
        };
        let def = &tx.grammar.segments[placement.segment];
        if shape.control {
            if let Err(e) = elements::check_characters(def, &els[1..], [shape.component, shape.repetition]) {
                return self.fail(ordinal, tag_text(raw_tag), Some(&e.element), e.problem);
            }
        }
        let lane = match self.out {
            Out::Here(_) => Lane::All,
            Out::Batched(_) => Lane::Reader,
        };
        let whole = match elements::check_lane(tx.grammar, def, &els[1..], shape.component, &mut self.element_warnings, &mut self.values, lane) {
            Ok(whole) => whole,
            Err(e) => return self.fail(ordinal, tag_text(raw_tag), Some(&e.element), e.problem),
        };
        self.out.segment(placement.loop_idx, placement.segment, whole, els, code, ordinal, shape, &self.values)?;
        if !self.element_warnings.is_empty() {
            let pending = std::mem::take(&mut self.element_warnings);
            for w in pending {
                let at = self.loc(Some(ordinal), tag_text(raw_tag), Some(w.element));
                self.keep(element_warning(at, w.note));
            }
        }
        if raw_tag == b"SE" {
            return self.close_transaction(els);
        }
        // A part ends when a claim begins (the one before it is finished).
        if code == tag_code(b"CLP") {
            if let (Some(tx), Some(n)) = (self.tx.as_mut(), self.part_claims) {
                tx.claims_in_part += 1;
                if tx.claims_in_part > n {
                    tx.claims_in_part = 1;
                    return self.part();
                }
            }
        }
        Ok(Step::Continue)
    }

    /// The claims finished so far, as one part of the open set.
    fn part(&mut self) -> Result<Step> {
        let (Some(tx), Some(ic), Some(group)) = (self.tx.as_mut(), self.interchange.as_ref(), self.group.as_ref()) else { return Ok(Step::Continue) };
        let index = tx.parts;
        tx.parts += 1;
        self.out.part(index, tx.ordinal, ic.header.clone(), group.header.clone())
    }

    fn close_transaction(&mut self, els: &[&[u8]]) -> Result<Step> {
        let Some(tx) = self.tx.as_ref() else { return Ok(Step::Continue) };
        let ordinal = tx.ordinal;
        let count = els.get(1).map(|e| values::text(e)).unwrap_or_default();
        if values::integer(count.as_bytes()) != Some(ordinal as i64) {
            let problem = Problem::CountMismatch {
                what: "SE01 (number of segments)",
                expected: ordinal.to_string(),
                found: count.into(),
                expected_from: "the transaction set",
            };
            return self.fail(ordinal, "SE", Some("SE01"), problem);
        }
        let control = els.get(2).map(|e| values::text(e)).unwrap_or_default();
        if control != tx.control_number {
            let problem = Problem::CountMismatch {
                what: "SE02 (transaction set control number)",
                expected: tx.control_number.to_string(),
                found: control.into(),
                expected_from: "ST02",
            };
            return self.fail(ordinal, "SE", Some("SE02"), problem);
        }
        if let Err(problem) = tx.machine.finish() {
            return self.fail(ordinal, "SE", None, problem);
        }
        let Some(tx) = self.tx.take() else { return Ok(Step::Continue) };
        let (Some(ic), Some(group)) = (self.interchange.as_ref(), self.group.as_ref()) else { return Ok(Step::Continue) };
        self.out.close(Close { ordinal, interchange: ic.header.clone(), group: group.header.clone(), parts: tx.parts })
    }
}

/// The built-in grammar for a guide named in ST03 or GS08. Payers send the
/// base guide id (`005010X221`) as often as the addenda one (`005010X221A1`);
/// the addenda grammar reads both.
pub fn grammar_for(guide: &str) -> Option<&'static Grammar> {
    let family = if guide.starts_with("005010X221") {
        "005010X221A1"
    } else if guide.starts_with("004010X091") {
        "004010X091A1"
    } else {
        return None;
    };
    Grammar::built_in(family)
}
