//! Finding the claims and service lines a remittance speaks of.
//!
//! Claims: CLP01 against the claim id exactly; then trimmed and
//! case-insensitive; then, for payers that truncate long ids, as a prefix of
//! exactly one claim id. Each step is one query for the whole remittance.
//!
//! Lines: REF*6R against the line control number; then procedure and
//! modifiers; then position among the lines still unmatched.

use std::collections::HashMap;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use crate::model::Service;

/// A claim row a remittance claim matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMatch {
    pub id: i64,
    pub claim_id: String,
}

/// Why a claim matched nothing, and what would let it post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch {
    pub reason: String,
    pub needed: String,
}

/// A service line row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub id: i64,
    pub claim_id: i64,
    pub line_control_number: Option<String>,
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge: Decimal,
}

fn fold(id: &str) -> String {
    id.trim().to_uppercase()
}

/// Matches each CLP01 in `refs` (same order in the result).
pub async fn match_claims(conn: &mut PgConnection, refs: &[&str]) -> Result<Vec<Result<ClaimMatch, NoMatch>>, sqlx::Error> {
    let mut found: Vec<Option<Result<ClaimMatch, NoMatch>>> = vec![None; refs.len()];
    // One unique-index probe per reference, whatever the statistics say:
    // as `claim_id = ANY($1)` the planner costs a thousand probes above one
    // pass over every claim, and that pass took 8 to 45 ms a transaction
    // set against under 2 ms for the probes.
    let exact: HashMap<String, i64> =
        sqlx::query!(r#"SELECT u.r AS "r!", (SELECT c.id FROM claims c WHERE c.claim_id = u.r) AS id FROM UNNEST($1::text[]) AS u(r)"#, refs as &[&str])
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .filter_map(|r| Some((r.r, r.id?)))
            .collect();
    for (i, r) in refs.iter().enumerate() {
        if let Some(&id) = exact.get(*r) {
            found[i] = Some(Ok(ClaimMatch { id, claim_id: r.to_string() }));
        }
    }
    let pending: Vec<String> = pending_keys(refs, &found);
    if !pending.is_empty() {
        let rows = sqlx::query!(r#"SELECT upper(btrim(claim_id)) AS "key!", id, claim_id FROM claims WHERE upper(btrim(claim_id)) = ANY($1)"#, &pending)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.key, ClaimMatch { id: r.id, claim_id: r.claim_id }));
        fill(refs, &mut found, rows, "matches more than one claim once case and spaces are ignored");
    }
    let pending: Vec<String> = pending_keys(refs, &found);
    if !pending.is_empty() {
        // `~>=~`/`~<~` compare byte-wise, so the text_pattern_ops index on the
        // folded id serves each prefix as a range scan. Two rows are enough
        // to tell unique from ambiguous.
        let rows = sqlx::query!(
            r#"SELECT u.key AS "key!", m.id, m.claim_id FROM UNNEST($1::text[]) AS u(key)
               JOIN LATERAL (SELECT id, claim_id FROM claims
                             WHERE upper(btrim(claim_id)) ~>=~ u.key AND upper(btrim(claim_id)) ~<~ (u.key || chr(1114111))
                             LIMIT 2) m ON true"#,
            &pending,
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.key, ClaimMatch { id: r.id, claim_id: r.claim_id }));
        fill(refs, &mut found, rows, "is the start of more than one claim id (payer truncated it)");
    }
    Ok(found
        .into_iter()
        .zip(refs)
        .map(|(f, r)| {
            f.unwrap_or_else(|| {
                Err(NoMatch {
                    reason: format!("no claim with id {r:?}"),
                    needed: format!("import claim {r} (remitd claims import), then remitd unmatched refeed"),
                })
            })
        })
        .collect())
}

fn pending_keys(refs: &[&str], found: &[Option<Result<ClaimMatch, NoMatch>>]) -> Vec<String> {
    let mut keys: Vec<String> = refs.iter().zip(found).filter(|(r, f)| f.is_none() && !fold(r).is_empty()).map(|(r, _)| fold(r)).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Records matches from (key, claim) pairs; a key with several is ambiguous.
fn fill(refs: &[&str], found: &mut [Option<Result<ClaimMatch, NoMatch>>], rows: impl Iterator<Item = (String, ClaimMatch)>, ambiguous: &str) {
    let mut by_key: HashMap<String, Vec<ClaimMatch>> = HashMap::new();
    for (key, claim) in rows {
        by_key.entry(key).or_default().push(claim);
    }
    for (i, r) in refs.iter().enumerate() {
        if found[i].is_some() {
            continue;
        }
        match by_key.get(&fold(r)).map(Vec::as_slice) {
            Some([one]) => found[i] = Some(Ok(one.clone())),
            Some(_) => {
                found[i] = Some(Err(NoMatch { reason: format!("claim id {r:?} {ambiguous}"), needed: "post it by hand against the right claim".into() }));
            }
            None => {}
        }
    }
}

/// The service lines of the given claims, in line order (lines an amended
/// import removed are no longer matched). Removed lines are left out here,
/// not in SQL: a filter on `removed_at` made the planner scan every line
/// instead of probing the claims' index.
pub async fn load_lines(conn: &mut PgConnection, claim_ids: &[i64]) -> Result<HashMap<i64, Vec<LineRow>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, claim_id, line_control_number, procedure, modifiers, charge, removed_at IS NOT NULL AS "removed!"
           FROM service_lines WHERE claim_id = ANY($1) ORDER BY claim_id, line_number"#,
        claim_ids,
    )
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, Vec<LineRow>> = HashMap::new();
    for r in rows.into_iter().filter(|r| !r.removed) {
        let line = LineRow {
            id: r.id,
            claim_id: r.claim_id,
            line_control_number: r.line_control_number,
            procedure: r.procedure,
            modifiers: r.modifiers,
            charge: r.charge,
        };
        out.entry(line.claim_id).or_default().push(line);
    }
    Ok(out)
}

/// For each service of a remittance claim, the line row it pays, if any.
pub fn match_lines(services: &[Service], lines: &[LineRow]) -> Vec<Option<i64>> {
    let mut used = vec![false; lines.len()];
    let mut out = vec![None; services.len()];
    let mut take = |out: &mut Vec<Option<i64>>, i: usize, pred: &dyn Fn(&LineRow) -> bool| {
        if out[i].is_none() {
            if let Some(j) = (0..lines.len()).find(|&j| !used[j] && pred(&lines[j])) {
                used[j] = true;
                out[i] = Some(lines[j].id);
            }
        }
    };
    for (i, s) in services.iter().enumerate() {
        if let Some(lcn) = &s.line_control_number {
            take(&mut out, i, &|l| l.line_control_number.as_deref() == Some(lcn.as_str()));
        }
    }
    for (i, s) in services.iter().enumerate() {
        let mut mods: Vec<&str> = s.modifiers.iter().map(|m| m.as_str()).collect();
        mods.sort_unstable();
        take(&mut out, i, &|l| {
            let mut theirs: Vec<&str> = l.modifiers.iter().map(String::as_str).collect();
            theirs.sort_unstable();
            l.procedure.eq_ignore_ascii_case(&s.procedure) && theirs == mods
        });
    }
    for i in 0..services.len() {
        take(&mut out, i, &|_| true);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, lcn: Option<&str>, procedure: &str, modifiers: &[&str]) -> LineRow {
        LineRow {
            id,
            claim_id: 1,
            line_control_number: lcn.map(str::to_string),
            procedure: procedure.into(),
            modifiers: modifiers.iter().map(|m| m.to_string()).collect(),
            charge: Decimal::ONE,
        }
    }

    fn svc(lcn: Option<&str>, procedure: &str, modifiers: &[&str]) -> Service {
        Service {
            procedure_qualifier: "HC".into(),
            procedure: procedure.into(),
            modifiers: modifiers.iter().map(|m| (*m).into()).collect(),
            charge: Decimal::ONE,
            paid: Decimal::ONE,
            line_control_number: lcn.map(Into::into),
            ..Service::default()
        }
    }

    #[test]
    fn lines_match_by_control_number_then_procedure_then_order() {
        let lines = [line(10, Some("A"), "99213", &["25"]), line(11, None, "36415", &[]), line(12, None, "81002", &[])];
        let services = [svc(None, "81002", &[]), svc(None, "99999", &[]), svc(Some("A"), "99213", &["25"])];
        assert_eq!(match_lines(&services, &lines), vec![Some(12), Some(11), Some(10)]);
    }

    #[test]
    fn modifiers_must_agree_for_a_procedure_match() {
        let lines = [line(10, None, "99213", &["25"]), line(11, None, "99213", &[])];
        let services = [svc(None, "99213", &[]), svc(None, "99213", &["25"])];
        assert_eq!(match_lines(&services, &lines), vec![Some(11), Some(10)]);
    }

    #[test]
    fn more_services_than_lines_leaves_the_rest_at_claim_level() {
        let lines = [line(10, None, "99213", &[])];
        let services = [svc(None, "99213", &[]), svc(None, "36415", &[])];
        assert_eq!(match_lines(&services, &lines), vec![Some(10), None]);
    }
}
