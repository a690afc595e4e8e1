//! Fuzz target: the whole reader on arbitrary bytes.
//!
//! Runs `FileDocument::read`, the one-thread `Reader` (in parts of two
//! claims) and the two-thread `parse::pipeline` (what `Summary::read` uses);
//! results are ignored, but none may panic. Two invariants: a file that
//! reads as a document re-serializes, transaction by transaction, as JSON;
//! and two threads read the input exactly as one does (the same sets and
//! parts, the same warnings, the same refusal).

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::parse::{pipeline, FileDocument, Reader};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = FileDocument::read("fuzz", data) {
        for tx in doc.transactions() {
            if let Err(e) = serde_json::to_string(tx) {
                panic!("a transaction read from the input does not serialize as JSON: {e}");
            }
        }
    }
    let mut reader = Reader::in_parts(data, 2);
    let mut one = Vec::new();
    let mut refused = None;
    for parsed in reader.by_ref() {
        match parsed {
            Ok(p) => one.push((p.transaction, p.part)),
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    let warned: Vec<String> = if refused.is_some() { Vec::new() } else { reader.warnings().0.iter().map(ToString::to_string).collect() };
    let mut two = Vec::new();
    let (warned_two, refused_two) = match pipeline::read_on(2, data, Some(2), |p| two.push((p.transaction, p.part))) {
        Ok(finished) => (finished.warnings.iter().map(ToString::to_string).collect(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    assert_eq!((one, warned, refused), (two, warned_two, refused_two), "two threads read the input differently from one");
});
