//! Looking back: the write-off history with receipts and totals by reason,
//! and the audit trail.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use crate::ledger::{ActionError, Bucket, ReceiptKind, WriteoffStatus};

#[derive(Debug, Clone, Default)]
pub struct HistoryFilter<'a> {
    pub receipt: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub reason: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryRow {
    pub writeoff_id: i64,
    pub receipt: i64,
    pub receipt_kind: ReceiptKind,
    pub at: DateTime<Utc>,
    pub claim_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_id: Option<i64>,
    pub bucket: Bucket,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub amount: Decimal,
    pub status: WriteoffStatus,
    pub requested_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct History {
    pub rows: Vec<HistoryRow>,
    /// Posted write-offs by reason (pending, rejected and undone ones do not count).
    pub totals_by_reason: BTreeMap<String, Decimal>,
    pub total: Decimal,
}

/// Refuses a date range that ends before it starts: it would select
/// nothing, which reads as "nothing happened".
pub fn check_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), ActionError> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(ActionError::Invalid(format!("the date range starts ({f}) after it ends ({t})"))),
        _ => Ok(()),
    }
}

/// Write-offs by receipt number, date range (of the request, inclusive) and
/// reason. An unknown reason is refused with the known ones listed.
pub async fn history(pool: &PgPool, f: &HistoryFilter<'_>) -> Result<History, ActionError> {
    check_range(f.from, f.to)?;
    crate::actors::require_read(pool).await?;
    if let Some(reason) = f.reason {
        let mut conn = pool.acquire().await?;
        super::reasons::get(&mut conn, reason).await?;
    }
    let rows = sqlx::query_as!(
        HistoryRow,
        r#"SELECT w.id AS writeoff_id, r.id AS receipt, r.kind AS "receipt_kind: ReceiptKind", w.requested_at AS at, c.claim_id,
                  w.denial_id, w.bucket AS "bucket: Bucket", w.reason, w.note, w.amount, w.status AS "status: WriteoffStatus",
                  w.requested_by, w.decided_by
           FROM writeoffs w JOIN writeoff_receipts r ON r.id = w.receipt_id JOIN claims c ON c.id = w.claim_id
           WHERE ($1::bigint IS NULL OR r.id = $1)
             AND ($2::date IS NULL OR w.requested_at >= $2::date)
             AND ($3::date IS NULL OR w.requested_at < $3::date + 1)
             AND ($4::text IS NULL OR w.reason = $4)
           ORDER BY w.id"#,
        f.receipt,
        f.from,
        f.to,
        f.reason,
    )
    .fetch_all(pool)
    .await?;
    let mut totals_by_reason: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == WriteoffStatus::Posted) {
        *totals_by_reason.entry(r.reason.clone()).or_default() += r.amount;
    }
    let total = totals_by_reason.values().copied().sum();
    Ok(History { rows, totals_by_reason, total })
}

/// Write-offs of one reason in one bucket (source document 001's
/// "write-off causes").
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cause {
    pub reason: String,
    pub label: String,
    pub bucket: Bucket,
    /// Posted and standing (undone ones drop out).
    pub count: i64,
    pub amount: Decimal,
    /// Waiting for approval.
    pub pending_count: i64,
    pub pending_amount: Decimal,
}

/// Write-off totals by reason and bucket over a date range.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Causes {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub rows: Vec<Cause>,
    /// Posted, per bucket and in all.
    pub insurance: Decimal,
    pub patient: Decimal,
    pub total: Decimal,
}

/// The write-offs made in the date range (of the request, inclusive) that
/// stand or wait, by bucket, then by amount.
pub async fn causes(pool: &PgPool, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Causes, ActionError> {
    check_range(from, to)?;
    crate::actors::require_read(pool).await?;
    let rows = sqlx::query_as!(
        Cause,
        r#"SELECT w.reason, rs.label, w.bucket AS "bucket: Bucket",
                  count(*) FILTER (WHERE w.status = 'POSTED') AS "count!",
                  COALESCE(sum(w.amount) FILTER (WHERE w.status = 'POSTED'), 0) AS "amount!",
                  count(*) FILTER (WHERE w.status = 'PENDING_APPROVAL') AS "pending_count!",
                  COALESCE(sum(w.amount) FILTER (WHERE w.status = 'PENDING_APPROVAL'), 0) AS "pending_amount!"
           FROM writeoffs w JOIN writeoff_reasons rs ON rs.code = w.reason
           WHERE w.status IN ('POSTED', 'PENDING_APPROVAL')
             AND ($1::date IS NULL OR w.requested_at >= $1::date)
             AND ($2::date IS NULL OR w.requested_at < $2::date + 1)
           GROUP BY w.reason, rs.label, w.bucket
           ORDER BY w.bucket, 5 DESC, w.reason"#,
        from,
        to,
    )
    .fetch_all(pool)
    .await?;
    let sum = |b: Option<Bucket>| rows.iter().filter(|r| b.is_none_or(|b| r.bucket == b)).map(|r| r.amount).sum::<Decimal>();
    let (insurance, patient, total) = (sum(Some(Bucket::Insurance)), sum(Some(Bucket::Patient)), sum(None));
    Ok(Causes { from, to, rows, insurance, patient, total })
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    pub claim: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub from: Option<NaiveDate>,
    /// The last day, inclusive.
    pub to: Option<NaiveDate>,
    /// Only the newest this many rows (a page); `None`: all of them.
    pub newest: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writeoff_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    pub detail: serde_json::Value,
}

/// The audit trail, oldest first. Read newest first, so that a page's
/// `newest` rows come off the primary key's end without reading the rest
/// (`LIMIT NULL` is no limit).
pub async fn audit_trail(pool: &PgPool, f: &AuditFilter<'_>) -> Result<Vec<AuditRow>, ActionError> {
    check_range(f.from, f.to)?;
    crate::actors::require_read(pool).await?;
    let mut rows = sqlx::query_as!(
        AuditRow,
        r#"SELECT a.id, a.at, a.actor, a.action, c.claim_id AS "claim_id?", a.denial_id, a.writeoff_id, a.receipt_id AS receipt, a.reason, a.amount, a.detail
           FROM audit_log a LEFT JOIN claims c ON c.id = a.claim_id
           WHERE ($1::text IS NULL OR c.claim_id = $1) AND ($2::text IS NULL OR a.actor = $2) AND ($3::date IS NULL OR a.at >= $3::date)
             AND ($4::date IS NULL OR a.at < $4::date + 1)
           ORDER BY a.id DESC LIMIT $5"#,
        f.claim,
        f.actor,
        f.from,
        f.to,
        f.newest,
    )
    .fetch_all(pool)
    .await?;
    rows.reverse();
    Ok(rows)
}
