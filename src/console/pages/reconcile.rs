//! Reconciliation: every deposit and every open remittance with where it
//! stands, the totals by state and what to ask each payer, as `remitd
//! reconcile` reports them (and downloads as its PDF and CSV); a person
//! with `billing.payment.write` matches a deposit by hand or unmatches it
//! with a reason, as `remitd deposits match|unmatch` do.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use super::pdf_download;
use crate::actors::{self, Scope};
use crate::bank::reconcile::{self, Queue, Row, Side, Status};
use crate::console::web::{nonempty, optional, render, Me, PageError, Posted};
use crate::documents::reconciliation;
use crate::documents::reports::span;
use crate::ledger::ActionError;
use crate::output::CsvReport;

/// The most rows the page shows (the downloads hold them all): an office
/// may have a hundred thousand.
const SHOWN_ROWS: usize = 500;

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The query string: a state and a range of days, kept as typed so the
/// form shows them back.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Filter {
    fn read(&self) -> Result<reconcile::Filter, PageError> {
        let status = nonempty(&self.status)
            .map(|s| <Status as clap::ValueEnum>::from_str(s, false).map_err(|_| PageError::BadForm(format!("no state {s:?}"))))
            .transpose()?;
        Ok(reconcile::Filter { from: optional(&self.from, "from (YYYY-MM-DD)")?, to: optional(&self.to, "to (YYYY-MM-DD)")?, status, open_only: false })
    }

    /// This filter as a query string, for the downloads and the forms.
    fn query(&self) -> String {
        let pairs = [("status", &self.status), ("from", &self.from), ("to", &self.to)];
        serde_urlencoded::to_string(pairs.iter().filter(|(_, v)| nonempty(v).is_some()).collect::<Vec<_>>()).unwrap_or_default()
    }
}

/// A state as the page names it.
fn label(s: Status) -> String {
    s.as_str().replace('_', " ")
}

/// What a person may do about a row.
enum Action {
    None,
    /// Match the deposit, the field filled with its one candidate.
    Match {
        id: i64,
        candidate: String,
    },
    Unmatch {
        id: i64,
    },
}

/// One row of the table: the cells the CSV and the PDF print, and the
/// links and form the page adds.
struct Shown {
    /// The row's element id: its deposit, or its remittance.
    key: String,
    state: String,
    needs_a_person: bool,
    cells: [String; 10],
    deposit_id: Option<i64>,
    remittance_ids: Vec<i64>,
    action: Action,
}

impl Shown {
    fn new(r: &Row, may_write: bool) -> Shown {
        let action = match (r.side, r.deposit_id) {
            (Side::Deposit, Some(id)) if may_write => match r.status {
                Status::Matched | Status::Explained => Action::Unmatch { id },
                Status::ReportedTwice | Status::Awaiting | Status::Overdue => Action::None,
                Status::AmountMismatch | Status::DateMismatch if r.remittance_ids.len() == 1 => {
                    Action::Match { id, candidate: r.remittance_ids[0].to_string() }
                }
                _ => Action::Match { id, candidate: String::new() },
            },
            _ => Action::None,
        };
        let key = match (r.side, r.deposit_id, r.remittance_ids.first()) {
            (Side::Deposit, Some(id), _) => format!("deposit-{id}"),
            (_, _, Some(id)) => format!("remittance-{id}"),
            _ => String::new(),
        };
        Shown {
            key,
            state: label(r.status),
            needs_a_person: r.status.needs_a_person(),
            cells: reconciliation::cells(r),
            deposit_id: r.deposit_id,
            remittance_ids: r.remittance_ids.clone(),
            action,
        }
    }
}

#[derive(Template)]
#[template(path = "reconcile.html")]
struct ReconcilePage<'a> {
    who: &'a str,
    csrf: &'a str,
    filter: &'a Filter,
    /// Every state, for the filter: (value, label).
    states: Vec<(&'static str, String)>,
    span: String,
    today: NaiveDate,
    query: String,
    queues: Vec<(String, &'static str, Queue)>,
    asks: Vec<(String, String)>,
    rows: Vec<Shown>,
    /// Rows the range holds beyond those shown.
    more: usize,
    may_write: bool,
    notice: Option<String>,
    error: Option<String>,
}

async fn page(me: &Me, filter: &Filter, notice: Option<String>, error: Option<String>) -> Result<Response, PageError> {
    let db = &me.person.db;
    actors::require_read(db).await?;
    let f = filter.read()?;
    let today = today();
    let all = reconcile::report(db, today, f).await?;
    let may_write = actors::holds(db, me.name(), Scope::PaymentWrite).await?;
    let queues = reconcile::queues(&all).into_iter().map(|q| (label(q.status), q.status.as_str(), q)).collect();
    let asks = reconciliation::asks(&all);
    // The newest first: the oldest of a long range are in the downloads.
    let rows: Vec<Shown> = all.iter().rev().take(SHOWN_ROWS).map(|r| Shown::new(r, may_write)).collect();
    let more = all.len() - rows.len();
    let states = <Status as clap::ValueEnum>::value_variants().iter().map(|s| (s.as_str(), label(*s))).collect();
    Ok(render(&ReconcilePage {
        who: me.name(),
        csrf: &me.csrf,
        filter,
        states,
        span: span(f.from, f.to),
        today,
        query: filter.query(),
        queues,
        asks,
        rows,
        more,
        may_write,
        notice,
        error,
    }))
}

pub async fn show(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    page(&me, &filter, None, None).await
}

/// What an action's outcome shows: its notice, or its refusal on the page
/// (with the status the refusal answers with), the filter kept.
async fn answer(me: &Me, filter: &Filter, outcome: Result<String, PageError>) -> Result<Response, PageError> {
    match outcome {
        Ok(notice) => page(me, filter, Some(notice), None).await,
        Err(e @ (PageError::Refused(_) | PageError::BadForm(_))) => {
            let mut response = page(me, filter, None, Some(e.message())).await?;
            *response.status_mut() = e.status();
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

/// The reason a person gave, or a refusal asking for one.
fn reason(text: &str) -> Result<&str, PageError> {
    nonempty(text).ok_or_else(|| PageError::Refused(ActionError::Invalid("give a reason: it goes to the audit trail".into())))
}

/// Remittance numbers as typed: separated by spaces or commas, with or
/// without `#`.
fn remittance_ids(text: &str) -> Result<Vec<i64>, PageError> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let id = s.trim_start_matches('#');
            id.parse::<i64>().map_err(|_| PageError::Refused(ActionError::Invalid(format!("{s:?} is not a remittance number"))))
        })
        .collect()
}

fn numbered(ids: &[i64]) -> String {
    ids.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(", ")
}

#[derive(Deserialize)]
pub struct MatchForm {
    #[serde(default)]
    remittances: String,
    #[serde(default)]
    reason: String,
}

pub async fn match_deposit(me: Me, Path(id): Path<i64>, Query(filter): Query<Filter>, Posted(form): Posted<MatchForm>) -> Result<Response, PageError> {
    let outcome = async {
        let (ids, reason) = (remittance_ids(&form.remittances)?, reason(&form.reason)?);
        let m = reconcile::match_by_hand(&me.person.db, me.name(), id, &ids, reason).await?;
        Ok(match (m.remittance_ids.is_empty(), m.difference) {
            (true, _) => format!("Deposit #{id} is explained without a remittance: {reason}."),
            (false, None) => format!("Deposit #{id} is matched with remittance {}.", numbered(&m.remittance_ids)),
            (false, Some(d)) => {
                format!("Deposit #{id} is matched with remittance {}; the deposit differs from them by {d:.2}.", numbered(&m.remittance_ids))
            }
        })
    }
    .await;
    answer(&me, &filter, outcome).await
}

#[derive(Deserialize)]
pub struct UnmatchForm {
    #[serde(default)]
    reason: String,
}

pub async fn unmatch_deposit(me: Me, Path(id): Path<i64>, Query(filter): Query<Filter>, Posted(form): Posted<UnmatchForm>) -> Result<Response, PageError> {
    let outcome = async {
        let freed = reconcile::unmatch(&me.person.db, me.name(), id, reason(&form.reason)?).await?;
        Ok(match freed.as_slice() {
            [] => format!("Deposit #{id} is open again."),
            ids => format!("Deposit #{id} is unmatched; remittance {} is open again.", numbered(ids)),
        })
    }
    .await;
    answer(&me, &filter, outcome).await
}

/// The rows the filter holds, all of them, after the read check.
async fn rows(me: &Me, filter: &Filter) -> Result<(Vec<Row>, reconcile::Filter, NaiveDate), PageError> {
    actors::require_read(&me.person.db).await?;
    let f = filter.read()?;
    let today = today();
    Ok((reconcile::report(&me.person.db, today, f).await?, f, today))
}

pub async fn pdf(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (rows, f, today) = rows(&me, &filter).await?;
    pdf_download("reconciliation.pdf".into(), move || reconciliation::pdf(&rows, &f, today)).await
}

pub async fn csv(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (rows, _, _) = rows(&me, &filter).await?;
    let mut w = CsvReport::new(Vec::new());
    let written = w.row(reconciliation::HEADER).and_then(|()| rows.iter().try_for_each(|r| w.row(reconciliation::cells(r))));
    let bytes = written.and_then(|()| w.finish()).map_err(|e| PageError::Internal(e.to_string()))?;
    let disposition = "attachment; filename=\"reconciliation.csv\"";
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8"), (header::CONTENT_DISPOSITION, disposition)], bytes).into_response())
}
