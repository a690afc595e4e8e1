//! Remittances: the posted ones, one as people read it, and its PDF.

use askama::Template;
use axum::extract::Path;
use axum::response::Response;

use crate::console::web::{render, Me, PageError};
use crate::documents::remittance::{self, Posted, ReadError, Readable};

#[derive(Template)]
#[template(path = "remittances.html")]
struct ListPage<'a> {
    who: &'a str,
    csrf: &'a str,
    rows: Vec<Posted>,
}

pub async fn list(me: Me) -> Result<Response, PageError> {
    let rows = remittance::list(&me.person.db).await?;
    Ok(render(&ListPage { who: me.name(), csrf: &me.csrf, rows }))
}

#[derive(Template)]
#[template(path = "remittance.html")]
struct RemittancePage<'a> {
    who: &'a str,
    csrf: &'a str,
    id: i64,
    r: Readable,
}

async fn load(me: &Me, id: i64) -> Result<Readable, PageError> {
    remittance::load(&me.person.db, id).await.map_err(|e| match e {
        ReadError::NoRemittance(_) => PageError::NotFound,
        ReadError::Db(e) => e.into(),
        other => PageError::Unavailable(other.to_string()),
    })
}

pub async fn show(me: Me, Path(id): Path<i64>) -> Result<Response, PageError> {
    let r = load(&me, id).await?;
    Ok(render(&RemittancePage { who: me.name(), csrf: &me.csrf, id, r }))
}

pub async fn pdf(me: Me, Path(id): Path<i64>) -> Result<Response, PageError> {
    let r = load(&me, id).await?;
    super::pdf_download(format!("remittance-{id}.pdf"), move || remittance::pdf(&r)).await
}
