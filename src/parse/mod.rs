//! From bytes to validated, typed transaction sets.
//!
//! [`Reader`] streams a file one transaction set at a time; [`Summary`] reads
//! one through to the end keeping only counts; [`FileDocument`] keeps it all
//! for display.

pub mod balance;
pub mod builder;
pub mod document;
pub mod limits;
pub mod reader;
pub mod segment;

use std::io::Read;
use std::sync::Arc;

use rust_decimal::Decimal;

pub use document::FileDocument;
pub use reader::{grammar_for, Parsed, Part, Reader, PART_CLAIMS};

use crate::x12::{ParseError, Warning};

/// What a whole file holds, counted while streaming.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub interchanges: u64,
    pub transactions: u64,
    pub claims: u64,
    /// Sum of BPR02 over the transaction sets.
    pub paid: Decimal,
    pub bytes: u64,
    pub warnings: Vec<Warning>,
    pub warnings_dropped: u64,
}

impl Summary {
    /// Reads `src` to the end in bounded memory; the first refusal ends it.
    pub fn read(src: impl Read) -> Result<Summary, ParseError> {
        let mut reader = Reader::in_parts(src, PART_CLAIMS);
        let mut s = Summary::default();
        let mut last_ic = None;
        for parsed in reader.by_ref() {
            let parsed = parsed?;
            if !last_ic.as_ref().is_some_and(|ic| Arc::ptr_eq(ic, &parsed.interchange)) {
                s.interchanges += 1;
                last_ic = Some(parsed.interchange.clone());
            }
            s.claims += parsed.transaction.claims.len() as u64;
            if parsed.part.last {
                s.transactions += 1;
                s.paid += parsed.transaction.payment.amount;
            }
        }
        let (warnings, dropped) = reader.warnings();
        s.warnings = warnings.to_vec();
        s.warnings_dropped = dropped;
        s.bytes = reader.bytes_read();
        Ok(s)
    }
}
