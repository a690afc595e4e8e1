//! The unmatched queue: claims of posted remittances that matched no claim.
//!
//! Each item keeps the claim exactly as parsed, so once support imports the
//! missing claim, `refeed` posts it against the original remittance, as if
//! it had matched the first time. An item that still matches nothing stays
//! queued with its reason.
//!
//! Posting is the daemon's (and the owner's): a person on their own login
//! asks instead ([`request`]), a row in `refeed_requests` naming them,
//! which the daemon answers ([`answer_requests`]) and records what each
//! item came to ([`Tried`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
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
/// two support staff re-feeding at once cannot post it twice. `asked_by`
/// names the person whose request the daemon answers, for the audit row.
pub async fn refeed(pool: &PgPool, id: i64, cats: &CarcCategories, asked_by: Option<&str>) -> Result<Refeed, RefeedError> {
    refeed_against(pool, id, cats, asked_by, None).await
}

/// [`refeed`], posting against claim `against` (our claim id) when given:
/// support's match by hand of a remittance claim whose id matches none of
/// ours. It posts exactly as if the payer had sent that id (a reversal
/// then reopens what its original posting's write-offs closed, and the
/// corrected claim resolves the denials), audited as a match by hand with
/// the id the payer sent.
pub async fn refeed_against(pool: &PgPool, id: i64, cats: &CarcCategories, asked_by: Option<&str>, against: Option<&str>) -> Result<Refeed, RefeedError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    let row = sqlx::query!("SELECT remittance_id, state, claim FROM unmatched_claims WHERE id = $1 FOR UPDATE", id).fetch_optional(&mut *db).await?;
    let Some(row) = row else { return Ok(Refeed::NotFound) };
    if row.state != "open" {
        return Ok(Refeed::NotOpen { state: row.state });
    }
    let remittance_id = row.remittance_id;
    let mut claim: Claim = serde_json::from_value(row.claim).map_err(|e| RefeedError::Corrupt(id, e))?;
    let sent = claim.patient_control_number.clone();
    if let Some(ours) = against {
        if sqlx::query_scalar!("SELECT id FROM claims WHERE claim_id = $1", ours).fetch_optional(&mut *db).await?.is_none() {
            db.rollback().await?;
            return Ok(Refeed::StillUnmatched { reason: format!("there is no claim {ours:?}"), needed: "name a claim of `remitd claims`".into() });
        }
        claim.patient_control_number = ours.into();
    }
    let (outcome, unmatched) = post_claims(&mut db, Hold::Claims, remittance_id, &[&claim], cats).await?;
    if let Some((_, no)) = unmatched.into_iter().next() {
        db.rollback().await?;
        return Ok(Refeed::StillUnmatched { reason: no.reason, needed: no.needed });
    }
    sqlx::query!("UPDATE unmatched_claims SET state = 'posted', resolved_at = now() WHERE id = $1", id).execute(&mut *db).await?;
    let (action, detail) = match against {
        None => ("unmatched_refed", serde_json::json!({ "unmatched_id": id, "claim_ref": sent.as_str(), "requested_by": asked_by })),
        Some(ours) => (
            "unmatched_matched_by_hand",
            serde_json::json!({ "unmatched_id": id, "claim_ref": sent.as_str(), "posted_against": ours, "requested_by": asked_by }),
        ),
    };
    let claim_row = sqlx::query_scalar!("SELECT id FROM claims WHERE claim_id = $1", claim.patient_control_number.as_str()).fetch_optional(&mut *db).await?;
    let fields = Audit { claim_id: claim_row.filter(|_| against.is_some()), amount: Some(claim.paid), detail: Some(detail), ..Audit::default() };
    audit(&mut db, SYSTEM_ACTOR, action, fields).await?;
    db.commit().await?;
    Ok(Refeed::Posted(outcome))
}

/// Ids of every open item, for `refeed --all`.
pub async fn open_ids(pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar!("SELECT id FROM unmatched_claims WHERE state = 'open' ORDER BY id").fetch_all(pool).await
}

/// What trying one item came to: printed by `unmatched refeed`, recorded
/// as a refeed request's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Tried {
    pub id: i64,
    pub posted: bool,
    /// The item stays open (still unmatched, or the attempt failed).
    pub waiting: bool,
    pub message: String,
}

impl Tried {
    fn of(id: i64, result: Result<Refeed, RefeedError>) -> Tried {
        let (posted, waiting, message) = match result {
            Ok(Refeed::Posted(o)) => (true, false, format!("posted ({} reversals, {} denials opened)", o.reversals, o.denials_opened)),
            Ok(Refeed::StillUnmatched { reason, needed }) => (false, true, format!("still unmatched: {reason}; {needed}")),
            Ok(Refeed::NotOpen { state }) => (false, false, format!("nothing to do, item is {state}")),
            Ok(Refeed::NotFound) => (false, true, "no such item".to_string()),
            Err(e) => (false, true, e.to_string()),
        };
        Tried { id, posted, waiting, message }
    }
}

/// Tries item `id` (against claim `against`, when given), or every open
/// item when `id` is `None`, one by one.
pub async fn refeed_each(
    pool: &PgPool,
    id: Option<i64>,
    cats: &CarcCategories,
    asked_by: Option<&str>,
    against: Option<&str>,
) -> Result<Vec<Tried>, sqlx::Error> {
    let ids = match id {
        Some(id) => vec![id],
        None => open_ids(pool).await?,
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(Tried::of(id, refeed_against(pool, id, cats, asked_by, against).await));
    }
    Ok(out)
}

/// Asks the daemon to re-feed item `id` (every open item when `None`) for
/// the person this session is. Returns the request's number. Refused
/// without `billing.payment.write`.
pub async fn request(pool: &PgPool, id: Option<i64>, against: Option<&str>) -> Result<i64, crate::ledger::ActionError> {
    let mut tx = pool.begin().await?;
    let me = crate::actors::acting(&mut tx).await?;
    crate::actors::require(&mut tx, &me, crate::actors::Scope::PaymentWrite).await?;
    let request = sqlx::query_scalar!("INSERT INTO refeed_requests (unmatched_id, requested_by, claim_id) VALUES ($1, $2, $3) RETURNING id", id, me, against)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(request)
}

/// What the daemon answered to request `request`, once it has.
pub async fn answer(pool: &PgPool, request: i64) -> Result<Option<Vec<Tried>>, sqlx::Error> {
    let outcome = sqlx::query_scalar!("SELECT outcome FROM refeed_requests WHERE id = $1", request).fetch_optional(pool).await?.flatten();
    Ok(outcome.and_then(|o| serde_json::from_value(o).ok()))
}

/// The daemon's side: answers every waiting request, oldest first, and
/// returns how many. Each request is answered in its own transaction after
/// its items are tried: a crash in between tries them again, which posts
/// nothing twice (an item already posted is no longer open).
pub async fn answer_requests(pool: &PgPool, cats: &CarcCategories) -> Result<usize, sqlx::Error> {
    let waiting =
        sqlx::query!("SELECT id, unmatched_id, requested_by, claim_id FROM refeed_requests WHERE done_at IS NULL ORDER BY id").fetch_all(pool).await?;
    for r in &waiting {
        let tried = refeed_each(pool, r.unmatched_id, cats, Some(&r.requested_by), r.claim_id.as_deref()).await?;
        let outcome = serde_json::to_value(&tried).unwrap_or_else(|_| serde_json::json!([]));
        sqlx::query!("UPDATE refeed_requests SET done_at = now(), outcome = $2 WHERE id = $1 AND done_at IS NULL", r.id, outcome).execute(pool).await?;
    }
    Ok(waiting.len())
}

/// What [`refeed_or_ask`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// The items tried, and the request the daemon answered (none when this
    /// session posted itself).
    Done { request: Option<i64>, tried: Vec<Tried> },
    /// No answer in time: the request stays queued for the daemon.
    Queued(i64),
}

/// Re-feeds item `id` (every open item when `None`) the way this session
/// may: itself on the daemon's or the owner's login; on a person's login by
/// asking the daemon and waiting up to `wait` for its answer.
pub async fn refeed_or_ask(pool: &PgPool, id: Option<i64>, against: Option<&str>, wait: std::time::Duration) -> Result<Asked, crate::ledger::ActionError> {
    if against.is_some() && id.is_none() {
        return Err(crate::ledger::ActionError::Invalid("a claim to post against is named for one item: give its number".into()));
    }
    if crate::actors::posts_remittances(pool).await? {
        let cats = super::load_categories(pool).await?;
        return Ok(Asked::Done { request: None, tried: refeed_each(pool, id, &cats, None, against).await? });
    }
    if let Some(id) = id {
        if show(pool, id).await?.is_none() {
            return Ok(Asked::Done { request: None, tried: vec![Tried::of(id, Ok(Refeed::NotFound))] });
        }
    }
    let request = request(pool, id, against).await?;
    let until = std::time::Instant::now() + wait;
    loop {
        if let Some(tried) = answer(pool, request).await? {
            return Ok(Asked::Done { request: Some(request), tried });
        }
        if std::time::Instant::now() >= until {
            return Ok(Asked::Queued(request));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
