//! Receipts: one per write-off action (a single write-off, a bulk run, a
//! sweep run, a patient-responsibility write-off), so a billing team finds
//! a run again by its number.

use sqlx::PgConnection;

use super::kinds::ReceiptKind;

/// Opens a receipt and returns its number. Call it once the action is known
/// to go ahead: a refused action rolls back, and a receipt number it took
/// would show as a gap.
pub async fn open(
    conn: &mut PgConnection,
    kind: ReceiptKind,
    actor: &str,
    reason: &str,
    note: Option<&str>,
    filter: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "INSERT INTO writeoff_receipts (kind, actor, reason, note, filter) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        kind.as_str(),
        actor,
        reason,
        note,
        filter,
    )
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// A receipt for a preview: numbered 0, which no committed receipt has
/// (numbers start at 1), so the writes a preview makes to show their
/// effect can run and roll back without using up a real receipt number.
pub async fn open_preview(
    conn: &mut PgConnection,
    kind: ReceiptKind,
    actor: &str,
    reason: &str,
    note: Option<&str>,
    filter: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "INSERT INTO writeoff_receipts (id, kind, actor, reason, note, filter) VALUES (0, $1, $2, $3, $4, $5) RETURNING id",
        kind.as_str(),
        actor,
        reason,
        note,
        filter,
    )
    .fetch_one(conn)
    .await?;
    Ok(id)
}
