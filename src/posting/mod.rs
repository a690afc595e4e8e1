//! Posting: one 835 transaction set becomes ledger entries, in one database
//! transaction.
//!
//! Exactly once: the remittance row is inserted first, keyed by payer (TRN03)
//! and trace number (TRN02); a remittance already posted inserts nothing and
//! posts nothing. Everything a transaction set posts commits together, so a
//! crash leaves it fully posted or not at all.
//!
//! Writes are set-based: each table gets one `INSERT ... SELECT FROM UNNEST`
//! per transaction set, not a round trip per row.

pub mod matching;
pub mod plan;
pub mod unmatched;
mod write;

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool, Row};

use crate::model::{Claim, Transaction};
use crate::parse::Parsed;
use matching::{match_claims, match_lines, NoMatch};
use plan::{plan_claim, CarcCategories};
use write::Batch;

/// The actor recorded on everything remitd posts by itself.
pub const SYSTEM_ACTOR: &str = "system";

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
    /// Reopened denials whose corrected claim posted.
    pub denials_resolved: usize,
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
    }
}

/// What posting one transaction set did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    Posted {
        remittance_id: i64,
        claims: ClaimsOutcome,
    },
    /// The payer's trace number was posted before; nothing was written.
    AlreadyPosted {
        remittance_id: i64,
    },
}

impl PostOutcome {
    pub fn claims(&self) -> ClaimsOutcome {
        match self {
            PostOutcome::Posted { claims, .. } => claims.clone(),
            PostOutcome::AlreadyPosted { .. } => ClaimsOutcome::default(),
        }
    }
}

/// Reads the CARC categories (contractual, denial) from the database.
pub async fn load_categories(pool: &PgPool) -> Result<CarcCategories, sqlx::Error> {
    let rows = sqlx::query("SELECT group_code, reason_code, category FROM carc_categories").fetch_all(pool).await?;
    let mut cats = CarcCategories::default();
    for r in rows {
        let key = (r.get::<String, _>(0), r.get::<String, _>(1));
        match r.get::<String, _>(2).as_str() {
            "denial" => cats.denial.insert(key),
            _ => cats.contractual.insert(key),
        };
    }
    Ok(cats)
}

/// Who a remittance is from: TRN03, the payer's identifier in the trace.
pub fn payer_key(tx: &Transaction) -> &str {
    &tx.trace.originator_id
}

/// Posts one transaction set of a file already known valid.
pub async fn post_transaction(pool: &PgPool, file_id: i64, parsed: &Parsed, cats: &CarcCategories) -> Result<PostOutcome, sqlx::Error> {
    let t = &parsed.transaction;
    let mut db = crate::db::begin_ledger_write(pool).await?;
    // Atomic and isolated as ever, but not flushed to disk on its own: the
    // caller's closing, synchronous commit (ingest marks the file posted)
    // flushes the log up to and including this one before anyone acts on
    // the file. A crash before that loses a suffix of postings, never a
    // part of one, and the file is simply fed again.
    sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *db).await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO remittances (file_id, interchange_control, transaction_control, payer_key, payer_name, trace_number,
                                  payment_amount, payment_date, handling_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (payer_key, trace_number) DO NOTHING RETURNING id",
    )
    .bind(file_id)
    .bind(parsed.interchange.control_number.as_str())
    .bind(t.control_number.as_str())
    .bind(payer_key(t))
    .bind(t.payer.name.as_str())
    .bind(t.trace_number.as_str())
    .bind(t.payment.amount)
    .bind(t.payment.date)
    .bind(t.payment.handling_code.as_str())
    .fetch_optional(&mut *db)
    .await?;
    let Some(remittance_id) = inserted else {
        db.rollback().await?;
        let remittance_id = sqlx::query_scalar("SELECT id FROM remittances WHERE payer_key = $1 AND trace_number = $2")
            .bind(payer_key(t))
            .bind(t.trace_number.as_str())
            .fetch_one(pool)
            .await?;
        return Ok(PostOutcome::AlreadyPosted { remittance_id });
    };
    let claims: Vec<&Claim> = t.claims.iter().collect();
    let (outcome, unmatched) = post_claims(&mut db, remittance_id, &claims, cats).await?;
    write::unmatched(&mut db, remittance_id, &unmatched).await?;
    write::provider_adjustments(&mut db, remittance_id, &t.provider_adjustments).await?;
    let detail = serde_json::json!({
        "file_id": file_id,
        "trace_number": t.trace_number.as_str(),
        "payer": payer_key(t),
        "claims_posted": outcome.posted,
        "unmatched": outcome.unmatched,
        "reversals": outcome.reversals,
    });
    audit(&mut db, "remittance_posted", None, Some(t.payment.amount), detail).await?;
    db.commit().await?;
    Ok(PostOutcome::Posted { remittance_id, claims: outcome })
}

/// Appends an audit row by the system actor.
async fn audit(conn: &mut PgConnection, action: &str, claim_id: Option<i64>, amount: Option<Decimal>, detail: serde_json::Value) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_log (actor, action, claim_id, amount, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(SYSTEM_ACTOR)
        .bind(action)
        .bind(claim_id)
        .bind(amount)
        .bind(detail)
        .execute(conn)
        .await?;
    Ok(())
}

/// A payer reversal: CLP02 = 22, or (4010) adjustments in group CR.
pub fn is_reversal(claim: &Claim) -> bool {
    claim.status_code == "22" || claim.adjustments.iter().chain(claim.services.iter().flat_map(|s| &s.adjustments)).any(|a| a.group == "CR")
}

/// Claims that could not post, with why.
pub type Unmatched<'c> = Vec<(&'c Claim, NoMatch)>;

/// Posts claims of remittance `remittance_id` and returns those that matched
/// nothing: ingest queues them, re-feeding leaves them queued. Used by both.
pub async fn post_claims<'c>(
    conn: &mut PgConnection,
    remittance_id: i64,
    claims: &[&'c Claim],
    cats: &CarcCategories,
) -> Result<(ClaimsOutcome, Unmatched<'c>), sqlx::Error> {
    let mut outcome = ClaimsOutcome::default();
    let refs: Vec<&str> = claims.iter().map(|c| c.patient_control_number.as_str()).collect();
    let matches = match_claims(conn, &refs).await?;
    let matched_ids: Vec<i64> = matches.iter().filter_map(|m| m.as_ref().ok().map(|c| c.id)).collect();
    let lines = matching::load_lines(conn, &matched_ids).await?;
    let mut batch = Batch::new(remittance_id);
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
                    outcome.denials_reopened += crate::writeoff::reopen::on_reversal(conn, original, remittance_id).await?;
                }
                None => {
                    outcome.denials_flagged += crate::writeoff::reopen::flag_unmatched_reversal(conn, claim_row.id, remittance_id).await?;
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
        let plan = plan_claim(claim, cats);
        outcome.denials_opened += plan.denials.len();
        batch.add_claim(claim_row.id, claim, &line_ids, plan);
        outcome.posted += 1;
    }
    batch.write(conn).await?;
    if outcome.reversals > 0 || outcome.posted > 0 {
        outcome.denials_resolved = crate::writeoff::reopen::resolve_corrected(conn, remittance_id).await?;
    }
    outcome.unmatched = unmatched.len();
    Ok((outcome, unmatched))
}

/// Negates every entry of the posting a reversal refers to (by payer claim
/// control number, falling back to REF*F8). Returns the reversed posting's
/// id, or `None` when no posting matches.
async fn reverse(conn: &mut PgConnection, remittance_id: i64, claim_id: i64, claim: &Claim) -> Result<Option<i64>, sqlx::Error> {
    let original: Option<i64> = sqlx::query_scalar(
        "SELECT cp.id FROM claim_postings cp
         WHERE cp.claim_id = $1 AND cp.reverses_posting_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM claim_postings r WHERE r.reverses_posting_id = cp.id)
           AND (cp.payer_claim_control_number = $2 OR cp.payer_claim_control_number = $3)
         ORDER BY (cp.payer_claim_control_number = $2) DESC NULLS LAST, cp.id DESC LIMIT 1",
    )
    .bind(claim_id)
    .bind(claim.payer_claim_control_number.as_deref())
    .bind(claim.original_reference.as_deref())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(original) = original else { return Ok(None) };
    let posting: i64 = sqlx::query_scalar(
        "INSERT INTO claim_postings (remittance_id, claim_id, status_code, charge, paid, payer_claim_control_number, original_reference, reverses_posting_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(remittance_id)
    .bind(claim_id)
    .bind(claim.status_code.as_str())
    .bind(claim.charge)
    .bind(claim.paid)
    .bind(claim.payer_claim_control_number.as_deref())
    .bind(claim.original_reference.as_deref())
    .bind(original)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_entries (claim_id, service_line_id, remittance_id, claim_posting_id, kind, reversed_kind,
                                     group_code, reason_code, amount, reverses_entry_id, actor, memo)
         SELECT claim_id, service_line_id, $1, $2, 'reversal', kind, group_code, reason_code, -amount, id, $3, 'payer reversal'
         FROM ledger_entries WHERE claim_posting_id = $4 AND kind <> 'reversal' ORDER BY id",
    )
    .bind(remittance_id)
    .bind(posting)
    .bind(SYSTEM_ACTOR)
    .bind(original)
    .execute(&mut *conn)
    .await?;
    let detail = serde_json::json!({ "reversed_posting_id": original, "reversal_posting_id": posting, "remittance_id": remittance_id });
    audit(conn, "payer_reversal", Some(claim_id), Some(claim.paid), detail).await?;
    Ok(Some(original))
}
