//! Denial records: listing them, their remaining balance, appeals.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

use super::actors::{require, DENIAL_WRITE};
use super::{audit, Audit, WriteoffError};

/// One denial as billing staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub id: i64,
    pub claim_id: String,
    pub status: String,
    /// What was denied.
    pub amount: Decimal,
    /// What is not yet written off or waiting for approval.
    pub remaining: Decimal,
    pub reason_codes: Vec<String>,
    pub opened_at: DateTime<Utc>,
}

/// A locked denial row, for a state change.
pub struct Locked {
    pub id: i64,
    pub claim_id: i64,
    pub service_line_id: Option<i64>,
    pub status: String,
    pub remaining: Decimal,
}

/// Remaining balance: the denied amount less write-offs posted or pending.
pub(crate) const REMAINING: &str =
    "d.amount - COALESCE((SELECT sum(w.amount) FROM writeoffs w WHERE w.denial_id = d.id AND w.status IN ('POSTED', 'PENDING_APPROVAL')), 0)";

/// Locks denial `id` for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: i64) -> Result<Locked, WriteoffError> {
    let sql = format!("SELECT d.id, d.claim_id, d.service_line_id, d.status, {REMAINING} FROM denials d WHERE d.id = $1 FOR UPDATE");
    let r = sqlx::query(&sql).bind(id).fetch_optional(conn).await?.ok_or(WriteoffError::NoDenial(id))?;
    Ok(Locked { id: r.get(0), claim_id: r.get(1), service_line_id: r.get(2), status: r.get(3), remaining: r.get(4) })
}

pub async fn set_status(conn: &mut PgConnection, id: i64, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE denials SET status = $2 WHERE id = $1").bind(id).bind(status).execute(conn).await?;
    Ok(())
}

/// Denials, optionally of one claim and in one status, oldest first.
pub async fn list(pool: &PgPool, claim: Option<&str>, status: Option<&str>) -> Result<Vec<Denial>, WriteoffError> {
    let sql = format!(
        "SELECT d.id, c.claim_id, d.status, d.amount, {REMAINING}, d.reason_codes, d.opened_at
         FROM denials d JOIN claims c ON c.id = d.claim_id
         WHERE ($1::text IS NULL OR c.claim_id = $1) AND ($2::text IS NULL OR d.status = $2)
         ORDER BY d.id"
    );
    let rows = sqlx::query(&sql).bind(claim).bind(status).fetch_all(pool).await?;
    Ok(rows
        .into_iter()
        .map(|r| Denial {
            id: r.get(0),
            claim_id: r.get(1),
            status: r.get(2),
            amount: r.get(3),
            remaining: r.get(4),
            reason_codes: r.get(5),
            opened_at: r.get(6),
        })
        .collect())
}

/// OPEN → APPEAL_PENDING (`appeal = true`), or back.
pub async fn appeal(pool: &PgPool, id: i64, actor: &str, appeal: bool) -> Result<(), WriteoffError> {
    let mut db = pool.begin().await?;
    require(&mut db, actor, DENIAL_WRITE).await?;
    let d = lock(&mut db, id).await?;
    let (from, to, action, why) = if appeal {
        ("OPEN", "APPEAL_PENDING", "denial_appealed", "only an OPEN denial can be appealed")
    } else {
        ("APPEAL_PENDING", "OPEN", "denial_appeal_withdrawn", "there is no appeal to withdraw")
    };
    if d.status != from {
        return Err(WriteoffError::WrongState { id, status: d.status, why });
    }
    set_status(&mut db, id, to).await?;
    audit(&mut db, actor, action, Audit { claim_id: Some(d.claim_id), denial_id: Some(id), amount: Some(d.remaining), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(())
}
