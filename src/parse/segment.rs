//! Typed access to one segment's elements, for the model builder.
//!
//! Values were already checked against the grammar, but the builder still
//! never unwraps: a grammar can be loosened by an analyst, and input must not
//! be able to crash the process.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::grammar::elements::Values;
use crate::model::Text;
use crate::x12::values;
use crate::x12::Problem;

/// An element problem found while building: element reference and problem.
pub type FieldError = (String, Problem);

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
}

// The accessors are inlined: they hand back strings and amounts, which
// returned through memory cost store-forwarding stalls at every call.
impl<'a> Seg<'a, '_> {
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
        (!raw.is_empty()).then(|| values::text(raw))
    }

    #[inline(always)]
    pub fn text(&self, n: usize) -> Text {
        values::text(self.raw(n))
    }

    /// A required element: missing is a refusal naming the element.
    #[inline(always)]
    pub fn required(&self, n: usize, name: &str) -> Result<Text, FieldError> {
        self.opt(n).ok_or_else(|| (self.reference(n), Problem::MissingElement { name: name.to_string() }))
    }

    #[inline(always)]
    pub fn amount(&self, n: usize, name: &str) -> Result<Decimal, FieldError> {
        let raw = self.raw(n);
        if raw.is_empty() {
            return Err((self.reference(n), Problem::MissingElement { name: name.to_string() }));
        }
        if let Some(value) = self.values.decimal(n - 1) {
            return Ok(value);
        }
        values::decimal(raw).ok_or_else(|| self.bad(n, "an amount (X12 type R)"))
    }

    #[inline(always)]
    pub fn opt_amount(&self, n: usize) -> Result<Option<Decimal>, FieldError> {
        let raw = self.raw(n);
        if raw.is_empty() {
            return Ok(None);
        }
        if let Some(value) = self.values.decimal(n - 1) {
            return Ok(Some(value));
        }
        values::decimal(raw).map(Some).ok_or_else(|| self.bad(n, "an amount (X12 type R)"))
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
        values::date(raw).map(Some).ok_or_else(|| self.bad(n, "a calendar date CCYYMMDD"))
    }

    /// The components of composite element `n`.
    pub fn components(&self, n: usize) -> impl Iterator<Item = &'a [u8]> {
        let raw = self.raw(n);
        let separator = values::component_separator(raw, self.component);
        raw.split(move |&b| b == separator)
    }

    fn bad(&self, n: usize, expected: &str) -> FieldError {
        (self.reference(n), Problem::BadValue { expected: expected.to_string(), found: values::text(self.raw(n)).into() })
    }
}
