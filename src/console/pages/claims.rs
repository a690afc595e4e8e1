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
}

pub async fn show(me: Me, Path(row): Path<i64>) -> Result<Response, PageError> {
    let db = &me.person.db;
    let claim_id = sqlx::query_scalar!("SELECT claim_id FROM claims WHERE id = $1", row).fetch_optional(db).await?.ok_or(PageError::NotFound)?;
    let claim = view::show(db, &claim_id).await?.ok_or(PageError::NotFound)?;
    Ok(render(&ClaimPage { who: me.name(), csrf: &me.csrf, claim }))
}
