//! Bulk write-off: one reason for every denial a filter matches, one
//! receipt for the run.

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;

use super::{approval_policy, reasons, write_off_in, Request};
use crate::actors::require;
use crate::denials::{self, DenialStatus};
use crate::ledger::receipts::{self, Receipt};
use crate::ledger::{self, ActionError, Hold, ReceiptKind, WriteoffStatus};

/// Which denials a bulk write-off takes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkFilter {
    /// Only denials with at most this much remaining.
    pub max_balance: Option<Decimal>,
    /// Only denials opened at least this many days before `as_of`.
    pub min_age_days: Option<i64>,
    pub payer: Option<String>,
    pub claim: Option<String>,
    pub account: Option<String>,
    pub as_of: Option<chrono::NaiveDate>,
    /// Only denials with at least this much remaining.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_balance: Option<Decimal>,
    /// Only claims with a service date in this range (inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_from: Option<chrono::NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_to: Option<chrono::NaiveDate>,
}

/// One denial a bulk run matched but left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub denial_id: i64,
    pub claim_id: String,
    pub status: DenialStatus,
    pub why: String,
}

/// One denial a bulk run wrote off (or, in a preview, would write off), or
/// asked an approver about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Taken {
    pub denial_id: i64,
    pub claim_id: String,
    pub amount: Decimal,
    pub status: WriteoffStatus,
    /// In a preview, a write-off that was rolled back.
    pub writeoff_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkOutcome {
    /// `None` for a preview, which writes nothing.
    pub receipt: Option<i64>,
    pub matched: usize,
    pub written_off: usize,
    pub pending_approval: usize,
    pub total: Decimal,
    /// Every denial written off or waiting, in denial order.
    pub taken: Vec<Taken>,
    pub skipped: Vec<Skipped>,
}

/// Why a matched denial is left alone, if it is.
fn skip_reason(status: DenialStatus, remaining: Decimal) -> Option<String> {
    match status {
        DenialStatus::Open if remaining > Decimal::ZERO => None,
        DenialStatus::Open => Some("nothing remains to write off".into()),
        DenialStatus::AppealPending => Some("under appeal (protected)".into()),
        DenialStatus::PendingWriteoff => Some("a write-off already waits for approval (protected)".into()),
        DenialStatus::Resolved => Some("resolved (protected)".into()),
        DenialStatus::WriteOff => Some("already WRITE_OFF".into()),
    }
}

/// Writes off, with one reason, every denial the filter matches. Protected
/// states are skipped with the reason; the approval gate applies row by row;
/// every row gets its own audit entry; the run gets one receipt. The run is
/// one database transaction holding the whole ledger: it posts whole or not
/// at all, and each denial's amount is what remains after the rows before
/// it (two denials of one claim never write off more than the claim owes).
/// A preview runs the same and rolls back, under a receipt numbered 0 that
/// never commits.
pub async fn bulk(pool: &PgPool, filter: &BulkFilter, reason: &str, note: Option<&str>, actor: &str, preview: bool) -> Result<BulkOutcome, ActionError> {
    let mut db = ledger::begin(pool, Hold::Ledger).await?;
    let why = reasons::get(&mut db, reason).await?;
    require(&mut db, actor, why.scope).await?;
    why.allows(note, None)?;
    let policy = approval_policy(&mut db).await?;
    let as_of = filter.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let rows = sqlx::query!(
        r#"SELECT d.id, c.claim_id, d.status AS "status: DenialStatus", b.remaining AS "remaining!"
           FROM denials d JOIN denial_balances b ON b.denial_id = d.id
           JOIN claims c ON c.id = d.claim_id JOIN payers p ON p.id = c.payer_id JOIN accounts a ON a.id = c.account_id
           WHERE ($1::numeric IS NULL OR b.remaining <= $1)
             AND ($2::int IS NULL OR d.opened_at::date <= $6::date - $2::int)
             AND ($3::text IS NULL OR p.payer_code = $3)
             AND ($4::text IS NULL OR c.claim_id = $4)
             AND ($5::text IS NULL OR a.account_number = $5)
             AND ($7::numeric IS NULL OR b.remaining >= $7)
             AND ($8::date IS NULL OR c.service_date >= $8)
             AND ($9::date IS NULL OR c.service_date <= $9)
           ORDER BY d.id FOR UPDATE OF d"#,
        filter.max_balance,
        filter.min_age_days.map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
        filter.payer.as_deref(),
        filter.claim.as_deref(),
        filter.account.as_deref(),
        as_of,
        filter.min_balance,
        filter.service_from,
        filter.service_to,
    )
    .fetch_all(&mut *db)
    .await?;
    let mut out =
        BulkOutcome { receipt: None, matched: rows.len(), written_off: 0, pending_approval: 0, total: Decimal::ZERO, taken: Vec::new(), skipped: Vec::new() };
    let mut receipt = None;
    for r in rows {
        if let Some(why) = skip_reason(r.status, r.remaining) {
            out.skipped.push(Skipped { denial_id: r.id, claim_id: r.claim_id, status: r.status, why });
            continue;
        }
        // Read again: an earlier row of the run may have taken from its claim.
        let d = denials::lock(&mut db, Hold::Ledger, r.id).await?;
        if let Some(why) = skip_reason(d.status, d.figures.remaining) {
            out.skipped.push(Skipped { denial_id: r.id, claim_id: r.claim_id, status: d.status, why });
            continue;
        }
        if let Err(over) = why.within_cap(d.figures.remaining) {
            out.skipped.push(Skipped { denial_id: r.id, claim_id: r.claim_id, status: d.status, why: over.to_string() });
            continue;
        }
        let receipt = match receipt {
            Some(n) => n,
            None => {
                let run = Receipt { kind: ReceiptKind::Bulk, actor, reason, note, filter: serde_json::to_value(filter).unwrap_or_default() };
                let n = match preview {
                    true => receipts::open_preview(&mut db, &run).await?,
                    false => receipts::open(&mut db, &run).await?,
                };
                *receipt.insert(n)
            }
        };
        let req = Request { denial_id: d.id, reason, note, amount: None, actor };
        let done = write_off_in(&mut db, &d, &req, &why, receipt, policy).await?;
        out.taken.push(Taken { denial_id: d.id, claim_id: r.claim_id.clone(), amount: done.amount, status: done.status, writeoff_id: done.writeoff_id });
        match done.status {
            WriteoffStatus::PendingApproval => out.pending_approval += 1,
            _ => out.written_off += 1,
        }
        out.total += done.amount;
    }
    if preview {
        db.rollback().await?;
    } else {
        out.receipt = receipt;
        db.commit().await?;
    }
    Ok(out)
}
