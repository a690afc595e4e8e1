//! Reopening written-off denials by hand, and the denials a payer reversal
//! flagged for a person (the automatic reopening on a payer reversal is the
//! denial lifecycle's: `crate::denials::settle`).

use sqlx::PgPool;

use crate::actors::{require, Scope};
use crate::denials::{self, DenialStatus};
use crate::ledger::{self, ActionError, Hold};

/// A denial flagged for a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flagged {
    pub denial_id: i64,
    pub claim_id: String,
    pub status: DenialStatus,
    pub reason: String,
}

/// Denials flagged for a person, oldest flag first.
pub async fn flagged(pool: &PgPool) -> Result<Vec<Flagged>, ActionError> {
    Ok(sqlx::query_as!(
        Flagged,
        r#"SELECT d.id AS denial_id, c.claim_id, d.status AS "status: DenialStatus", d.flag_reason AS "reason!"
           FROM denials d JOIN claims c ON c.id = d.claim_id WHERE d.flagged_at IS NOT NULL ORDER BY d.flagged_at, d.id"#
    )
    .fetch_all(pool)
    .await?)
}

/// A person reopens a written-off denial (after a reversal remitd could not
/// tie to it): its write-off is reversed and it is OPEN again.
pub async fn reopen_by_hand(pool: &PgPool, denial_id: i64, actor: &str) -> Result<bool, ActionError> {
    let mut db = ledger::begin(pool, Hold::Claims).await?;
    require(&mut db, actor, Scope::DenialWrite).await?;
    let d = denials::lock(&mut db, Hold::Claims, denial_id).await?;
    let undone = denials::reopen(&mut db, &d, actor).await?;
    db.commit().await?;
    Ok(undone)
}
