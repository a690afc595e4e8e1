//! Payer reversals of written-off denials.
//!
//! When a remittance reverses the posting a denial came from, and that
//! denial was written off (or waits for approval), the write-off is undone
//! by a new ledger entry, the denial is OPEN again, and the audit log says
//! `system` did it because of the reversal's trace number. When the
//! corrected claim posts, the reopened denial becomes RESOLVED and the claim
//! balance follows the new payment. A reversal that cannot be tied to a
//! written-off denial of its claim flags those denials for a person.

use sqlx::{PgConnection, PgPool, Row};

use super::actors::{require, DENIAL_WRITE};
use super::{audit, Audit, WriteoffError};
use crate::posting::SYSTEM_ACTOR;

/// Undoes the write-offs of one denial (posted ones by a reversing entry,
/// pending ones by rejection) and reopens it. Returns whether anything was
/// written off.
async fn reopen_denial(conn: &mut PgConnection, denial_id: i64, actor: &str, why: &str, detail: serde_json::Value) -> Result<bool, sqlx::Error> {
    let rows = sqlx::query("SELECT id, status, amount, claim_id, receipt_id FROM writeoffs WHERE denial_id = $1 AND status IN ('POSTED', 'PENDING_APPROVAL') ORDER BY id FOR UPDATE")
        .bind(denial_id)
        .fetch_all(&mut *conn)
        .await?;
    for r in &rows {
        let (id, status): (i64, String) = (r.get(0), r.get(1));
        if status == "POSTED" {
            sqlx::query(
                "WITH e AS (
                     INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, reason_code, amount, reverses_entry_id, actor, memo)
                     SELECT l.claim_id, l.service_line_id, 'write_off_reversal', l.group_code, l.reason_code, l.amount, l.id, $2, 'reopened: ' || $3
                     FROM ledger_entries l WHERE l.writeoff_id = $1 AND l.kind = 'write_off'
                     RETURNING id
                 )
                 UPDATE writeoffs SET status = 'UNDONE', reversal_entry_id = (SELECT id FROM e), decided_by = COALESCE(decided_by, $2) WHERE id = $1",
            )
            .bind(id)
            .bind(actor)
            .bind(why)
            .execute(&mut *conn)
            .await?;
        } else {
            sqlx::query("UPDATE writeoffs SET status = 'REJECTED', decided_by = $2 WHERE id = $1").bind(id).bind(actor).execute(&mut *conn).await?;
        }
        let fields = Audit {
            claim_id: Some(r.get(3)),
            denial_id: Some(denial_id),
            writeoff_id: Some(id),
            receipt_id: Some(r.get(4)),
            reason: Some(why),
            amount: Some(r.get(2)),
            detail: Some(detail.clone()),
        };
        audit(conn, actor, "denial_reopened", fields).await?;
    }
    sqlx::query("UPDATE denials SET status = 'OPEN', reopened_at = now(), flagged_at = NULL, flag_reason = NULL WHERE id = $1")
        .bind(denial_id)
        .execute(&mut *conn)
        .await?;
    Ok(!rows.is_empty())
}

/// A reversal matched posting `original` of claim `claim_id`: reopen its
/// written-off denials. Returns how many were reopened.
pub async fn on_reversal(conn: &mut PgConnection, original: i64, remittance_id: i64) -> Result<usize, sqlx::Error> {
    let trace: String = sqlx::query_scalar("SELECT trace_number FROM remittances WHERE id = $1").bind(remittance_id).fetch_one(&mut *conn).await?;
    let denials: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM denials WHERE claim_posting_id = $1 AND status IN ('WRITE_OFF', 'PENDING_WRITEOFF') ORDER BY id FOR UPDATE")
            .bind(original)
            .fetch_all(&mut *conn)
            .await?;
    let why = format!("payer reversal, trace {trace}");
    for &d in &denials {
        reopen_denial(
            conn,
            d,
            SYSTEM_ACTOR,
            &why,
            serde_json::json!({ "trace_number": trace, "remittance_id": remittance_id, "reversed_posting_id": original }),
        )
        .await?;
    }
    Ok(denials.len())
}

/// A reversal for claim `claim_id` matched none of its postings: flag its
/// written-off denials for a person. Returns how many were flagged.
pub async fn flag_unmatched_reversal(conn: &mut PgConnection, claim_id: i64, remittance_id: i64) -> Result<usize, sqlx::Error> {
    let flagged = sqlx::query(
        "UPDATE denials SET flagged_at = now(),
             flag_reason = 'payer reversal (trace ' || (SELECT trace_number FROM remittances WHERE id = $2) || ') did not match the posting this denial came from'
         WHERE claim_id = $1 AND status IN ('WRITE_OFF', 'PENDING_WRITEOFF')",
    )
    .bind(claim_id)
    .bind(remittance_id)
    .execute(conn)
    .await?;
    Ok(flagged.rows_affected() as usize)
}

/// Reopened denials of claims whose corrected claim posted in remittance
/// `remittance_id`: RESOLVED, with the new payment.
pub async fn resolve_corrected(conn: &mut PgConnection, remittance_id: i64) -> Result<usize, sqlx::Error> {
    let resolved = sqlx::query(
        "WITH done AS (
             UPDATE denials d SET status = 'RESOLVED'
             FROM claim_postings p
             WHERE p.remittance_id = $1 AND p.reverses_posting_id IS NULL AND p.claim_id = d.claim_id AND p.status_code IN ('1', '2', '3', '19', '20', '21')
               AND d.status = 'OPEN' AND d.reopened_at IS NOT NULL AND d.claim_posting_id <> p.id
             RETURNING d.id, d.claim_id, p.paid, p.id AS posting
         )
         INSERT INTO audit_log (actor, action, claim_id, denial_id, amount, detail)
         SELECT $2, 'denial_resolved', claim_id, id, paid, jsonb_build_object('corrected_posting_id', posting) FROM done",
    )
    .bind(remittance_id)
    .bind(SYSTEM_ACTOR)
    .execute(conn)
    .await?;
    Ok(resolved.rows_affected() as usize)
}

/// Denials flagged for a person.
pub async fn flagged(pool: &PgPool) -> Result<Vec<(i64, String, String, String)>, WriteoffError> {
    let rows = sqlx::query("SELECT d.id, c.claim_id, d.status, d.flag_reason FROM denials d JOIN claims c ON c.id = d.claim_id WHERE d.flagged_at IS NOT NULL ORDER BY d.flagged_at, d.id")
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
}

/// A person reopens a written-off denial (after a reversal remitd could not tie to it).
pub async fn reopen_by_hand(pool: &PgPool, denial_id: i64, actor: &str) -> Result<bool, WriteoffError> {
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, actor, DENIAL_WRITE).await?;
    let d = super::denials::lock(&mut db, denial_id).await?;
    if d.status != "WRITE_OFF" && d.status != "PENDING_WRITEOFF" {
        return Err(WriteoffError::WrongState { id: denial_id, status: d.status, why: "only a written-off denial can be reopened" });
    }
    let undone = reopen_denial(&mut db, denial_id, actor, "reopened by hand", serde_json::json!({})).await?;
    db.commit().await?;
    Ok(undone)
}
