//! Places each segment of a transaction set in its loop.
//!
//! The machine keeps a stack of open loops. A segment is looked for in the
//! innermost loop first, from the current position onward, then in each
//! enclosing loop; a match on a nested loop's trigger opens a new repetition
//! of that loop. Leaving a loop, or skipping ahead in one, checks that nothing
//! required was passed over. This is the usual way X12 loops are resolved, and
//! it needs no lookahead, so segments can be placed as they stream in.
//!
//! X12 orders positions, not segments: the entries a guide puts at one
//! position (the NM1s of loop 2100, told apart by qualifier) may come in
//! any order among themselves. The search starts at the first entry of the
//! current position, each entry there keeps its own repeat count, and a
//! required one is missing only once the segments have moved past its
//! position.

use super::schema::Usage;
use super::{lookup, Grammar, Item, ItemKind, MAX_GROUP};
use crate::x12::error::Problem;
use crate::x12::privacy::Found;

#[derive(Debug, Clone, Copy)]
struct Frame {
    loop_idx: usize,
    /// Item the last segment matched.
    pos: usize,
    /// The items at `pos`'s position: first and end (see `Item::group`).
    group: (u16, u16),
    /// Whether any segment has matched in this loop yet (only the root
    /// loop starts without: its ST is still to come).
    started: bool,
    /// How many times each item of `pos`'s position has matched, by its
    /// place in the position.
    counts: [u32; MAX_GROUP],
}

impl Frame {
    /// A loop just entered by its trigger (or, not `started`, the root loop
    /// before its ST).
    fn start(loop_idx: usize, started: bool) -> Frame {
        let mut counts = [0; MAX_GROUP];
        counts[0] = u32::from(started);
        Frame { loop_idx, pos: 0, group: (0, 1), started, counts }
    }
}

/// Where a segment was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The loop the segment belongs to (for a trigger, the loop it opens).
    pub loop_idx: usize,
    /// Index of the segment definition in [`Grammar::segments`].
    pub segment: usize,
    /// Whether the segment opened a new repetition of `loop_idx`.
    pub opens_loop: bool,
}

/// Loop state for one transaction set.
pub struct Machine<'g> {
    grammar: &'g Grammar,
    stack: Vec<Frame>,
}

impl<'g> Machine<'g> {
    /// A machine positioned before the ST of a new transaction set.
    pub fn new(grammar: &'g Grammar) -> Self {
        let mut stack = Vec::with_capacity(8);
        stack.push(Frame::start(0, false));
        Machine { grammar, stack }
    }

    /// Places one segment, given its tag (as bytes, and packed as the
    /// reader already has it: [`tag_code`](crate::x12::tag_code)) and its
    /// first element (the qualifier).
    #[inline(always)]
    pub fn place(&mut self, code: u32, tag: &[u8], first_element: &[u8]) -> Result<Placement, Problem> {
        let g = self.grammar;
        let packed = lookup::pack(first_element);
        let tag_number = g.tags.get(code);
        let top = self.stack.len();
        for depth in (0..top).rev() {
            // Read in place: a frame is larger than the fields needed here.
            let (loop_idx, pos, group, started) = {
                let f = &self.stack[depth];
                (f.loop_idx, f.pos, f.group, f.started)
            };
            let lp = &g.loops[loop_idx];
            // From the first entry of the current position (any order
            // there); a nested loop's trigger is matched by its parent (a
            // new repetition).
            let from = if started { usize::from(group.0) } else { pos };
            let from = if depth > 0 { from.max(1) } else { from };
            let Some(idx) = lp.index.find(&lp.items, from, code, tag_number, first_element, packed) else {
                continue;
            };
            for closing in (depth + 1..top).rev() {
                let f = &self.stack[closing];
                self.check_skipped(f, g.loops[f.loop_idx].items.len())?;
            }
            let Some(target) = lp.index.target(idx) else { unreachable!("the index has a target for every item") };
            let moved = !started || target.group != group;
            if moved {
                // Moving on: the position left, and those between, are passed over.
                self.check_skipped(&self.stack[depth], usize::from(target.group.0))?;
            }
            self.stack.truncate(depth + 1);
            let f = &mut self.stack[depth];
            if moved {
                *f = Frame { loop_idx, pos: idx, group: target.group, started: true, counts: [0; MAX_GROUP] };
            }
            f.pos = idx;
            let slot = idx - usize::from(target.group.0);
            f.counts[slot] += 1;
            if f.counts[slot] > target.max {
                return Err(self.too_many(loop_idx, idx));
            }
            return Ok(match target.child {
                None => Placement { loop_idx, segment: target.segment, opens_loop: false },
                Some(child) => {
                    self.stack.push(Frame::start(child, true));
                    Placement { loop_idx: child, segment: target.segment, opens_loop: true }
                }
            });
        }
        Err(self.unknown_qualifier(code, tag, first_element).unwrap_or_else(|| Problem::UnexpectedSegment { found: Found::tag(tag), hint: self.hint() }))
    }

    /// A segment whose tag the innermost loop that has it expects from here
    /// on, but with other qualifiers, none of them this one: the qualifier
    /// is what is wrong, not the segment's place.
    #[cold]
    fn unknown_qualifier(&self, code: u32, tag: &[u8], first_element: &[u8]) -> Option<Problem> {
        let g = self.grammar;
        for frame in self.stack.iter().rev() {
            let lp = &g.loops[frame.loop_idx];
            let from = if frame.started { usize::from(frame.group.0).max(1) } else { frame.pos };
            let same_tag = |it: &&Item| it.code == code && matches!(it.kind, ItemKind::Segment(_)) && !it.qualifier.is_empty();
            if !lp.items[from..].iter().any(|it| same_tag(&it)) {
                continue;
            }
            if lp.items.iter().filter(same_tag).any(|it| it.qualifier.iter().any(|q| q == first_element)) {
                // Allowed in this loop, only not here: a matter of order.
                return None;
            }
            let allowed: Vec<String> = lp.items[from..].iter().filter(same_tag).flat_map(|it| it.qualifier.iter().map(|q| lossy(q))).collect();
            let place = format!("{} at this point of loop {}", lossy(tag), lp.id);
            return Some(Problem::UnknownQualifier { place, allowed: allowed.join(", "), found: Found::value(first_element) });
        }
        None
    }

    /// Checks the end of the transaction set: every open loop has what it requires.
    pub fn finish(&self) -> Result<(), Problem> {
        for f in self.stack.iter().rev() {
            self.check_skipped(f, self.grammar.loops[f.loop_idx].items.len())?;
        }
        Ok(())
    }

    /// Items in `frame`'s loop from its current position up to `upto` (the
    /// start of a later position) were passed over: none of them may be
    /// required, nor any item of the current position that never came.
    #[inline]
    fn check_skipped(&self, frame: &Frame, upto: usize) -> Result<(), Problem> {
        let lp = &self.grammar.loops[frame.loop_idx];
        if !frame.started {
            return match lp.index.any_required(frame.pos, upto) {
                true => Err(self.missing(frame.loop_idx, frame.pos..upto)),
                false => Ok(()),
            };
        }
        let (first, end) = (usize::from(frame.group.0), usize::from(frame.group.1));
        if end - first > 1 {
            let unseen = (first..end).find(|&i| lp.items[i].usage == Usage::Required && frame.counts[i - first] == 0);
            if let Some(i) = unseen {
                return Err(self.missing(frame.loop_idx, i..i + 1));
            }
        }
        if lp.index.any_required(end, upto) {
            return Err(self.missing(frame.loop_idx, end..upto));
        }
        Ok(())
    }

    #[cold]
    fn missing(&self, loop_idx: usize, items: std::ops::Range<usize>) -> Problem {
        let lp = &self.grammar.loops[loop_idx];
        match items.map(|i| &lp.items[i]).find(|it| it.usage == Usage::Required) {
            Some(missing) => Problem::MissingSegment { tag: named(missing), name: missing.label.clone(), loop_id: lp.id.clone() },
            None => unreachable!("the index counts the same required items"),
        }
    }

    #[cold]
    /// Named by the grammar's tag, not the file's: the two match as codes,
    /// which is not always byte for byte.
    fn too_many(&self, loop_idx: usize, idx: usize) -> Problem {
        let g = self.grammar;
        let item = &g.loops[loop_idx].items[idx];
        let loop_id = g.loops[loop_idx].id.clone();
        match item.kind {
            ItemKind::Segment(_) => Problem::TooManySegments { tag: named(item), loop_id, max: item.max },
            ItemKind::Loop(child) => Problem::TooManyLoops { loop_id: g.loops[child].id.clone(), max: item.max },
        }
    }

    fn hint(&self) -> String {
        let frame = self.stack[self.stack.len() - 1];
        let lp = &self.grammar.loops[frame.loop_idx];
        if !frame.started {
            return format!(" at the start of loop {}", lp.id);
        }
        format!(" in loop {} ({}) after {}", lp.id, lp.name, lossy(&lp.items[frame.pos].tag))
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An item as a message names it: its tag, with its qualifiers when it
/// shares its position with others of the same tag (`NM1*QC`).
fn named(item: &Item) -> String {
    if item.group.len() < 2 || item.qualifier.is_empty() {
        return lossy(&item.tag);
    }
    let qualifiers: Vec<String> = item.qualifier.iter().take(3).map(|q| lossy(q)).collect();
    let more = if item.qualifier.len() > 3 { "/..." } else { "" };
    format!("{}*{}{more}", lossy(&item.tag), qualifiers.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grammar() -> &'static Grammar {
        Grammar::built_in("005010X221A1").unwrap()
    }

    fn place_all(segs: &[(&str, &str)]) -> Result<Vec<String>, Problem> {
        let g = grammar();
        let mut m = Machine::new(g);
        let mut out = Vec::new();
        for (tag, q) in segs {
            let p = m.place(crate::x12::tag_code(tag.as_bytes()), tag.as_bytes(), q.as_bytes())?;
            out.push(format!("{}:{}", g.loops[p.loop_idx].id, tag));
        }
        m.finish()?;
        Ok(out)
    }

    const HEADER: &[(&str, &str)] = &[("ST", "835"), ("BPR", "I"), ("TRN", "1"), ("N1", "PR"), ("N3", "1 MAIN ST"), ("N4", "CITY"), ("N1", "PE")];

    #[test]
    fn places_nested_loops() {
        let mut segs = HEADER.to_vec();
        segs.extend([
            ("LX", "1"),
            ("CLP", "A"),
            ("NM1", "QC"),
            ("SVC", "HC:1"),
            ("DTM", "472"),
            ("CAS", "CO"),
            ("CLP", "B"),
            ("NM1", "QC"),
            ("PLB", "1"),
            ("SE", "12"),
        ]);
        let placed = place_all(&segs).unwrap();
        assert_eq!(placed[3], "1000A:N1");
        assert_eq!(placed[6], "1000B:N1");
        assert_eq!(placed[10], "2110:SVC");
        assert_eq!(placed[12], "2110:CAS");
        assert_eq!(placed[13], "2100:CLP");
        assert_eq!(placed[15], "835:PLB");
    }

    #[test]
    fn missing_required_segment_is_named() {
        let mut segs = HEADER.to_vec();
        segs.extend([("LX", "1"), ("CLP", "A"), ("SVC", "HC:1"), ("SE", "9")]);
        let err = place_all(&segs).unwrap_err();
        assert!(matches!(&err, Problem::MissingSegment { tag, loop_id, .. } if tag == "NM1*QC" && loop_id == "2100"), "{err}");
    }

    /// A claim's segments after its CLP, in the order given.
    fn claim_with(segs: &[(&'static str, &'static str)]) -> Result<Vec<String>, Problem> {
        let mut all = HEADER.to_vec();
        all.extend([("LX", "1"), ("CLP", "A")]);
        all.extend(segs);
        all.extend([("SVC", "HC:1"), ("SE", "1")]);
        place_all(&all)
    }

    #[test]
    fn segments_at_one_position_come_in_any_order() {
        let placed =
            claim_with(&[("NM1", "74"), ("NM1", "QC"), ("NM1", "82"), ("REF", "1L"), ("REF", "EA"), ("DTM", "050"), ("DTM", "232"), ("DTM", "233")]).unwrap();
        assert!(placed[9..17].iter().all(|p| p.starts_with("2100:")), "{placed:?}");
        // Back to an earlier position is still out of order.
        let err = claim_with(&[("NM1", "QC"), ("DTM", "050"), ("NM1", "74")]).unwrap_err();
        assert!(matches!(err, Problem::UnexpectedSegment { .. }), "{err}");
    }

    #[test]
    fn a_qualifier_no_entry_allows_is_named_as_such() {
        let err = claim_with(&[("NM1", "QC"), ("AMT", "XX")]).unwrap_err();
        assert!(
            matches!(&err, Problem::UnknownQualifier { place, allowed, .. } if place == "AMT at this point of loop 2100" && allowed.starts_with("AU, D8")),
            "{err}"
        );
        // A qualifier the loop allows at an earlier position is a matter of order.
        let err = claim_with(&[("NM1", "QC"), ("AMT", "I"), ("DTM", "050")]).unwrap_err();
        assert!(matches!(err, Problem::UnexpectedSegment { .. }), "{err}");
    }

    #[test]
    fn each_entry_at_a_position_keeps_its_usage_and_count() {
        let err = claim_with(&[("NM1", "74"), ("NM1", "IL"), ("DTM", "232")]).unwrap_err();
        assert!(matches!(&err, Problem::MissingSegment { tag, .. } if tag == "NM1*QC"), "{err}");
        let err = claim_with(&[("NM1", "74"), ("NM1", "IL")]).unwrap_err();
        assert!(matches!(&err, Problem::MissingSegment { tag, .. } if tag == "NM1*QC"), "{err}");
        let err = claim_with(&[("NM1", "QC"), ("NM1", "74"), ("NM1", "QC")]).unwrap_err();
        assert!(matches!(&err, Problem::TooManySegments { tag, max: 1, .. } if tag == "NM1*QC"), "{err}");
        let err = claim_with(&[("NM1", "QC"), ("DTM", "050"), ("DTM", "232"), ("DTM", "050")]).unwrap_err();
        assert!(matches!(&err, Problem::TooManySegments { tag, .. } if tag == "DTM*050"), "{err}");
    }

    #[test]
    fn out_of_place_segment_is_refused() {
        let mut segs = HEADER.to_vec();
        segs.extend([("BPR", "I")]);
        let err = place_all(&segs).unwrap_err();
        assert!(matches!(err, Problem::UnexpectedSegment { .. }), "{err}");
    }

    #[test]
    fn repeat_limits_hold() {
        let segs = [("ST", "835"), ("BPR", "I"), ("BPR", "I")];
        let err = place_all(&segs).unwrap_err();
        assert!(matches!(err, Problem::UnexpectedSegment { .. } | Problem::TooManySegments { .. }), "{err}");
    }
}
