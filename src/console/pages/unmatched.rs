//! The unmatched queue: what a payer paid for claims remitd could not find,
//! re-fed once the missing claims are imported, or posted against a claim
//! support names.

use std::time::Duration;

use askama::Template;
use axum::extract::{Multipart, Path};
use axum::response::Response;
use serde::Deserialize;

use crate::claims::import;
use crate::console::web::{render, Current, Me, PageError, Posted, Upload};
use crate::posting::unmatched::{self, Asked, UnmatchedItem};

/// How long a page waits for the daemon to answer a re-feed before saying
/// it is queued (the daemon answers within its next look, five seconds at
/// most, or at once when notified).
const REFEED_WAIT: Duration = Duration::from_secs(20);

#[derive(Template)]
#[template(path = "unmatched.html")]
struct UnmatchedPage<'a> {
    who: &'a str,
    csrf: &'a str,
    items: Vec<Item>,
    notice: Option<String>,
}

/// An item with the few fields of the payer's claim people match on.
struct Item {
    item: UnmatchedItem,
    charge: String,
    paid: String,
    status: String,
}

impl Item {
    fn of(item: UnmatchedItem) -> Item {
        let field = |k: &str| item.claim.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default();
        let (charge, paid, status) = (field("charge"), field("paid"), field("status_code"));
        Item { item, charge, paid, status }
    }
}

async fn page(me: &Me, notice: Option<String>) -> Result<Response, PageError> {
    let items = unmatched::list(&me.person.db, false).await?.into_iter().map(Item::of).collect();
    Ok(render(&UnmatchedPage { who: me.name(), csrf: &me.csrf, items, notice }))
}

pub async fn list(me: Me) -> Result<Response, PageError> {
    page(&me, None).await
}

#[derive(Deserialize)]
pub struct RefeedForm {
    #[serde(default)]
    claim: String,
}

pub async fn refeed(me: Me, Path(id): Path<i64>, Posted(f): Posted<RefeedForm>) -> Result<Response, PageError> {
    let against = Some(f.claim.trim()).filter(|c| !c.is_empty());
    let notice = match unmatched::refeed_or_ask(&me.person.db, Some(id), against, REFEED_WAIT).await? {
        Asked::Done { tried, .. } => tried.iter().map(|t| format!("Item #{}: {}.", t.id, t.message)).collect::<Vec<_>>().join(" "),
        Asked::Queued(request) => format!("Asked the daemon (request #{request}); it has not answered yet. Reload this page in a moment."),
    };
    page(&me, Some(notice)).await
}

/// Imports an uploaded claims CSV (the missing claims), checked whole
/// before anything is written, as `remitd claims import` does.
pub async fn import_claims(me: Me, current: Current, form: Multipart) -> Result<Response, PageError> {
    let upload = Upload::read(&current, form).await?;
    let file = upload.bytes("a claims CSV file")?;
    let notice = match import::read(&file[..]) {
        Err(e) => format!("Nothing imported: {e}"),
        Ok(claims) => match import::write(&me.person.db, &claims).await {
            Ok(s) => format!("Imported {} claims, {} service lines. Re-feed the items they match.", s.claims, s.lines),
            Err(import::ImportError::Db(e)) => return Err(e.into()),
            Err(e) => format!("Nothing imported: {e}"),
        },
    };
    page(&me, Some(notice)).await
}
