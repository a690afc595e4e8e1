//! Fuzz target: the whole reader on arbitrary bytes.
//!
//! Runs `FileDocument::read` and `Summary::read`; results are ignored, but
//! neither may panic. One cheap invariant: a file that reads as a document
//! re-serializes, transaction by transaction, as JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::parse::{FileDocument, Summary};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = FileDocument::read("fuzz", data) {
        for tx in doc.transactions() {
            if let Err(e) = serde_json::to_string(tx) {
                panic!("a transaction read from the input does not serialize as JSON: {e}");
            }
        }
    }
    let _ = Summary::read(data);
});
