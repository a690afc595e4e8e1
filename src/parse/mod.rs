//! From bytes to validated, typed transaction sets.
//!
//! [`Reader`] streams a file one transaction set at a time; [`pipeline`]
//! does the same on two threads; [`Summary`] reads one through to the end
//! that way keeping only counts; [`FileDocument`] keeps it all
//! for display.

pub mod assemble;
pub mod balance;
pub mod builder;
pub mod document;
pub mod limits;
pub mod pipeline;
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
    /// Reads `src` to the end in bounded memory, on two threads
    /// ([`pipeline`]); the first refusal ends it.
    pub fn read(src: impl Read + Send) -> Result<Summary, ParseError> {
        let mut s = Summary::default();
        let mut last_ic: Option<Arc<_>> = None;
        let finished = pipeline::read(src, Some(PART_CLAIMS), |parsed| {
            if !last_ic.as_ref().is_some_and(|ic| Arc::ptr_eq(ic, &parsed.interchange)) {
                s.interchanges += 1;
                last_ic = Some(parsed.interchange.clone());
            }
            s.claims += parsed.transaction.claims.len() as u64;
            if parsed.part.last {
                s.transactions += 1;
                s.paid += parsed.transaction.payment.amount;
            }
        })?;
        s.warnings = finished.warnings;
        s.warnings_dropped = finished.warnings_dropped;
        s.bytes = finished.bytes;
        Ok(s)
    }
}
