//! Finding a segment's terminator and its element separators in one pass.
//!
//! The lexer used to look for the terminator (`memchr`), then for line breaks
//! in the segment (`memchr2`), then split it byte by byte: three passes and
//! two vectorised searches set up for every segment, when a segment is a
//! couple of dozen bytes long. Here each 16-byte block of input is compared
//! with the terminator and the separator at once, with SSE2 on x86-64 and
//! with word arithmetic (SWAR) elsewhere, and only the bytes that match are
//! looked at one by one. The same pass notes control bytes (a line break may
//! need removing) and bytes outside ASCII (text must then be checked as
//! UTF-8), so neither needs a pass of its own.

/// Bytes compared at once.
const BLOCK: usize = 16;

/// What one block holds, a bit per byte (bit i for byte i).
#[derive(Clone, Copy)]
struct Masks {
    term: u32,
    sep: u32,
    /// Bytes below 0x20. Exact only up to the first flagged byte (see the
    /// SWAR `control_bytes`), which is all [`segment`] asks of it.
    control: u32,
    /// Bytes of 0x80 and above.
    high: u32,
}

/// What [`segment`] found.
pub struct Found {
    /// Length of the segment, terminator excluded.
    pub len: usize,
    /// Whether a byte below 0x20 stands in the segment: it may hold a line
    /// break to remove, so the caller checks before trusting the bytes.
    pub control: bool,
    /// Whether every byte of the segment is ASCII, so that every element is
    /// text without a UTF-8 check.
    pub ascii: bool,
    /// Where the element separators stand, a bit per byte, when the
    /// segment is shorter than 64 bytes (nearly all are); else [`NO_SEPARATORS`].
    /// With the bytes, this is the split again, for [`elements_at`].
    pub seps: u64,
}

/// [`Found::seps`] of a segment of 64 bytes or more: no mask holds it. A
/// real mask never has bit 63 set, since it flags bytes before the
/// terminator, which is within the first 64.
pub const NO_SEPARATORS: u64 = u64::MAX;

/// Pushes into `out` (cleared first) the elements of `segment` whose
/// separators stand where `seps` (a [`Found::seps`] mask) flags them: the
/// split [`segment`] made, without reading the bytes again.
#[inline]
pub fn elements_at<'a>(segment: &'a [u8], seps: u64, out: &mut Vec<&'a [u8]>) {
    out.clear();
    let from = push(segment, seps, 0, 0, out);
    out.push(&segment[from..]);
}

/// Splits a whole segment (its terminator already gone) on `sep` into
/// `out` (cleared first), as [`syntax::split`](super::syntax::split) does,
/// a block at a time: for a segment whose [`Found::seps`] could not hold
/// its separators, split again after it was copied elsewhere.
pub fn split<'a>(sep: u8, segment: &'a [u8], out: &mut Vec<&'a [u8]>) {
    out.clear();
    let whole = segment.len() / BLOCK * BLOCK;
    let mut from = 0;
    for (n, chunk) in segment[..whole].chunks_exact(BLOCK).enumerate() {
        from = push(segment, u64::from(block(chunk, sep, sep).sep), n * BLOCK, from, out);
    }
    // The last, partial block, padded with a byte that is not `sep`.
    let rest = &segment[whole..];
    let mut last = [sep.wrapping_add(1); BLOCK];
    last[..rest.len()].copy_from_slice(rest);
    let seps = block(&last, sep, sep).sep & ((1u32 << rest.len()) - 1);
    from = push(segment, u64::from(seps), whole, from, out);
    out.push(&segment[from..]);
}

/// Looks for the terminator `term` from the start of `input` and splits what
/// comes before it on the element separator `sep` into `els` (the tag is
/// element 0), as [`syntax::split`](super::syntax::split), the nom reference, would.
/// `None` when the terminator is not within the blocks that can be read
/// whole; the caller then takes its slower path, which also handles the end
/// of the buffer. `els` holds some elements then: the caller clears it.
#[inline]
pub fn segment<'a>(input: &'a [u8], sep: u8, term: u8, els: &mut Vec<&'a [u8]>) -> Option<Found> {
    let short = short(input, sep, term);
    let from = push(input, short.seps, 0, 0, els);
    match short.found {
        Some(found) => {
            els.push(&input[from..found.len]);
            Some(found)
        }
        None => long(input, sep, term, from, short.control, short.high, els),
    }
}

/// What [`short`] read: separators, control and non-ASCII bytes a bit per
/// byte, up to the terminator or over all it looked at when it found none.
struct Short {
    found: Option<Found>,
    seps: u64,
    control: u32,
    high: u32,
}

/// How many blocks [`short`] looks at: 64 bytes, the length of a mask.
const SHORT_BLOCKS: usize = 64 / BLOCK;

/// A segment whose terminator is within its first 64 bytes (nearly all).
/// The masks are built first without touching `els`, then the caller walks
/// them: pushing as the blocks are read, the loop did not fit in the
/// registers.
#[inline(always)]
fn short(input: &[u8], sep: u8, term: u8) -> Short {
    let (mut seps, mut control, mut high) = (0u64, 0u32, 0u32);
    for (n, chunk) in input.chunks_exact(BLOCK).take(SHORT_BLOCKS).enumerate() {
        let m = block(chunk, sep, term);
        let keep = if m.term != 0 { (1u32 << m.term.trailing_zeros()) - 1 } else { u32::MAX };
        seps |= u64::from(m.sep & keep) << (n * BLOCK);
        control |= m.control & keep;
        high |= m.high & keep;
        if m.term != 0 {
            let len = n * BLOCK + m.term.trailing_zeros() as usize;
            return Short { found: Some(Found { len, control: control != 0, ascii: high == 0, seps }), seps, control, high };
        }
    }
    Short { found: None, seps, control, high }
}

/// [`segment`] for a terminator past the first 64 bytes, which [`short`]
/// has read (its elements are pushed; the next starts at `from`): goes on
/// from there, pushing elements block by block.
// Kept out of line: it is rare, and inlined it crowds the short path.
#[inline(never)]
fn long<'a>(input: &'a [u8], sep: u8, term: u8, mut from: usize, mut control: u32, mut high: u32, els: &mut Vec<&'a [u8]>) -> Option<Found> {
    // Past the blocks `short` read; when it read fewer, there are no more.
    for (n, chunk) in input.chunks_exact(BLOCK).enumerate().skip(SHORT_BLOCKS) {
        let base = n * BLOCK;
        let m = block(chunk, sep, term);
        if m.term != 0 {
            // Only bytes before the terminator belong to this segment.
            let below = (1u32 << m.term.trailing_zeros()) - 1;
            control |= m.control & below;
            high |= m.high & below;
            from = push(input, u64::from(m.sep & below), base, from, els);
            let len = base + m.term.trailing_zeros() as usize;
            els.push(&input[from..len]);
            return Some(Found { len, control: control != 0, ascii: high == 0, seps: NO_SEPARATORS });
        }
        control |= m.control;
        high |= m.high;
        from = push(input, u64::from(m.sep), base, from, els);
    }
    None
}

/// Pushes the element ending at each separator flagged in `bits` (bytes
/// from `base`); where the next element starts.
#[inline(always)]
fn push<'a>(input: &'a [u8], mut bits: u64, base: usize, mut from: usize, els: &mut Vec<&'a [u8]>) -> usize {
    while bits != 0 {
        // `from <= at < input.len()`: separators are found in order, inside
        // blocks read from `input`.
        let at = base + bits.trailing_zeros() as usize;
        els.push(&input[from..at]);
        from = at + 1;
        bits &= bits - 1;
    }
    from
}

/// The masks of one block (`chunk` is [`BLOCK`] bytes long).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn block(chunk: &[u8], sep: u8, term: u8) -> Masks {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8, _mm_set_epi64x};
    let (lo, hi) = words(chunk);
    // SAFETY: these intrinsics need SSE2 and nothing else; the cfg above
    // compiles this only where SSE2 is enabled (it is part of x86-64). None
    // of them touches memory: the block comes in as two words, which the
    // compiler still loads as one.
    unsafe {
        let v = _mm_set_epi64x(hi as i64, lo as i64);
        let bits = |m| _mm_movemask_epi8(m) as u32;
        Masks {
            term: bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(term as i8))),
            sep: bits(_mm_cmpeq_epi8(v, _mm_set1_epi8(sep as i8))),
            // min(v, 0x1F) == v exactly where v <= 0x1F (unsigned).
            control: bits(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v)),
            high: bits(v),
        }
    }
}

/// The masks of one block (`chunk` is [`BLOCK`] bytes long).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn block(chunk: &[u8], sep: u8, term: u8) -> Masks {
    swar::block(chunk, sep, term)
}

/// The two little-endian words of a block.
#[inline(always)]
fn words(chunk: &[u8]) -> (u64, u64) {
    let word = |at: usize| u64::from_le_bytes(chunk.get(at..at + 8).and_then(|w| w.try_into().ok()).unwrap_or([0; 8]));
    (word(0), word(8))
}

/// Word arithmetic on eight bytes at once: the portable [`block`], and a
/// reference for testing the vector one.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2", not(test)), allow(dead_code))]
mod swar {
    use super::{words, Masks};

    /// The masks of one block, two 8-byte words at a time.
    #[inline(always)]
    pub fn block(chunk: &[u8], sep: u8, term: u8) -> Masks {
        let (lo, hi) = words(chunk);
        let both = |f: &dyn Fn(u64) -> u64| (gather(f(lo)) | gather(f(hi)) << 8) as u32;
        Masks {
            term: both(&|w| zero_bytes(w ^ splat(term))),
            sep: both(&|w| zero_bytes(w ^ splat(sep))),
            control: both(&control_bytes),
            high: both(&|w| w & HIGH),
        }
    }

    /// A word with `b` in every byte.
    pub const fn splat(b: u8) -> u64 {
        u64::from_ne_bytes([b; 8])
    }

    const LOW7: u64 = splat(0x7F);
    pub const HIGH: u64 = splat(0x80);

    /// The high bit of each byte of `w` that is zero, and no other bit.
    /// Exact for every byte (unlike the shorter `(w - 0x01..) & !w` form,
    /// which can flag a byte above a real zero), so all matches of a word
    /// can be walked.
    #[inline(always)]
    pub fn zero_bytes(w: u64) -> u64 {
        !(((w & LOW7).wrapping_add(LOW7)) | w | LOW7)
    }

    /// The high bit of bytes of `w` below 0x20 (control characters, among
    /// them CR and LF). Only the lowest flagged byte is exact: a borrow can
    /// flag bytes above it. Used to ask "is there any below this point",
    /// for which that is enough: a false flag needs a true one below it.
    #[inline(always)]
    pub fn control_bytes(w: u64) -> u64 {
        w.wrapping_sub(splat(0x20)) & !w & HIGH
    }

    /// The bit of each byte flagged in `high` (high bits only, as the masks
    /// above give them), gathered into the low 8 bits: bit i for byte i.
    #[inline(always)]
    pub fn gather(high: u64) -> u64 {
        // The multiplier moves bit 8i to bit 56+i; no two products overlap.
        ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> Option<(usize, bool, bool, Vec<&[u8]>)> {
        let mut els = Vec::new();
        segment(input, b'*', b'~', &mut els).map(|f| (f.len, f.control, f.ascii, els))
    }

    const PAD: &[u8] = b"................";

    fn padded(s: &[u8]) -> Vec<u8> {
        [s, PAD].concat()
    }

    #[test]
    fn finds_terminator_and_elements() {
        let input = padded(b"CLP*A**3~\nNM1*QC*1~");
        assert_eq!(run(&input), Some((8, false, true, vec![&b"CLP"[..], b"A", b"", b"3"])));
        assert_eq!(run(&padded(b"~")), Some((0, false, true, vec![&b""[..]])));
        let long = padded(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ*0123456789*IJ~*******");
        assert_eq!(run(&long).map(|r| r.3), Some(vec![&b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[..], b"0123456789", b"IJ"]));
    }

    #[test]
    fn control_and_other_bytes_before_the_terminator_only() {
        assert_eq!(run(&padded(b"AB\r\nCD*E~\n")).map(|r| r.1), Some(true));
        assert_eq!(run(&padded(b"ABCD*EF~\n\r")).map(|r| r.1), Some(false));
        assert_eq!(run(&padded(b"NM1*M\xc3\xbcLLER~")).map(|r| r.2), Some(false));
        assert_eq!(run(&padded(b"NM1*MULLER~\xc3\xbc")).map(|r| r.2), Some(true));
    }

    #[test]
    fn unfinished_blocks_are_left_to_the_caller() {
        assert_eq!(run(b"ABC*DEFGHIJKLMN~").map(|r| r.0), Some(15));
        assert_eq!(run(b"ABC*DEFGHIJKLMNO~"), None);
        assert_eq!(run(b"ABC"), None);
    }

    #[test]
    fn gathers_high_bits() {
        assert_eq!(swar::gather(0x8000_0000_0000_0080), 0b1000_0001);
        assert_eq!(swar::gather(swar::HIGH), 0xFF);
        assert_eq!(swar::gather(0), 0);
    }

    /// The vector block and the word one agree (only up to the first
    /// control byte for `control`, as documented).
    #[test]
    fn both_blocks_agree() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..50_000 {
            let chunk: Vec<u8> = (0..BLOCK).map(|_| rng.u8(..)).collect();
            let (sep, term) = (chunk[rng.usize(..BLOCK)], rng.u8(..));
            let (v, w) = (block(&chunk, sep, term), swar::block(&chunk, sep, term));
            assert_eq!((v.term, v.sep, v.high), (w.term, w.sep, w.high), "{chunk:?}");
            assert_eq!(v.control.trailing_zeros(), w.control.trailing_zeros(), "{chunk:?}");
        }
    }

    #[test]
    fn splits_whole_segments_as_syntax_does() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = b"**~\r\n )+A9\x80\xff";
        for _ in 0..20_000 {
            let input: Vec<u8> = (0..rng.usize(0..200)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let mut expected = Vec::new();
            super::super::syntax::split(b'*', &input, &mut expected);
            let mut els = vec![&b"stale"[..]];
            split(b'*', &input, &mut els);
            assert_eq!(els, expected, "{input:?}");
        }
        // A separator of 0xFF: the padding must not read as one.
        let mut els = Vec::new();
        split(0xFF, b"A\xffB", &mut els);
        assert_eq!(els, [&b"A"[..], b"B"]);
    }

    #[test]
    fn matches_a_plain_split() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"*~\r\n\x01\x1f )+A9\x80\xff";
        for _ in 0..20_000 {
            let len = rng.usize(0..200);
            let input: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let whole = len / BLOCK * BLOCK;
            let expected = input[..whole].iter().position(|&b| b == b'~').map(|end| {
                let mut els = Vec::new();
                super::super::syntax::split(b'*', &input[..end], &mut els);
                (end, input[..end].iter().any(|&b| b < 0x20), input[..end].is_ascii(), els)
            });
            assert_eq!(run(&input), expected, "{input:?}");
            // The mask, where there is one, splits the segment the same way.
            let mut els = Vec::new();
            if let Some(found) = segment(&input, b'*', b'~', &mut els) {
                assert_eq!(found.seps == NO_SEPARATORS, found.len >= 64, "{input:?}");
                if found.seps != NO_SEPARATORS {
                    let mut again = vec![&b"stale"[..]];
                    elements_at(&input[..found.len], found.seps, &mut again);
                    assert_eq!(again, els, "{input:?}");
                }
            }
        }
    }
}
