//! Places each segment of a transaction set in its loop.
//!
//! The machine keeps a stack of open loops. A segment is looked for in the
//! innermost loop first, from the current position onward, then in each
//! enclosing loop; a match on a nested loop's trigger opens a new repetition
//! of that loop. Leaving a loop, or skipping ahead in one, checks that nothing
//! required was passed over. This is the usual way X12 loops are resolved, and
//! it needs no lookahead, so segments can be placed as they stream in.

use super::schema::Usage;
use super::{lookup, Grammar, ItemKind};
use crate::x12::error::Problem;
use crate::x12::privacy::Found;

#[derive(Debug, Clone, Copy)]
struct Frame {
    loop_idx: usize,
    /// Item the last segment matched.
    pos: usize,
    /// How many times in a row that item has matched.
    count: u32,
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
        stack.push(Frame { loop_idx: 0, pos: 0, count: 0 });
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
            let frame = self.stack[depth];
            let lp = &g.loops[frame.loop_idx];
            // A nested loop's trigger is matched by its parent (a new repetition).
            let from = if depth > 0 { frame.pos.max(1) } else { frame.pos };
            let Some(idx) = lp.index.find(&lp.items, from, code, tag_number, first_element, packed) else {
                continue;
            };
            for closing in (depth + 1..top).rev() {
                let f = self.stack[closing];
                self.check_skipped(f, g.loops[f.loop_idx].items.len())?;
            }
            self.check_skipped(frame, idx)?;
            let Some(target) = lp.index.target(idx) else { unreachable!("the index has a target for every item") };
            let count = if idx == frame.pos { frame.count + 1 } else { 1 };
            if count > target.max {
                return Err(self.too_many(frame, idx));
            }
            self.stack.truncate(depth + 1);
            self.stack[depth] = Frame { pos: idx, count, ..frame };
            return Ok(match target.child {
                None => Placement { loop_idx: frame.loop_idx, segment: target.segment, opens_loop: false },
                Some(child) => {
                    self.stack.push(Frame { loop_idx: child, pos: 0, count: 1 });
                    Placement { loop_idx: child, segment: target.segment, opens_loop: true }
                }
            });
        }
        Err(Problem::UnexpectedSegment { found: Found::tag(tag), hint: self.hint() })
    }

    /// Checks the end of the transaction set: every open loop has what it requires.
    pub fn finish(&self) -> Result<(), Problem> {
        for f in self.stack.iter().rev() {
            self.check_skipped(*f, self.grammar.loops[f.loop_idx].items.len())?;
        }
        Ok(())
    }

    /// Items in `frame`'s loop after its current position and before `upto`
    /// were passed over: none of them may be required.
    #[inline]
    fn check_skipped(&self, frame: Frame, upto: usize) -> Result<(), Problem> {
        let first = if frame.count == 0 { frame.pos } else { frame.pos + 1 };
        if self.grammar.loops[frame.loop_idx].index.any_required(first, upto) {
            return Err(self.missing(frame.loop_idx, first, upto));
        }
        Ok(())
    }

    #[cold]
    fn missing(&self, loop_idx: usize, first: usize, upto: usize) -> Problem {
        let lp = &self.grammar.loops[loop_idx];
        match (first..upto).map(|i| &lp.items[i]).find(|it| it.usage == Usage::Required) {
            Some(missing) => Problem::MissingSegment { tag: lossy(&missing.tag), name: missing.label.clone(), loop_id: lp.id.clone() },
            None => unreachable!("the index counts the same required items"),
        }
    }

    #[cold]
    /// Named by the grammar's tag, not the file's: the two match as codes,
    /// which is not always byte for byte.
    fn too_many(&self, frame: Frame, idx: usize) -> Problem {
        let g = self.grammar;
        let item = &g.loops[frame.loop_idx].items[idx];
        let loop_id = g.loops[frame.loop_idx].id.clone();
        match item.kind {
            ItemKind::Segment(_) => Problem::TooManySegments { tag: lossy(&item.tag), loop_id, max: item.max },
            ItemKind::Loop(child) => Problem::TooManyLoops { loop_id: g.loops[child].id.clone(), max: item.max },
        }
    }

    fn hint(&self) -> String {
        let frame = self.stack[self.stack.len() - 1];
        let lp = &self.grammar.loops[frame.loop_idx];
        if frame.count == 0 {
            return format!(" at the start of loop {}", lp.id);
        }
        format!(" in loop {} ({}) after {}", lp.id, lp.name, lossy(&lp.items[frame.pos].tag))
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
        assert!(matches!(&err, Problem::MissingSegment { tag, loop_id, .. } if tag == "NM1" && loop_id == "2100"), "{err}");
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
