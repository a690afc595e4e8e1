//! One claim: its balances kept apart by who owes and who wrote off, its
//! denials and its ledger, as `remitd claim show` prints them.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;

use crate::claims::view::{self, ClaimView};
use crate::console::web::{render, Me, PageError};

#[derive(Template)]
#[template(path = "claim.html")]
struct ClaimPage<'a> {
    who: &'a str,
    csrf: &'a str,
    claim: ClaimView,
    remittances: Vec<Paid>,
}

/// A remittance that paid, adjusted or denied the claim.
struct Paid {
    id: i64,
    trace_number: String,
    payer_name: String,
    status_code: String,
    paid: rust_decimal::Decimal,
    posted_at: chrono::DateTime<chrono::Utc>,
}

pub async fn show(me: Me, Path(row): Path<i64>) -> Result<Response, PageError> {
    let db = &me.person.db;
    let claim_id = sqlx::query_scalar!("SELECT claim_id FROM claims WHERE id = $1", row).fetch_optional(db).await?.ok_or(PageError::NotFound)?;
    let claim = view::show(db, &claim_id).await?.ok_or(PageError::NotFound)?;
    let remittances = sqlx::query_as!(
        Paid,
        "SELECT r.id, r.trace_number, r.payer_name, p.status_code, p.paid, p.posted_at
         FROM claim_postings p JOIN remittances r ON r.id = p.remittance_id WHERE p.claim_id = $1 ORDER BY p.posted_at, p.id",
        row
    )
    .fetch_all(db)
    .await?;
    Ok(render(&ClaimPage { who: me.name(), csrf: &me.csrf, claim, remittances }))
}
