//! The second half of reading a transaction set: building the typed model
//! from segments the reader has placed and checked, balancing it, and
//! keeping the file's warnings in order.
//!
//! The reader ([`super::reader`]) knows envelopes, the grammar and element
//! syntax; the [`Assembler`] knows the model. They meet at a narrow
//! interface ([`Begin`], one segment at a time, [`Close`]) so that the two
//! can run on one thread, one call after the other (the [`Reader`]
//! iterator), or on two, with segments passed in batches between them
//! ([`super::pipeline`]), and give the same result either way.
//!
//! [`Reader`]: super::reader::Reader

use std::sync::Arc;

use super::balance;
use super::builder::{Builder, LoopRoles};
use super::reader::{tag_text, Parsed, Part, MAX_WARNINGS};
use super::segment::Seg;
use crate::grammar::elements::{self, ElementWarning, Lane, Note, Values};
use crate::grammar::Grammar;
use crate::model::{GroupHeader, InterchangeHeader, Text};
use crate::x12::error::{Location, ParseError, Result, Warning};

/// A transaction set begins.
#[derive(Debug, Clone)]
pub struct Begin {
    pub grammar: &'static Grammar,
    pub roles: LoopRoles,
    /// ISA13 and ST02, for the locations of refusals.
    pub interchange: Text,
    pub control_number: Text,
}

/// A transaction set's trailer was read and its envelope checks passed.
#[derive(Debug, Clone)]
pub struct Close {
    /// SE's place in the set.
    pub ordinal: u64,
    pub interchange: Arc<InterchangeHeader>,
    pub group: Arc<GroupHeader>,
    /// Parts handed out before this, the last one.
    pub parts: u32,
}

/// The set being built.
struct Open {
    builder: Builder,
    begin: Begin,
}

impl Open {
    /// Builds one segment, placed in loop `loop_idx`; a refusal names it.
    #[inline(always)]
    fn build(&mut self, loop_idx: usize, seg: &Seg<'_, '_>, ordinal: u64) -> Result<()> {
        self.builder.segment(&self.begin.roles, loop_idx, seg, ordinal).map_err(|e| {
            let (element, problem) = *e;
            ParseError::new(location(Some(&self.begin), ordinal, seg.tag(), Some(&element)), problem)
        })
    }
}

/// Builds transaction sets from placed segments and keeps the warnings.
#[derive(Default)]
pub struct Assembler {
    open: Option<Open>,
    /// Claims in the last transaction set, to size the next one's.
    claims_hint: usize,
    warnings: Vec<Warning>,
    warnings_dropped: u64,
    /// What the assembler's lane of the element check found, per segment
    /// (see [`Assembler::check_and_build`]).
    element_warnings: Vec<ElementWarning>,
    values: Box<Values>,
}

impl Assembler {
    /// Warnings so far (at most [`MAX_WARNINGS`]) and how many more were dropped.
    pub fn warnings(&self) -> (&[Warning], u64) {
        (&self.warnings, self.warnings_dropped)
    }

    /// Keeps a warning, or counts it past [`MAX_WARNINGS`].
    pub fn keep(&mut self, warning: Warning) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else {
            self.warnings_dropped += 1;
        }
    }

    pub fn begin(&mut self, begin: Begin) {
        self.open = Some(Open { builder: Builder::new(&begin.grammar.guide, self.claims_hint), begin });
    }

    /// Where a refusal in the open set is.
    fn at(&self, segment: u64, tag: &str, element: Option<&str>) -> Location {
        location(self.open.as_ref().map(|o| &o.begin), segment, tag, element)
    }

    /// Builds one segment of the open set, placed in loop `loop_idx`.
    #[inline(always)]
    pub fn segment(&mut self, loop_idx: usize, seg: &Seg<'_, '_>, ordinal: u64) -> Result<()> {
        match self.open.as_mut() {
            Some(open) => open.build(loop_idx, seg, ordinal),
            None => Ok(()),
        }
    }

    /// Checks the amounts and dates of segment `def` of the open set's
    /// grammar (the assembler's [`Lane`]; unless `whole`, when the reader
    /// checked all of it), then builds it, then keeps its warnings: in the
    /// order one thread does the three.
    #[allow(clippy::too_many_arguments)] // One segment's parts, as the reader sent them.
    pub fn check_and_build(
        &mut self,
        def: usize,
        whole: bool,
        loop_idx: usize,
        els: &[&[u8]],
        code: u32,
        ordinal: u64,
        component: u8,
        ascii: bool,
    ) -> Result<()> {
        let Some(open) = self.open.as_mut() else { return Ok(()) };
        let grammar = open.begin.grammar;
        let values = &mut *self.values;
        let checked = if whole {
            values.clear();
            Ok(true)
        } else {
            elements::check_lane(grammar, &grammar.segments[def], &els[1..], component, &mut self.element_warnings, values, Lane::Assembler)
        };
        if let Err(e) = checked {
            return Err(ParseError::new(location(Some(&open.begin), ordinal, tag_text(els[0]), Some(&e.element)), e.problem));
        }
        // SAFETY: `ascii` is the lexer's finding that every byte of the
        // segment is below 0x80, and `els` are pieces of a copy of it.
        let seg = unsafe { Seg::of(els[0], code, &els[1..], component, values, ascii) };
        open.build(loop_idx, &seg, ordinal)?;
        if !self.element_warnings.is_empty() {
            for w in std::mem::take(&mut self.element_warnings) {
                let at = self.at(ordinal, tag_text(els[0]), Some(&w.element));
                self.keep(element_warning(at, w.note));
            }
        }
        Ok(())
    }

    /// The claims finished so far as part `index` of the open set.
    pub fn part(&mut self, index: u32, ordinal: u64, interchange: Arc<InterchangeHeader>, group: Arc<GroupHeader>) -> Result<Parsed> {
        let Some(open) = self.open.as_mut() else { unreachable!("a part is only taken of an open set") };
        match open.builder.take_part() {
            Ok(transaction) => Ok(Parsed { interchange, group, transaction, part: Part { index, last: false } }),
            Err(e) => {
                let (tag, problem) = *e;
                Err(ParseError::new(self.at(ordinal, &tag, None), problem))
            }
        }
    }

    /// Finishes the open set: builds it, balances it and checks what
    /// posting derives from it, keeping its warnings.
    pub fn close(&mut self, close: Close) -> Result<Parsed> {
        let Some(Open { builder, begin }) = self.open.take() else { unreachable!("a set is only closed when open") };
        let at = |segment: u64, tag: &str, element: Option<&str>| location(Some(&begin), segment, tag, element);
        let (transaction, positions) = match builder.finish() {
            Ok(built) => built,
            Err(e) => {
                let (tag, problem) = *e;
                return Err(ParseError::new(at(close.ordinal, &tag, None), problem));
            }
        };
        self.claims_hint = usize::try_from(positions.claims).unwrap_or(usize::MAX);
        if let Err(f) = balance::check(&transaction, &positions) {
            return Err(ParseError::new(at(f.segment, f.tag, Some(f.element)), f.problem));
        }
        if let Some((clp, figure, problem)) = positions.beyond {
            return Err(ParseError::new(at(clp, "CLP", figure.element()), problem));
        }
        for (segment, message) in positions.warnings {
            self.keep(Warning { at: at(segment, "CLP", Some("CLP05")), message });
        }
        self.warnings_dropped += positions.warnings_dropped;
        Ok(Parsed { interchange: close.interchange, group: close.group, transaction, part: Part { index: close.parts, last: true } })
    }
}

/// Where a refusal in the set `begin` began is.
fn location(begin: Option<&Begin>, segment: u64, tag: &str, element: Option<&str>) -> Location {
    Location {
        interchange: begin.map(|b| b.interchange.to_string()),
        transaction: begin.map(|b| b.control_number.to_string()),
        segment: Some(segment),
        tag: Some(tag.to_string()),
        element: element.map(str::to_string),
    }
}

/// The warning an element check's finding makes at `at`.
pub fn element_warning(at: Location, note: Note) -> Warning {
    match note {
        Note::Message(message) => Warning { at, message },
        Note::Ignored(problem) => Warning::ignored(at, problem),
    }
}
