//! Implementation guides as data.
//!
//! The files in `grammars/` say which loops an 835 has, which segments each
//! loop holds in which order, and what each element must look like. They are
//! compiled into the binary and turned here into a [`Grammar`]: flat tables of
//! loops, items and segment definitions that the placement [`machine`] walks
//! for every segment. A grammar that contradicts itself is refused when it is
//! loaded, naming the loop and segment it could not place.
//!
//! Placing and checking run for every segment of every file, so compiling
//! also packs what they need into small tables: [`lookup`] for matching
//! segments to loop items, [`elements::Spec`] for checking values. The
//! readable definitions stay beside them for the error messages.

pub mod elements;
pub mod lookup;
pub mod machine;
pub mod schema;

use std::collections::HashMap;
use std::sync::OnceLock;

use schema::{ContentDef, DataType, GrammarFile, OnInvalid, Usage};

/// The grammars shipped with remitd, by implementation guide.
const BUILT_IN: &[(&str, &str)] =
    &[("005010X221A1", include_str!("../../grammars/005010X221A1.toml")), ("004010X091A1", include_str!("../../grammars/004010X091A1.toml"))];

/// A grammar that cannot be used, and where it goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("grammar {guide}: loop {loop_id}{}: {problem}", segment.as_ref().map(|s| format!(", segment {s}")).unwrap_or_default())]
pub struct GrammarError {
    pub guide: String,
    pub loop_id: String,
    pub segment: Option<String>,
    pub problem: String,
}

/// An element (or component) definition ready for checking values.
#[derive(Debug)]
pub struct Element {
    pub reference: String,
    pub name: String,
    pub usage: Usage,
    pub data_type: DataType,
    pub min: usize,
    pub max: usize,
    /// Index into [`Grammar::code_lists`].
    pub codes: Option<usize>,
    pub components: Vec<Element>,
    pub on_invalid: OnInvalid,
    /// The above, packed for the checker's fast path.
    pub spec: elements::Spec,
}

#[derive(Debug)]
pub struct Segment {
    pub tag: String,
    pub name: String,
    pub elements: Vec<Element>,
    /// One past the last required element: checking may stop at the larger of
    /// this and the number of elements present.
    pub required_upto: usize,
    /// `elements` packed for the checker's fast path, one per element.
    pub specs: Vec<elements::Spec>,
    /// A bit per element of type `R` or `DT` (bit 0 for element 01, the
    /// first 32 elements): the assembler's share of the check when reading
    /// is shared by two threads (see [`elements::Lane`]).
    pub amounts_and_dates: u32,
}

/// A code list, sorted for binary search: the lists are small and looked up
/// for every coded element, so a sorted slice beats hashing. Codes short
/// enough are also kept packed into integers (see [`lookup::pack`]), which
/// compare without a call to `memcmp`.
#[derive(Debug)]
pub struct CodeSet {
    pub name: String,
    values: Vec<Box<[u8]>>,
    packed: Vec<u64>,
}

impl CodeSet {
    fn new(name: &str, codes: impl Iterator<Item = Box<[u8]>>) -> Self {
        let mut values: Vec<Box<[u8]>> = codes.collect();
        values.sort();
        let mut packed: Vec<u64> = values.iter().filter_map(|v| lookup::pack(v)).collect();
        packed.sort_unstable();
        CodeSet { name: name.to_string(), values, packed }
    }

    pub fn contains(&self, code: &[u8]) -> bool {
        match lookup::pack(code) {
            // A short code can only equal a short value, all of which are packed.
            Some(p) => self.packed.binary_search(&p).is_ok(),
            None => self.values.binary_search_by(|v| v.as_ref().cmp(code)).is_ok(),
        }
    }
}

/// What an item of a loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Segment(usize),
    Loop(usize),
}

/// One entry of a loop's contents. For a nested loop, `tag` and `qualifier`
/// are those of the loop's trigger segment, so matching is the same for both.
#[derive(Debug)]
pub struct Item {
    pub kind: ItemKind,
    pub tag: Vec<u8>,
    /// `tag` as a [`tag_code`](crate::x12::tag_code).
    pub code: u32,
    pub qualifier: Vec<Vec<u8>>,
    pub usage: Usage,
    pub max: u32,
    pub label: String,
    /// The items at the same position as this one, this one included
    /// (only itself unless the grammar gives a shared `position`): X12
    /// orders positions, not the segments at one position.
    pub group: std::ops::Range<usize>,
}

/// The most entries one position may hold (the machine counts each one's
/// repeats while it is at that position).
pub const MAX_GROUP: usize = 8;

impl Item {
    pub fn matches(&self, code: u32, first_element: &[u8]) -> bool {
        self.code == code && (self.qualifier.is_empty() || self.qualifier.iter().any(|q| q == first_element))
    }
}

#[derive(Debug)]
pub struct Loop {
    pub id: String,
    pub name: String,
    pub items: Vec<Item>,
    /// `items` packed for matching (see [`lookup`]).
    pub index: lookup::LoopIndex,
}

/// A compiled implementation guide.
#[derive(Debug)]
pub struct Grammar {
    pub guide: String,
    pub transaction_set: String,
    pub name: String,
    /// `loops[0]` is the root loop (ST ... SE).
    pub loops: Vec<Loop>,
    pub segments: Vec<Segment>,
    pub code_lists: Vec<CodeSet>,
    /// Every item's tag code, numbered (see [`lookup`]).
    pub tags: lookup::TagIndex,
}

impl Grammar {
    /// Parses and checks a grammar file.
    pub fn from_toml(text: &str) -> Result<Grammar, GrammarError> {
        let file: GrammarFile = toml::from_str(text).map_err(|e| GrammarError {
            guide: "?".into(),
            loop_id: "?".into(),
            segment: None,
            problem: format!("not a valid grammar file: {e}"),
        })?;
        compile(file)
    }

    /// The loop with this id, if the grammar has one.
    pub fn loop_index(&self, id: &str) -> Option<usize> {
        self.loops.iter().position(|l| l.id == id)
    }

    /// A grammar shipped with remitd, compiled once per process.
    ///
    /// # Panics
    /// When a built-in grammar is broken: that is a defect of the build, caught
    /// by the test suite, not something input can cause.
    /// Each guide is compiled the first time it is asked for, not all of
    /// them at once: compiling one costs more than reading a small file.
    pub fn built_in(guide: &str) -> Option<&'static Grammar> {
        static CACHE: [OnceLock<Grammar>; BUILT_IN.len()] = [const { OnceLock::new() }; BUILT_IN.len()];
        let i = BUILT_IN.iter().position(|(id, _)| *id == guide)?;
        Some(CACHE[i].get_or_init(|| match Grammar::from_toml(BUILT_IN[i].1) {
            Ok(g) => g,
            Err(e) => panic!("built-in grammar is broken: {e}"),
        }))
    }

    /// Ids of the guides shipped with remitd.
    pub fn built_in_guides() -> impl Iterator<Item = &'static str> {
        BUILT_IN.iter().map(|(id, _)| *id)
    }
}

struct Compiler<'f> {
    file: &'f GrammarFile,
    loop_ids: HashMap<&'f str, usize>,
    segment_ids: HashMap<&'f str, usize>,
    code_ids: HashMap<&'f str, usize>,
}

fn compile(file: GrammarFile) -> Result<Grammar, GrammarError> {
    let guide = file.guide.id.clone();
    let err = |loop_id: &str, segment: Option<&str>, problem: String| GrammarError {
        guide: guide.clone(),
        loop_id: loop_id.to_string(),
        segment: segment.map(str::to_string),
        problem,
    };

    // Root first, then the rest in file order, so loops[0] is always the root.
    let root_pos = file
        .loops
        .iter()
        .position(|l| l.id == file.guide.root)
        .ok_or_else(|| err(&file.guide.root, None, "the root loop named in [guide] is not defined".into()))?;
    let order: Vec<usize> = std::iter::once(root_pos).chain((0..file.loops.len()).filter(|&i| i != root_pos)).collect();

    let mut loop_ids = HashMap::new();
    for (compiled, &i) in order.iter().enumerate() {
        if loop_ids.insert(file.loops[i].id.as_str(), compiled).is_some() {
            return Err(err(&file.loops[i].id, None, "loop is defined twice".into()));
        }
    }
    let segment_ids = file.segments.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let code_ids = file.codes.keys().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    let c = Compiler { file: &file, loop_ids, segment_ids, code_ids };

    let code_lists = file.codes.values().map(|list| CodeSet::new(&list.name, list.values.keys().map(|k| k.as_bytes().into()))).collect();

    let mut segments = Vec::new();
    for (tag, def) in &file.segments {
        let elements = def.elements.iter().map(|e| c.element(e)).collect::<Result<Vec<_>, String>>().map_err(|p| err("-", Some(tag), p))?;
        let required_upto = elements.iter().rposition(|e| e.usage == Usage::Required).map_or(0, |i| i + 1);
        let specs = elements.iter().map(|e| e.spec).collect();
        let amounts_and_dates =
            elements.iter().take(32).enumerate().filter(|(_, e)| matches!(e.data_type, DataType::R | DataType::DT)).fold(0u32, |mask, (i, _)| mask | 1 << i);
        segments.push(Segment { tag: tag.clone(), name: def.name.clone(), elements, required_upto, specs, amounts_and_dates });
    }

    let mut loops = Vec::new();
    let mut placed: HashMap<usize, String> = HashMap::new();
    for &i in &order {
        let def = &file.loops[i];
        let mut items = Vec::new();
        for content in &def.contents {
            let item = c.item(content, &mut placed, &def.id).map_err(|(seg, p)| err(&def.id, seg.as_deref(), p))?;
            items.push(item);
        }
        if items.is_empty() {
            return Err(err(&def.id, None, "loop has no contents".into()));
        }
        group_positions(&def.contents, &mut items).map_err(|(seg, p)| err(&def.id, Some(&seg), p))?;
        let first = &def.contents[0];
        if i != root_pos && (first.segment.is_none() || first.usage != Usage::Required) {
            return Err(err(&def.id, first.segment.as_deref(), "the first entry of a loop must be a required segment (its trigger)".into()));
        }
        loops.push(Loop { id: def.id.clone(), name: def.name.clone(), items, index: lookup::LoopIndex::default() });
    }
    // Loop items carry their trigger's tag and qualifier; fill them in now that
    // every loop is compiled.
    for l in 0..loops.len() {
        for it in 0..loops[l].items.len() {
            if let ItemKind::Loop(child) = loops[l].items[it].kind {
                let (tag, qualifier) = (loops[child].items[0].tag.clone(), loops[child].items[0].qualifier.clone());
                let item = &mut loops[l].items[it];
                item.code = crate::x12::tag_code(&tag);
                item.tag = tag;
                item.qualifier = qualifier;
            }
        }
    }
    let triggers: Vec<usize> = loops
        .iter()
        .map(|l| match l.items[0].kind {
            ItemKind::Segment(segment) => segment,
            // Refused above for every loop but the root, which is never nested.
            ItemKind::Loop(_) => usize::MAX,
        })
        .collect();
    let tags = lookup::TagIndex::new(loops.iter().flat_map(|l| l.items.iter().map(|it| it.code)));
    for l in &mut loops {
        l.index = lookup::LoopIndex::new(&l.items, |child| triggers[child], &tags);
    }
    for (id, &idx) in &c.loop_ids {
        if idx != 0 && !placed.contains_key(&idx) {
            return Err(err(id, None, "loop is defined but never placed in another loop".into()));
        }
    }
    check_reachable(&loops).map_err(|id| err(&id, None, "loop contains itself".into()))?;

    Ok(Grammar {
        guide: file.guide.id.clone(),
        transaction_set: file.guide.transaction_set.clone(),
        name: file.guide.name.clone(),
        loops,
        segments,
        code_lists,
        tags,
    })
}

impl Compiler<'_> {
    fn element(&self, e: &schema::ElementDef) -> Result<Element, String> {
        let codes = match &e.codes {
            Some(name) => {
                Some(*self.code_ids.get(name.as_str()).ok_or_else(|| format!("element {} names code list {name}, which is not defined", e.reference))?)
            }
            None => None,
        };
        let is_composite = e.data_type == DataType::Composite;
        if is_composite == e.components.is_empty() {
            return Err(format!("element {} must list components exactly when its type is composite", e.reference));
        }
        if !is_composite && e.max < e.min.max(1) {
            return Err(format!("element {} has max length {} below min {}", e.reference, e.max, e.min.max(1)));
        }
        let components = e.components.iter().map(|c| self.element(c)).collect::<Result<Vec<_>, _>>()?;
        let spec = elements::Spec::new(e.data_type, e.usage, e.min, e.max, codes);
        Ok(Element {
            reference: e.reference.clone(),
            name: e.name.clone(),
            usage: e.usage,
            data_type: e.data_type,
            min: e.min,
            max: e.max,
            codes,
            components,
            on_invalid: e.on_invalid,
            spec,
        })
    }

    fn item(&self, content: &ContentDef, placed: &mut HashMap<usize, String>, loop_id: &str) -> Result<Item, (Option<String>, String)> {
        let max = content.max.limit();
        if max == 0 {
            return Err((content.segment.clone(), "max must be at least 1".into()));
        }
        let qualifier = content.qualifier.iter().map(|q| q.as_bytes().to_vec()).collect();
        match (&content.segment, &content.loop_id) {
            (Some(tag), None) => {
                let seg = *self.segment_ids.get(tag.as_str()).ok_or_else(|| (Some(tag.clone()), format!("segment {tag} has no [segment.{tag}] definition")))?;
                let label = content.name.clone().unwrap_or_else(|| self.file.segments[tag].name.clone());
                Ok(Item {
                    kind: ItemKind::Segment(seg),
                    tag: tag.as_bytes().to_vec(),
                    code: crate::x12::tag_code(tag.as_bytes()),
                    qualifier,
                    usage: content.usage,
                    max,
                    label,
                    group: 0..0,
                })
            }
            (None, Some(child)) => {
                let idx = *self.loop_ids.get(child.as_str()).ok_or_else(|| (None, format!("nested loop {child} is not defined")))?;
                if idx == 0 {
                    return Err((None, format!("the root loop {child} cannot be nested")));
                }
                if let Some(first) = placed.insert(idx, loop_id.to_string()) {
                    return Err((None, format!("loop {child} is placed twice (also in loop {first})")));
                }
                let label = format!("loop {child}");
                if content.position.is_some() {
                    return Err((None, format!("loop {child} has a position: only segments share positions")));
                }
                Ok(Item { kind: ItemKind::Loop(idx), tag: Vec::new(), code: u32::MAX, qualifier, usage: content.usage, max, label, group: 0..0 })
            }
            _ => Err((None, "each entry must name exactly one of segment or loop".into())),
        }
    }
}

/// Sets each item's `group`: the run of entries next to it with the same
/// `position` (itself alone when it has none). A position given to entries
/// that are not next to each other, or to more than [`MAX_GROUP`], or to a
/// loop's trigger, is refused.
fn group_positions(contents: &[ContentDef], items: &mut [Item]) -> Result<(), (String, String)> {
    let mut start = 0;
    let mut seen = std::collections::HashSet::new();
    for i in 0..=items.len() {
        let same = i < items.len() && i > start && contents[i].position.is_some() && contents[i].position == contents[start].position;
        if same {
            continue;
        }
        if start < i {
            let tag = contents[start].segment.clone().unwrap_or_default();
            if let Some(p) = &contents[start].position {
                if !seen.insert(p.clone()) {
                    return Err((tag, format!("position {p} is given to entries that are not next to each other")));
                }
                if i - start > MAX_GROUP {
                    return Err((tag, format!("position {p} holds more than {MAX_GROUP} entries")));
                }
                if start == 0 && i - start > 1 {
                    return Err((tag, format!("position {p} holds the loop's trigger and other entries")));
                }
            }
            for item in &mut items[start..i] {
                item.group = start..i;
            }
        }
        start = i;
    }
    Ok(())
}

/// Finds a loop that contains itself, directly or not.
fn check_reachable(loops: &[Loop]) -> Result<(), String> {
    fn visit(loops: &[Loop], l: usize, path: &mut Vec<usize>) -> Result<(), String> {
        if path.contains(&l) {
            return Err(loops[l].id.clone());
        }
        path.push(l);
        for item in &loops[l].items {
            if let ItemKind::Loop(child) = item.kind {
                visit(loops, child, path)?;
            }
        }
        path.pop();
        Ok(())
    }
    visit(loops, 0, &mut Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_grammars_compile() {
        for guide in Grammar::built_in_guides() {
            let g = Grammar::built_in(guide).expect("listed guide loads");
            assert_eq!(g.transaction_set, "835");
            assert_eq!(g.loops[0].items[0].tag, b"ST");
            for id in ["1000A", "1000B", "2000", "2100", "2110"] {
                assert!(g.loop_index(id).is_some(), "{guide} lacks loop {id}");
            }
        }
    }

    /// A refusal quotes only the tags `privacy` knows: a segment a
    /// grammar gains must be known there too, or its refusals would call
    /// it unrecognised.
    #[test]
    fn privacy_knows_every_grammar_tag() {
        for guide in Grammar::built_in_guides() {
            for seg in &Grammar::built_in(guide).unwrap().segments {
                assert!(crate::x12::privacy::known_tag(&seg.tag), "{guide}: add {} to privacy::KNOWN_TAGS", seg.tag);
            }
        }
    }

    const SMALL: &str = r#"
        [guide]
        id = "T"
        transaction_set = "835"
        name = "test"
        root = "835"
        [[loop]]
        id = "835"
        name = "root"
        contents = [ { segment = "ST", usage = "R", max = 1 }, { loop = "2100", usage = "S", max = ">1" }, { segment = "SE", usage = "R", max = 1 } ]
        [[loop]]
        id = "2100"
        name = "claim"
        contents = [ { segment = "CLP", usage = "R", max = 1 } ]
        [segment.ST]
        name = "st"
        elements = [ { ref = "ST01", name = "id", usage = "R", type = "ID", min = 3, max = 3 } ]
        [segment.SE]
        name = "se"
        elements = [ { ref = "SE01", name = "count", usage = "R", type = "N0", min = 1, max = 10 } ]
        [segment.CLP]
        name = "clp"
        elements = [ { ref = "CLP01", name = "id", usage = "R", type = "AN", min = 1, max = 38 } ]
    "#;

    #[test]
    fn small_grammar_compiles() {
        let g = Grammar::from_toml(SMALL).unwrap();
        assert_eq!(g.loops[1].id, "2100");
        assert_eq!(g.loops[0].items[1].tag, b"CLP", "loop items carry their trigger's tag");
    }

    #[test]
    fn broken_grammars_name_the_loop_and_segment() {
        let undefined = SMALL
            .replace(r#"{ segment = "CLP", usage = "R", max = 1 }"#, r#"{ segment = "CLP", usage = "R", max = 1 }, { segment = "XYZ", usage = "S", max = 1 }"#);
        let e = Grammar::from_toml(&undefined).unwrap_err();
        assert_eq!((e.loop_id.as_str(), e.segment.as_deref()), ("2100", Some("XYZ")), "{e}");
        assert_eq!(e.to_string(), "grammar T: loop 2100, segment XYZ: segment XYZ has no [segment.XYZ] definition");

        let situational_trigger = SMALL.replace(r#"{ segment = "CLP", usage = "R""#, r#"{ segment = "CLP", usage = "S""#);
        let e = Grammar::from_toml(&situational_trigger).unwrap_err();
        assert_eq!((e.loop_id.as_str(), e.segment.as_deref()), ("2100", Some("CLP")), "{e}");

        let orphan = format!("{SMALL}\n[[loop]]\nid = \"2110\"\nname = \"x\"\ncontents = [ {{ segment = \"CLP\", usage = \"R\", max = 1 }} ]\n");
        let e = Grammar::from_toml(&orphan).unwrap_err();
        assert_eq!(e.loop_id, "2110", "{e}");

        let self_nested = SMALL.replace(
            r#"contents = [ { segment = "CLP", usage = "R", max = 1 } ]"#,
            r#"contents = [ { segment = "CLP", usage = "R", max = 1 }, { loop = "2100", usage = "S", max = 1 } ]"#,
        );
        let e = Grammar::from_toml(&self_nested).unwrap_err();
        assert_eq!(e.loop_id, "2100", "{e}");

        let apart = SMALL.replace(
            r#"contents = [ { segment = "CLP", usage = "R", max = 1 } ]"#,
            r#"contents = [ { segment = "CLP", usage = "R", max = 1 }, { segment = "ST", usage = "S", max = 1, position = "2" }, { segment = "SE", usage = "S", max = 1 }, { segment = "ST", usage = "S", max = 1, position = "2" } ]"#,
        );
        let e = Grammar::from_toml(&apart).unwrap_err();
        assert_eq!(e.to_string(), "grammar T: loop 2100, segment ST: position 2 is given to entries that are not next to each other");

        let bad_codes = SMALL.replace(r#"type = "AN", min = 1, max = 38 }"#, r#"type = "ID", min = 1, max = 38, codes = "NOPE" }"#);
        let e = Grammar::from_toml(&bad_codes).unwrap_err();
        assert_eq!(e.segment.as_deref(), Some("CLP"), "{e}");
    }
}
