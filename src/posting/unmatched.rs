//! The unmatched queue: claims of posted remittances that matched no claim.
//!
//! Each item keeps the claim exactly as parsed, so once support imports the
//! missing claim, `refeed` posts it against the original remittance, as if
//! it had matched the first time. An item that still matches nothing stays
//! queued with its reason.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::plan::CarcCategories;
use super::{post_claims, ClaimsOutcome};
use crate::ledger::{self, audit, Audit, Hold, SYSTEM_ACTOR};
use crate::model::Claim;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnmatchedItem {
    pub id: i64,
    pub claim_ref: String,
    pub state: String,
    pub reason: String,
    pub needed: String,
    pub trace_number: String,
    pub payer: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The claim as the remittance had it.
    pub claim: serde_json::Value,
}

/// Items, oldest first: the open ones, every one with `include_posted`, or
/// the one numbered `id`.
async fn items(pool: &PgPool, include_posted: bool, id: Option<i64>) -> Result<Vec<UnmatchedItem>, sqlx::Error> {
    sqlx::query_as!(
        UnmatchedItem,
        "SELECT u.id, u.claim_ref, u.state, u.reason, u.needed, r.trace_number, r.payer_name AS payer, u.created_at, u.resolved_at, u.claim
         FROM unmatched_claims u JOIN remittances r ON r.id = u.remittance_id
         WHERE CASE WHEN $2::bigint IS NULL THEN $1 OR u.state = 'open' ELSE u.id = $2 END
         ORDER BY u.id",
        include_posted,
        id,
    )
    .fetch_all(pool)
    .await
}

/// Open items, oldest first (all items with `include_posted`).
pub async fn list(pool: &PgPool, include_posted: bool) -> Result<Vec<UnmatchedItem>, sqlx::Error> {
    items(pool, include_posted, None).await
}

pub async fn show(pool: &PgPool, id: i64) -> Result<Option<UnmatchedItem>, sqlx::Error> {
    Ok(items(pool, true, Some(id)).await?.into_iter().next())
}

/// What re-feeding one item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refeed {
    Posted(ClaimsOutcome),
    StillUnmatched { reason: String, needed: String },
    NotOpen { state: String },
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum RefeedError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("queued claim {0} cannot be read back: {1}")]
    Corrupt(i64, serde_json::Error),
}

/// Tries to post one queued claim. The item is locked for the attempt, so
/// two support staff re-feeding at once cannot post it twice.
pub async fn refeed(pool: &PgPool, id: i64, cats: &CarcCategories) -> Result<Refeed, RefeedError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    let row = sqlx::query!("SELECT remittance_id, state, claim FROM unmatched_claims WHERE id = $1 FOR UPDATE", id).fetch_optional(&mut *db).await?;
    let Some(row) = row else { return Ok(Refeed::NotFound) };
    if row.state != "open" {
        return Ok(Refeed::NotOpen { state: row.state });
    }
    let remittance_id = row.remittance_id;
    let claim: Claim = serde_json::from_value(row.claim).map_err(|e| RefeedError::Corrupt(id, e))?;
    let (outcome, unmatched) = post_claims(&mut db, Hold::Claims, remittance_id, &[&claim], cats).await?;
    if let Some((_, no)) = unmatched.into_iter().next() {
        db.rollback().await?;
        return Ok(Refeed::StillUnmatched { reason: no.reason, needed: no.needed });
    }
    sqlx::query!("UPDATE unmatched_claims SET state = 'posted', resolved_at = now() WHERE id = $1", id).execute(&mut *db).await?;
    let detail = serde_json::json!({ "unmatched_id": id, "claim_ref": claim.patient_control_number.as_str() });
    audit(&mut db, SYSTEM_ACTOR, "unmatched_refed", Audit { amount: Some(claim.paid), detail: Some(detail), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(Refeed::Posted(outcome))
}

/// Ids of every open item, for `refeed --all`.
pub async fn open_ids(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM unmatched_claims WHERE state = 'open' ORDER BY id").fetch_all(pool).await
}
