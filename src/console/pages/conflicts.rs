//! Payment conflicts: a payment held because its payer and trace number
//! were posted before with other content. Support compares the two (the
//! posted remittance's page, the held file's original) and closes the
//! conflict with what was decided, as `remitd conflicts resolve` does.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::Response;
use serde::Deserialize;

use crate::console::web::{render, Me, PageError, Posted};
use crate::posting::conflicts::{self, Conflict};

#[derive(Template)]
#[template(path = "conflicts.html")]
struct ConflictsPage<'a> {
    who: &'a str,
    csrf: &'a str,
    all: bool,
    rows: Vec<Conflict>,
    notice: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// `yes`: resolved conflicts too.
    #[serde(default)]
    all: String,
}

async fn page(me: &Me, all: bool, notice: Option<String>) -> Result<Response, PageError> {
    crate::actors::require_read(&me.person.db).await?;
    let rows = conflicts::list(&me.person.db, all).await?;
    Ok(render(&ConflictsPage { who: me.name(), csrf: &me.csrf, all, rows, notice }))
}

pub async fn list(me: Me, Query(f): Query<Filter>) -> Result<Response, PageError> {
    page(&me, f.all == "yes", None).await
}

#[derive(Deserialize)]
pub struct ResolveForm {
    reason: String,
}

pub async fn resolve(me: Me, Path(id): Path<i64>, Posted(f): Posted<ResolveForm>) -> Result<Response, PageError> {
    conflicts::resolve(&me.person.db, id, me.name(), &f.reason).await?;
    page(&me, false, Some(format!("Conflict #{id} is resolved: {}.", f.reason.trim()))).await
}
