//! The audit log: who did what, when, why, for how much. Append-only (the
//! database refuses UPDATE, DELETE and TRUNCATE); these are the only
//! statements that write it.

use rust_decimal::Decimal;
use sqlx::PgConnection;

/// The fields of an audit row besides actor and action.
#[derive(Debug, Default, Clone)]
pub struct Audit<'a> {
    pub claim_id: Option<i64>,
    pub denial_id: Option<i64>,
    pub writeoff_id: Option<i64>,
    pub receipt_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub amount: Option<Decimal>,
    pub detail: Option<serde_json::Value>,
}

/// Appends one audit row.
pub async fn record(conn: &mut PgConnection, actor: &str, action: &str, a: Audit<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (actor, action, claim_id, denial_id, writeoff_id, receipt_id, reason, amount, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        actor,
        action,
        a.claim_id,
        a.denial_id,
        a.writeoff_id,
        a.receipt_id,
        a.reason,
        a.amount,
        a.detail.unwrap_or_else(|| serde_json::json!({})),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one audit row per write-off in `writeoffs`, in id order, each
/// with its claim, denial, receipt, reason and amount; `detail` is merged
/// with the write-off's bucket and transaction code. One statement,
/// whether a sweep's hundred thousand or one.
pub async fn record_writeoffs(conn: &mut PgConnection, writeoffs: &[i64], actor: &str, action: &str, detail: serde_json::Value) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (actor, action, claim_id, denial_id, writeoff_id, receipt_id, reason, amount, detail)
         SELECT $2, $3, w.claim_id, w.denial_id, w.id, w.receipt_id, w.reason, w.amount,
                jsonb_strip_nulls(jsonb_build_object('bucket', w.bucket, 'tx_code', w.tx_code, 'note', w.note)) || $4::jsonb
         FROM writeoffs w WHERE w.id = ANY($1) ORDER BY w.id",
        writeoffs,
        actor,
        action,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one audit row per denial in `denials`, in the order given, with
/// its claim, denied amount and reason codes; `detail` is merged in. Each
/// denial is looked up by its key (a remittance's few among many: as
/// `id = ANY($1)` a fresh table is scanned whole).
pub async fn record_denials(conn: &mut PgConnection, denials: &[i64], actor: &str, action: &str, detail: serde_json::Value) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO audit_log (actor, action, claim_id, denial_id, amount, detail)
         SELECT $2, $3, d.claim_id, d.id, d.amount, jsonb_build_object('reason_codes', d.reason_codes) || $4::jsonb
         FROM unnest($1::bigint[]) WITH ORDINALITY AS u(id, n)
         CROSS JOIN LATERAL (SELECT id, claim_id, amount, reason_codes FROM denials WHERE id = u.id LIMIT 1) d
         ORDER BY u.n",
        denials,
        actor,
        action,
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}
