//! Descriptions of the codes payers send (CARC, RARC, group codes, PLB
//! reasons), for the glossary of a readable remittance. The table is
//! seeded with the common codes (migration 0022) and loads from the code
//! lists' CSV (`remitd codes import`), whose columns include `Code` and
//! `Description`; other columns (dates, notes) are ignored.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use sqlx::PgPool;

use crate::actors::{self, Scope};
use crate::ledger::{audit, ActionError, Audit};

/// Which list a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "UPPERCASE")]
pub enum List {
    /// Claim adjustment reason codes (CAS02, CAS05, ...).
    Carc,
    /// Remittance advice remark codes (LQ, MOA, MIA).
    Rarc,
    /// Claim adjustment group codes (CAS01).
    Group,
    /// Provider-level adjustment reasons (PLB03-1).
    Plb,
}

impl List {
    pub fn as_str(self) -> &'static str {
        match self {
            List::Carc => "CARC",
            List::Rarc => "RARC",
            List::Group => "GROUP",
            List::Plb => "PLB",
        }
    }

    fn parse(s: &str) -> Option<List> {
        [List::Carc, List::Rarc, List::Group, List::Plb].into_iter().find(|l| l.as_str() == s)
    }
}

/// One code and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    pub list: List,
    pub code: String,
    pub description: String,
}

/// The descriptions known for `wanted`; codes the table lacks are left out.
pub async fn describe(pool: &PgPool, wanted: &[(List, String)]) -> Result<HashMap<(List, String), String>, sqlx::Error> {
    let lists: Vec<&str> = wanted.iter().map(|(l, _)| l.as_str()).collect();
    let codes: Vec<&str> = wanted.iter().map(|(_, c)| c.as_str()).collect();
    let rows = sqlx::query!(
        "SELECT a.list, a.code, a.description FROM adjustment_codes a JOIN unnest($1::text[], $2::text[]) AS w (list, code) USING (list, code)",
        &lists as &[&str],
        &codes as &[&str]
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(|r| Some(((List::parse(&r.list)?, r.code), r.description))).collect())
}

/// Every code of `list` (of every list when `None`).
pub async fn list(pool: &PgPool, list: Option<List>) -> Result<Vec<Code>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT list, code, description FROM adjustment_codes WHERE $1::text IS NULL OR list = $1
         ORDER BY list, length(code), code",
        list.map(List::as_str)
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(|r| Some(Code { list: List::parse(&r.list)?, code: r.code, description: r.description })).collect())
}

/// Reads a code list's CSV: the `Code` and `Description` columns (any case),
/// in any order among other columns. A bad row is
/// refused with its line number; nothing is imported from a file with one.
pub fn read(list: List, src: impl Read) -> Result<Vec<Code>, ActionError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(src);
    let headers = reader.headers().map_err(|e| ActionError::Invalid(format!("the code list's header: {e}")))?.clone();
    let find = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let (code_at, text_at) = match (find(&["code", "carc", "rarc"]), find(&["description", "desc", "text"])) {
        (Some(c), Some(d)) => (c, d),
        _ => return Err(ActionError::Invalid("the code list needs a Code and a Description column".into())),
    };
    let mut codes = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| ActionError::Invalid(format!("line {line}: {e}")))?;
        let code = row.get(code_at).unwrap_or("").to_ascii_uppercase();
        let description = row.get(text_at).unwrap_or("").to_string();
        if code.is_empty() && description.is_empty() {
            continue;
        }
        if code.is_empty() || code.len() > 6 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ActionError::Invalid(format!("line {line}: {code:?} is not a code (1 to 6 letters and digits)")));
        }
        if description.is_empty() {
            return Err(ActionError::Invalid(format!("line {line}: code {code} has no description")));
        }
        codes.push(Code { list, code, description });
    }
    Ok(codes)
}

/// Adds or updates `codes` on an admin's authority; returns how many were
/// new or changed. Audited once, with the counts.
pub async fn import(pool: &PgPool, by: &str, codes: &[Code]) -> Result<u64, ActionError> {
    let mut tx = pool.begin().await?;
    actors::require(&mut tx, by, Scope::Admin).await?;
    let lists: Vec<&str> = codes.iter().map(|c| c.list.as_str()).collect();
    let keys: Vec<&str> = codes.iter().map(|c| c.code.as_str()).collect();
    let texts: Vec<&str> = codes.iter().map(|c| c.description.as_str()).collect();
    let changed = sqlx::query!(
        "INSERT INTO adjustment_codes (list, code, description) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (list, code) DO UPDATE SET description = EXCLUDED.description
         WHERE adjustment_codes.description IS DISTINCT FROM EXCLUDED.description",
        &lists as &[&str],
        &keys as &[&str],
        &texts as &[&str]
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let detail = serde_json::json!({ "codes": codes.len(), "new_or_changed": changed });
    audit::record(&mut tx, by, "codes_imported", Audit { detail: Some(detail), ..Audit::default() }).await?;
    tx.commit().await?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_list_reads_by_its_header_and_refuses_a_bad_row_by_line() {
        let csv = "Code,Description,Start Date\n45,Charge exceeds fee schedule.,01/01/1995\n,,\nB7,\"This provider was not certified, for this date.\",\n";
        let codes = read(List::Carc, csv.as_bytes()).unwrap();
        assert_eq!(codes.len(), 2);
        assert_eq!((codes[1].code.as_str(), codes[1].description.as_str()), ("B7", "This provider was not certified, for this date."));
        let e = read(List::Carc, "Code,Description\n45,ok\n4 5,bad\n".as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "line 3: \"4 5\" is not a code (1 to 6 letters and digits)");
        assert!(read(List::Rarc, "a,b\n1,2\n".as_bytes()).is_err(), "no Code/Description header");
    }
}
