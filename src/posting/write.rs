//! The unmatched queue's set-based write: claims of a remittance that
//! matched no claim, kept whole so they can post later.

use sqlx::PgConnection;

use super::matching::NoMatch;
use crate::model::Claim;

/// Claims that matched nothing, kept whole with the reason and what is needed.
pub async fn unmatched(conn: &mut PgConnection, remittance_id: i64, items: &[(&Claim, NoMatch)]) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = items.iter().map(|(c, _)| c.patient_control_number.as_str()).collect();
    let reasons: Vec<&str> = items.iter().map(|(_, n)| n.reason.as_str()).collect();
    let needed: Vec<&str> = items.iter().map(|(_, n)| n.needed.as_str()).collect();
    let claims: Vec<serde_json::Value> = items.iter().map(|(c, _)| serde_json::to_value(c).unwrap_or(serde_json::Value::Null)).collect();
    sqlx::query!(
        "INSERT INTO unmatched_claims (remittance_id, claim_ref, reason, needed, claim)
         SELECT $1, u.r, u.reason, u.needed, u.claim FROM UNNEST($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(r, reason, needed, claim)",
        remittance_id,
        &refs as &[&str],
        &reasons as &[&str],
        &needed as &[&str],
        &claims,
    )
    .execute(conn)
    .await?;
    Ok(())
}
