//! Finding a segment's terminator and its element separators in one pass.
//!
//! The lexer used to look for the terminator (`memchr`), then for line breaks
//! in the segment (`memchr2`), then split it byte by byte: three passes and
//! two vectorised searches set up for every segment, when a segment is a
//! couple of dozen bytes long. Here each 8-byte word of input is tested for
//! the terminator and the separator at once with word arithmetic (SWAR), and
//! only the bytes that match are looked at one by one.

/// A word with `b` in every byte.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

const LOW7: u64 = splat(0x7F);
const HIGH: u64 = splat(0x80);

/// The high bit of each byte of `w` that is zero, and no other bit. Exact for
/// every byte (unlike the shorter `(w - 0x01..) & !w` form, which can flag
/// a byte above a real zero), so all matches of a word can be walked.
#[inline(always)]
fn zero_bytes(w: u64) -> u64 {
    !(((w & LOW7).wrapping_add(LOW7)) | w | LOW7)
}

/// The high bit of bytes of `w` below 0x20 (control characters, among them
/// CR and LF). Only the lowest flagged byte is exact: a borrow can flag
/// bytes above it. Used to ask "is there any below this point", for which
/// that is enough: a false flag needs a true one below it.
#[inline(always)]
fn control_bytes(w: u64) -> u64 {
    w.wrapping_sub(splat(0x20)) & !w & HIGH
}

/// What [`segment`] found.
pub struct Found {
    /// Length of the segment, terminator excluded.
    pub len: usize,
    /// Whether a byte below 0x20 stands in the segment: it may hold a line
    /// break to remove, so the caller checks before trusting the bytes.
    pub control: bool,
}

/// Looks for the terminator `term` from the start of `input` and splits what
/// comes before it on the element separator `sep` into `els` (the tag is
/// element 0), as [`split_elements`](super::lexer::split_elements) would.
/// `None` when the terminator is not within the words that can be read
/// whole; the caller then takes its slower path, which also handles the end
/// of the buffer. `els` holds some elements then: the caller clears it.
pub fn segment<'a>(input: &'a [u8], sep: u8, term: u8, els: &mut Vec<&'a [u8]>) -> Option<Found> {
    match short(input, sep, term) {
        Some((len, mut seps, control)) => {
            let mut from = 0;
            while seps != 0 {
                let at = seps.trailing_zeros() as usize;
                els.push(&input[from..at]);
                from = at + 1;
                seps &= seps - 1;
            }
            els.push(&input[from..len]);
            Some(Found { len, control })
        }
        None => long(input, sep, term, els),
    }
}

/// The bit of each byte flagged in `high` (high bits only, as the masks
/// above give them), gathered into the low 8 bits: bit i for byte i.
#[inline(always)]
fn gather(high: u64) -> u64 {
    // The multiplier moves bit 8i to bit 56+i; no two products overlap.
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// A segment whose terminator is within its first 64 bytes (nearly all):
/// its length, a bit per separator position, and whether a control byte is
/// in it. First the masks are built without touching memory, then the
/// caller walks them: interleaved, the two did not fit in the registers.
#[inline(always)]
fn short(input: &[u8], sep: u8, term: u8) -> Option<(usize, u64, bool)> {
    let (sep_w, term_w) = (splat(sep), splat(term));
    let mut seps = 0u64;
    let mut control = 0u64;
    for (n, chunk) in input.chunks_exact(8).take(8).enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let at_term = zero_bytes(w ^ term_w);
        let mut at_sep = zero_bytes(w ^ sep_w);
        let mut here = control_bytes(w);
        if at_term != 0 {
            // Only bytes before the terminator belong to this segment.
            let below = (1u64 << at_term.trailing_zeros()) - 1;
            at_sep &= below;
            here &= below;
        }
        seps |= gather(at_sep) << (8 * n);
        control |= here;
        if at_term != 0 {
            return Some((8 * n + (at_term.trailing_zeros() / 8) as usize, seps, control != 0));
        }
    }
    None
}

/// [`segment`] for a terminator past the first 64 bytes.
// Kept out of line: it is rare, and inlined it crowds the short path.
#[inline(never)]
fn long<'a>(input: &'a [u8], sep: u8, term: u8, els: &mut Vec<&'a [u8]>) -> Option<Found> {
    let (sep_w, term_w) = (splat(sep), splat(term));
    let mut control = 0u64;
    let mut from = 0usize;
    let mut base = 0usize;
    let mut words = input.chunks_exact(8);
    let (last, at_term) = loop {
        let w = u64::from_le_bytes(words.next()?.try_into().unwrap_or([0; 8]));
        let at_term = zero_bytes(w ^ term_w);
        if at_term != 0 {
            break (w, at_term);
        }
        control |= control_bytes(w);
        from = push(input, zero_bytes(w ^ sep_w), base, from, els);
        base += 8;
    };
    // Only bytes before the terminator belong to this segment.
    let below = (1u64 << at_term.trailing_zeros()) - 1;
    control |= control_bytes(last) & below;
    from = push(input, zero_bytes(last ^ sep_w) & below, base, from, els);
    let len = base + (at_term.trailing_zeros() / 8) as usize;
    els.push(&input[from..len]);
    Some(Found { len, control: control != 0 })
}

/// Pushes the element ending at each separator flagged in `bits` (a word at
/// `base`); where the next element starts.
#[inline(always)]
fn push<'a>(input: &'a [u8], mut bits: u64, base: usize, mut from: usize, els: &mut Vec<&'a [u8]>) -> usize {
    while bits != 0 {
        // `from <= at < input.len()`: separators are found in order, inside
        // words read from `input`.
        let at = base + (bits.trailing_zeros() / 8) as usize;
        els.push(&input[from..at]);
        from = at + 1;
        bits &= bits - 1;
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> Option<(usize, bool, Vec<&[u8]>)> {
        let mut els = Vec::new();
        segment(input, b'*', b'~', &mut els).map(|f| (f.len, f.control, els))
    }

    #[test]
    fn finds_terminator_and_elements() {
        assert_eq!(run(b"CLP*A**3~\nNM1*QC*1~....."), Some((8, false, vec![&b"CLP"[..], b"A", b"", b"3"])));
        assert_eq!(run(b"~1234567"), Some((0, false, vec![&b""[..]])));
        assert_eq!(run(b"ABCDEFGH*IJ~*******"), Some((11, false, vec![&b"ABCDEFGH"[..], b"IJ"])));
    }

    #[test]
    fn control_bytes_before_the_terminator_only() {
        assert_eq!(run(b"AB\r\nCD*E~\n......").map(|r| r.1), Some(true));
        assert_eq!(run(b"ABCD*EF~\n\r......").map(|r| r.1), Some(false));
        assert_eq!(run(b"ABCDEFG~\n").map(|r| r.1), Some(false));
    }

    #[test]
    fn unfinished_words_are_left_to_the_caller() {
        assert_eq!(run(b"ABC*DEF~").map(|r| r.0), Some(7));
        assert_eq!(run(b"ABC*DEFG~"), None);
        assert_eq!(run(b"ABC"), None);
    }

    #[test]
    fn gathers_high_bits() {
        assert_eq!(gather(0x8000_0000_0000_0080), 0b1000_0001);
        assert_eq!(gather(HIGH), 0xFF);
        assert_eq!(gather(0), 0);
    }

    #[test]
    fn matches_a_plain_split() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet = b"*~\r\n\x01\x1f )+A9\x80\xff";
        for _ in 0..20_000 {
            let len = rng.usize(0..90);
            let input: Vec<u8> = (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
            let words = len / 8 * 8;
            let expected = input[..words].iter().position(|&b| b == b'~').map(|end| {
                let mut els = Vec::new();
                super::super::lexer::split_elements(b'*', &input[..end], &mut els);
                (end, input[..end].iter().any(|&b| b < 0x20), els)
            });
            assert_eq!(run(&input), expected, "{input:?}");
        }
    }
}
