//! A loop's items packed for placing segments quickly.
//!
//! Every segment of a file is matched against loop items, usually several
//! of them, and skipping ahead asks whether a required item was passed over.
//! [`Item`] keeps what error messages need (labels, tags as text); this index
//! keeps what matching needs: tag codes, qualifiers packed into integers, and
//! a running count of required items, all in small contiguous arrays.

use super::schema::Usage;
use super::{Item, ItemKind};

/// A value of at most [`SHORT`] bytes packed into an integer together with
/// its length, so two packed values are equal exactly when the bytes are.
#[inline]
pub fn pack(value: &[u8]) -> Option<u64> {
    if value.len() > SHORT {
        return None;
    }
    // A plain loop: qualifiers are a few bytes, not worth a `memcpy` call.
    let mut packed = (value.len() as u64) << 56;
    for (i, &b) in value.iter().enumerate() {
        packed |= u64::from(b) << (8 * i);
    }
    Some(packed)
}

/// Longest value [`pack`] takes.
pub const SHORT: usize = 7;

#[derive(Debug, Clone, Copy)]
struct Key {
    code: u32,
    /// The item takes any first element (it has no qualifier).
    any: bool,
    /// Some qualifier of the item is too long to pack.
    long: bool,
    /// Its short qualifiers: `quals[first..first + count]`.
    first: u32,
    count: u32,
}

/// Where a match on an item leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The item's repeat limit.
    pub max: u32,
    /// The segment definition placed: the item's own, or for a nested loop
    /// that of its trigger.
    pub segment: usize,
    /// For a nested loop, its index.
    pub child: Option<usize>,
    /// The items at the item's position (see `Item::group`): first and end.
    pub group: (u16, u16),
}

/// Every tag code a grammar's items have, numbered densely, so that loops
/// can keep small tables indexed by tag.
#[derive(Debug, Default)]
pub struct TagIndex {
    /// Open addressing: `(code, number)`, `u32::MAX` numbers unused slots.
    slots: Vec<(u32, u32)>,
    count: usize,
}

impl TagIndex {
    pub fn new(codes: impl IntoIterator<Item = u32>) -> TagIndex {
        let mut distinct: Vec<u32> = codes.into_iter().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let size = (distinct.len() * 4).next_power_of_two().max(16);
        let mut index = TagIndex { slots: vec![(0, u32::MAX); size], count: distinct.len() };
        for (n, &code) in distinct.iter().enumerate() {
            let mut slot = index.home(code);
            while index.slots[slot].1 != u32::MAX {
                slot = (slot + 1) & (size - 1);
            }
            index.slots[slot] = (code, n as u32);
        }
        index
    }

    fn home(&self, code: u32) -> usize {
        (code.wrapping_mul(0x9E37_79B1) >> 16) as usize & (self.slots.len() - 1)
    }

    /// The number of `code`, if some item has it.
    #[inline]
    pub fn get(&self, code: u32) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let mut slot = self.home(code);
        loop {
            let (c, n) = *self.slots.get(slot)?;
            if n == u32::MAX {
                return None;
            }
            if c == code {
                return Some(n as usize);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// How many distinct codes there are.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// No item (in the `u8` tables of [`LoopIndex`]).
const NONE: u8 = u8::MAX;

#[derive(Debug, Default)]
pub struct LoopIndex {
    keys: Vec<Key>,
    targets: Vec<Target>,
    quals: Vec<u64>,
    /// `required[i]`: how many of the items before `i` are required.
    required: Vec<u32>,
    /// `first[from * tags + t]`: the first item at or after `from` whose tag
    /// is number `t` of the grammar's [`TagIndex`]; empty when the loop has
    /// too many items for `u8` (then items are scanned one by one).
    first: Vec<u8>,
    /// `next[i]`: the next item after `i` with the same tag.
    next: Vec<u8>,
    tags: usize,
}

impl LoopIndex {
    /// `trigger` gives the segment definition a nested loop starts with;
    /// `tags` numbers every item's tag code.
    pub fn new(items: &[Item], trigger: impl Fn(usize) -> usize, tags: &TagIndex) -> LoopIndex {
        let mut index = LoopIndex { required: vec![0], ..LoopIndex::default() };
        for item in items {
            // Loops are far smaller than u16 items (a `u8` table serves them).
            let group = (u16::try_from(item.group.start).unwrap_or(u16::MAX), u16::try_from(item.group.end).unwrap_or(u16::MAX));
            index.targets.push(match item.kind {
                ItemKind::Segment(segment) => Target { max: item.max, segment, child: None, group },
                ItemKind::Loop(child) => Target { max: item.max, segment: trigger(child), child: Some(child), group },
            });
            let first = index.quals.len();
            // A qualifier too long to pack can only equal a first element too
            // long to pack, and those are matched by `Item::matches`.
            index.quals.extend(item.qualifier.iter().filter_map(|q| pack(q)));
            let count = index.quals.len() - first;
            // Grammars are far smaller than u32 counts; one that is not would
            // only see its extra qualifiers ignored here, so refuse to guess.
            let (Ok(first), Ok(count)) = (u32::try_from(first), u32::try_from(count)) else { panic!("grammar has more than u32::MAX qualifiers") };
            let long = item.qualifier.iter().any(|q| q.len() > SHORT);
            index.keys.push(Key { code: item.code, any: item.qualifier.is_empty(), long, first, count });
            let before = index.required.last().copied().unwrap_or(0);
            index.required.push(before + u32::from(item.usage == Usage::Required));
        }
        let numbers: Option<Vec<usize>> = items.iter().map(|item| tags.get(item.code)).collect();
        if let (Some(numbers), true) = (numbers, items.len() < usize::from(NONE)) {
            let n = tags.len();
            index.tags = n;
            index.first = vec![NONE; (items.len() + 1) * n];
            index.next = vec![NONE; items.len()];
            for i in (0..items.len()).rev() {
                let (row, rest) = index.first.split_at_mut((i + 1) * n);
                row[i * n..].copy_from_slice(&rest[..n]);
                index.next[i] = row[i * n + numbers[i]];
                row[i * n + numbers[i]] = i as u8;
            }
        }
        index
    }

    /// The first item at or after `from` that a segment with tag code `code`
    /// and first element `first_element` (`packed` if short) matches: what
    /// [`Item::matches`] says, item by item.
    ///
    /// `tag` is the number of `code` in the grammar's [`TagIndex`] (`None`:
    /// no item has it). With it the candidates are only the items with that
    /// tag, found through the `first` and `next` tables.
    #[inline]
    pub fn find(&self, items: &[Item], from: usize, code: u32, tag: Option<usize>, first_element: &[u8], packed: Option<u64>) -> Option<usize> {
        if !self.first.is_empty() {
            let mut i = *self.first.get(from * self.tags + tag?)?;
            while i != NONE {
                let idx = usize::from(i);
                let key = self.keys.get(idx)?;
                let hit = key.any
                    || match packed {
                        Some(p) => self.has_qualifier(key, p),
                        None => key.long && items.get(idx).is_some_and(|item| item.matches(code, first_element)),
                    };
                if hit {
                    return Some(idx);
                }
                i = *self.next.get(idx)?;
            }
            return None;
        }
        let keys = self.keys.get(from..)?;
        let found = match packed {
            Some(p) => keys.iter().position(|k| k.code == code && (k.any || self.has_qualifier(k, p))),
            // Too long to pack: only a long qualifier can be equal.
            None => keys.iter().zip(&items[from..]).position(|(k, item)| k.code == code && (k.any || (k.long && item.matches(code, first_element)))),
        };
        found.map(|i| from + i)
    }

    fn has_qualifier(&self, key: &Key, packed: u64) -> bool {
        let (first, count) = (key.first as usize, key.count as usize);
        self.quals.get(first..first + count).is_some_and(|qs| qs.contains(&packed))
    }

    /// Where item `idx` leads.
    pub fn target(&self, idx: usize) -> Option<Target> {
        self.targets.get(idx).copied()
    }

    /// Whether any item in `from..upto` is required.
    #[inline]
    pub fn any_required(&self, from: usize, upto: usize) -> bool {
        from < upto && self.required.get(upto).zip(self.required.get(from)).is_some_and(|(u, f)| u > f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables find what a plain scan with `Item::matches` finds.
    #[test]
    fn find_agrees_with_a_scan() {
        for guide in crate::grammar::Grammar::built_in_guides() {
            let g = crate::grammar::Grammar::built_in(guide).unwrap();
            let mut tags: Vec<Vec<u8>> = g.loops.iter().flat_map(|l| l.items.iter().map(|it| it.tag.clone())).collect();
            tags.push(b"ZZZ".to_vec());
            let mut quals: Vec<Vec<u8>> = g.loops.iter().flat_map(|l| l.items.iter().flat_map(|it| it.qualifier.clone())).collect();
            quals.extend([b"".to_vec(), b"NOPE".to_vec(), b"LONGER THAN SEVEN".to_vec()]);
            for lp in &g.loops {
                for from in 0..=lp.items.len() + 1 {
                    for tag in &tags {
                        let code = crate::x12::tag_code(tag);
                        for q in &quals {
                            let expected = (from..lp.items.len()).find(|&i| lp.items[i].matches(code, q));
                            let found = lp.index.find(&lp.items, from, code, g.tags.get(code), q, pack(q));
                            assert_eq!(found, expected, "loop {} from {from} {:?} {:?}", lp.id, String::from_utf8_lossy(tag), String::from_utf8_lossy(q));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tag_index_numbers_every_code_once() {
        let codes: Vec<u32> = (0..300u32).map(|i| i * 7919 + 3).collect();
        let index = TagIndex::new(codes.iter().copied().chain(codes.iter().copied()));
        assert_eq!(index.len(), 300);
        let mut seen: Vec<usize> = codes.iter().map(|&c| index.get(c).unwrap()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..300).collect::<Vec<_>>());
        assert_eq!(index.get(5), None);
        assert_eq!(TagIndex::default().get(5), None);
    }

    #[test]
    fn packing_is_exact() {
        assert_ne!(pack(b"A"), pack(b"A\0"));
        assert_ne!(pack(b""), pack(b"\0"));
        assert_eq!(pack(b"405"), pack(b"405"));
        assert!(pack(b"1234567").is_some());
        assert_eq!(pack(b"12345678"), None);
    }
}
