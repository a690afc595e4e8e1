//! Checks a segment's elements against its definition in the grammar: usage,
//! data type, code lists and lengths.
//!
//! This runs for every element of every file, so the happy path allocates
//! nothing and errors are boxed to keep `Result`s small.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::schema::{DataType, OnInvalid, Usage};
use super::{Element, Grammar, Segment};
use crate::x12::error::Problem;
use crate::x12::privacy::Found;
use crate::x12::syntax::{self, SyntaxError};
use crate::x12::values;

/// A refusal found in one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// `CLP04`, or `SVC01-2` for a component.
    pub element: String,
    pub problem: Problem,
}

/// A finding worth a warning, in one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementWarning {
    pub element: String,
    pub note: Note,
}

/// What an [`ElementWarning`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// Something odd, in words that quote nothing from the file.
    Message(String),
    /// A value that broke its type where the grammar only warns (its
    /// `on_invalid`): the refusal it would have been, which the reader
    /// tells as its location allows ([`Warning::ignored`](crate::x12::Warning::ignored)).
    Ignored(Problem),
}

type Checked<T = ()> = Result<T, Box<ElementError>>;

fn refuse<T>(element: &str, problem: Problem) -> Checked<T> {
    Err(Box::new(ElementError { element: element.to_string(), problem }))
}

/// Elements whose typed value [`Values`] can hold (the first 32 of a segment:
/// more than any 835 segment defines).
const CACHED: usize = 32;

/// Amounts and dates the check read while accepting a segment, by element
/// index (0 is element 01), so that building the model does not read them
/// a second time. Holds exactly what [`values::decimal`] and [`values::date`]
/// return for those bytes; an element not held here is read again by whoever
/// needs it, which gives the same value.
pub struct Values {
    decimals: [Decimal; CACHED],
    dates: [NaiveDate; CACHED],
    has_decimal: u32,
    has_date: u32,
    /// The last date read, as its 8 bytes and its value: the dates of a
    /// claim (statement, service lines) are nearly always the same day, and
    /// reading one is dearer than comparing 8 bytes.
    last_date: Option<([u8; 8], NaiveDate)>,
}

impl Default for Values {
    fn default() -> Self {
        Values { decimals: [Decimal::ZERO; CACHED], dates: [NaiveDate::MIN; CACHED], has_decimal: 0, has_date: 0, last_date: None }
    }
}

impl Values {
    /// Forgets the previous segment's values.
    pub fn clear(&mut self) {
        self.has_decimal = 0;
        self.has_date = 0;
    }

    /// The amount in element `i` (0 is element 01), if the check read one.
    pub fn decimal_ref(&self, i: usize) -> Option<&Decimal> {
        (i < CACHED && self.has_decimal & (1 << i) != 0).then(|| &self.decimals[i])
    }

    /// The date in element `i` (0 is element 01), if the check read one.
    pub fn date(&self, i: usize) -> Option<NaiveDate> {
        (i < CACHED && self.has_date & (1 << i) != 0).then(|| self.dates[i])
    }

    fn set_decimal(&mut self, i: usize, value: Decimal) {
        if i < CACHED {
            self.decimals[i] = value;
            self.has_decimal |= 1 << i;
        }
    }

    /// [`values::date`] of `raw`, remembering the last one.
    fn read_date(&mut self, raw: &[u8]) -> Option<NaiveDate> {
        let key: [u8; 8] = raw.try_into().ok()?;
        match self.last_date {
            Some((k, date)) if k == key => Some(date),
            _ => {
                let date = values::date(raw)?;
                self.last_date = Some((key, date));
                Some(date)
            }
        }
    }

    fn set_date(&mut self, i: usize, value: NaiveDate) {
        if i < CACHED {
            self.dates[i] = value;
            self.has_date |= 1 << i;
        }
    }
}

/// What checking a simple value needs from its [`Element`], packed small so
/// that a segment's definitions sit in a cache line or two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    kind: DataType,
    required: bool,
    not_used: bool,
    /// Lengths, clamped to `u32` (no value comes near: segments are at most
    /// [`MAX_SEGMENT`](crate::x12::lexer::MAX_SEGMENT) bytes). `max` 0: no limit.
    min: u32,
    max: u32,
    /// Index into [`Grammar::code_lists`], or `u32::MAX` for none.
    codes: u32,
}

impl Spec {
    pub fn new(kind: DataType, usage: Usage, min: usize, max: usize, codes: Option<usize>) -> Spec {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Spec {
            kind,
            required: usage == Usage::Required,
            not_used: usage == Usage::NotUsed,
            min: clamp(min),
            max: clamp(max),
            // An index too large to pack can never be looked up: such values
            // take the full rules, which use the real index.
            codes: codes.map_or(u32::MAX, |c| u32::try_from(c).unwrap_or(u32::MAX - 1)),
        }
    }
}

/// Checks `elements` (the segment's elements after its tag), keeping in
/// `values` the amounts and dates read along the way.
///
/// Each element first goes through `accepts`, which only answers whether
/// the value is clean: present when required, well typed, a listed code,
/// long enough, not too long, not in a not-used element. Nearly every
/// element is; the few that are not are checked again by the full rules,
/// which say what is wrong (refusal or warning) exactly as they always have.
#[inline(always)]
pub fn check(grammar: &Grammar, seg: &Segment, elements: &[&[u8]], component: u8, warnings: &mut Vec<ElementWarning>, values: &mut Values) -> Checked {
    values.clear();
    let defined = seg.elements.len();
    // Trailing empty elements past the definition are harmless padding.
    let used = elements.iter().rposition(|e| !e.is_empty()).map_or(0, |p| p + 1);
    if used > defined {
        return refuse(&format!("{}{:02}", seg.tag, defined + 1), Problem::TooManyElements { found: used, max: defined });
    }
    for (i, (&value, spec)) in elements[..used].iter().zip(&seg.specs).enumerate() {
        if !accepts_element(grammar, seg, i, value, spec, component, values) {
            check_element(grammar, &seg.elements[i], value, component, warnings)?;
        }
    }
    // Past the last element present only required ones have anything to say.
    if let Some(tail) = seg.specs.get(used..seg.required_upto) {
        for (i, spec) in tail.iter().enumerate() {
            if spec.required {
                check_element(grammar, &seg.elements[used + i], b"", component, warnings)?;
            }
        }
    }
    Ok(())
}

/// Whether element `i` (present or empty) passes without a word.
#[inline(always)]
fn accepts_element(grammar: &Grammar, seg: &Segment, i: usize, value: &[u8], spec: &Spec, component: u8, values: &mut Values) -> bool {
    match (value.is_empty(), spec.kind) {
        (true, _) => !spec.required,
        (false, DataType::Composite) => accepts_composite(grammar, &seg.elements[i], value, component, values),
        (false, _) => accepts(grammar, spec, value, i, values),
    }
}

/// Which elements [`check_lane`] looks at, when reading is shared by two
/// threads (`parse::pipeline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Every element: [`check`] itself.
    All,
    /// Every element but amounts and dates (`R`, `DT`, among the first
    /// 32 elements; see `Segment::amounts_and_dates`): the reader's share.
    Reader,
    /// Amounts and dates only: the assembler's share, which it reads anyway
    /// to build the model.
    Assembler,
}

/// [`check`], shared between two lanes: each looks at its own elements on
/// the fast path (`accepts`), and the first element either finds less than
/// clean sends the whole segment through [`check`] there and then, so that
/// warnings come in element order and the refusal is the first one, exactly
/// as one thread gives them. `Ok(true)`: [`check`] ran, the segment is
/// checked whole and the other lane has nothing to do; `Ok(false)`: this
/// lane's elements are clean.
#[inline(always)]
pub fn check_lane(
    grammar: &Grammar,
    seg: &Segment,
    elements: &[&[u8]],
    component: u8,
    warnings: &mut Vec<ElementWarning>,
    values: &mut Values,
    lane: Lane,
) -> Checked<bool> {
    let whole = |warnings: &mut Vec<ElementWarning>, values: &mut Values| check(grammar, seg, elements, component, warnings, values).map(|()| true);
    if lane == Lane::All {
        return whole(warnings, values);
    }
    values.clear();
    let used = elements.iter().rposition(|e| !e.is_empty()).map_or(0, |p| p + 1);
    if used > seg.elements.len() {
        return whole(warnings, values);
    }
    let assembler = lane == Lane::Assembler;
    if assembler {
        // Only the amounts and dates present, a bit each (elements past
        // the 32nd are the reader's).
        let present = if used >= 32 { u32::MAX } else { (1u32 << used) - 1 };
        let mut mask = seg.amounts_and_dates & present;
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if !accepts_element(grammar, seg, i, elements[i], &seg.specs[i], component, values) {
                return whole(warnings, values);
            }
        }
        return Ok(false);
    }
    for (i, (&value, spec)) in elements[..used].iter().zip(&seg.specs).enumerate() {
        let mine = i >= 32 || seg.amounts_and_dates & (1 << i) == 0;
        if mine && !accepts_element(grammar, seg, i, value, spec, component, values) {
            return whole(warnings, values);
        }
    }
    let missing = seg.specs.get(used..seg.required_upto).is_some_and(|tail| tail.iter().any(|spec| spec.required));
    if missing {
        return whole(warnings, values);
    }
    Ok(false)
}

/// Refuses a control character (a byte below 0x20) in any element of a
/// segment the lexer found one in. X12 allows none in data (line breaks
/// are gone by now); PostgreSQL cannot store a NUL in text; and a name
/// with an escape sequence in it is no name. `allowed` are the component
/// and repetition separators in force, which may themselves be control
/// characters and stand inside values.
#[cold]
pub fn check_characters(seg: &Segment, elements: &[&[u8]], allowed: [u8; 2]) -> Checked {
    for (i, &value) in elements.iter().enumerate() {
        if let Err(e) = syntax::printable(allowed, value) {
            return match seg.elements.get(i) {
                Some(def) => refuse(&def.reference, e.for_element(&def.name)),
                None => refuse(&format!("{}{:02}", seg.tag, i + 1), e.problem().clone()),
            };
        }
    }
    Ok(())
}

/// The full rules for one element: what is wrong with it, as a refusal or
/// as warnings.
#[cold]
fn check_element(grammar: &Grammar, def: &Element, value: &[u8], component: u8, warnings: &mut Vec<ElementWarning>) -> Checked {
    if def.data_type == DataType::Composite {
        check_composite(grammar, def, value, component, warnings)
    } else {
        check_simple(grammar, def, value, warnings)
    }
}

/// Whether the full rules would pass `value` (present) without a word: no
/// refusal, no warning. False sends it through them.
#[inline(always)]
fn accepts(grammar: &Grammar, spec: &Spec, value: &[u8], i: usize, values: &mut Values) -> bool {
    if value.is_empty() || spec.not_used {
        return false;
    }
    let length = match spec.kind {
        DataType::ID | DataType::AN => value.len(),
        DataType::R => match values::amount(value) {
            Some((amount, digits)) => {
                values.set_decimal(i, amount);
                digits
            }
            None => return false,
        },
        DataType::DT => match values.read_date(value) {
            Some(date) => {
                values.set_date(i, date);
                value.len()
            }
            None => return false,
        },
        DataType::N0 if values::integer(value).is_some() => value.iter().filter(|b| b.is_ascii_digit()).count(),
        DataType::TM if values::time(value).is_some() => value.len(),
        DataType::Composite => return false,
        DataType::N0 | DataType::TM => return false,
    };
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    if length < spec.min || (spec.max > 0 && length > spec.max) {
        return false;
    }
    spec.codes == u32::MAX || grammar.code_lists.get(spec.codes as usize).is_some_and(|codes| codes.contains(value))
}

/// [`accepts`] for a composite element: separated by ISA16, every component
/// clean or empty and optional, nothing past the last defined component.
fn accepts_composite(grammar: &Grammar, def: &Element, value: &[u8], component: u8, values: &mut Values) -> bool {
    if value.is_empty() || def.spec.not_used || values::component_separator(value, component) != component {
        return false;
    }
    let mut parts = syntax::pieces(component, value);
    for comp in &def.components {
        let part = parts.next().unwrap_or(b"");
        let clean = if part.is_empty() { !comp.spec.required } else { accepts(grammar, &comp.spec, part, usize::MAX, values) };
        if !clean {
            return false;
        }
    }
    parts.all(|p| p.is_empty())
}

fn check_composite(grammar: &Grammar, def: &Element, value: &[u8], component: u8, warnings: &mut Vec<ElementWarning>) -> Checked {
    if value.is_empty() || def.usage == Usage::NotUsed {
        return check_presence(def, value, warnings).map(|_| ());
    }
    let separator = values::component_separator(value, component);
    if separator != component {
        warnings.push(ElementWarning {
            element: def.reference.clone(),
            note: Note::Message(format!("components are separated by {:?}, not by ISA16 {:?}", separator as char, component as char)),
        });
    }
    let mut parts = syntax::pieces(separator, value);
    for comp in &def.components {
        check_simple(grammar, comp, parts.next().unwrap_or(b""), warnings)?;
    }
    if parts.any(|p| !p.is_empty()) {
        let found = syntax::pieces(separator, value).count();
        return refuse(&def.reference, Problem::TooManyElements { found, max: def.components.len() });
    }
    Ok(())
}

/// Returns whether there is a value to check further.
fn check_presence(def: &Element, value: &[u8], warnings: &mut Vec<ElementWarning>) -> Checked<bool> {
    match (value.is_empty(), def.usage) {
        (true, Usage::Required) => refuse(&def.reference, Problem::MissingElement { name: def.name.clone() }),
        (true, _) => Ok(false),
        (false, Usage::NotUsed) => {
            warnings.push(ElementWarning {
                element: def.reference.clone(),
                note: Note::Message(format!("element ({}) is marked not used in the guide but holds a value", def.name)),
            });
            Ok(false)
        }
        (false, _) => Ok(true),
    }
}

fn check_simple(grammar: &Grammar, def: &Element, value: &[u8], warnings: &mut Vec<ElementWarning>) -> Checked {
    match check_value(grammar, def, value, warnings) {
        Err(e) if def.on_invalid == OnInvalid::Warn => {
            let ElementError { element, problem } = *e;
            warnings.push(ElementWarning { element, note: Note::Ignored(problem) });
            Ok(())
        }
        other => other,
    }
}

fn check_value(grammar: &Grammar, def: &Element, value: &[u8], warnings: &mut Vec<ElementWarning>) -> Checked {
    if !check_presence(def, value, warnings)? {
        return Ok(());
    }
    let length = match length_of(def.data_type, value) {
        Ok(length) => length,
        Err(e) => return refuse(&def.reference, e.for_element(&def.name)),
    };
    if let Some(list) = def.codes {
        let codes = &grammar.code_lists[list];
        if !codes.contains(value) {
            return refuse(&def.reference, Problem::UnknownCode { list: codes.name.clone(), found: Found::value(value) });
        }
    }
    if length < def.min {
        let expected = format!("at least {} characters ({})", def.min, def.name);
        return refuse(&def.reference, Problem::BadValue { expected, found: Found::value(value) });
    }
    if def.max > 0 && length > def.max {
        warnings.push(ElementWarning {
            element: def.reference.clone(),
            note: Note::Message(format!("value is {length} characters long, the guide allows {} ({})", def.max, def.name)),
        });
    }
    Ok(())
}

/// Reads `raw` with the nom parser of its type ([`values`]): its length as
/// the guide measures it (digits for `R` and `N0`, bytes otherwise), or
/// what the parser expected.
fn length_of(kind: DataType, raw: &[u8]) -> Result<usize, SyntaxError> {
    match kind {
        DataType::R => values::whole(values::type_r(), raw).map(|(_, digits)| digits),
        // The minus does not count toward a numeric length.
        DataType::N0 => values::whole(values::type_n0(), raw).map(|_| raw.len() - usize::from(raw.first() == Some(&b'-'))),
        DataType::DT => values::whole(values::type_dt(), raw).map(|_| raw.len()),
        DataType::TM => values::whole(values::type_tm(), raw).map(|_| raw.len()),
        DataType::ID | DataType::AN | DataType::Composite => Ok(raw.len()),
    }
}
