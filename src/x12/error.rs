//! Why an 835 was refused, and where.
//!
//! Every refusal carries a [`Location`] that names as much as is known: the
//! interchange (ISA13), the transaction set (ST02), the segment's ordinal and
//! tag, and the element position. Support staff read these messages to fix or
//! re-request a file, so they say what was expected and what was found,
//! except where what was found may be patient data (see [`privacy`]).

use std::fmt;

use rust_decimal::Decimal;

use super::privacy::{self, Found};

/// Where in a file a problem sits. Fields are filled in as the reader learns
/// them; a problem in the ISA itself has no transaction, for example.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// ISA13 of the interchange the problem is in.
    pub interchange: Option<String>,
    /// ST02 of the transaction set the problem is in.
    pub transaction: Option<String>,
    /// 1-based position of the segment in its transaction set (ST = 1), as a
    /// 999 acknowledgment counts it; for envelope segments, in the file.
    pub segment: Option<u64>,
    /// Tag of that segment (`CLP`, `SVC`, ...).
    pub tag: Option<String>,
    /// Element reference (`CLP04`, `SVC01-2`).
    pub element: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(isa) = &self.interchange {
            parts.push(format!("interchange {isa}"));
        }
        if let Some(st) = &self.transaction {
            parts.push(format!("transaction {st}"));
        }
        match (&self.segment, &self.tag) {
            (Some(n), Some(tag)) => parts.push(format!("segment {n} ({tag})")),
            (Some(n), None) => parts.push(format!("segment {n}")),
            (None, Some(tag)) => parts.push(format!("segment {tag}")),
            (None, None) => {}
        }
        if let Some(el) = &self.element {
            parts.push(el.clone());
        }
        if parts.is_empty() {
            f.write_str("start of file")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What is wrong. One variant per kind of structural failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("no interchange envelope: expected the file to start with an ISA segment, found {found}")]
    NoEnvelope { found: Found },
    #[error("no interchange envelope: the file is empty")]
    EmptyFile,
    #[error("malformed ISA header: {detail}")]
    BadIsa { detail: String },
    #[error("file ends inside {context}: expected {expected}")]
    Truncated { context: &'static str, expected: &'static str },
    #[error("{found} is not expected here{hint}")]
    UnexpectedSegment { found: Found, hint: String },
    /// `place` says where: `AMT at this point of loop 2110`.
    #[error("{found} is not a qualifier for {place} (allowed: {allowed})")]
    UnknownQualifier { place: String, allowed: String, found: Found },
    #[error("required segment {tag} ({name}) is missing from loop {loop_id}")]
    MissingSegment { tag: String, name: String, loop_id: String },
    #[error("segment {tag} repeats more than the {max} times loop {loop_id} allows")]
    TooManySegments { tag: String, loop_id: String, max: u32 },
    #[error("loop {loop_id} repeats more than the {max} times allowed")]
    TooManyLoops { loop_id: String, max: u32 },
    #[error("required element ({name}) is missing")]
    MissingElement { name: String },
    #[error("element is marked not used but holds {found}")]
    UnusedElement { found: Found },
    #[error("segment has {found} elements, at most {max} are defined")]
    TooManyElements { found: usize, max: usize },
    #[error("expected {expected}, found {found}")]
    BadValue { expected: String, found: Found },
    #[error("expected one of the {list} codes, found {found}")]
    UnknownCode { list: String, found: Found },
    #[error("{what} says {found:#} but {expected_from} has {expected}")]
    CountMismatch { what: &'static str, expected: String, found: Found, expected_from: &'static str },
    #[error("{rule} does not balance: expected {expected}, found {found}")]
    Imbalance { rule: &'static str, expected: String, found: String },
    /// An amount is a number, never patient data: it is always shown.
    #[error("amount {amount} is beyond what remitd stores (at most {max})")]
    AmountTooLarge { amount: Decimal, max: &'static str },
    #[error("{figure} comes to {amount}, beyond what remitd stores (at most {max})")]
    FigureTooLarge { figure: &'static str, amount: Decimal, max: &'static str },
    #[error("amount {amount} has a fraction of a cent: remitd stores amounts in whole cents and does not round them")]
    FractionOfCent { amount: Decimal },
    #[error("{guide} is not a supported implementation guide (supported: {supported})")]
    UnsupportedGuide { guide: String, supported: String },
    #[error("segment is longer than {limit} bytes; refusing to buffer it")]
    SegmentTooLong { limit: usize },
    #[error("could not read the file: {detail}")]
    Io { detail: String },
}

impl Problem {
    /// Reveals the values found, when the segment they were found in is one
    /// whose values may be quoted (see [`privacy::values_quotable`]). Tags
    /// decide for themselves.
    pub fn reveal_values(&mut self, at: &Location) {
        let quotable = privacy::values_quotable(at.tag.as_deref());
        match self {
            Problem::UnusedElement { found }
            | Problem::BadValue { found, .. }
            | Problem::UnknownCode { found, .. }
            | Problem::CountMismatch { found, .. }
            | Problem::UnknownQualifier { found, .. } => found.reveal(quotable),
            _ => {}
        }
    }
}

/// A refusal: the file is not a valid 835 and must not be posted.
///
/// Boxed, because every segment's `Result` carries the error type and the
/// happy path should not pay for moving a large one around.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", .0.at, .0.problem)]
pub struct ParseError(Box<Refusal>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub at: Location,
    pub problem: Problem,
}

impl ParseError {
    /// The one way a refusal is made, and so where it is decided what it
    /// may quote: a tag remitd does not know is replaced by
    /// [`privacy::UNRECOGNISED_TAG`], and values found are revealed only in
    /// segments without patient data.
    pub fn new(mut at: Location, mut problem: Problem) -> Self {
        if at.tag.as_deref().is_some_and(|tag| !privacy::known_tag(tag)) {
            at.tag = Some(privacy::UNRECOGNISED_TAG.into());
        }
        problem.reveal_values(&at);
        ParseError(Box::new(Refusal { at, problem }))
    }

    /// Where the file breaks.
    pub fn at(&self) -> &Location {
        &self.0.at
    }

    /// What is wrong there.
    pub fn problem(&self) -> &Problem {
        &self.0.problem
    }
}

pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Something worth a person's attention that does not make the file invalid
/// (duplicate ST02 in a group, CLP05 not matching the PR adjustments, a value
/// longer than the guide allows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    pub at: Location,
    pub message: String,
}

impl Warning {
    /// A warning that a value broke its type where the grammar only warns
    /// (its `on_invalid`), told as a refusal there would be.
    pub fn ignored(at: Location, mut problem: Problem) -> Warning {
        problem.reveal_values(&at);
        Warning { message: format!("{problem} (ignored)"), at }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}
