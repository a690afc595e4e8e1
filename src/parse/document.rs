//! A whole file as one document: the shape `remitd parse --format json`
//! prints and the golden files under `samples/` hold.
//!
//! Unlike [`Reader`], this keeps every transaction set in
//! memory; it is for showing a file, not for posting it.

use std::io::Read;
use std::sync::Arc;

use serde::Serialize;

use super::Reader;
use crate::model::{GroupHeader, InterchangeHeader, Transaction};
use crate::x12::{ParseError, Warning};

#[derive(Debug, Serialize)]
pub struct FileDocument {
    pub file: String,
    pub interchanges: Vec<InterchangeDocument>,
    pub warnings: Vec<Warning>,
    /// Warnings past the per-file limit, counted but not kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub warnings_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct InterchangeDocument {
    #[serde(flatten)]
    pub header: InterchangeHeader,
    pub groups: Vec<GroupDocument>,
}

#[derive(Debug, Serialize)]
pub struct GroupDocument {
    #[serde(flatten)]
    pub header: GroupHeader,
    pub transactions: Vec<Transaction>,
}

impl FileDocument {
    /// Reads `src` to the end; the first refusal ends it. Envelopes that hold
    /// no transaction set do not appear.
    pub fn read(file: &str, src: impl Read) -> Result<FileDocument, ParseError> {
        let mut reader = Reader::new(src);
        let mut interchanges: Vec<InterchangeDocument> = Vec::new();
        // The reader shares one `Arc` per envelope: identity, not content, says
        // whether a transaction set opens a new one (two interchanges may have
        // equal headers).
        let mut current: Option<(Arc<InterchangeHeader>, Arc<GroupHeader>)> = None;
        for parsed in reader.by_ref() {
            let parsed = parsed?;
            let (new_ic, new_group) = match &current {
                Some((ic, g)) => (!Arc::ptr_eq(ic, &parsed.interchange), !Arc::ptr_eq(g, &parsed.group)),
                None => (true, true),
            };
            if new_ic {
                interchanges.push(InterchangeDocument { header: (*parsed.interchange).clone(), groups: Vec::new() });
            }
            let Some(ic) = interchanges.last_mut() else { continue };
            if new_ic || new_group {
                ic.groups.push(GroupDocument { header: (*parsed.group).clone(), transactions: Vec::new() });
            }
            if let Some(g) = ic.groups.last_mut() {
                g.transactions.push(parsed.transaction);
            }
            current = Some((parsed.interchange, parsed.group));
        }
        let (warnings, warnings_dropped) = reader.warnings();
        Ok(FileDocument { file: file.to_string(), interchanges, warnings: warnings.to_vec(), warnings_dropped })
    }

    pub fn transactions(&self) -> impl Iterator<Item = &Transaction> {
        self.interchanges.iter().flat_map(|i| &i.groups).flat_map(|g| &g.transactions)
    }
}
