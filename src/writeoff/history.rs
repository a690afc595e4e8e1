//! Looking back: the write-off history with receipts and totals by reason,
//! and the audit trail.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Row};

use super::WriteoffError;

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
    pub receipt_kind: String,
    pub at: DateTime<Utc>,
    pub claim_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_id: Option<i64>,
    pub bucket: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub amount: Decimal,
    pub status: String,
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

/// Write-offs by receipt number, date range (of the request, inclusive) and reason.
pub async fn history(pool: &PgPool, f: &HistoryFilter<'_>) -> Result<History, WriteoffError> {
    let rows = sqlx::query(
        "SELECT w.id, r.id, r.kind, w.requested_at, c.claim_id, w.denial_id, w.bucket, w.reason, w.note, w.amount, w.status, w.requested_by, w.decided_by
         FROM writeoffs w JOIN writeoff_receipts r ON r.id = w.receipt_id JOIN claims c ON c.id = w.claim_id
         WHERE ($1::bigint IS NULL OR r.id = $1)
           AND ($2::date IS NULL OR w.requested_at >= $2::date)
           AND ($3::date IS NULL OR w.requested_at < $3::date + 1)
           AND ($4::text IS NULL OR w.reason = $4)
         ORDER BY w.id",
    )
    .bind(f.receipt)
    .bind(f.from)
    .bind(f.to)
    .bind(f.reason)
    .fetch_all(pool)
    .await?;
    let rows: Vec<HistoryRow> = rows
        .into_iter()
        .map(|r| HistoryRow {
            writeoff_id: r.get(0),
            receipt: r.get(1),
            receipt_kind: r.get(2),
            at: r.get(3),
            claim_id: r.get(4),
            denial_id: r.get(5),
            bucket: r.get(6),
            reason: r.get(7),
            note: r.get(8),
            amount: r.get(9),
            status: r.get(10),
            requested_by: r.get(11),
            decided_by: r.get(12),
        })
        .collect();
    let mut totals_by_reason: BTreeMap<String, Decimal> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status == "POSTED") {
        *totals_by_reason.entry(r.reason.clone()).or_default() += r.amount;
    }
    let total = totals_by_reason.values().copied().sum();
    Ok(History { rows, totals_by_reason, total })
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    pub claim: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub from: Option<NaiveDate>,
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

/// The audit trail, oldest first.
pub async fn audit_trail(pool: &PgPool, f: &AuditFilter<'_>) -> Result<Vec<AuditRow>, WriteoffError> {
    let rows = sqlx::query(
        "SELECT a.id, a.at, a.actor, a.action, c.claim_id, a.denial_id, a.writeoff_id, a.receipt_id, a.reason, a.amount, a.detail
         FROM audit_log a LEFT JOIN claims c ON c.id = a.claim_id
         WHERE ($1::text IS NULL OR c.claim_id = $1) AND ($2::text IS NULL OR a.actor = $2) AND ($3::date IS NULL OR a.at >= $3::date)
         ORDER BY a.id",
    )
    .bind(f.claim)
    .bind(f.actor)
    .bind(f.from)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditRow {
            id: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            action: r.get(3),
            claim_id: r.get(4),
            denial_id: r.get(5),
            writeoff_id: r.get(6),
            receipt: r.get(7),
            reason: r.get(8),
            amount: r.get(9),
            detail: r.get(10),
        })
        .collect())
}
