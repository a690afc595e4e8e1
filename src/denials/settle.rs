//! What a remittance settles once its entries are written, so that no
//! balance ends up owed by nobody:
//!
//! - **A payer reversal** ([`on_reversal`]) reverses every write-off whose
//!   basis was the reversed posting (each posted on that claim after it:
//!   denial, partial, patient-responsibility, sweep; either bucket) and
//!   cancels the requests waiting on the claim; the reversed posting's
//!   denials are reopened, and the corrected claim, when it posts, resolves
//!   them and decides what is owed.
//! - **A reversal that matches no posting** ([`flag_unmatched_reversal`])
//!   flags the claim's written-off denials for a person.
//! - **After any posting** ([`after_posting`]): a bucket that only
//!   write-offs took below zero gets its newest write-offs back until it is
//!   not (a credit the payer truly made stays, visible); requests waiting
//!   for approval that no longer fit what is owed are cancelled; a denial
//!   whose line (or claim) the payer has since paid or adjusted is
//!   RESOLVED, as is one superseded by a corrected claim.
//!
//! Everything here runs inside the posting's transaction, under its claim
//! locks, and is audited with its cause: as `system` with the remittance's
//! trace number, or as the person whose charge correction called for it.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{merged, settle_status, DenialStatus};
use crate::ledger::writeoffs::Changed;
use crate::ledger::{self, audit, Audit, Bucket, SYSTEM_ACTOR};

/// What settling did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// Written-off (or waiting) denials reopened.
    pub reopened: usize,
    /// Denials resolved: paid or adjusted since, or superseded.
    pub resolved: usize,
    /// Write-offs given back because what they wrote off changed.
    pub writeoffs_reversed: usize,
    /// Requests waiting for approval that no longer fit, cancelled.
    pub requests_cancelled: usize,
}

impl Settled {
    pub fn add(&mut self, other: Settled) {
        self.reopened += other.reopened;
        self.resolved += other.resolved;
        self.writeoffs_reversed += other.writeoffs_reversed;
        self.requests_cancelled += other.requests_cancelled;
    }
}

/// What changed the money of the claims being settled.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A payer's remittance posted.
    Remittance(i64),
    /// A person corrected the claims' charges (an amended import).
    Correction { actor: &'a str, reason: &'a str },
}

impl Source<'_> {
    /// Who acts on what the change calls for: `system` for a payer's
    /// remittance, the person who corrected the charges for a correction
    /// (the consequences of a person's change are theirs, and a person's
    /// login writes in no other name).
    fn actor(&self) -> &str {
        match self {
            Source::Remittance(_) => SYSTEM_ACTOR,
            Source::Correction { actor, .. } => actor,
        }
    }

    /// The remittance, if any (0 names none: no remittance has that id).
    fn remittance(&self) -> i64 {
        match self {
            Source::Remittance(id) => *id,
            Source::Correction { .. } => 0,
        }
    }
}

/// Why `system` acted, as audit rows and memos name it.
struct Cause {
    actor: String,
    why: String,
    detail: serde_json::Value,
}

impl Cause {
    async fn of(conn: &mut PgConnection, source: Source<'_>, what: &str, extra: serde_json::Value) -> Result<Cause, sqlx::Error> {
        let (why, base) = match source {
            Source::Remittance(id) => {
                let trace = sqlx::query_scalar!("SELECT trace_number FROM remittances WHERE id = $1", id).fetch_one(&mut *conn).await?;
                (format!("{what}, trace {trace}"), serde_json::json!({ "trace_number": trace, "remittance_id": id, "cause": what }))
            }
            Source::Correction { actor, reason } => {
                (format!("{what}, charge corrected by {actor}"), serde_json::json!({ "corrected_by": actor, "correction": reason, "cause": what }))
            }
        };
        Ok(Cause { actor: source.actor().to_string(), why, detail: merged(base, extra) })
    }
}

/// Gives back posted write-offs, each audited.
async fn reverse_writeoffs(conn: &mut PgConnection, ids: &[i64], cause: &Cause) -> Result<Vec<Changed>, sqlx::Error> {
    super::give_back(conn, ids, &cause.actor, &cause.why, &cause.detail).await
}

/// Cancels waiting requests, each audited.
async fn cancel_requests(conn: &mut PgConnection, ids: &[i64], cause: &Cause) -> Result<Vec<Changed>, sqlx::Error> {
    super::cancel(conn, ids, &cause.actor, &cause.why, &cause.detail).await
}

/// Denials whose write-offs changed take the status their figures call for
/// and are audited as `denial_reopened`. Returns how many.
async fn reopen_touched(conn: &mut PgConnection, touched: &BTreeSet<i64>, cause: &Cause) -> Result<usize, sqlx::Error> {
    for &d in touched {
        super::unflag(conn, d).await?;
        let status = settle_status(conn, d).await?;
        let claim = sqlx::query_scalar!("SELECT claim_id FROM denials WHERE id = $1", d).fetch_one(&mut *conn).await?;
        let detail = Some(merged(cause.detail.clone(), serde_json::json!({ "status": status })));
        audit(conn, &cause.actor, "denial_reopened", Audit { claim_id: Some(claim), denial_id: Some(d), reason: Some(&cause.why), detail, ..Audit::default() })
            .await?;
    }
    Ok(touched.len())
}

/// A payer reversed posting `original` of claim `claim_id` (the reversal is
/// in remittance `remittance_id`); its entries are already negated.
pub async fn on_reversal(conn: &mut PgConnection, claim_id: i64, original: i64, remittance_id: i64) -> Result<Settled, sqlx::Error> {
    let cause = Cause::of(conn, Source::Remittance(remittance_id), "payer reversal", serde_json::json!({ "reversed_posting_id": original })).await?;
    // Every write-off posted after the reversed posting was decided on
    // balances that included it.
    let basis = sqlx::query_scalar!(
        "SELECT w.id FROM writeoffs w
         WHERE w.claim_id = $1 AND w.status = 'POSTED'
           AND w.ledger_entry_id > (SELECT COALESCE(max(e.id), 0) FROM ledger_entries e WHERE e.claim_posting_id = $2)
         ORDER BY w.id",
        claim_id,
        original,
    )
    .fetch_all(&mut *conn)
    .await?;
    let reversed = reverse_writeoffs(conn, &basis, &cause).await?;
    let waiting =
        sqlx::query_scalar!("SELECT id FROM writeoffs WHERE claim_id = $1 AND status = 'PENDING_APPROVAL' ORDER BY id", claim_id).fetch_all(&mut *conn).await?;
    let cancelled = cancel_requests(conn, &waiting, &cause).await?;
    let touched: BTreeSet<i64> = reversed.iter().chain(&cancelled).filter_map(|w| w.denial_id).collect();
    // The reversed posting's denials: marked, so the corrected claim resolves them.
    let of_posting = sqlx::query_scalar!(
        "UPDATE denials SET reopened_at = now(), flagged_at = NULL, flag_reason = NULL
         WHERE claim_posting_id = $1 AND status <> 'RESOLVED' RETURNING id",
        original,
    )
    .fetch_all(&mut *conn)
    .await?;
    for d in of_posting.iter().filter(|d| !touched.contains(d)) {
        settle_status(conn, *d).await?;
    }
    Ok(Settled {
        reopened: reopen_touched(conn, &touched, &cause).await?,
        resolved: 0,
        writeoffs_reversed: reversed.len(),
        requests_cancelled: cancelled.len(),
    })
}

/// A reversal for claim `claim_id` matched none of its postings: flag its
/// written-off denials for a person. Returns how many were flagged.
pub async fn flag_unmatched_reversal(conn: &mut PgConnection, claim_id: i64, remittance_id: i64) -> Result<usize, sqlx::Error> {
    let flagged = sqlx::query!(
        "UPDATE denials SET flagged_at = now(),
             flag_reason = 'payer reversal (trace ' || (SELECT trace_number FROM remittances WHERE id = $2) || ') did not match the posting this denial came from'
         WHERE claim_id = $1 AND status IN ('WRITE_OFF', 'PENDING_WRITEOFF')",
        claim_id,
        remittance_id,
    )
    .execute(conn)
    .await?;
    Ok(flagged.rows_affected() as usize)
}

/// Settles `claims` after `source` changed their money (see the module's
/// documentation).
pub async fn after_posting(conn: &mut PgConnection, source: Source<'_>, claims: &[i64]) -> Result<Settled, sqlx::Error> {
    let remittance_id = source.remittance();
    // Most claims of a remittance have nothing to settle: a look at each
    // claim's write-offs and earlier denials finds the few that do. Scalar
    // subqueries, so each is an index probe whatever the statistics say
    // (as `claim_id = ANY($1)` a fresh table is scanned whole per set).
    let candidates = sqlx::query_scalar!(
        r#"SELECT c AS "claim!" FROM unnest($1::bigint[]) AS c
           WHERE (SELECT 1 FROM writeoffs w WHERE w.claim_id = c AND w.status IN ('POSTED', 'PENDING_APPROVAL') LIMIT 1) IS NOT NULL
              OR (SELECT 1 FROM denials d JOIN claim_postings p ON p.id = d.claim_posting_id
                  WHERE d.claim_id = c AND d.status IN ('OPEN', 'APPEAL_PENDING', 'PENDING_WRITEOFF') AND p.remittance_id <> $2 LIMIT 1) IS NOT NULL"#,
        claims,
        remittance_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    if candidates.is_empty() {
        return Ok(Settled::default());
    }
    let mut out = Settled::default();
    out.add(give_back_credits(conn, source, &candidates).await?);
    out.add(cancel_patient_requests(conn, source, &candidates).await?);
    out.add(resolve_denials(conn, source, &candidates).await?);
    Ok(out)
}

/// A bucket below zero that has posted write-offs: its newest write-offs
/// come back until it is not below zero (or none is left: the rest is the
/// payer's own credit).
async fn give_back_credits(conn: &mut PgConnection, source: Source<'_>, claims: &[i64]) -> Result<Settled, sqlx::Error> {
    let below: Vec<(i64, Bucket, Decimal)> = ledger::owed(conn, claims)
        .await?
        .into_iter()
        .flat_map(|o| [(o.claim_id, Bucket::Insurance, o.insurance), (o.claim_id, Bucket::Patient, o.patient)])
        .filter(|(_, _, balance)| *balance < Decimal::ZERO)
        .collect();
    if below.is_empty() {
        return Ok(Settled::default());
    }
    let cause = Cause::of(conn, source, "balance below zero after a change of what is owed", serde_json::json!({})).await?;
    let mut out = Settled::default();
    let mut touched = BTreeSet::new();
    for (claim, bucket, balance) in below {
        let posted = sqlx::query!(
            "SELECT id, amount FROM writeoffs WHERE claim_id = $1 AND bucket = $2 AND status = 'POSTED' ORDER BY id DESC",
            claim,
            bucket.as_str(),
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut back = Decimal::ZERO;
        let mut ids = Vec::new();
        for w in posted {
            if balance + back >= Decimal::ZERO {
                break;
            }
            ids.push(w.id);
            back += w.amount;
        }
        let reversed = reverse_writeoffs(conn, &ids, &cause).await?;
        out.writeoffs_reversed += reversed.len();
        touched.extend(reversed.iter().filter_map(|w| w.denial_id));
    }
    out.reopened = reopen_touched(conn, &touched, &cause).await?;
    Ok(out)
}

/// Patient-responsibility requests waiting on a claim whose patient balance
/// no longer covers them are cancelled.
async fn cancel_patient_requests(conn: &mut PgConnection, source: Source<'_>, claims: &[i64]) -> Result<Settled, sqlx::Error> {
    let waiting = sqlx::query_scalar!(
        "SELECT w.id FROM writeoffs w
         CROSS JOIN LATERAL (SELECT COALESCE(sum(o.patient_balance), 0) AS owed FROM claim_owed o WHERE o.claim_id = w.claim_id) o
         WHERE w.claim_id = ANY($1) AND w.status = 'PENDING_APPROVAL' AND w.bucket = 'patient'
           AND o.owed < (SELECT sum(x.amount) FROM writeoffs x WHERE x.claim_id = w.claim_id AND x.status = 'PENDING_APPROVAL' AND x.bucket = 'patient')
         ORDER BY w.id",
        claims,
    )
    .fetch_all(&mut *conn)
    .await?;
    if waiting.is_empty() {
        return Ok(Settled::default());
    }
    let cause = Cause::of(conn, source, "patient balance no longer covers the request", serde_json::json!({})).await?;
    Ok(Settled { requests_cancelled: cancel_requests(conn, &waiting, &cause).await?.len(), ..Settled::default() })
}

/// Live denials of earlier remittances on `claims`: resolved when what they
/// denied is no longer owed (or a corrected claim superseded them); their
/// waiting requests cancelled when they no longer fit.
async fn resolve_denials(conn: &mut PgConnection, source: Source<'_>, claims: &[i64]) -> Result<Settled, sqlx::Error> {
    let remittance_id = source.remittance();
    let live = sqlx::query!(
        r#"SELECT d.id, d.status AS "status: DenialStatus", b.scope_owed AS "scope_owed!", b.raw AS "raw!", b.pending AS "pending!",
                  (d.reopened_at IS NOT NULL
                   AND EXISTS (SELECT 1 FROM claim_postings r WHERE r.reverses_posting_id = d.claim_posting_id)
                   AND EXISTS (SELECT 1 FROM claim_postings p WHERE p.remittance_id = $2 AND p.claim_id = d.claim_id
                                                              AND p.reverses_posting_id IS NULL AND p.id > d.claim_posting_id)) AS "superseded!"
           FROM denials d
           JOIN denial_balances b ON b.denial_id = d.id
           JOIN claim_postings dp ON dp.id = d.claim_posting_id
           WHERE d.claim_id = ANY($1) AND d.status IN ('OPEN', 'APPEAL_PENDING', 'PENDING_WRITEOFF') AND dp.remittance_id <> $2
           ORDER BY d.id
           FOR UPDATE OF d"#,
        claims,
        remittance_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Settled::default();
    for d in live {
        let resolve = d.superseded || d.scope_owed <= Decimal::ZERO;
        if !resolve && (d.pending.is_zero() || d.raw >= Decimal::ZERO) {
            continue;
        }
        let what = match (resolve, d.superseded) {
            (true, true) => "superseded by a corrected claim",
            (true, false) => "nothing denied is owed any more",
            (false, _) => "no longer fits what is owed",
        };
        let cause = Cause::of(conn, source, what, serde_json::json!({})).await?;
        let waiting = sqlx::query_scalar!("SELECT id FROM writeoffs WHERE denial_id = $1 AND status = 'PENDING_APPROVAL' ORDER BY id", d.id)
            .fetch_all(&mut *conn)
            .await?;
        out.requests_cancelled += cancel_requests(conn, &waiting, &cause).await?.len();
        if resolve {
            super::resolve(conn, d.id).await?;
            ledger::audit::record_denials(conn, &[d.id], &cause.actor, "denial_resolved", cause.detail).await?;
            out.resolved += 1;
        } else {
            settle_status(conn, d.id).await?;
        }
    }
    Ok(out)
}
