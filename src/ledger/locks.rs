//! The lock order every writer of the ledger follows.
//!
//! 1. **The ledger table.** A writer of a few claims takes `ledger_entries`
//!    in ROW EXCLUSIVE mode ([`Hold::Claims`]); a writer of the whole
//!    ledger (a sweep, a bulk write-off, a remittance of more than
//!    [`CLAIM_LOCKS_MAX`] claims) in SHARE ROW EXCLUSIVE mode
//!    ([`Hold::Ledger`]), which waits for every other writer and holds them
//!    off until it commits. Taken first, before anything else, so no two
//!    writers ever wait for each other in opposite orders.
//! 2. **The claims.** A claims writer then takes one transaction-scoped
//!    advisory lock per claim it will touch, in ascending claim id order,
//!    in one statement ([`lock_claims`]). Two writers of the same claim
//!    queue; writers of different claims do not. Under [`Hold::Ledger`]
//!    there is nothing to take: nobody else writes.
//! 3. **Rows.** Denials and write-offs are then locked `FOR UPDATE` as
//!    their state changes.
//!
//! Balances are read after step 2, by statements that start after the lock
//! was granted: under READ COMMITTED each statement sees what committed
//! before it began, so what a write-off reads is what is owed when it
//! commits. Advisory locks live in shared memory only (nothing is written
//! to disk per claim, which keeps posting fast); their number per
//! transaction is what [`CLAIM_LOCKS_MAX`] bounds.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

/// The most claims one transaction locks one by one; more take the whole
/// ledger. PostgreSQL's lock table holds `max_locks_per_transaction` (64 by
/// default) times the connection count (100): 6,400 locks shared by every
/// session, so two postings of 1,000 claims at once fit with room to spare.
pub const CLAIM_LOCKS_MAX: usize = 1_000;

/// The advisory lock class of claims (the first key of the two-key form).
const CLAIM_LOCK_CLASS: i32 = 835;

/// How much of the ledger a transaction holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The claims it locks with [`lock_claims`].
    Claims,
    /// All of it: no other writer runs until it commits.
    Ledger,
}

impl Hold {
    /// What a writer of `claims` claims should hold.
    pub fn for_claims(claims: usize) -> Hold {
        if claims > CLAIM_LOCKS_MAX {
            Hold::Ledger
        } else {
            Hold::Claims
        }
    }
}

/// Begins a transaction that will write the ledger, holding `hold`.
pub async fn begin(pool: &PgPool, hold: Hold) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut db = pool.begin().await?;
    match hold {
        Hold::Claims => sqlx::query!("LOCK TABLE ledger_entries IN ROW EXCLUSIVE MODE").execute(&mut *db).await?,
        Hold::Ledger => sqlx::query!("LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE").execute(&mut *db).await?,
    };
    Ok(db)
}

/// Locks `claims` (row ids, any order, repeats allowed) for the rest of the
/// transaction, in ascending order. Nothing to do under [`Hold::Ledger`].
/// Ids beyond 2^31 share keys with smaller ones: that can only make two
/// writers wait, never let them overlap.
pub async fn lock_claims(conn: &mut PgConnection, hold: Hold, claims: &[i64]) -> Result<(), sqlx::Error> {
    if hold == Hold::Ledger || claims.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<i32> = claims.iter().map(|id| (id.rem_euclid(1 << 31)) as i32).collect();
    keys.sort_unstable();
    keys.dedup();
    // unnest yields the keys in array order, so they are taken ascending.
    sqlx::query!("SELECT count(pg_advisory_xact_lock($1, k)) FROM unnest($2::int4[]) AS k", CLAIM_LOCK_CLASS, &keys).fetch_one(conn).await?;
    Ok(())
}
