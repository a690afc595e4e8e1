//! Typed access to one segment's elements, for the model builder.
//!
//! Values were already checked against the grammar, but the builder still
//! never unwraps: a grammar can be loosened by an analyst, and input must not
//! be able to crash the process.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::limits;
use crate::grammar::elements::Values;
use crate::model::Text;
use crate::x12::values;
use crate::x12::{Found, Problem};

/// An element problem found while building: element reference and problem.
/// Boxed: a `Result` carrying it unboxed is over a hundred bytes, which every
/// accessor's caller then moves through memory on the happy path too.
pub type FieldError = Box<(String, Problem)>;

/// A [`FieldError`] for element (or segment) `element`.
#[cold]
pub fn field_error(element: impl Into<String>, problem: Problem) -> FieldError {
    Box::new((element.into(), problem))
}

#[derive(Clone, Copy)]
pub struct Seg<'a, 'e> {
    /// The tag as it stands (see [`Seg::tag`]).
    pub raw_tag: &'a [u8],
    /// `raw_tag` as a [`tag_code`](crate::x12::tag_code), for cheap dispatch.
    pub code: u32,
    /// Elements after the tag: `els[0]` is element 01.
    pub els: &'e [&'a [u8]],
    pub component: u8,
    /// Amounts and dates the element check already read from `els`.
    pub values: &'e Values,
    /// Every byte of `els` is ASCII, so their text needs no UTF-8 check.
    /// Private: memory safety rests on it (see [`Seg::new_ascii`]).
    ascii: bool,
}

// The accessors are inlined: they hand back strings and amounts, which
// returned through memory cost store-forwarding stalls at every call.
impl<'a, 'e> Seg<'a, 'e> {
    /// A segment whose text is checked as UTF-8 as it is read.
    pub fn new(raw_tag: &'a [u8], code: u32, els: &'e [&'a [u8]], component: u8, values: &'e Values) -> Self {
        Seg { raw_tag, code, els, component, values, ascii: false }
    }

    /// A segment known to be all ASCII, whose text is taken without a UTF-8
    /// check: that check, once per text element, was a twentieth of parse
    /// time, and the lexer learns the same thing of the whole segment in the
    /// pass that finds its terminator.
    ///
    /// # Safety
    /// Every byte of every slice in `els` is below 0x80.
    pub unsafe fn new_ascii(raw_tag: &'a [u8], code: u32, els: &'e [&'a [u8]], component: u8, values: &'e Values) -> Self {
        debug_assert!(els.iter().all(|e| e.is_ascii()), "a segment said to be ASCII is not");
        Seg { raw_tag, code, els, component, values, ascii: true }
    }

    /// [`Seg::new_ascii`] when `ascii`, else [`Seg::new`].
    ///
    /// # Safety
    /// When `ascii` is true, every byte of every slice in `els` is below 0x80.
    #[inline(always)]
    pub unsafe fn of(raw_tag: &'a [u8], code: u32, els: &'e [&'a [u8]], component: u8, values: &'e Values, ascii: bool) -> Self {
        if ascii {
            // SAFETY: as the caller promises.
            unsafe { Seg::new_ascii(raw_tag, code, els, component, values) }
        } else {
            Seg::new(raw_tag, code, els, component, values)
        }
    }

    /// Text of `raw`, which must be an element of this segment or part of
    /// one (hence private).
    #[inline(always)]
    fn text_of(&self, raw: &[u8]) -> Text {
        if self.ascii {
            // SAFETY: `raw` lies within `els`, all ASCII (see `new_ascii`),
            // and ASCII is UTF-8.
            Text::new(unsafe { std::str::from_utf8_unchecked(raw) })
        } else {
            values::text(raw)
        }
    }

    /// The tag as text for messages (`?` when it is not UTF-8). Only
    /// errors need it, so it is not made for every segment.
    pub fn tag(&self) -> &'a str {
        std::str::from_utf8(self.raw_tag).unwrap_or("?")
    }

    fn reference(&self, n: usize) -> String {
        format!("{}{n:02}", self.tag())
    }

    /// Element `n` (1-based) as bytes; empty when absent.
    #[inline(always)]
    pub fn raw(&self, n: usize) -> &'a [u8] {
        self.els.get(n - 1).copied().unwrap_or(b"")
    }

    #[inline(always)]
    pub fn opt(&self, n: usize) -> Option<Text> {
        let raw = self.raw(n);
        (!raw.is_empty()).then(|| self.text_of(raw))
    }

    #[inline(always)]
    pub fn text(&self, n: usize) -> Text {
        self.text_of(self.raw(n))
    }

    /// A required element: missing is a refusal naming the element.
    #[inline(always)]
    pub fn required(&self, n: usize, name: &str) -> Result<Text, FieldError> {
        self.opt(n).ok_or_else(|| self.missing(n, name))
    }

    /// A required amount of money: present, of type `R`, and one the ledger
    /// stores exactly ([`limits::storable`]).
    #[inline(always)]
    pub fn amount(&self, n: usize, name: &str) -> Result<Decimal, FieldError> {
        match self.checked_amount(n) {
            Some(&amount) => Ok(amount),
            None => self.amount_read(n, name),
        }
    }

    /// [`Seg::amount`] for an amount the check did not leave in
    /// [`Values`], or one the ledger would refuse.
    #[inline(never)]
    fn amount_read(&self, n: usize, name: &str) -> Result<Decimal, FieldError> {
        match self.opt_amount_read(n)? {
            Some(amount) => Ok(amount),
            None => Err(self.missing(n, name)),
        }
    }

    /// The amount in element `n` as the check read it, when the ledger
    /// stores it exactly: the path nearly every amount takes. By reference:
    /// an `Option<Decimal>` passed by value went through the stack in
    /// pieces of other widths than it was read back in, and stalled.
    #[inline(always)]
    fn checked_amount(&self, n: usize) -> Option<&Decimal> {
        self.values.decimal_ref(n - 1).filter(|&&amount| limits::fits(amount))
    }

    /// An amount of money that may be absent (see [`Seg::amount`]).
    #[inline(always)]
    pub fn opt_amount(&self, n: usize) -> Result<Option<Decimal>, FieldError> {
        match self.checked_amount(n) {
            Some(&amount) => Ok(Some(amount)),
            None => self.opt_amount_read(n),
        }
    }

    #[inline(never)]
    fn opt_amount_read(&self, n: usize) -> Result<Option<Decimal>, FieldError> {
        match self.quantity(n)? {
            Some(amount) => limits::storable(amount).map(Some).map_err(|problem| field_error(self.reference(n), problem)),
            None => Ok(None),
        }
    }

    /// A number of type `R` that is not money (service units, a CAS
    /// quantity): not posted, so only its type is checked.
    #[inline(always)]
    pub fn quantity(&self, n: usize) -> Result<Option<Decimal>, FieldError> {
        let raw = self.raw(n);
        if raw.is_empty() {
            return Ok(None);
        }
        if let Some(&value) = self.values.decimal_ref(n - 1) {
            return Ok(Some(value));
        }
        values::decimal(raw).map(Some).ok_or_else(|| self.bad(n, values::EXPECTED_R))
    }

    #[inline(always)]
    pub fn date(&self, n: usize) -> Result<Option<NaiveDate>, FieldError> {
        let raw = self.raw(n);
        if raw.is_empty() {
            return Ok(None);
        }
        if let Some(value) = self.values.date(n - 1) {
            return Ok(Some(value));
        }
        values::date(raw).map(Some).ok_or_else(|| self.bad(n, values::EXPECTED_DT))
    }

    /// The components of composite element `n`, as text.
    pub fn components(&self, n: usize) -> impl Iterator<Item = Text> + use<'a, '_, 'e> {
        let raw = self.raw(n);
        let separator = values::component_separator(raw, self.component);
        crate::x12::syntax::pieces(separator, raw).map(|part| self.text_of(part))
    }

    #[cold]
    fn missing(&self, n: usize, name: &str) -> FieldError {
        field_error(self.reference(n), Problem::MissingElement { name: name.to_string() })
    }

    #[cold]
    fn bad(&self, n: usize, expected: &str) -> FieldError {
        field_error(self.reference(n), Problem::BadValue { expected: expected.to_string(), found: Found::value(self.raw(n)) })
    }
}
