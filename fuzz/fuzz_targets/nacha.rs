//! Fuzz target: the ACH (NACHA) reader on arbitrary bytes.
//!
//! It must never panic, and a refusal must point inside the file: a line
//! that exists and a column of a 94-character record. A file it accepts
//! must write back to a file it reads the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::bank::nacha;

fuzz_target!(|data: &[u8]| {
    match nacha::read(data) {
        Err(e) => {
            let lines = data.split(|b| *b == b'\n').count().max(data.len().div_ceil(nacha::RECORD)).max(1);
            assert!(e.line >= 1 && e.line <= lines && (1..=nacha::RECORD).contains(&e.column), "{e}");
        }
        Ok(file) => {
            let again = nacha::read(nacha::write(&file).as_bytes()).expect("a file written from an accepted one reads");
            assert_eq!(again.deposits(), file.deposits());
        }
    }
});
