//! Fuzz target: the BAI2 statement reader on arbitrary bytes. It must
//! never panic, and a refusal must point at a line the file has.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::bank::bai2;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = bai2::read(data) {
        let lines = data.split(|b| *b == b'\n').count().max(1);
        assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e}");
    }
});
