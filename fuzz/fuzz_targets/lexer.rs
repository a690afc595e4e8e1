//! Fuzz target: the streaming segment lexer on arbitrary bytes.
//!
//! Drains `next_token()` until the end of input or the first error, ending
//! the interchange after every segment that starts with `IEA`, as the reader
//! does. It must never panic, and never loop forever (run with `-timeout`).
//!
//! Then splits the input twice, once as the reader does (the vector fast
//! lane of `src/x12/scan.rs` where it applies, `next_split` elsewhere) and
//! once through `next_split` only, and requires the same segments, elements
//! and ASCII flags from both: the fast lane must be an exact shortcut, and
//! its ASCII flag is what lets the reader skip UTF-8 checks.

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::x12::lexer::{Lexer, Split};

include!("../shared/splits.rs");

fuzz_target!(|data: &[u8]| {
    let _ = Lexer::new(data).drain();
    assert_eq!(splits(data, true), splits(data, false));
});
