//! The write-off workflows billing teams use every day: write off a denial
//! with a reason, the supervisor's approval, bulk runs, undo, reopen, Write
//! Off PR, and the history with receipts.
//!
//! These decide who may write off what and how much; the money itself is
//! written by the ledger layer (`crate::ledger::writeoffs`) and the denial
//! states by their lifecycle (`crate::denials`). Every action runs in one
//! transaction that takes the ledger's lock order (`crate::ledger::locks`)
//! and reads what is owed only after its locks are granted, so an amount is
//! checked against the balance it will commit against.

pub mod bulk;
pub mod history;
pub mod patient;
pub mod patient_balances;
pub mod policy;
pub mod reasons;
pub mod reopen;
pub mod responsibility;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

pub use bulk::{bulk, BulkFilter, BulkOutcome, Skipped};
pub use policy::{apply_configured_policy, approval_policy, set_approval_policy, Approval};

use crate::actors::{require, Scope};
use crate::denials::{self, DenialStatus, Locked};
use crate::ledger::receipts::{self, Receipt};
use crate::ledger::writeoffs::{self as money, NewRequest, Selection};
use crate::ledger::{self, audit, ActionError, Audit, Bucket, Hold, ReceiptKind, WriteoffStatus};
use reasons::Reason;

/// A write-off request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub denial_id: i64,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    /// Defaults to the denial's remaining balance.
    pub amount: Option<Decimal>,
    pub actor: &'a str,
}

/// What a write-off action did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub writeoff_id: i64,
    pub receipt: i64,
    pub amount: Decimal,
    pub status: WriteoffStatus,
    /// The denial's status after it, for a denial write-off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denial_status: Option<DenialStatus>,
}

/// Refuses a write-off of `amount` (default: all that remains) from `d`;
/// returns the amount.
fn writable(d: &Locked, amount: Option<Decimal>) -> Result<Decimal, ActionError> {
    match d.status {
        DenialStatus::Open => {}
        DenialStatus::AppealPending => {
            return Err(ActionError::WrongState { id: d.id, status: d.status.to_string(), why: "withdraw the appeal first (remitd denial withdraw-appeal)" })
        }
        _ => return Err(ActionError::WrongState { id: d.id, status: d.status.to_string(), why: "only an OPEN denial can be written off" }),
    }
    let remaining = d.figures.remaining;
    let amount = amount.unwrap_or(remaining);
    if amount <= Decimal::ZERO || amount > remaining || amount.scale() > 2 {
        return Err(ActionError::Invalid(format!(
            "amount must be more than 0 and at most what remains of denial #{} ({remaining}, cents at most), found {amount}",
            d.id
        )));
    }
    Ok(amount)
}

/// Writes off (part of) a denial, or queues it for approval.
pub async fn write_off(pool: &PgPool, req: Request<'_>) -> Result<Outcome, ActionError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    let reason = reasons::get(&mut db, req.reason).await?;
    require(&mut db, req.actor, reason.scope).await?;
    reason.allows(req.note, req.amount)?;
    let policy = approval_policy(&mut db).await?;
    let d = denials::lock(&mut db, Hold::Claims, req.denial_id).await?;
    writable(&d, req.amount)?;
    let receipt = receipts::open(
        &mut db,
        &Receipt { kind: ReceiptKind::Single, actor: req.actor, reason: req.reason, note: req.note, filter: serde_json::json!({ "denial_id": d.id }) },
    )
    .await?;
    let out = write_off_in(&mut db, &d, &req, &reason, receipt, policy).await?;
    db.commit().await?;
    Ok(out)
}

/// One write-off of locked denial `d`, inside the caller's transaction,
/// under `receipt`. The gate counts what was already written off or
/// requested on the denial. The amount is within `reason`'s cap.
async fn write_off_in(db: &mut PgConnection, d: &Locked, req: &Request<'_>, reason: &Reason, receipt: i64, policy: Approval) -> Result<Outcome, ActionError> {
    let amount = writable(d, req.amount)?;
    reason.within_cap(amount)?;
    let gated = policy.gates(d.figures.written_off + d.figures.pending, amount);
    let new = NewRequest {
        receipt,
        denial_id: Some(d.id),
        claim_id: d.claim_id,
        service_line_id: d.service_line_id,
        amount,
        bucket: Bucket::Insurance,
        reason: req.reason,
        note: req.note,
        requested_by: req.actor,
        parts: &[],
    };
    let writeoff_id = money::request(db, &new).await?;
    let fields = Audit {
        claim_id: Some(d.claim_id),
        denial_id: Some(d.id),
        writeoff_id: Some(writeoff_id),
        receipt_id: Some(receipt),
        reason: Some(req.reason),
        amount: Some(amount),
        detail: req.note.map(|n| serde_json::json!({ "note": n })),
    };
    let status = if gated {
        audit(db, req.actor, "writeoff_requested", fields).await?;
        WriteoffStatus::PendingApproval
    } else {
        // The audit row first: the database takes a person's write-off
        // entries only once their audit row is there.
        audit(db, req.actor, "writeoff_posted", fields).await?;
        money::post(db, Selection::One(writeoff_id), req.actor, None).await?;
        WriteoffStatus::Posted
    };
    let denial_status = denials::settle_status(db, d.id).await?;
    Ok(Outcome { writeoff_id, receipt, amount, status, denial_status: Some(denial_status) })
}

/// A write-off row, locked.
struct Held {
    id: i64,
    status: WriteoffStatus,
    denial_id: Option<i64>,
    claim_id: i64,
    receipt_id: i64,
    requested_by: String,
    amount: Decimal,
    reason: String,
    /// A patient-responsibility write-off (it has parts).
    patient_responsibility: bool,
}

/// Locks write-off `id` after its claim (and denial), in the ledger's order.
async fn lock_writeoff(db: &mut PgConnection, id: i64) -> Result<Held, ActionError> {
    let w = sqlx::query!("SELECT claim_id, denial_id FROM writeoffs WHERE id = $1", id).fetch_optional(&mut *db).await?.ok_or(ActionError::NoWriteoff(id))?;
    if let Some(d) = w.denial_id {
        denials::lock(db, Hold::Claims, d).await?;
    } else {
        ledger::lock_claims(db, Hold::Claims, &[w.claim_id]).await?;
    }
    let held = sqlx::query_as!(
        Held,
        r#"SELECT id, status AS "status: WriteoffStatus", denial_id, claim_id, receipt_id, requested_by, amount, reason,
                  EXISTS (SELECT 1 FROM writeoff_parts p WHERE p.writeoff_id = w.id) AS "patient_responsibility!"
           FROM writeoffs w WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_one(&mut *db)
    .await?;
    Ok(held)
}

/// Approves (`approve = true`) or rejects the write-off waiting on denial
/// `denial_id`.
pub async fn decide(pool: &PgPool, denial_id: i64, actor: &str, approve: bool) -> Result<Outcome, ActionError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, actor, Scope::WriteoffApprove).await?;
    let d = denials::lock(&mut db, Hold::Claims, denial_id).await?;
    if d.status != DenialStatus::PendingWriteoff {
        return Err(ActionError::WrongState { id: d.id, status: d.status.to_string(), why: "nothing waits for approval" });
    }
    let waiting = sqlx::query_scalar!("SELECT id FROM writeoffs WHERE denial_id = $1 AND status = 'PENDING_APPROVAL' ORDER BY id DESC LIMIT 1", denial_id)
        .fetch_one(&mut *db)
        .await?;
    let out = decide_in(&mut db, waiting, actor, approve).await?;
    db.commit().await?;
    Ok(out)
}

/// Approves or rejects write-off `writeoff_id` (any kind) waiting for approval.
pub async fn decide_writeoff(pool: &PgPool, writeoff_id: i64, actor: &str, approve: bool) -> Result<Outcome, ActionError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, actor, Scope::WriteoffApprove).await?;
    let out = decide_in(&mut db, writeoff_id, actor, approve).await?;
    db.commit().await?;
    Ok(out)
}

/// The approver needs the approve scope (checked by the caller) and may not
/// be the requester. An approval posts only what still fits what is owed:
/// a request a payment has since overtaken is refused, to be rejected.
async fn decide_in(db: &mut PgConnection, writeoff_id: i64, actor: &str, approve: bool) -> Result<Outcome, ActionError> {
    let w = lock_writeoff(db, writeoff_id).await?;
    if w.status != WriteoffStatus::PendingApproval {
        return Err(ActionError::Invalid(format!("write-off #{} is {}; only one waiting for approval can be approved or rejected", w.id, w.status)));
    }
    if w.requested_by == actor {
        return Err(ActionError::Invalid(format!("{actor:?} requested this write-off and cannot also approve or reject it")));
    }
    let fields = Audit {
        claim_id: Some(w.claim_id),
        denial_id: w.denial_id,
        writeoff_id: Some(w.id),
        receipt_id: Some(w.receipt_id),
        reason: Some(&w.reason),
        amount: Some(w.amount),
        detail: Some(serde_json::json!({ "requested_by": w.requested_by })),
    };
    let status = if approve {
        let fits = match (w.denial_id, w.patient_responsibility) {
            (Some(d), _) => denials::figures(db, d).await?.raw >= Decimal::ZERO,
            (None, true) => patient::still_fits(db, w.id).await?,
            (None, false) => true,
        };
        if !fits {
            return Err(ActionError::Invalid(format!(
                "write-off #{} no longer fits what is owed (a remittance changed the balance since it was requested); reject it and request again",
                w.id
            )));
        }
        audit(db, actor, "writeoff_approved", fields).await?;
        money::post(db, Selection::One(w.id), actor, Some(actor)).await?;
        WriteoffStatus::Posted
    } else {
        money::withdraw(db, &[w.id], WriteoffStatus::Rejected, actor).await?;
        audit(db, actor, "writeoff_rejected", fields).await?;
        WriteoffStatus::Rejected
    };
    let denial_status = match w.denial_id {
        Some(d) => Some(denials::settle_status(db, d).await?),
        None => None,
    };
    Ok(Outcome { writeoff_id: w.id, receipt: w.receipt_id, amount: w.amount, status, denial_status })
}

/// Undoes a posted write-off: reversing entries give the balance back, and
/// its denial is OPEN again. Undoing needs the scope posting it needed.
pub async fn undo(pool: &PgPool, writeoff_id: i64, actor: &str, reason: &str) -> Result<Decimal, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Invalid("undoing a write-off needs a reason (--reason TEXT)".into()));
    }
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    let w = lock_writeoff(&mut db, writeoff_id).await?;
    let scope = if w.patient_responsibility { Scope::PaymentWrite } else { reasons::get(&mut db, &w.reason).await?.scope };
    require(&mut db, actor, scope).await?;
    let reversed = money::reverse(&mut db, &[w.id], actor, &format!("undo write-off #{}: {reason}", w.id)).await?;
    if reversed.is_empty() {
        return Err(ActionError::Invalid(format!("write-off #{writeoff_id} is {}; only a posted write-off can be undone", w.status)));
    }
    let fields =
        Audit { claim_id: Some(w.claim_id), denial_id: w.denial_id, writeoff_id: Some(w.id), reason: Some(reason), amount: Some(w.amount), ..Audit::default() };
    audit(&mut db, actor, "writeoff_undone", fields).await?;
    if let Some(d) = w.denial_id {
        denials::settle_status(&mut db, d).await?;
    }
    db.commit().await?;
    Ok(w.amount)
}

/// OPEN → APPEAL_PENDING (`appeal = true`), or back.
pub async fn appeal(pool: &PgPool, denial_id: i64, actor: &str, appeal: bool) -> Result<(), ActionError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, actor, Scope::DenialWrite).await?;
    denials::appeal(&mut db, denial_id, actor, appeal).await?;
    db.commit().await?;
    Ok(())
}
