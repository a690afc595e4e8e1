// Shared by `fuzz_targets/lexer.rs` and `tests/fuzz_regressions.rs`
// (through `include!`), so both check the lexer the same way. Needs
// `remitd::x12::lexer::{Lexer, Split}` in scope.

/// A segment as split: its elements and whether the lexer said it is ASCII.
type Owned = (Vec<Vec<u8>>, bool);

/// A split segment as owned data, having checked its ASCII flag and that
/// the two other ways of taking it apart again (the separator mask, and
/// the block-at-a-time split that two-thread reading uses) give the same
/// elements; and whether it is an IEA (which ends the interchange).
fn owned(bytes: &[u8], ascii: bool, seps: u64, els: &[&[u8]]) -> (Owned, bool) {
    assert_eq!(ascii, bytes.is_ascii(), "ASCII flag for {bytes:?}");
    let mut again = Vec::new();
    if seps != remitd::x12::scan::NO_SEPARATORS {
        remitd::x12::scan::elements_at(bytes, seps, &mut again);
        assert_eq!(again, els, "elements from the mask of {bytes:?}");
    }
    // The separator follows the tag, when there is more than a tag.
    if let Some(&sep) = els.first().and_then(|tag| bytes.get(tag.len())) {
        remitd::x12::scan::split(sep, bytes, &mut again);
        assert_eq!(again, els, "elements split again from {bytes:?}");
    }
    ((els.iter().map(|e| e.to_vec()).collect(), ascii), bytes.starts_with(b"IEA"))
}

/// Every segment of `data` until the end or the first error.
fn splits(data: &[u8], fast_lane: bool) -> Vec<Owned> {
    let mut lexer = Lexer::new(data);
    let mut out = Vec::new();
    loop {
        let mut els = Vec::new();
        let fast = if fast_lane { lexer.fast_split(&mut els) } else { None };
        let (segment, iea) = match fast {
            Some(Split::Segment { bytes, ascii, seps, .. }) => owned(bytes, ascii, seps, &els),
            Some(Split::Interchange { .. }) => unreachable!("the fast lane yields segments only"),
            None => {
                let mut els = Vec::new();
                match lexer.next_split(&mut els) {
                    Ok(Some(Split::Segment { bytes, ascii, seps, .. })) => owned(bytes, ascii, seps, &els),
                    Ok(Some(Split::Interchange { .. })) => continue,
                    Ok(None) | Err(_) => return out,
                }
            }
        };
        out.push(segment);
        if iea {
            lexer.end_interchange();
        }
    }
}
