//! Denials and write-offs: the workflows billing teams use every day.
//!
//! Denial states and the moves between them:
//!
//! ```text
//! OPEN ──appeal──► APPEAL_PENDING ──withdraw──► OPEN
//! OPEN ──write off (gate applies)──► PENDING_WRITEOFF ──approve──► WRITE_OFF
//!                                                     └─reject───► OPEN
//! OPEN ──write off (no gate, whole remainder)──► WRITE_OFF ──undo──► OPEN
//! ```
//!
//! A partial write-off leaves the denial OPEN with less remaining. Every
//! move that touches money is a new ledger entry (`write_off`, or
//! `write_off_reversal` to undo one) plus an audit row with actor, reason,
//! amount and time; nothing is edited. Each action locks the denial row, so
//! two people acting on one denial at once are serialized.

pub mod actors;
pub mod denials;
pub mod history;
pub mod patient;
pub mod reopen;

use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool, Row};

use actors::{require, DENIAL_WRITE, PAYMENT_WRITE, WRITEOFF_APPROVE};

#[derive(Debug, thiserror::Error)]
pub enum WriteoffError {
    #[error("actor {0:?} does not exist (add it with: remitd actor add NAME)")]
    UnknownActor(String),
    #[error("actor {actor:?} lacks the scope {scope} (grant it with: remitd actor grant {actor} {scope})")]
    Forbidden { actor: String, scope: String },
    #[error("denial #{0} does not exist")]
    NoDenial(i64),
    #[error("write-off #{0} does not exist")]
    NoWriteoff(i64),
    #[error("denial #{id} is {status}: {why}")]
    WrongState { id: i64, status: String, why: &'static str },
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The approval gate: which write-offs wait for a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Approval {
    Off,
    All,
    Above(Decimal),
}

impl Approval {
    pub fn parse(s: &str) -> Result<Approval, WriteoffError> {
        match s {
            "off" => Ok(Approval::Off),
            "all" => Ok(Approval::All),
            _ => s
                .strip_prefix("above:")
                .and_then(|a| a.parse::<Decimal>().ok())
                .filter(|a| *a >= Decimal::ZERO)
                .map(Approval::Above)
                .ok_or_else(|| WriteoffError::Invalid(format!("approval policy must be off, all or above:AMOUNT, found {s:?}"))),
        }
    }

    pub fn as_setting(&self) -> String {
        match self {
            Approval::Off => "off".into(),
            Approval::All => "all".into(),
            Approval::Above(a) => format!("above:{a}"),
        }
    }

    fn applies(&self, amount: Decimal) -> bool {
        match self {
            Approval::Off => false,
            Approval::All => true,
            Approval::Above(limit) => amount > *limit,
        }
    }
}

pub async fn approval_policy(conn: &mut PgConnection) -> Result<Approval, WriteoffError> {
    let v: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'writeoff.approval'").fetch_one(conn).await?;
    Approval::parse(&v)
}

pub async fn set_approval_policy(pool: &PgPool, actor: &str, policy: Approval) -> Result<(), WriteoffError> {
    let mut db = pool.begin().await?;
    require(&mut db, actor, WRITEOFF_APPROVE).await?;
    store_policy(&mut db, actor, policy, None).await?;
    db.commit().await?;
    Ok(())
}

/// Applies the policy of the configuration file (`[writeoffs] approval`)
/// at daemon start, as `system`, when it differs from the one in force.
/// Returns whether it changed anything.
pub async fn apply_configured_policy(pool: &PgPool, policy: Approval) -> Result<bool, WriteoffError> {
    let mut db = pool.begin().await?;
    sqlx::query("SELECT 1 FROM settings WHERE key = 'writeoff.approval' FOR UPDATE").execute(&mut *db).await?;
    if approval_policy(&mut db).await? == policy {
        return Ok(false);
    }
    store_policy(&mut db, crate::posting::SYSTEM_ACTOR, policy, Some(serde_json::json!({ "from": "configuration" }))).await?;
    db.commit().await?;
    Ok(true)
}

async fn store_policy(db: &mut PgConnection, actor: &str, policy: Approval, detail: Option<serde_json::Value>) -> Result<(), WriteoffError> {
    sqlx::query("UPDATE settings SET value = $1 WHERE key = 'writeoff.approval'").bind(policy.as_setting()).execute(&mut *db).await?;
    audit(db, actor, "approval_policy_set", Audit { reason: Some(&policy.as_setting()), detail, ..Audit::default() }).await?;
    Ok(())
}

/// The fields of an audit row besides actor and action.
#[derive(Default)]
pub struct Audit<'a> {
    pub claim_id: Option<i64>,
    pub denial_id: Option<i64>,
    pub writeoff_id: Option<i64>,
    pub receipt_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub amount: Option<Decimal>,
    pub detail: Option<serde_json::Value>,
}

pub async fn audit(conn: &mut PgConnection, actor: &str, action: &str, a: Audit<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (actor, action, claim_id, denial_id, writeoff_id, receipt_id, reason, amount, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(actor)
        .bind(action)
        .bind(a.claim_id)
        .bind(a.denial_id)
        .bind(a.writeoff_id)
        .bind(a.receipt_id)
        .bind(a.reason)
        .bind(a.amount)
        .bind(a.detail.unwrap_or_else(|| serde_json::json!({})))
        .execute(conn)
        .await?;
    Ok(())
}

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

/// What a write-off request did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub writeoff_id: i64,
    pub receipt: i64,
    pub amount: Decimal,
    /// `POSTED` or `PENDING_APPROVAL`.
    pub status: String,
    pub denial_status: String,
}

async fn check_reason(conn: &mut PgConnection, reason: &str, note: Option<&str>) -> Result<(), WriteoffError> {
    let requires_note: Option<bool> =
        sqlx::query_scalar("SELECT requires_note FROM writeoff_reasons WHERE code = $1").bind(reason).fetch_optional(&mut *conn).await?;
    match requires_note {
        None => {
            let known: Vec<String> = sqlx::query_scalar("SELECT code FROM writeoff_reasons ORDER BY code").fetch_all(conn).await?;
            Err(WriteoffError::Invalid(format!("unknown reason {reason:?} (reasons: {})", known.join(", "))))
        }
        Some(true) if note.is_none_or(|n| n.trim().is_empty()) => Err(WriteoffError::Invalid(format!("reason {reason:?} needs a note (--note TEXT)"))),
        Some(_) => Ok(()),
    }
}

/// The scope a write-off with `reason` needs: contractual entries are
/// payment postings, everything else a denial write-off.
fn scope_for(reason: &str) -> &'static str {
    if reason == "contractual" {
        PAYMENT_WRITE
    } else {
        DENIAL_WRITE
    }
}

pub(crate) async fn new_receipt(
    conn: &mut PgConnection,
    kind: &str,
    actor: &str,
    reason: &str,
    note: Option<&str>,
    filter: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO writeoff_receipts (kind, actor, reason, note, filter) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(kind)
        .bind(actor)
        .bind(reason)
        .bind(note)
        .bind(filter)
        .fetch_one(conn)
        .await
}

/// Writes off (part of) a denial, or queues it for approval.
pub async fn write_off(pool: &PgPool, req: Request<'_>) -> Result<Outcome, WriteoffError> {
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, req.actor, scope_for(req.reason)).await?;
    check_reason(&mut db, req.reason, req.note).await?;
    let policy = approval_policy(&mut db).await?;
    let receipt = new_receipt(&mut db, "single", req.actor, req.reason, req.note, serde_json::json!({ "denial_id": req.denial_id })).await?;
    let out = write_off_in(&mut db, &req, receipt, policy).await?;
    db.commit().await?;
    Ok(out)
}

/// One write-off inside the caller's transaction, under `receipt`.
async fn write_off_in(db: &mut PgConnection, req: &Request<'_>, receipt: i64, policy: Approval) -> Result<Outcome, WriteoffError> {
    let d = denials::lock(db, req.denial_id).await?;
    match d.status.as_str() {
        "OPEN" => {}
        "APPEAL_PENDING" => {
            return Err(WriteoffError::WrongState { id: d.id, status: d.status, why: "withdraw the appeal first (remitd denial withdraw-appeal)" })
        }
        _ => return Err(WriteoffError::WrongState { id: d.id, status: d.status, why: "only an OPEN denial can be written off" }),
    }
    let remaining = d.remaining;
    let amount = req.amount.unwrap_or(remaining);
    if amount <= Decimal::ZERO || amount > remaining || amount.scale() > 2 {
        return Err(WriteoffError::Invalid(format!("amount must be more than 0 and at most the remaining {remaining} (cents at most), found {amount}")));
    }
    let gated = policy.applies(amount);
    let status = if gated { "PENDING_APPROVAL" } else { "POSTED" };
    let writeoff_id: i64 = sqlx::query_scalar(
        "INSERT INTO writeoffs (receipt_id, denial_id, claim_id, service_line_id, amount, bucket, reason, note, requested_by, status)
         VALUES ($1, $2, $3, $4, $5, 'insurance', $6, $7, $8, $9) RETURNING id",
    )
    .bind(receipt)
    .bind(d.id)
    .bind(d.claim_id)
    .bind(d.service_line_id)
    .bind(amount)
    .bind(req.reason)
    .bind(req.note)
    .bind(req.actor)
    .bind(status)
    .fetch_one(&mut *db)
    .await?;
    let fields = Audit {
        claim_id: Some(d.claim_id),
        denial_id: Some(d.id),
        writeoff_id: Some(writeoff_id),
        receipt_id: Some(receipt),
        reason: Some(req.reason),
        amount: Some(amount),
        detail: req.note.map(|n| serde_json::json!({ "note": n })),
    };
    let denial_status = if gated {
        audit(db, req.actor, "writeoff_requested", fields).await?;
        "PENDING_WRITEOFF"
    } else {
        post_entries(db, Selection::One(writeoff_id), req.actor).await?;
        audit(db, req.actor, "writeoff_posted", fields).await?;
        if amount == remaining {
            "WRITE_OFF"
        } else {
            "OPEN"
        }
    };
    denials::set_status(db, d.id, denial_status).await?;
    Ok(Outcome { writeoff_id, receipt, amount, status: status.into(), denial_status: denial_status.into() })
}

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
}

/// One denial a bulk run matched but left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub denial_id: i64,
    pub claim_id: String,
    pub status: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkOutcome {
    /// `None` for a preview, which writes nothing.
    pub receipt: Option<i64>,
    pub matched: usize,
    pub written_off: usize,
    pub pending_approval: usize,
    pub total: Decimal,
    pub skipped: Vec<Skipped>,
}

/// Writes off, with one reason, every denial the filter matches. Protected
/// states are skipped with the reason; the approval gate applies row by row;
/// every row gets its own audit entry; the run gets one receipt. The run is
/// one database transaction: it posts whole or not at all.
pub async fn bulk(pool: &PgPool, filter: &BulkFilter, reason: &str, note: Option<&str>, actor: &str, preview: bool) -> Result<BulkOutcome, WriteoffError> {
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, actor, scope_for(reason)).await?;
    check_reason(&mut db, reason, note).await?;
    let policy = approval_policy(&mut db).await?;
    let as_of = filter.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let rows = sqlx::query(&format!(
        "SELECT d.id, c.claim_id, d.status, {remaining}
         FROM denials d JOIN claims c ON c.id = d.claim_id JOIN payers p ON p.id = c.payer_id JOIN accounts a ON a.id = c.account_id
         WHERE ($1::numeric IS NULL OR {remaining} <= $1)
           AND ($2::int IS NULL OR d.opened_at::date <= $6::date - $2::int)
           AND ($3::text IS NULL OR p.payer_code = $3)
           AND ($4::text IS NULL OR c.claim_id = $4)
           AND ($5::text IS NULL OR a.account_number = $5)
         ORDER BY d.id FOR UPDATE OF d",
        remaining = denials::REMAINING
    ))
    .bind(filter.max_balance)
    .bind(filter.min_age_days.map(|d| i32::try_from(d).unwrap_or(i32::MAX)))
    .bind(filter.payer.as_deref())
    .bind(filter.claim.as_deref())
    .bind(filter.account.as_deref())
    .bind(as_of)
    .fetch_all(&mut *db)
    .await?;
    let receipt = if preview { None } else { Some(new_receipt(&mut db, "bulk", actor, reason, note, serde_json::to_value(filter).unwrap_or_default()).await?) };
    let mut out = BulkOutcome { receipt, matched: rows.len(), written_off: 0, pending_approval: 0, total: Decimal::ZERO, skipped: Vec::new() };
    for r in rows {
        let (id, claim_id, status, remaining): (i64, String, String, Decimal) = (r.get(0), r.get(1), r.get(2), r.get(3));
        let why = match status.as_str() {
            "OPEN" if remaining > Decimal::ZERO => None,
            "OPEN" => Some("nothing remains to write off".to_string()),
            "APPEAL_PENDING" => Some("under appeal (protected)".to_string()),
            "PENDING_WRITEOFF" => Some("a write-off already waits for approval (protected)".to_string()),
            "RESOLVED" => Some("resolved (protected)".to_string()),
            other => Some(format!("already {other}")),
        };
        if let Some(why) = why {
            out.skipped.push(Skipped { denial_id: id, claim_id, status, why });
            continue;
        }
        let gated = policy.applies(remaining);
        match receipt {
            None => {}
            Some(receipt) => {
                let req = Request { denial_id: id, reason, note, amount: Some(remaining), actor };
                write_off_in(&mut db, &req, receipt, policy).await?;
            }
        }
        if gated {
            out.pending_approval += 1;
        } else {
            out.written_off += 1;
        }
        out.total += remaining;
    }
    if preview {
        db.rollback().await?;
    } else {
        db.commit().await?;
    }
    Ok(out)
}

/// Which write-offs [`post_entries`] posts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Selection {
    /// One write-off, by id.
    One(i64),
    /// Every write-off of a receipt still waiting to post (a sweep run).
    Receipt(i64),
}

/// Posts the WRITEOFF ledger entry of each selected write-off and marks it
/// posted: one statement, whether it is one write-off or a sweep's
/// hundred thousand.
pub(crate) async fn post_entries(conn: &mut PgConnection, which: Selection, actor: &str) -> Result<u64, sqlx::Error> {
    let (one, receipt) = match which {
        Selection::One(id) => (Some(id), None),
        Selection::Receipt(id) => (None, Some(id)),
    };
    let done = sqlx::query(
        "WITH e AS (
             INSERT INTO ledger_entries (claim_id, service_line_id, kind, group_code, reason_code, amount, actor, writeoff_id, memo)
             SELECT w.claim_id, w.service_line_id, 'write_off', CASE w.bucket WHEN 'patient' THEN 'PR' END, w.reason, w.amount, $3, w.id,
                    'write-off #' || w.id || COALESCE(' under code ' || w.tx_code, '') || COALESCE(': ' || w.note, '')
             FROM writeoffs w WHERE w.id = $1 OR (w.receipt_id = $2 AND w.status = 'PENDING_APPROVAL')
             RETURNING id, writeoff_id
         )
         UPDATE writeoffs w SET status = 'POSTED', ledger_entry_id = e.id FROM e WHERE w.id = e.writeoff_id",
    )
    .bind(one)
    .bind(receipt)
    .bind(actor)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

async fn lock_writeoff(conn: &mut PgConnection, id: i64) -> Result<(String, Option<i64>, String, Decimal, i64, Option<String>), WriteoffError> {
    let r = sqlx::query("SELECT status, denial_id, requested_by, amount, claim_id, reason FROM writeoffs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let r = r.ok_or(WriteoffError::NoWriteoff(id))?;
    Ok((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
}

/// Approves (`approve = true`) or rejects a write-off waiting for approval.
/// The approver needs the approve scope and may not be the requester.
pub async fn decide(pool: &PgPool, denial_id: i64, actor: &str, approve: bool) -> Result<Outcome, WriteoffError> {
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, actor, WRITEOFF_APPROVE).await?;
    let d = denials::lock(&mut db, denial_id).await?;
    if d.status != "PENDING_WRITEOFF" {
        return Err(WriteoffError::WrongState { id: d.id, status: d.status, why: "nothing waits for approval" });
    }
    let (writeoff_id, receipt): (i64, i64) =
        sqlx::query_as("SELECT id, receipt_id FROM writeoffs WHERE denial_id = $1 AND status = 'PENDING_APPROVAL' ORDER BY id DESC LIMIT 1")
            .bind(denial_id)
            .fetch_one(&mut *db)
            .await?;
    let (_, _, requested_by, amount, claim_id, reason) = lock_writeoff(&mut db, writeoff_id).await?;
    if requested_by == actor {
        return Err(WriteoffError::Invalid(format!("{actor:?} requested this write-off and cannot also approve or reject it")));
    }
    let fields = Audit {
        claim_id: Some(claim_id),
        denial_id: Some(denial_id),
        writeoff_id: Some(writeoff_id),
        receipt_id: Some(receipt),
        reason: reason.as_deref(),
        amount: Some(amount),
        detail: Some(serde_json::json!({ "requested_by": requested_by })),
    };
    let (status, denial_status) = if approve {
        post_entries(&mut db, Selection::One(writeoff_id), actor).await?;
        sqlx::query("UPDATE writeoffs SET decided_by = $2 WHERE id = $1").bind(writeoff_id).bind(actor).execute(&mut *db).await?;
        audit(&mut db, actor, "writeoff_approved", fields).await?;
        let remaining = denials::lock(&mut db, denial_id).await?.remaining;
        ("POSTED", if remaining.is_zero() { "WRITE_OFF" } else { "OPEN" })
    } else {
        sqlx::query("UPDATE writeoffs SET status = 'REJECTED', decided_by = $2 WHERE id = $1").bind(writeoff_id).bind(actor).execute(&mut *db).await?;
        audit(&mut db, actor, "writeoff_rejected", fields).await?;
        ("REJECTED", "OPEN")
    };
    denials::set_status(&mut db, denial_id, denial_status).await?;
    db.commit().await?;
    Ok(Outcome { writeoff_id, receipt, amount, status: status.into(), denial_status: denial_status.into() })
}

/// Undoes a posted write-off with a reversing entry; the balance returns and
/// its denial is OPEN again.
pub async fn undo(pool: &PgPool, writeoff_id: i64, actor: &str, reason: &str) -> Result<Decimal, WriteoffError> {
    if reason.trim().is_empty() {
        return Err(WriteoffError::Invalid("undoing a write-off needs a reason (--reason TEXT)".into()));
    }
    let mut db = crate::db::begin_ledger_write(pool).await?;
    require(&mut db, actor, DENIAL_WRITE).await?;
    let (status, denial_id, _, amount, claim_id, _) = lock_writeoff(&mut db, writeoff_id).await?;
    if let Some(d) = denial_id {
        denials::lock(&mut db, d).await?;
    }
    if status != "POSTED" {
        return Err(WriteoffError::Invalid(format!("write-off #{writeoff_id} is {status}; only a posted write-off can be undone")));
    }
    sqlx::query(
        "WITH e AS (
             INSERT INTO ledger_entries (claim_id, service_line_id, kind, reversed_kind, group_code, reason_code, amount, reverses_entry_id, actor, memo)
             SELECT l.claim_id, l.service_line_id,
                    CASE l.kind WHEN 'write_off' THEN 'write_off_reversal' ELSE 'reversal' END,
                    CASE l.kind WHEN 'write_off' THEN NULL ELSE l.kind END,
                    l.group_code, l.reason_code,
                    CASE l.kind WHEN 'write_off' THEN l.amount ELSE -l.amount END,
                    l.id, $2, 'undo write-off #' || $1 || ': ' || $3
             FROM ledger_entries l WHERE l.writeoff_id = $1 AND l.kind IN ('write_off', 'patient_responsibility', 'other_adjustment')
             ORDER BY l.id
             RETURNING id
         )
         UPDATE writeoffs SET status = 'UNDONE', reversal_entry_id = (SELECT min(id) FROM e) WHERE id = $1",
    )
    .bind(writeoff_id)
    .bind(actor)
    .bind(reason)
    .execute(&mut *db)
    .await?;
    audit(
        &mut db,
        actor,
        "writeoff_undone",
        Audit { claim_id: Some(claim_id), denial_id, writeoff_id: Some(writeoff_id), reason: Some(reason), amount: Some(amount), ..Audit::default() },
    )
    .await?;
    if let Some(d) = denial_id {
        denials::set_status(&mut db, d, "OPEN").await?;
    }
    db.commit().await?;
    Ok(amount)
}
