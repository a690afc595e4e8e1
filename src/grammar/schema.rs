//! The grammar files' shape, exactly as written in `grammars/*.toml`.
//! See `grammars/README.md` for the format as an analyst reads it.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarFile {
    pub guide: GuideInfo,
    #[serde(rename = "loop")]
    pub loops: Vec<LoopDef>,
    #[serde(rename = "segment")]
    pub segments: BTreeMap<String, SegmentDef>,
    #[serde(default)]
    pub codes: BTreeMap<String, CodeList>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuideInfo {
    pub id: String,
    pub transaction_set: String,
    pub name: String,
    pub root: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopDef {
    pub id: String,
    pub name: String,
    pub contents: Vec<ContentDef>,
}

/// One entry of a loop: a segment or a nested loop, never both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentDef {
    pub segment: Option<String>,
    #[serde(rename = "loop")]
    pub loop_id: Option<String>,
    pub usage: Usage,
    pub max: Repeat,
    #[serde(default)]
    pub qualifier: Vec<String>,
    pub name: Option<String>,
    /// The guide's position number, given where several entries stand at
    /// one position (the NM1s of loop 2100): entries next to each other
    /// with the same position may come in any order among themselves.
    pub position: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Usage {
    #[serde(rename = "R")]
    Required,
    #[serde(rename = "S")]
    Situational,
    #[serde(rename = "N")]
    NotUsed,
}

/// A repeat count: a number, or `">1"` for no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Repeat {
    Times(u32),
    Unbounded(UnboundedMarker),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum UnboundedMarker {
    #[serde(rename = ">1")]
    MoreThanOne,
}

impl Repeat {
    pub fn limit(self) -> u32 {
        match self {
            Repeat::Times(n) => n,
            Repeat::Unbounded(_) => u32::MAX,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    pub name: String,
    pub elements: Vec<ElementDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementDef {
    #[serde(rename = "ref")]
    pub reference: String,
    pub name: String,
    pub usage: Usage,
    #[serde(rename = "type")]
    pub data_type: DataType,
    #[serde(default)]
    pub min: usize,
    #[serde(default)]
    pub max: usize,
    pub codes: Option<String>,
    #[serde(default)]
    pub components: Vec<ElementDef>,
    #[serde(default)]
    pub on_invalid: OnInvalid,
}

/// What a value that breaks its type costs the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    #[default]
    Refuse,
    Warn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DataType {
    ID,
    AN,
    R,
    N0,
    DT,
    TM,
    #[serde(rename = "composite")]
    Composite,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    pub name: String,
    pub values: BTreeMap<String, String>,
}
