//! Receipts: one per write-off action (a single write-off, a bulk run, a
//! sweep run, a patient-responsibility write-off), so a billing team finds
//! a run again by its number.

use sqlx::PgConnection;

use super::kinds::ReceiptKind;

/// What a receipt records: the action's kind, who, why, and the filter or
/// parameters it ran with.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    pub kind: ReceiptKind,
    pub actor: &'a str,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub filter: serde_json::Value,
}

/// Opens a receipt and returns its number: the next after the last receipt
/// that committed (migration 0014 numbers receipts from a counter in the
/// same transaction, so an action refused after this rolls its number back
/// with it and receipts have no gaps). Until the transaction ends, other
/// receipt-making transactions wait: open it once the action's locks are
/// held, as late as is natural.
pub async fn open(conn: &mut PgConnection, r: &Receipt<'_>) -> Result<i64, sqlx::Error> {
    insert(conn, None, r).await
}

/// A receipt for a preview: numbered 0, which no committed receipt has
/// (numbers start at 1; the database refuses to commit a 0), so the writes
/// a preview makes to show their effect can run and roll back without
/// taking a number or making other receipts wait.
pub async fn open_preview(conn: &mut PgConnection, r: &Receipt<'_>) -> Result<i64, sqlx::Error> {
    insert(conn, Some(0), r).await
}

async fn insert(conn: &mut PgConnection, number: Option<i64>, r: &Receipt<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO writeoff_receipts (id, kind, actor, reason, note, filter)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        number,
        r.kind.as_str(),
        r.actor,
        r.reason,
        r.note,
        r.filter,
    )
    .fetch_one(conn)
    .await
}
