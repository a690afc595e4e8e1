//! X12 syntax: delimiters, the streaming lexer (with [`scan`], its fast
//! lane), element syntax and simple data types as nom parsers and the error vocabulary every layer above
//! reports in, with [`privacy`] deciding what of a file it may quote.

pub mod delimiters;
pub mod error;
pub mod lexer;
pub mod privacy;
pub mod scan;
pub mod syntax;
pub mod values;

pub use error::{Location, ParseError, Problem, Warning};
pub use privacy::Found;

/// A segment tag packed into an integer (`b"CLP"` → one `u32`), so matching a
/// segment against grammar items and builder rules compares numbers, not
/// byte strings. Tags are two or three characters; anything longer packs to
/// a value no grammar tag has.
pub const fn tag_code(tag: &[u8]) -> u32 {
    if tag.is_empty() || tag.len() > 3 {
        return u32::MAX;
    }
    let mut code = 0u32;
    let mut i = 0;
    while i < tag.len() {
        code = (code << 8) | tag[i] as u32;
        i += 1;
    }
    code
}
