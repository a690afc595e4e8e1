//! Fuzz target: the streaming segment lexer on arbitrary bytes.
//!
//! Drains `next_token()` until the end of input or the first error, ending
//! the interchange after every segment that starts with `IEA`, as the reader
//! does. It must never panic, and never loop forever (run with `-timeout`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use remitd::x12::lexer::Lexer;

fuzz_target!(|data: &[u8]| {
    let _ = Lexer::new(data).drain();
});
