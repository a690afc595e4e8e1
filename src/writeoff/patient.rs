//! Write Off PR: a net-zero move of patient responsibility into other
//! adjustments, on one service line, per PR reason code (1 deductible,
//! 2 coinsurance, 3 copay).
//!
//! The patient balance drops by the amount; the insurance side does not
//! change (the PR entry goes down, an other adjustment goes up by as much).
//! The original PR entries stay as they were; the move is its own ledger
//! lines, tied to a write-off with a receipt, and can be undone. A preview
//! shows old and new figures and writes nothing.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Row};

use super::actors::{require, PAYMENT_WRITE};
use super::{audit, new_receipt, Audit, WriteoffError};

/// A request: which claim and line, how much per PR reason code, why.
#[derive(Debug, Clone)]
pub struct PrRequest<'a> {
    pub claim_id: &'a str,
    /// Line number as imported; required when several lines carry PR.
    pub line: Option<i32>,
    /// PR reason code (`1`, `2`, `3`) → amount to move.
    pub amounts: BTreeMap<String, Decimal>,
    /// A reason code of the taxonomy, or free text (recorded as `other`).
    pub reason: &'a str,
    pub actor: &'a str,
    pub preview: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrLine {
    pub carc: String,
    pub before: Decimal,
    pub moved: Decimal,
    pub after: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrOutcome {
    pub line_number: i32,
    pub lines: Vec<PrLine>,
    pub patient_balance_before: Decimal,
    pub patient_balance_after: Decimal,
    pub other_adjustments_before: Decimal,
    pub other_adjustments_after: Decimal,
    /// `None` for a preview.
    pub writeoff_id: Option<i64>,
    pub receipt: Option<i64>,
}

pub async fn pr_writeoff(pool: &PgPool, req: PrRequest<'_>) -> Result<PrOutcome, WriteoffError> {
    if req.amounts.is_empty() || req.amounts.values().any(|a| *a <= Decimal::ZERO || a.scale() > 2) {
        return Err(WriteoffError::Invalid("give at least one --carc CODE=AMOUNT with a positive amount in cents".into()));
    }
    if req.reason.trim().is_empty() {
        return Err(WriteoffError::Invalid("a reason is required (--reason)".into()));
    }
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, req.actor, PAYMENT_WRITE).await?;
    let claim = sqlx::query("SELECT id FROM claims WHERE claim_id = $1 FOR UPDATE").bind(req.claim_id).fetch_optional(&mut *db).await?;
    let claim: i64 = claim.ok_or_else(|| WriteoffError::Invalid(format!("no claim with id {:?}", req.claim_id)))?.get(0);
    // PR outstanding per line and reason code, reversals and earlier moves included.
    let rows = sqlx::query(
        "SELECT l.id, l.line_number, e.reason_code, sum(e.amount)
         FROM ledger_entries e JOIN service_lines l ON l.id = e.service_line_id
         WHERE e.claim_id = $1 AND COALESCE(e.reversed_kind, e.kind) = 'patient_responsibility'
         GROUP BY 1, 2, 3 HAVING sum(e.amount) <> 0 ORDER BY 2, 3",
    )
    .bind(claim)
    .fetch_all(&mut *db)
    .await?;
    let mut lines: BTreeMap<i32, (i64, BTreeMap<String, Decimal>)> = BTreeMap::new();
    for r in rows {
        let entry = lines.entry(r.get(1)).or_insert_with(|| (r.get(0), BTreeMap::new()));
        entry.1.insert(r.get::<Option<String>, _>(2).unwrap_or_default(), r.get(3));
    }
    let line_number = match (req.line, lines.len()) {
        (Some(n), _) => n,
        (None, 1) => *lines.keys().next().unwrap_or(&0),
        (None, 0) => return Err(WriteoffError::Invalid(format!("claim {} has no patient responsibility on any line", req.claim_id))),
        (None, _) => return Err(WriteoffError::Invalid(format!("claim {} has patient responsibility on several lines; say which with --line", req.claim_id))),
    };
    let Some((line_id, outstanding)) = lines.get(&line_number) else {
        return Err(WriteoffError::Invalid(format!("line {line_number} of claim {} carries no patient responsibility", req.claim_id)));
    };
    let mut moved_lines = Vec::new();
    for (carc, amount) in &req.amounts {
        let before = outstanding.get(carc).copied().unwrap_or_default();
        if *amount > before {
            return Err(WriteoffError::Invalid(format!("PR-{carc} on line {line_number} is {before}; cannot move {amount}")));
        }
        moved_lines.push(PrLine { carc: carc.clone(), before, moved: *amount, after: before - *amount });
    }
    let total: Decimal = req.amounts.values().copied().sum();
    let b = crate::claims::view::balances_in(&mut db, claim).await?;
    let mut out = PrOutcome {
        line_number,
        lines: moved_lines,
        patient_balance_before: b.patient_balance,
        patient_balance_after: b.patient_balance - total,
        other_adjustments_before: b.other_adjustments,
        other_adjustments_after: b.other_adjustments + total,
        writeoff_id: None,
        receipt: None,
    };
    if req.preview {
        db.rollback().await?;
        return Ok(out);
    }
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM writeoff_reasons WHERE code = $1)").bind(req.reason).fetch_one(&mut *db).await?;
    let (reason, note) = if known { (req.reason, None) } else { ("other", Some(req.reason)) };
    let receipt =
        new_receipt(&mut db, "patient_responsibility", req.actor, reason, note, serde_json::json!({ "claim": req.claim_id, "line": line_number })).await?;
    let writeoff_id: i64 = sqlx::query_scalar(
        "INSERT INTO writeoffs (receipt_id, claim_id, service_line_id, amount, bucket, reason, note, requested_by, status)
         VALUES ($1, $2, $3, $4, 'patient', $5, $6, $7, 'POSTED') RETURNING id",
    )
    .bind(receipt)
    .bind(claim)
    .bind(line_id)
    .bind(total)
    .bind(reason)
    .bind(note)
    .bind(req.actor)
    .fetch_one(&mut *db)
    .await?;
    let carcs: Vec<&str> = req.amounts.keys().map(String::as_str).collect();
    let amounts: Vec<Decimal> = req.amounts.values().copied().collect();
    let first: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, reason_code, amount, actor, writeoff_id, memo)
         SELECT $1, $2, k.kind, 'PR', u.carc, CASE k.kind WHEN 'patient_responsibility' THEN -u.amount ELSE u.amount END, $5, $6,
                'PR write-off #' || $6 || ': ' || $7
         FROM UNNEST($3::text[], $4::numeric[]) WITH ORDINALITY AS u(carc, amount, n)
         CROSS JOIN (VALUES (1, 'patient_responsibility'), (2, 'other_adjustment')) AS k(o, kind)
         ORDER BY u.n, k.o
         RETURNING id",
    )
    .bind(claim)
    .bind(line_id)
    .bind(&carcs)
    .bind(&amounts)
    .bind(req.actor)
    .bind(writeoff_id)
    .bind(req.reason)
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .min()
    .unwrap_or_default();
    sqlx::query("UPDATE writeoffs SET ledger_entry_id = $2 WHERE id = $1").bind(writeoff_id).bind(first).execute(&mut *db).await?;
    let detail = serde_json::json!({ "line": line_number, "by_carc": req.amounts.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<BTreeMap<_, _>>() });
    audit(
        &mut db,
        req.actor,
        "pr_writeoff_posted",
        Audit {
            claim_id: Some(claim),
            writeoff_id: Some(writeoff_id),
            receipt_id: Some(receipt),
            reason: Some(req.reason),
            amount: Some(total),
            detail: Some(detail),
            ..Audit::default()
        },
    )
    .await?;
    db.commit().await?;
    out.writeoff_id = Some(writeoff_id);
    out.receipt = Some(receipt);
    Ok(out)
}
