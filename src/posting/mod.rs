//! Posting: one 835 transaction set becomes ledger entries, in one database
//! transaction.
//!
//! Exactly once: the remittance row is inserted first, keyed by payer (TRN03)
//! and trace number (TRN02); a remittance already posted inserts nothing and
//! posts nothing. Everything a transaction set posts commits together, so a
//! crash leaves it fully posted or not at all.
//!
//! Writes are set-based: each table gets one `INSERT ... SELECT FROM UNNEST`
//! per transaction set, not a round trip per row. The money is written by
//! the ledger layer (`crate::ledger::remittance`); denials are opened and
//! settled by their lifecycle (`crate::denials`).
//!
//! Locks (`crate::ledger::locks`): a set of at most `CLAIM_LOCKS_MAX`
//! claims locks the claims it matched, in id order, before it reads or
//! writes anything about them; a larger one holds the whole ledger.

pub mod categories;
pub mod conflicts;
pub mod matching;
pub mod plan;
pub mod unmatched;
mod write;

use sqlx::{PgConnection, PgPool};

use crate::denials::{self, settle, Opening};
use crate::ledger::remittance::{Batch, Entry};
use crate::ledger::reverse::{reverse as reverse_entries, What};
use crate::ledger::{self, audit, Audit, Hold};
use crate::model::{Claim, Transaction};
use crate::parse::Parsed;
use matching::{match_claims, match_lines, NoMatch};
use plan::{plan_claim, CarcCategories};

pub use crate::ledger::SYSTEM_ACTOR;
pub use categories::load as load_categories;

/// What posting a set of claims did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClaimsOutcome {
    pub posted: usize,
    pub unmatched: usize,
    pub reversals: usize,
    pub denials_opened: usize,
    /// Written-off denials reopened by a payer reversal.
    pub denials_reopened: usize,
    /// Written-off denials flagged because a reversal could not be tied to them.
    pub denials_flagged: usize,
    /// Denials resolved: paid or adjusted since, or superseded by a corrected claim.
    pub denials_resolved: usize,
    /// Write-offs given back because what they wrote off changed.
    pub writeoffs_reversed: usize,
    /// Write-off requests cancelled because they no longer fit.
    pub requests_cancelled: usize,
}

impl ClaimsOutcome {
    pub fn add(&mut self, other: &ClaimsOutcome) {
        self.posted += other.posted;
        self.unmatched += other.unmatched;
        self.reversals += other.reversals;
        self.denials_opened += other.denials_opened;
        self.denials_reopened += other.denials_reopened;
        self.denials_flagged += other.denials_flagged;
        self.denials_resolved += other.denials_resolved;
        self.writeoffs_reversed += other.writeoffs_reversed;
        self.requests_cancelled += other.requests_cancelled;
    }

    fn settled(&mut self, s: settle::Settled) {
        self.denials_reopened += s.reopened;
        self.denials_resolved += s.resolved;
        self.writeoffs_reversed += s.writeoffs_reversed;
        self.requests_cancelled += s.requests_cancelled;
    }
}

/// What posting one transaction set did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Posted {
        remittance_id: i64,
        claims: ClaimsOutcome,
    },
    /// The payer's trace number was posted before with the same content
    /// (or before fingerprints were kept); nothing was written.
    AlreadyPosted {
        remittance_id: i64,
    },
    /// The payer's trace number was posted before with different content:
    /// the set is held as a conflict for a person, nothing posted.
    Conflict {
        remittance_id: i64,
        held: conflicts::Held,
    },
}

impl PostOutcome {
    pub fn claims(&self) -> ClaimsOutcome {
        match self {
            PostOutcome::Posted { claims, .. } => claims.clone(),
            PostOutcome::AlreadyPosted { .. } | PostOutcome::Conflict { .. } => ClaimsOutcome::default(),
        }
    }
}

/// Who a remittance is from: TRN03, the payer's identifier in the trace.
pub fn payer_key(tx: &Transaction) -> &str {
    &tx.trace.originator_id
}

/// Posts one transaction set of a file already known valid.
pub async fn post_transaction(pool: &PgPool, file_id: i64, parsed: &Parsed, cats: &CarcCategories) -> Result<PostOutcome, sqlx::Error> {
    let t = &parsed.transaction;
    let fingerprint = conflicts::fingerprint(t);
    match open(pool, file_id, parsed, &fingerprint, Hold::for_claims(t.claims.len())).await? {
        Opened::Done(outcome) => Ok(outcome),
        Opened::Posting(mut posting) => {
            posting.claims(&t.claims, cats).await?;
            posting.close(&t.provider_adjustments).await
        }
    }
}

/// What opening a transaction set's posting came to.
pub enum Opened {
    /// Its remittance row is in: post its claims, then close it.
    Posting(Posting),
    /// Nothing to post: the payment was posted before (or is held as a
    /// conflict, committed).
    Done(PostOutcome),
}

/// A transaction set being posted: one database transaction from its
/// remittance row to its closing audit row, whether its claims come all
/// at once or a part at a time (a set read in parts). Dropped before
/// [`close`](Posting::close), it posts nothing.
pub struct Posting {
    db: sqlx::Transaction<'static, sqlx::Postgres>,
    hold: Hold,
    file_id: i64,
    remittance_id: i64,
    payer: String,
    trace_number: String,
    amount: rust_decimal::Decimal,
    outcome: ClaimsOutcome,
}

/// Opens the posting of the set `parsed` (its first part, when read in
/// parts) whose content has `fingerprint` (see [`conflicts::fingerprint`];
/// for a set read in parts, taken in a pass before). `hold` is what of the
/// ledger it holds until it closes.
pub async fn open(pool: &PgPool, file_id: i64, parsed: &Parsed, fingerprint: &[u8], hold: Hold) -> Result<Opened, sqlx::Error> {
    let t = &parsed.transaction;
    let mut db = ledger::begin(pool, hold).await?;
    // Atomic and isolated as ever, but not flushed to disk on its own: the
    // caller's closing, synchronous commit (ingest marks the file posted)
    // flushes the log up to and including this one before anyone acts on
    // the file. A crash before that loses a suffix of postings, never a
    // part of one, and the file is simply fed again. No JIT either: these
    // are short statements over a set's rows, and a plan estimated over a
    // thousand-element array can cost more to compile than to run.
    sqlx::query!("SELECT set_config('synchronous_commit', 'off', true) AS commit, set_config('jit', 'off', true) AS jit").fetch_one(&mut *db).await?;
    let inserted = sqlx::query_scalar!(
        "INSERT INTO remittances (file_id, interchange_control, transaction_control, payer_key, payer_name, trace_number,
                                  payment_amount, payment_date, handling_code, content_hash, credit_debit, payment_method)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (payer_key, trace_number) DO NOTHING RETURNING id",
        file_id,
        parsed.interchange.control_number.as_str(),
        t.control_number.as_str(),
        payer_key(t),
        t.payer.name.as_str(),
        t.trace_number.as_str(),
        t.payment.amount,
        t.payment.date,
        t.payment.handling_code.as_str(),
        fingerprint,
        t.payment.credit_debit.as_str(),
        t.payment.method.as_str(),
    )
    .fetch_optional(&mut *db)
    .await?;
    let Some(remittance_id) = inserted else {
        let posted = sqlx::query!("SELECT id, content_hash FROM remittances WHERE payer_key = $1 AND trace_number = $2", payer_key(t), t.trace_number.as_str())
            .fetch_one(&mut *db)
            .await?;
        if posted.content_hash.is_none_or(|h| h == fingerprint) {
            db.rollback().await?;
            return Ok(Opened::Done(PostOutcome::AlreadyPosted { remittance_id: posted.id }));
        }
        // A part holds only some claims: keep the header, the file keeps the rest.
        let kept = if parsed.part.is_whole() { t.clone() } else { t.head() };
        let held = conflicts::hold(&mut db, file_id, posted.id, &kept, fingerprint).await?;
        db.commit().await?;
        return Ok(Opened::Done(PostOutcome::Conflict { remittance_id: posted.id, held }));
    };
    Ok(Opened::Posting(Posting {
        db,
        hold,
        file_id,
        remittance_id,
        payer: payer_key(t).to_string(),
        trace_number: t.trace_number.to_string(),
        amount: t.payment.amount,
        outcome: ClaimsOutcome::default(),
    }))
}

impl Posting {
    /// Posts claims of the set, in its order; those that match nothing
    /// are queued.
    pub async fn claims(&mut self, claims: &[Claim], cats: &CarcCategories) -> Result<(), sqlx::Error> {
        let claims: Vec<&Claim> = claims.iter().collect();
        let (outcome, unmatched) = post_claims(&mut self.db, self.hold, self.remittance_id, &claims, cats).await?;
        write::unmatched(&mut self.db, self.remittance_id, &unmatched).await?;
        self.outcome.add(&outcome);
        Ok(())
    }

    /// Posts the set's provider adjustments and its audit row, and commits.
    pub async fn close(mut self, provider_adjustments: &[crate::model::ProviderAdjustment]) -> Result<PostOutcome, sqlx::Error> {
        ledger::remittance::provider_adjustments(&mut self.db, self.remittance_id, provider_adjustments).await?;
        let outcome = self.outcome;
        let detail = serde_json::json!({
            "file_id": self.file_id,
            "trace_number": self.trace_number,
            "payer": self.payer,
            "claims_posted": outcome.posted,
            "unmatched": outcome.unmatched,
            "reversals": outcome.reversals,
        });
        audit(&mut self.db, SYSTEM_ACTOR, "remittance_posted", Audit { amount: Some(self.amount), detail: Some(detail), ..Audit::default() }).await?;
        self.db.commit().await?;
        Ok(PostOutcome::Posted { remittance_id: self.remittance_id, claims: outcome })
    }
}

/// A payer reversal: CLP02 = 22, or (4010) adjustments in group CR.
pub fn is_reversal(claim: &Claim) -> bool {
    claim.status_code == "22" || claim.adjustments.iter().chain(claim.services.iter().flat_map(|s| &s.adjustments)).any(|a| a.group == "CR")
}

/// Claims that could not post, with why.
pub type Unmatched<'c> = Vec<(&'c Claim, NoMatch)>;

/// Posts claims of remittance `remittance_id` and returns those that matched
/// nothing: ingest queues them, re-feeding leaves them queued. Used by both.
/// The claims matched are locked first (under `hold`), then each claim's
/// entries, denials and reversals are written, then what they settle.
pub async fn post_claims<'c>(
    conn: &mut PgConnection,
    hold: Hold,
    remittance_id: i64,
    claims: &[&'c Claim],
    cats: &CarcCategories,
) -> Result<(ClaimsOutcome, Unmatched<'c>), sqlx::Error> {
    let mut outcome = ClaimsOutcome::default();
    let refs: Vec<&str> = claims.iter().map(|c| c.patient_control_number.as_str()).collect();
    let matches = match_claims(conn, &refs).await?;
    let matched_ids: Vec<i64> = matches.iter().filter_map(|m| m.as_ref().ok().map(|c| c.id)).collect();
    ledger::lock_claims(conn, hold, &matched_ids).await?;
    let lines = matching::load_lines(conn, &matched_ids).await?;
    let mut batch = Batch::default();
    // Denials to open, by the ordinal of their posting in the batch.
    let mut openings: Vec<(usize, Opening)> = Vec::new();
    let mut unmatched: Unmatched<'c> = Vec::new();
    for (claim, m) in claims.iter().zip(matches) {
        let claim_row = match m {
            Ok(c) => c,
            Err(no) => {
                unmatched.push((claim, no));
                continue;
            }
        };
        if is_reversal(claim) {
            match reverse(conn, remittance_id, claim_row.id, claim).await? {
                Some(original) => {
                    outcome.reversals += 1;
                    outcome.settled(settle::on_reversal(conn, claim_row.id, original, remittance_id).await?);
                }
                None => {
                    outcome.denials_flagged += settle::flag_unmatched_reversal(conn, claim_row.id, remittance_id).await?;
                    unmatched.push((
                        claim,
                        NoMatch {
                            reason: format!("reversal of claim {} matches no posting remitd made", claim_row.claim_id),
                            needed: "find the original payment; post the reversal by hand if it was posted outside remitd".into(),
                        },
                    ));
                }
            }
            continue;
        }
        let claim_lines = lines.get(&claim_row.id).map(Vec::as_slice).unwrap_or_default();
        let line_ids = match_lines(&claim.services, claim_lines);
        let line_of = |i: Option<usize>| i.and_then(|i| line_ids.get(i).copied().flatten());
        let plan = plan_claim(claim, cats);
        let entries = plan.entries.into_iter().map(|e| Entry {
            line_id: line_of(e.line),
            kind: e.kind,
            group_code: e.group_code,
            reason_code: e.reason_code,
            amount: e.amount,
        });
        let ordinal = batch.add_posting(claim_row.id, claim, entries);
        for d in plan.denials {
            let opening =
                Opening { claim_posting_id: 0, claim_id: claim_row.id, service_line_id: line_of(d.line), amount: d.amount, reason_codes: d.reason_codes };
            openings.push((ordinal, opening));
        }
        outcome.posted += 1;
    }
    let postings = batch.write(conn, remittance_id).await?;
    let openings: Vec<Opening> =
        openings.into_iter().filter_map(|(ordinal, o)| postings.get(ordinal - 1).map(|&claim_posting_id| Opening { claim_posting_id, ..o })).collect();
    outcome.denials_opened = denials::open(conn, &openings).await?;
    if outcome.reversals > 0 || outcome.posted > 0 {
        outcome.settled(settle::after_posting(conn, settle::Source::Remittance(remittance_id), &matched_ids).await?);
    }
    outcome.unmatched = unmatched.len();
    Ok((outcome, unmatched))
}

/// Negates every entry of the posting a reversal refers to (by payer claim
/// control number, falling back to REF*F8). Returns the reversed posting's
/// id, or `None` when no posting matches.
async fn reverse(conn: &mut PgConnection, remittance_id: i64, claim_id: i64, claim: &Claim) -> Result<Option<i64>, sqlx::Error> {
    let original = sqlx::query_scalar!(
        "SELECT cp.id FROM claim_postings cp
         WHERE cp.claim_id = $1 AND cp.reverses_posting_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM claim_postings r WHERE r.reverses_posting_id = cp.id)
           AND (cp.payer_claim_control_number = $2 OR cp.payer_claim_control_number = $3)
         ORDER BY (cp.payer_claim_control_number = $2) DESC NULLS LAST, cp.id DESC LIMIT 1",
        claim_id,
        claim.payer_claim_control_number.as_deref(),
        claim.original_reference.as_deref(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(original) = original else { return Ok(None) };
    let posting = sqlx::query_scalar!(
        "INSERT INTO claim_postings (remittance_id, claim_id, status_code, charge, paid, payer_claim_control_number, original_reference, reverses_posting_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        remittance_id,
        claim_id,
        claim.status_code.as_str(),
        claim.charge,
        claim.paid,
        claim.payer_claim_control_number.as_deref(),
        claim.original_reference.as_deref(),
        original,
    )
    .fetch_one(&mut *conn)
    .await?;
    reverse_entries(conn, What::Posting { original, remittance_id, reversal_posting: posting }, SYSTEM_ACTOR, "payer reversal").await?;
    let detail = serde_json::json!({ "reversed_posting_id": original, "reversal_posting_id": posting, "remittance_id": remittance_id });
    audit(conn, SYSTEM_ACTOR, "payer_reversal", Audit { claim_id: Some(claim_id), amount: Some(claim.paid), detail: Some(detail), ..Audit::default() }).await?;
    Ok(Some(original))
}
