//! Charge corrections: once a claim has postings, its charge changes only by
//! a `charge_correction` entry per service line (the difference), so the
//! imported figure and every change stay visible in the ledger.

use rust_decimal::Decimal;
use sqlx::PgConnection;

/// One line's charge changing by `amount` (new charge less old).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub claim_id: i64,
    pub line_id: i64,
    pub amount: Decimal,
    /// Says what changed and why (old and new figures, the reason given).
    pub memo: String,
}

/// Posts the corrections, in order, as `actor`.
pub async fn correct(conn: &mut PgConnection, corrections: &[Correction], actor: &str) -> Result<(), sqlx::Error> {
    if corrections.is_empty() {
        return Ok(());
    }
    let claims: Vec<i64> = corrections.iter().map(|c| c.claim_id).collect();
    let lines: Vec<i64> = corrections.iter().map(|c| c.line_id).collect();
    let amounts: Vec<Decimal> = corrections.iter().map(|c| c.amount).collect();
    let memos: Vec<&str> = corrections.iter().map(|c| c.memo.as_str()).collect();
    sqlx::query!(
        "INSERT INTO ledger_entries (claim_id, service_line_id, kind, amount, actor, memo)
         SELECT u.claim_id, u.line_id, 'charge_correction', u.amount, $5, u.memo
         FROM UNNEST($1::bigint[], $2::bigint[], $3::numeric[], $4::text[]) WITH ORDINALITY AS u(claim_id, line_id, amount, memo, n)
         ORDER BY u.n",
        &claims,
        &lines,
        &amounts,
        &memos as &[&str],
        actor,
    )
    .execute(conn)
    .await?;
    Ok(())
}
