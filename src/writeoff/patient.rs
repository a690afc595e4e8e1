//! Write Off PR: a net-zero move of patient responsibility into other
//! adjustments, on one service line, per PR reason code (1 deductible,
//! 2 coinsurance, 3 copay).
//!
//! The patient balance drops by the amount; the insurance side does not
//! change (the PR entry goes down, an other adjustment goes up by as much).
//! The original PR entries stay as they were; the move is its own ledger
//! lines, tied to a write-off with a receipt, and can be undone. A preview
//! shows old and new figures and writes nothing.
//!
//! What may be moved is bounded twice, under the claim's lock: per reason
//! code by the responsibility still on the line, and in all by the claim's
//! patient balance (which a sweep may already have written off), each less
//! what other requests wait to move. The approval gate applies, counting
//! the claim's earlier patient-responsibility write-offs.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::{approval_policy, reasons, Outcome};
use crate::actors::{require, Scope};
use crate::ledger::receipts::{self, Receipt};
use crate::ledger::writeoffs::{self as money, NewRequest, Selection};
use crate::ledger::{self, audit, ActionError, Audit, Bucket, Hold, ReceiptKind, WriteoffStatus};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writeoff: Option<Outcome>,
}

/// Patient responsibility still on each line of `claim`, per reason code,
/// less what waits for approval to move (ignoring request `except`).
async fn movable(conn: &mut PgConnection, claim: i64, except: i64) -> Result<BTreeMap<i32, (i64, BTreeMap<String, Decimal>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT l.id, l.line_number, x.carc AS "carc!", sum(x.amount) AS "amount!"
           FROM (SELECT e.service_line_id AS line_id, COALESCE(e.reason_code, '') AS carc, e.amount
                 FROM ledger_entries e WHERE e.claim_id = $1 AND COALESCE(e.reversed_kind, e.kind) = 'patient_responsibility'
                 UNION ALL
                 SELECT w.service_line_id, p.reason_code, -p.amount
                 FROM writeoffs w JOIN writeoff_parts p ON p.writeoff_id = w.id
                 WHERE w.claim_id = $1 AND w.status = 'PENDING_APPROVAL' AND w.id <> $2) x
           JOIN service_lines l ON l.id = x.line_id
           GROUP BY 1, 2, 3 HAVING sum(x.amount) <> 0 ORDER BY 2, 3"#,
        claim,
        except,
    )
    .fetch_all(conn)
    .await?;
    let mut lines: BTreeMap<i32, (i64, BTreeMap<String, Decimal>)> = BTreeMap::new();
    for r in rows {
        lines.entry(r.line_number).or_insert_with(|| (r.id, BTreeMap::new())).1.insert(r.carc, r.amount);
    }
    Ok(lines)
}

/// The claim's patient balance less what other requests wait to move.
async fn patient_available(conn: &mut PgConnection, claim: i64, except: i64) -> Result<Decimal, sqlx::Error> {
    let owed = ledger::owed(conn, &[claim]).await?.first().map_or(Decimal::ZERO, |o| o.patient);
    let waiting = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(amount), 0) AS "waiting!" FROM writeoffs
           WHERE claim_id = $1 AND bucket = 'patient' AND status = 'PENDING_APPROVAL' AND id <> $2"#,
        claim,
        except,
    )
    .fetch_one(conn)
    .await?;
    Ok(owed - waiting)
}

/// Refuses moving `amounts` from `line` unless each fits what remains there
/// and the total fits the patient balance.
fn check_fits(line_number: i32, outstanding: &BTreeMap<String, Decimal>, amounts: &BTreeMap<String, Decimal>, available: Decimal) -> Result<(), ActionError> {
    for (carc, amount) in amounts {
        let before = outstanding.get(carc).copied().unwrap_or_default();
        if *amount > before {
            return Err(ActionError::Invalid(format!("PR-{carc} on line {line_number} is {before}; cannot move {amount}")));
        }
    }
    let total: Decimal = amounts.values().copied().sum();
    if total > available {
        return Err(ActionError::Invalid(format!(
            "the claim's patient balance is {}; cannot write off {total} of it (a write-off never takes a balance below zero)",
            available.max(Decimal::ZERO)
        )));
    }
    Ok(())
}

/// Whether waiting request `writeoff` still fits, for its approval.
pub(super) async fn still_fits(conn: &mut PgConnection, writeoff: i64) -> Result<bool, sqlx::Error> {
    let w = sqlx::query!(r#"SELECT w.claim_id, l.line_number FROM writeoffs w JOIN service_lines l ON l.id = w.service_line_id WHERE w.id = $1"#, writeoff)
        .fetch_one(&mut *conn)
        .await?;
    let parts: BTreeMap<String, Decimal> = sqlx::query!("SELECT reason_code, amount FROM writeoff_parts WHERE writeoff_id = $1", writeoff)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|p| (p.reason_code, p.amount))
        .collect();
    let lines = movable(conn, w.claim_id, writeoff).await?;
    let outstanding = lines.get(&w.line_number).map(|(_, o)| o.clone()).unwrap_or_default();
    let available = patient_available(conn, w.claim_id, writeoff).await?;
    Ok(check_fits(w.line_number, &outstanding, &parts, available).is_ok())
}

pub async fn pr_writeoff(pool: &PgPool, req: PrRequest<'_>) -> Result<PrOutcome, ActionError> {
    if req.amounts.is_empty() || req.amounts.values().any(|a| *a <= Decimal::ZERO || a.scale() > 2) {
        return Err(ActionError::Invalid("give at least one --carc CODE=AMOUNT with a positive amount in cents".into()));
    }
    if req.reason.trim().is_empty() {
        return Err(ActionError::Invalid("a reason is required (--reason)".into()));
    }
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, req.actor, Scope::PaymentWrite).await?;
    let claim = sqlx::query_scalar!("SELECT id FROM claims WHERE claim_id = $1", req.claim_id)
        .fetch_optional(&mut *db)
        .await?
        .ok_or_else(|| ActionError::Invalid(format!("no claim with id {:?}", req.claim_id)))?;
    ledger::lock_claims(&mut db, Hold::Claims, &[claim]).await?;
    let lines = movable(&mut db, claim, 0).await?;
    let line_number = match (req.line, lines.len()) {
        (Some(n), _) => n,
        (None, 1) => *lines.keys().next().unwrap_or(&0),
        (None, 0) => return Err(ActionError::Invalid(format!("claim {} has no patient responsibility on any line", req.claim_id))),
        (None, _) => return Err(ActionError::Invalid(format!("claim {} has patient responsibility on several lines; say which with --line", req.claim_id))),
    };
    let Some((line_id, outstanding)) = lines.get(&line_number) else {
        return Err(ActionError::Invalid(format!("line {line_number} of claim {} carries no patient responsibility", req.claim_id)));
    };
    let available = patient_available(&mut db, claim, 0).await?;
    check_fits(line_number, outstanding, &req.amounts, available)?;
    let moved_lines = req
        .amounts
        .iter()
        .map(|(carc, amount)| {
            let before = outstanding.get(carc).copied().unwrap_or_default();
            PrLine { carc: carc.clone(), before, moved: *amount, after: before - *amount }
        })
        .collect();
    let total: Decimal = req.amounts.values().copied().sum();
    let b = crate::claims::view::balances_in(&mut db, claim).await?;
    let mut out = PrOutcome {
        line_number,
        lines: moved_lines,
        patient_balance_before: b.patient_balance,
        patient_balance_after: b.patient_balance - total,
        other_adjustments_before: b.other_adjustments,
        other_adjustments_after: b.other_adjustments + total,
        writeoff: None,
    };
    if req.preview {
        db.rollback().await?;
        return Ok(out);
    }
    // A reason of the list, within its cap; any other text is the note of
    // an `other` write-off.
    let listed = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM writeoff_reasons WHERE code = $1) AS "known!""#, req.reason).fetch_one(&mut *db).await?;
    let (reason, note) = if listed { (req.reason, None) } else { ("other", Some(req.reason)) };
    reasons::get(&mut db, reason).await?.allows(note.or(Some(req.reason)), Some(total))?;
    let prior = sqlx::query_scalar!(r#"SELECT remitd_patient_writeoffs_on($1) AS "prior!""#, claim).fetch_one(&mut *db).await?;
    let gated = approval_policy(&mut db).await?.gates(prior, total);
    let receipt = receipts::open(
        &mut db,
        &Receipt {
            kind: ReceiptKind::PatientResponsibility,
            actor: req.actor,
            reason,
            note,
            filter: serde_json::json!({ "claim": req.claim_id, "line": line_number }),
        },
    )
    .await?;
    let parts: Vec<(String, Decimal)> = req.amounts.iter().map(|(c, a)| (c.clone(), *a)).collect();
    let new = NewRequest {
        receipt,
        denial_id: None,
        claim_id: claim,
        service_line_id: Some(*line_id),
        amount: total,
        bucket: Bucket::Patient,
        reason,
        note,
        requested_by: req.actor,
        parts: &parts,
    };
    let writeoff_id = money::request(&mut db, &new).await?;
    let detail = serde_json::json!({ "line": line_number, "by_carc": req.amounts.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<BTreeMap<_, _>>() });
    let fields = Audit {
        claim_id: Some(claim),
        writeoff_id: Some(writeoff_id),
        receipt_id: Some(receipt),
        reason: Some(req.reason),
        amount: Some(total),
        detail: Some(detail),
        ..Audit::default()
    };
    let status = if gated {
        audit(&mut db, req.actor, "pr_writeoff_requested", fields).await?;
        WriteoffStatus::PendingApproval
    } else {
        audit(&mut db, req.actor, "pr_writeoff_posted", fields).await?;
        money::post(&mut db, Selection::One(writeoff_id), req.actor, None).await?;
        WriteoffStatus::Posted
    };
    db.commit().await?;
    out.writeoff = Some(Outcome { writeoff_id, receipt, amount: total, status, denial_status: None });
    Ok(out)
}
