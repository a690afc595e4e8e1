//! The denial lifecycle: opened by a remittance, shrunk or resolved by a
//! later one, written off (by `crate::writeoff` or the sweep), reopened by a
//! payer reversal or a person, flagged when a reversal cannot be tied to it.
//!
//! ```text
//! OPEN ──appeal──► APPEAL_PENDING ──withdraw──► OPEN
//! OPEN ──write off, gated──► PENDING_WRITEOFF ──approve──► WRITE_OFF (or OPEN, if partial)
//!                                             └─reject / cancelled──► OPEN
//! OPEN ──write off the remainder──► WRITE_OFF ──undo / reopen / payer reversal──► OPEN
//! OPEN, APPEAL_PENDING, PENDING_WRITEOFF ──a later remittance pays what was denied──► RESOLVED
//! ```
//!
//! What a denial still lets one write off is derived, never stored (the
//! `denial_balances` view, [`Figures`]): the denied amount less what is
//! written off or waiting for approval, bounded by what its line (or claim)
//! still owes. So a denial the payer later pays shows nothing remaining,
//! and writing it off cannot make a credit.

pub mod settle;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::ledger::writeoffs::{self, Changed};
use crate::ledger::{self, audit, ActionError, Audit, Hold, WriteoffStatus};

/// Where a denial stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, clap::ValueEnum)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DenialStatus {
    Open,
    /// Under appeal: protected from write-offs and the sweep.
    AppealPending,
    /// A write-off waits for a supervisor.
    PendingWriteoff,
    WriteOff,
    /// Paid or adjusted by a later remittance, or superseded by a corrected claim.
    Resolved,
}

impl DenialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DenialStatus::Open => "OPEN",
            DenialStatus::AppealPending => "APPEAL_PENDING",
            DenialStatus::PendingWriteoff => "PENDING_WRITEOFF",
            DenialStatus::WriteOff => "WRITE_OFF",
            DenialStatus::Resolved => "RESOLVED",
        }
    }
}

crate::compares_as_str!(DenialStatus);

impl std::fmt::Display for DenialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One denial as billing staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub id: i64,
    pub claim_id: String,
    pub status: DenialStatus,
    /// What was denied.
    pub amount: Decimal,
    /// What may still be written off: not yet paid, adjusted, written off
    /// or waiting for approval.
    pub remaining: Decimal,
    pub reason_codes: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub account_number: String,
    /// The claim's payer (claims CSV `payer_id`).
    pub payer: String,
    /// The write-off waiting for approval on it, if any: who asked, why,
    /// for how much (what an approver decides on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
}

/// A write-off request waiting for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub writeoff_id: i64,
    pub requested_by: String,
    pub reason: String,
    pub amount: Decimal,
    pub requested_at: DateTime<Utc>,
}

/// Which denials [`list_where`] lists.
#[derive(Debug, Clone, Default)]
pub struct DenialFilter<'a> {
    pub claim: Option<&'a str>,
    pub status: Option<DenialStatus>,
    pub payer: Option<&'a str>,
    pub account: Option<&'a str>,
    /// What remains, at least and at most.
    pub min_remaining: Option<Decimal>,
    pub max_remaining: Option<Decimal>,
    /// Opened at least this many days ago.
    pub min_age_days: Option<i32>,
    /// At most this many, the oldest first: a worklist page.
    pub limit: Option<i64>,
}

/// A denial's money, from the `denial_balances` view (migration 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    /// Its write-offs posted.
    pub written_off: Decimal,
    /// Its write-offs waiting for approval.
    pub pending: Decimal,
    /// What its line (or claim) still owes on the insurance side.
    pub scope_owed: Decimal,
    /// What is left to request; negative when waiting requests no longer fit.
    pub raw: Decimal,
    /// What may still be written off (never negative; 0 once resolved).
    pub remaining: Decimal,
}

/// A denial locked for a state change, with its figures read after the lock.
#[derive(Debug, Clone)]
pub struct Locked {
    pub id: i64,
    pub claim_id: i64,
    pub service_line_id: Option<i64>,
    pub status: DenialStatus,
    pub amount: Decimal,
    pub figures: Figures,
}

/// The figures of denial `id` now.
pub async fn figures(conn: &mut PgConnection, id: i64) -> Result<Figures, sqlx::Error> {
    sqlx::query_as!(
        Figures,
        r#"SELECT written_off AS "written_off!", pending AS "pending!", scope_owed AS "scope_owed!", raw AS "raw!", remaining AS "remaining!"
           FROM denial_balances WHERE denial_id = $1"#,
        id,
    )
    .fetch_one(conn)
    .await
}

/// Locks denial `id` and its claim (see `ledger::locks`: the claim first),
/// then reads its figures, so they are what is owed at commit time.
pub async fn lock(conn: &mut PgConnection, hold: Hold, id: i64) -> Result<Locked, ActionError> {
    let claim = sqlx::query_scalar!("SELECT claim_id FROM denials WHERE id = $1", id).fetch_optional(&mut *conn).await?.ok_or(ActionError::NoDenial(id))?;
    ledger::lock_claims(conn, hold, &[claim]).await?;
    let row = sqlx::query!(r#"SELECT id, claim_id, service_line_id, status AS "status: DenialStatus", amount FROM denials WHERE id = $1 FOR UPDATE"#, id,)
        .fetch_one(&mut *conn)
        .await?;
    // A statement of its own, begun after both locks were granted.
    let figures = figures(conn, id).await?;
    Ok(Locked { id: row.id, claim_id: row.claim_id, service_line_id: row.service_line_id, status: row.status, amount: row.amount, figures })
}

pub async fn set_status(conn: &mut PgConnection, id: i64, status: DenialStatus) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE denials SET status = $2 WHERE id = $1", id, status.as_str()).execute(conn).await?;
    Ok(())
}

/// Resolves denial `id` (what it denied is no longer owed, or a corrected
/// claim superseded it); a flag it carried is moot and cleared.
pub async fn resolve(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE denials SET status = 'RESOLVED', flagged_at = NULL, flag_reason = NULL WHERE id = $1", id).execute(conn).await?;
    Ok(())
}

/// Clears the flag of denial `id`: its write-off, which the flag was about,
/// was reversed.
pub async fn unflag(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE denials SET flagged_at = NULL, flag_reason = NULL WHERE id = $1 AND flagged_at IS NOT NULL", id).execute(conn).await?;
    Ok(())
}

/// The status a denial takes once its write-offs changed: WRITE_OFF when
/// nothing remains and something was written off, PENDING_WRITEOFF while a
/// request waits, else OPEN. An appeal stays an appeal.
pub fn settled_status(current: DenialStatus, f: &Figures) -> DenialStatus {
    match current {
        DenialStatus::AppealPending | DenialStatus::Resolved => current,
        _ if f.pending > Decimal::ZERO => DenialStatus::PendingWriteoff,
        _ if f.remaining.is_zero() && f.written_off > Decimal::ZERO => DenialStatus::WriteOff,
        _ => DenialStatus::Open,
    }
}

/// Re-reads denial `id`'s figures and sets the status they call for.
pub async fn settle_status(conn: &mut PgConnection, id: i64) -> Result<DenialStatus, sqlx::Error> {
    let current = sqlx::query_scalar!(r#"SELECT status AS "status: DenialStatus" FROM denials WHERE id = $1"#, id).fetch_one(&mut *conn).await?;
    let next = settled_status(current, &figures(conn, id).await?);
    if next != current {
        set_status(conn, id, next).await?;
    }
    Ok(next)
}

/// Denials, optionally of one claim and in one status, oldest first.
pub async fn list(pool: &PgPool, claim: Option<&str>, status: Option<DenialStatus>) -> Result<Vec<Denial>, ActionError> {
    list_where(pool, &DenialFilter { claim, status, ..DenialFilter::default() }).await
}

/// The denials a filter selects, oldest first, each with the request
/// waiting on it.
///
/// The filters on the denial and its claim choose the denials first; only
/// those get their figures from `denial_balances`, one lookup each (the
/// aggregate keeps the lateral a lookup: joined plainly, the view computed
/// the figures of every denial before the payer filter applied). A `limit`
/// so bounds that work too, unless a filter on what remains needs every
/// denial's figures. Each call is planned for its own filters
/// (`force_custom_plan`): a plan cached for any filters read the claims
/// once per payer (1.9 s for the open denials of a million claims, against
/// 0.6 s planned for them). And without JIT: the lookups cost far less than
/// the planner thinks, so the unbounded list went over `jit_above_cost`
/// and compiling took 0.5 to 2.5 s, longer than running it.
pub async fn list_where(pool: &PgPool, f: &DenialFilter<'_>) -> Result<Vec<Denial>, ActionError> {
    let mut tx = pool.begin().await?;
    sqlx::query!(r#"SELECT set_config('plan_cache_mode', 'force_custom_plan', true) AS "plans!", set_config('jit', 'off', true) AS "jit!""#)
        .fetch_one(&mut *tx)
        .await?;
    let rows = sqlx::query!(
        r#"SELECT k.id AS "id!", k.claim_id AS "claim_id!", k.status AS "status!: DenialStatus", k.amount AS "amount!", b.remaining AS "remaining!",
                  k.reason_codes AS "reason_codes!", k.opened_at AS "opened_at!", k.account_number AS "account_number!", k.payer_code AS "payer_code!",
                  w.id AS "waiting_id?", w.requested_by AS "requested_by?", w.reason AS "waiting_reason?", w.amount AS "waiting_amount?",
                  w.requested_at AS "requested_at?"
           FROM (
               SELECT d.id, c.claim_id, d.status, d.amount, d.reason_codes, d.opened_at, a.account_number, p.payer_code
               FROM denials d JOIN claims c ON c.id = d.claim_id JOIN accounts a ON a.id = c.account_id JOIN payers p ON p.id = c.payer_id
               WHERE ($1::text IS NULL OR c.claim_id = $1) AND ($2::text IS NULL OR d.status = $2)
                 AND ($3::text IS NULL OR p.payer_code = $3) AND ($4::text IS NULL OR a.account_number = $4)
                 AND ($7::int IS NULL OR d.opened_at <= now() - make_interval(days => $7))
               ORDER BY d.id
               LIMIT CASE WHEN $5::numeric IS NULL AND $6::numeric IS NULL THEN $8::bigint END
           ) k
           CROSS JOIN LATERAL (SELECT max(x.remaining) AS remaining FROM denial_balances x WHERE x.denial_id = k.id) b
           LEFT JOIN LATERAL (SELECT id, requested_by, reason, amount, requested_at FROM writeoffs
                              WHERE denial_id = k.id AND status = 'PENDING_APPROVAL' ORDER BY id DESC LIMIT 1) w ON true
           WHERE ($5::numeric IS NULL OR b.remaining >= $5) AND ($6::numeric IS NULL OR b.remaining <= $6)
           ORDER BY k.id
           LIMIT $8"#,
        f.claim,
        f.status.map(DenialStatus::as_str),
        f.payer,
        f.account,
        f.min_remaining,
        f.max_remaining,
        f.min_age_days,
        f.limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|r| Denial {
            id: r.id,
            claim_id: r.claim_id,
            status: r.status,
            amount: r.amount,
            remaining: r.remaining,
            reason_codes: r.reason_codes,
            opened_at: r.opened_at,
            account_number: r.account_number,
            payer: r.payer_code,
            waiting: match (r.waiting_id, r.requested_by, r.waiting_reason, r.waiting_amount, r.requested_at) {
                (Some(writeoff_id), Some(requested_by), Some(reason), Some(amount), Some(requested_at)) => {
                    Some(Waiting { writeoff_id, requested_by, reason, amount, requested_at })
                }
                _ => None,
            },
        })
        .collect())
}

/// OPEN → APPEAL_PENDING (`appeal = true`), or back. Requires the caller to
/// have checked the actor's scope in `db`.
pub async fn appeal(db: &mut PgConnection, id: i64, actor: &str, appeal: bool) -> Result<(), ActionError> {
    let d = lock(db, Hold::Claims, id).await?;
    let (from, to, action, why) = if appeal {
        (DenialStatus::Open, DenialStatus::AppealPending, "denial_appealed", "only an OPEN denial can be appealed")
    } else {
        (DenialStatus::AppealPending, DenialStatus::Open, "denial_appeal_withdrawn", "there is no appeal to withdraw")
    };
    if d.status != from {
        return Err(ActionError::WrongState { id, status: d.status.to_string(), why });
    }
    set_status(db, id, to).await?;
    audit(db, actor, action, Audit { claim_id: Some(d.claim_id), denial_id: Some(id), amount: Some(d.figures.remaining), ..Audit::default() }).await?;
    Ok(())
}

/// A denial a remittance opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub claim_posting_id: i64,
    pub claim_id: i64,
    pub service_line_id: Option<i64>,
    pub amount: Decimal,
    pub reason_codes: Vec<String>,
}

/// Opens the denials of a remittance (one statement), each audited as
/// `system`. Returns how many.
pub async fn open(conn: &mut PgConnection, denials: &[Opening]) -> Result<usize, sqlx::Error> {
    if denials.is_empty() {
        return Ok(0);
    }
    let postings: Vec<i64> = denials.iter().map(|d| d.claim_posting_id).collect();
    let claims: Vec<i64> = denials.iter().map(|d| d.claim_id).collect();
    let lines: Vec<Option<i64>> = denials.iter().map(|d| d.service_line_id).collect();
    let amounts: Vec<Decimal> = denials.iter().map(|d| d.amount).collect();
    // Joined here and split in SQL: UNNEST cannot take ragged arrays.
    let reasons: Vec<String> = denials.iter().map(|d| d.reason_codes.join(",")).collect();
    let ids = sqlx::query_scalar!(
        "INSERT INTO denials (claim_posting_id, claim_id, service_line_id, amount, reason_codes)
         SELECT u.posting, u.claim_id, u.line_id, u.amount, COALESCE(string_to_array(NULLIF(u.reasons, ''), ','), '{}')
         FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::numeric[], $5::text[]) WITH ORDINALITY AS u(posting, claim_id, line_id, amount, reasons, n)
         ORDER BY u.n
         RETURNING id",
        &postings,
        &claims,
        &lines as &[Option<i64>],
        &amounts,
        &reasons,
    )
    .fetch_all(&mut *conn)
    .await?;
    ledger::audit::record_denials(conn, &ids, ledger::SYSTEM_ACTOR, "denial_opened", serde_json::json!({})).await?;
    Ok(ids.len())
}

/// After a set-based write-off (the sweep), the denials it wrote off down
/// to nothing become WRITE_OFF.
pub async fn close_written_off(conn: &mut PgConnection, denials: &[i64]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE denials d SET status = 'WRITE_OFF'
         FROM denial_balances b WHERE b.denial_id = d.id AND d.id = ANY($1) AND b.remaining <= 0 AND d.status = 'OPEN'",
        denials,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// `base` with the fields of `extra` added (both JSON objects).
pub(crate) fn merged(mut base: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(b), serde_json::Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn writeoff_audit<'a>(w: &Changed, why: &'a str, detail: &serde_json::Value) -> Audit<'a> {
    Audit {
        claim_id: Some(w.claim_id),
        denial_id: w.denial_id,
        writeoff_id: Some(w.id),
        receipt_id: Some(w.receipt_id),
        reason: Some(why),
        amount: Some(w.amount),
        detail: Some(detail.clone()),
    }
}

/// Gives back posted write-offs `ids`, each audited as `writeoff_reversed`.
pub(crate) async fn give_back(conn: &mut PgConnection, ids: &[i64], actor: &str, why: &str, detail: &serde_json::Value) -> Result<Vec<Changed>, sqlx::Error> {
    let reversed = writeoffs::reverse(conn, ids, actor, why).await?;
    for w in &reversed {
        audit(conn, actor, "writeoff_reversed", writeoff_audit(w, why, detail)).await?;
    }
    Ok(reversed)
}

/// Cancels waiting requests `ids`, each audited as `writeoff_cancelled`.
pub(crate) async fn cancel(conn: &mut PgConnection, ids: &[i64], actor: &str, why: &str, detail: &serde_json::Value) -> Result<Vec<Changed>, sqlx::Error> {
    let cancelled = writeoffs::withdraw(conn, ids, WriteoffStatus::Cancelled, actor).await?;
    for w in &cancelled {
        audit(conn, actor, "writeoff_cancelled", writeoff_audit(w, why, detail)).await?;
    }
    Ok(cancelled)
}

/// Reopens locked denial `d` by hand: its posted write-offs are given back,
/// its waiting ones cancelled, it is OPEN again and no longer flagged.
/// Returns whether it had anything written off or waiting.
pub async fn reopen(conn: &mut PgConnection, d: &Locked, actor: &str) -> Result<bool, ActionError> {
    if !matches!(d.status, DenialStatus::WriteOff | DenialStatus::PendingWriteoff) {
        return Err(ActionError::WrongState { id: d.id, status: d.status.to_string(), why: "only a written-off denial can be reopened" });
    }
    let why = "reopened by hand";
    let detail = serde_json::json!({});
    let posted = sqlx::query_scalar!("SELECT id FROM writeoffs WHERE denial_id = $1 AND status IN ('POSTED', 'PENDING_APPROVAL') ORDER BY id", d.id)
        .fetch_all(&mut *conn)
        .await?;
    let reversed = give_back(conn, &posted, actor, why, &detail).await?;
    let cancelled = cancel(conn, &posted, actor, why, &detail).await?;
    sqlx::query!("UPDATE denials SET reopened_at = now(), flagged_at = NULL, flag_reason = NULL WHERE id = $1", d.id).execute(&mut *conn).await?;
    let status = settle_status(conn, d.id).await?;
    let detail = serde_json::json!({ "status": status });
    audit(
        conn,
        actor,
        "denial_reopened",
        Audit { claim_id: Some(d.claim_id), denial_id: Some(d.id), reason: Some(why), detail: Some(detail), ..Audit::default() },
    )
    .await?;
    Ok(!reversed.is_empty() || !cancelled.is_empty())
}
