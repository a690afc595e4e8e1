//! The denial worklist (filters, write off with a reason) and the approval
//! queue (approve or reject what others asked for).

use std::collections::HashMap;

use askama::Template;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgPool;

use crate::console::jobs::Finished;
use crate::console::web::{either, money, nonempty, optional, render, Me, PageError, Posted};
use crate::console::Console;
use crate::denials::{self, Denial, DenialFilter, DenialStatus};
use crate::writeoff::bulk::BulkFilter;
use crate::writeoff::{self, reasons};

/// The most denials the worklist shows, oldest first: a page of 30,000
/// rows is no worklist (narrow it by payer, account or age; a bulk
/// write-off still takes every denial the filters match).
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "denials.html")]
struct DenialsPage<'a> {
    who: &'a str,
    csrf: &'a str,
    filter: &'a Filter,
    rows: Vec<Row>,
    /// More denials match than the page shows.
    more: bool,
    reasons: Vec<reasons::Reason>,
    notice: Option<String>,
}

struct Row {
    denial: Denial,
    claim_row: Option<i64>,
}

/// The worklist's filters, as the query string carries them.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    payer: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    min_age_days: String,
}

impl Filter {
    fn status(&self) -> Result<Option<DenialStatus>, PageError> {
        match self.status.as_str() {
            "" => Ok(Some(DenialStatus::Open)),
            "any" => Ok(None),
            s => <DenialStatus as clap::ValueEnum>::from_str(s, true).map(Some).map_err(|_| PageError::BadForm(format!("no status {s:?}"))),
        }
    }
}

async fn page(me: &Me, filter: &Filter, notice: Option<String>) -> Result<Response, PageError> {
    let db = &me.person.db;
    let min_age_days = optional::<i32>(&filter.min_age_days, "minimum age")?;
    let f = DenialFilter {
        status: filter.status()?,
        payer: nonempty(&filter.payer),
        account: nonempty(&filter.account),
        min_age_days,
        limit: Some(SHOWN as i64 + 1),
        ..DenialFilter::default()
    };
    let mut denials = denials::list_where(db, &f).await?;
    let more = denials.len() > SHOWN;
    denials.truncate(SHOWN);
    let rows = with_claim_rows(db, denials).await?;
    let reasons = reasons::list(db, false).await?;
    Ok(render(&DenialsPage { who: me.name(), csrf: &me.csrf, filter, rows, more, reasons, notice }))
}

/// Pairs each denial with its claim's row number, for the link.
async fn with_claim_rows(db: &PgPool, denials: Vec<Denial>) -> Result<Vec<Row>, PageError> {
    let ids: Vec<String> = denials.iter().map(|d| d.claim_id.clone()).collect();
    let found: HashMap<String, i64> =
        sqlx::query!("SELECT id, claim_id FROM claims WHERE claim_id = ANY($1)", &ids).fetch_all(db).await?.into_iter().map(|r| (r.claim_id, r.id)).collect();
    Ok(denials.into_iter().map(|d| Row { claim_row: found.get(&d.claim_id).copied(), denial: d }).collect())
}

pub async fn list(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    page(&me, &filter, None).await
}

#[derive(Deserialize)]
pub struct AppealForm {
    /// `appeal` puts an open denial under appeal; `withdraw` takes it back.
    action: String,
}

/// Puts a denial under appeal (no write-off or sweep touches it then), or
/// withdraws the appeal.
pub async fn appeal(me: Me, Path(id): Path<i64>, Posted(f): Posted<AppealForm>) -> Result<Response, PageError> {
    let appeal = either(&f.action, "appeal", "withdraw", "appeal action")?;
    writeoff::appeal(&me.person.db, id, me.name(), appeal).await?;
    let notice = if appeal { format!("Denial #{id} is under appeal.") } else { format!("Denial #{id}: the appeal is withdrawn; it is open again.") };
    page(&me, &Filter::default(), Some(notice)).await
}

#[derive(Deserialize)]
pub struct BulkForm {
    reason: String,
    #[serde(default)]
    note: String,
    /// `preview` or `post`.
    action: String,
    #[serde(flatten)]
    filter: Filter,
}

/// Writes off, with one reason, every open denial the worklist's filters
/// show (or previews it), as a job: a large run takes a while.
pub async fn bulk(State(console): State<Arc<Console>>, me: Me, Posted(f): Posted<BulkForm>) -> Result<Response, PageError> {
    let preview = either(&f.action, "preview", "post", "bulk action")?;
    let min_age_days = optional::<i64>(&f.filter.min_age_days, "minimum age")?;
    let filter = BulkFilter {
        payer: nonempty(&f.filter.payer).map(str::to_string),
        account: nonempty(&f.filter.account).map(str::to_string),
        min_age_days,
        ..BulkFilter::default()
    };
    let (db, actor, reason, note) = (me.person.db.clone(), me.name().to_string(), f.reason, nonempty(&f.note).map(str::to_string));
    let title = if preview { format!("Bulk write-off preview ({reason})") } else { format!("Bulk write-off ({reason})") };
    let id = console.jobs.start(me.name(), title, async move {
        let o = writeoff::bulk(&db, &filter, &reason, note.as_deref(), &actor, preview).await.map_err(|e| PageError::from(e).told())?;
        let mut text = format!(
            "{} denials matched: {} written off, {} waiting for approval, {} skipped; {} in all.",
            o.matched,
            o.written_off,
            o.pending_approval,
            o.skipped.len(),
            money(&o.total)
        );
        if preview {
            text.push_str(" A preview: nothing was written.");
        }
        let link = o.receipt.map(|r| (format!("/writeoffs?receipt={r}"), format!("Receipt {r}: every write-off of this run")));
        Ok(Finished::Notice { text, link })
    });
    Ok(Redirect::to(&format!("/jobs/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct WriteOffForm {
    reason: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    note: String,
}

pub async fn write_off(me: Me, Path(id): Path<i64>, Posted(f): Posted<WriteOffForm>) -> Result<Response, PageError> {
    let amount = optional::<Decimal>(&f.amount, "amount")?;
    let req = writeoff::Request { denial_id: id, reason: &f.reason, note: nonempty(&f.note), amount, actor: me.name() };
    let out = writeoff::write_off(&me.person.db, req).await?;
    let notice = format!(
        "Denial #{id}: {} {} (receipt {}){}.",
        money(&out.amount),
        out.status.to_string().to_lowercase().replace('_', " "),
        out.receipt,
        out.denial_status.map(|s| format!("; the denial is now {s}")).unwrap_or_default()
    );
    page(&me, &Filter::default(), Some(notice)).await
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage<'a> {
    who: &'a str,
    csrf: &'a str,
    rows: Vec<Waiting>,
    notice: Option<String>,
}

struct Waiting {
    id: i64,
    claim_row: i64,
    claim_id: String,
    denial_id: Option<i64>,
    bucket: String,
    amount: Decimal,
    reason: String,
    note: Option<String>,
    requested_by: String,
    requested_at: DateTime<Utc>,
}

async fn approvals_page(me: &Me, notice: Option<String>) -> Result<Response, PageError> {
    let rows = sqlx::query_as!(
        Waiting,
        "SELECT w.id, w.claim_id AS claim_row, c.claim_id, w.denial_id, w.bucket, w.amount, w.reason, w.note, w.requested_by, w.requested_at
         FROM writeoffs w JOIN claims c ON c.id = w.claim_id
         WHERE w.status = 'PENDING_APPROVAL' ORDER BY w.requested_at, w.id"
    )
    .fetch_all(&me.person.db)
    .await?;
    Ok(render(&ApprovalsPage { who: me.name(), csrf: &me.csrf, rows, notice }))
}

pub async fn approvals(me: Me) -> Result<Response, PageError> {
    approvals_page(&me, None).await
}

#[derive(Deserialize)]
pub struct Decision {
    decision: String,
}

pub async fn decide(me: Me, Path(id): Path<i64>, Posted(f): Posted<Decision>) -> Result<Response, PageError> {
    let approve = either(&f.decision, "approve", "reject", "decision")?;
    let out = writeoff::decide_writeoff(&me.person.db, id, me.name(), approve).await?;
    let notice = format!("Write-off #{id} of {}: {}.", money(&out.amount), out.status.to_string().to_lowercase().replace('_', " "));
    approvals_page(&me, Some(notice)).await
}
