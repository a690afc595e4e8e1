//! Trace conflicts: a transaction set whose payer and trace number (TRN03,
//! TRN02) were posted before, with different content.
//!
//! A payment posts once, keyed by payer and trace. The same set fed again
//! (the same file, or the same payment inside another file) is a quiet
//! duplicate. But a payer reusing a trace number for another payment, or a
//! clearinghouse sending an altered copy, must not pass as a duplicate: the
//! set is held here, neither posted nor dropped, its file goes to `error/`
//! with the reason, and a person resolves it (`remitd conflicts`). Content
//! is compared by fingerprint: SHA-256 of the set as parsed, so the same
//! payment written with other delimiters or line breaks is the same.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

use crate::ledger::{audit, ActionError, Audit};
use crate::model::{Claim, ProviderAdjustment, Transaction};

/// The fingerprint of a transaction set's content.
pub fn fingerprint(t: &Transaction) -> Vec<u8> {
    let mut f = Fingerprint::begin(t);
    f.claims(&t.claims);
    f.finish(&t.provider_adjustments)
}

/// A fingerprint taken a part at a time, for a set read in parts: the same
/// bytes go to the hasher as for the whole set's JSON (the header's fields,
/// `"claims":[...]`, then `"provider_adjustments":[...]`, the model's field
/// order), so a set has one fingerprint however it was read. The JSON goes
/// to the hasher through a buffer: serde writes many small pieces, and the
/// hasher is fastest fed whole blocks.
pub struct Fingerprint {
    out: std::io::BufWriter<Sha256>,
    claims: u64,
}

/// How the header's JSON ends when its lists are empty: the fingerprint
/// writes the lists itself from there.
const EMPTY_LISTS: &[u8] = br#"[],"provider_adjustments":[]}"#;

impl Fingerprint {
    /// Starts with the header of `t` (its claims and provider adjustments
    /// are not taken: feed them with [`claims`](Self::claims) and
    /// [`finish`](Self::finish)).
    pub fn begin(t: &Transaction) -> Fingerprint {
        let head = serde_json::to_vec(&t.head()).unwrap_or_default();
        debug_assert!(head.ends_with(EMPTY_LISTS), "claims and provider_adjustments are the model's last fields");
        let mut f = Fingerprint { out: std::io::BufWriter::with_capacity(64 * 1024, Sha256::new()), claims: 0 };
        f.write(&head[..head.len().saturating_sub(EMPTY_LISTS.len())]);
        f.write(b"[");
        f
    }

    /// Adds claims, in the set's order.
    pub fn claims(&mut self, claims: &[Claim]) {
        for claim in claims {
            if self.claims > 0 {
                self.write(b",");
            }
            self.claims += 1;
            // Writing into a hasher cannot fail, nor can serializing the model.
            let _ = serde_json::to_writer(&mut self.out, claim);
        }
    }

    /// Ends with the set's provider adjustments.
    pub fn finish(mut self, provider_adjustments: &[ProviderAdjustment]) -> Vec<u8> {
        self.write(br#"],"provider_adjustments":"#);
        let _ = serde_json::to_writer(&mut self.out, provider_adjustments);
        self.write(b"}");
        match self.out.into_inner() {
            Ok(hasher) => hasher.finalize().to_vec(),
            Err(_) => unreachable!("writing into a hasher cannot fail"),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let _ = std::io::Write::write_all(&mut self.out, bytes);
    }
}

/// A conflict as held.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Conflict {
    pub id: i64,
    pub file_id: i64,
    pub file_name: String,
    /// The remittance posted before under the same payer and trace.
    pub remittance_id: i64,
    pub payer_key: String,
    pub trace_number: String,
    pub transaction_control: String,
    /// What the held set pays, and what the posted one paid.
    pub payment_amount: Decimal,
    pub posted_amount: Decimal,
    pub created_at: DateTime<Utc>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution: Option<String>,
}

/// What holding a set came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Held now (or still open from an earlier feed): conflict `id`.
    Open(i64),
    /// The same set was held before and a person resolved it.
    Resolved(i64),
}

/// Holds set `t` of file `file_id`, which conflicts with remittance
/// `posted` (the daemon's side). Holding the same content twice keeps one
/// conflict.
pub async fn hold(conn: &mut PgConnection, file_id: i64, posted: i64, t: &Transaction, fingerprint: &[u8]) -> Result<Held, sqlx::Error> {
    let payer = super::payer_key(t);
    let transaction = serde_json::to_value(t).unwrap_or_default();
    let new = sqlx::query_scalar!(
        "INSERT INTO remittance_conflicts (file_id, remittance_id, payer_key, trace_number, transaction_control, payment_amount, content_hash, transaction)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (payer_key, trace_number, content_hash) DO NOTHING RETURNING id",
        file_id,
        posted,
        payer,
        t.trace_number.as_str(),
        t.control_number.as_str(),
        t.payment.amount,
        fingerprint,
        transaction,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = new {
        let detail =
            serde_json::json!({ "conflict_id": id, "file_id": file_id, "remittance_id": posted, "trace_number": t.trace_number.as_str(), "payer": payer });
        audit(conn, super::SYSTEM_ACTOR, "remittance_conflict_held", Audit { amount: Some(t.payment.amount), detail: Some(detail), ..Audit::default() })
            .await?;
        return Ok(Held::Open(id));
    }
    let earlier = sqlx::query!(
        "SELECT id, resolved_at IS NOT NULL AS \"resolved!\" FROM remittance_conflicts WHERE payer_key = $1 AND trace_number = $2 AND content_hash = $3",
        payer,
        t.trace_number.as_str(),
        fingerprint,
    )
    .fetch_one(conn)
    .await?;
    Ok(if earlier.resolved { Held::Resolved(earlier.id) } else { Held::Open(earlier.id) })
}

/// Conflicts, oldest first: the open ones, or all with `include_resolved`,
/// or the one numbered `id`.
async fn conflicts(pool: &PgPool, include_resolved: bool, id: Option<i64>) -> Result<Vec<Conflict>, sqlx::Error> {
    sqlx::query_as!(
        Conflict,
        "SELECT c.id, c.file_id, f.file_name, c.remittance_id, c.payer_key, c.trace_number, c.transaction_control, c.payment_amount,
                r.payment_amount AS posted_amount, c.created_at, c.resolved_by, c.resolved_at, c.resolution
         FROM remittance_conflicts c JOIN ingested_files f ON f.id = c.file_id JOIN remittances r ON r.id = c.remittance_id
         WHERE CASE WHEN $2::bigint IS NULL THEN $1 OR c.resolved_at IS NULL ELSE c.id = $2 END
         ORDER BY c.id",
        include_resolved,
        id,
    )
    .fetch_all(pool)
    .await
}

pub async fn list(pool: &PgPool, include_resolved: bool) -> Result<Vec<Conflict>, sqlx::Error> {
    conflicts(pool, include_resolved, None).await
}

pub async fn show(pool: &PgPool, id: i64) -> Result<Option<Conflict>, sqlx::Error> {
    Ok(conflicts(pool, true, Some(id)).await?.into_iter().next())
}

/// The held set as parsed (it may name patients: shown on request only).
pub async fn held_transaction(pool: &PgPool, id: i64) -> Result<Option<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar!("SELECT transaction FROM remittance_conflicts WHERE id = $1", id).fetch_optional(pool).await
}

/// Resolves conflict `id` with a reason: a person has looked at both
/// payments and decided (the payer re-sent with a new trace, or the copy
/// was wrong). Needs `billing.payment.write`; audited; once.
pub async fn resolve(pool: &PgPool, id: i64, actor: &str, reason: &str) -> Result<(), ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::Invalid("resolving a conflict needs a reason (--reason TEXT)".into()));
    }
    let mut tx = pool.begin().await?;
    crate::actors::require(&mut tx, actor, crate::actors::Scope::PaymentWrite).await?;
    let row = sqlx::query!("SELECT resolved_at IS NOT NULL AS \"resolved!\", trace_number FROM remittance_conflicts WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        None => return Err(ActionError::Invalid(format!("no conflict #{id}"))),
        Some(r) if r.resolved => return Err(ActionError::Invalid(format!("conflict #{id} is resolved already"))),
        Some(_) => {}
    }
    sqlx::query!("UPDATE remittance_conflicts SET resolved_by = $2, resolved_at = now(), resolution = $3 WHERE id = $1", id, actor, reason)
        .execute(&mut *tx)
        .await?;
    let detail = serde_json::json!({ "conflict_id": id });
    audit(&mut tx, actor, "remittance_conflict_resolved", Audit { reason: Some(reason), detail: Some(detail), ..Audit::default() }).await?;
    tx.commit().await?;
    Ok(())
}
