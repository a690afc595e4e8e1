//! The ledger layer: the only code that writes ledger entries, audit rows
//! and receipts, and the one routine that reverses entries.
//!
//! Everything that moves money comes through here: posting a remittance
//! ([`remittance`]), write-offs of every kind ([`writeoffs`]), charge
//! corrections ([`charges`]), reversals ([`reverse`]). The workflows above
//! decide *whether* and *how much*; this layer decides *how* it is written,
//! so the same movement is always written the same way.
//!
//! # Invariants
//!
//! Held by the code (under the lock order of [`locks`]) and, where a
//! statement can check them, by the database (migration 0008):
//!
//! - **Balances are derived, never stored.** What a claim owes is summed
//!   from its lines' charges and its entries by `insurance_effect` and
//!   `patient_effect`, defined once in SQL ([`owed`]).
//! - **A write-off moves its bucket toward zero, never past it**, bounded by
//!   what is owed when it commits. A trigger refuses any statement whose
//!   write-off entries take a bucket across zero.
//! - **An entry is reversed at most once** (a unique index), always by
//!   [`reverse::reverse`].
//! - **Append-only.** Ledger entries and audit rows are never updated or
//!   deleted (triggers); a correction is a new entry.

pub mod audit;
pub mod charges;
pub mod error;
pub mod kinds;
pub mod locks;
pub mod receipts;
pub mod remittance;
pub mod reverse;
pub mod writeoffs;

pub use audit::{record as audit, Audit};
pub use error::ActionError;
pub use kinds::{Bucket, EntryKind, ReceiptKind, WriteoffStatus};
pub use locks::{begin, lock_claims, Hold};
pub use remittance::SYSTEM_ACTOR;

use rust_decimal::Decimal;
use sqlx::PgConnection;

/// What one claim owes, per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owed {
    pub claim_id: i64,
    pub insurance: Decimal,
    pub patient: Decimal,
}

/// What each of `claims` owes (claims with neither lines nor entries are
/// left out), from the `claim_owed` view, one claim at a time through its
/// indexes (as `claim_id = ANY($1)` a table without statistics is summed
/// whole).
pub async fn owed(conn: &mut PgConnection, claims: &[i64]) -> Result<Vec<Owed>, sqlx::Error> {
    sqlx::query_as!(
        Owed,
        r#"SELECT o.claim_id AS "claim_id!", o.insurance_balance AS "insurance!", o.patient_balance AS "patient!"
           FROM (SELECT DISTINCT c FROM unnest($1::bigint[]) AS c) u
           CROSS JOIN LATERAL (SELECT claim_id, insurance_balance, patient_balance FROM claim_owed WHERE claim_id = u.c LIMIT 1) o
           ORDER BY o.claim_id"#,
        claims,
    )
    .fetch_all(conn)
    .await
}
