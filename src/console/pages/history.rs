//! Looking back: the write-off history with its receipts and causes, and
//! the audit trail, each with the PDF the command line prints
//! (`remitd writeoffs history --format pdf`, `remitd audit --format pdf`).

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::{Days, NaiveDate};
use serde::Deserialize;

use super::pdf_download;
use crate::console::web::{nonempty, optional, render, Me, PageError};
use crate::documents::reports::{self, span};
use crate::writeoff::history::{self, AuditFilter, AuditRow, Causes, History, HistoryFilter};

/// How far back a page looks when it is given no dates: enough for the
/// day's work, bounded so the page stays quick on a large database.
const DEFAULT_DAYS: u64 = 30;

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The query string of both pages: a date range and their own filters,
/// kept as typed so the form shows them back. No claim filter: URLs carry
/// no claim identifiers (a claim's own page shows its ledger).
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    receipt: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    actor: String,
}

impl Filter {
    /// The range asked for; with no date and no receipt, the last
    /// [`DEFAULT_DAYS`] days.
    fn days(&self) -> Result<(Option<NaiveDate>, Option<NaiveDate>), PageError> {
        let (from, to) = (optional::<NaiveDate>(&self.from, "from (YYYY-MM-DD)")?, optional::<NaiveDate>(&self.to, "to (YYYY-MM-DD)")?);
        if from.is_none() && to.is_none() && nonempty(&self.receipt).is_none() {
            return Ok((today().checked_sub_days(Days::new(DEFAULT_DAYS)), None));
        }
        Ok((from, to))
    }

    fn receipt(&self) -> Result<Option<i64>, PageError> {
        optional::<i64>(&self.receipt, "receipt")
    }

    /// This filter as a query string, for the PDF link.
    fn query(&self) -> String {
        let pairs = [("from", &self.from), ("to", &self.to), ("receipt", &self.receipt), ("reason", &self.reason), ("actor", &self.actor)];
        serde_urlencoded::to_string(pairs.iter().filter(|(_, v)| nonempty(v).is_some()).collect::<Vec<_>>()).unwrap_or_default()
    }
}

async fn load_history(me: &Me, f: &Filter) -> Result<(History, Causes, String), PageError> {
    let (from, to) = f.days()?;
    let hf = HistoryFilter { receipt: f.receipt()?, from, to, reason: nonempty(&f.reason) };
    let h = history::history(&me.person.db, &hf).await?;
    let c = history::causes(&me.person.db, from, to).await?;
    Ok((h, c, span(from, to)))
}

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    who: &'a str,
    csrf: &'a str,
    filter: &'a Filter,
    span: String,
    query: String,
    history: History,
    causes: Causes,
}

pub async fn writeoffs(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (history, causes, span) = load_history(&me, &filter).await?;
    Ok(render(&HistoryPage { who: me.name(), csrf: &me.csrf, filter: &filter, span, query: filter.query(), history, causes }))
}

pub async fn writeoffs_pdf(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (from, to) = filter.days()?;
    let receipt = filter.receipt()?;
    let hf = HistoryFilter { receipt, from, to, reason: nonempty(&filter.reason) };
    let h = history::history(&me.person.db, &hf).await?;
    let name = match receipt {
        Some(n) => format!("writeoff-receipt-{n}.pdf"),
        None => "writeoff-history.pdf".into(),
    };
    let report = reports::history(&h, &hf);
    pdf_download(name, move || report.pdf()).await
}

pub async fn causes_pdf(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (from, to) = filter.days()?;
    let c = history::causes(&me.person.db, from, to).await?;
    pdf_download("writeoff-causes.pdf".into(), move || reports::causes(&c).pdf()).await
}

/// The trail under the page's filter: all of it, or the newest `newest`.
async fn load_audit<'f>(me: &Me, f: &'f Filter, newest: Option<i64>) -> Result<(Vec<AuditRow>, AuditFilter<'f>), PageError> {
    let (from, to) = f.days()?;
    let af = AuditFilter { claim: None, actor: nonempty(&f.actor), from, to, newest };
    Ok((history::audit_trail(&me.person.db, &af).await?, af))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    who: &'a str,
    csrf: &'a str,
    filter: &'a Filter,
    span: String,
    query: String,
    rows: Vec<AuditRow>,
    /// The range holds more than the newest [`AUDIT_ROWS`] shown.
    more: bool,
}

/// The most rows the audit page shows (the PDF has them all).
const AUDIT_ROWS: usize = 500;

pub async fn audit(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (mut rows, af) = load_audit(&me, &filter, Some(AUDIT_ROWS as i64 + 1)).await?;
    let more = rows.len() > AUDIT_ROWS;
    rows.reverse();
    rows.truncate(AUDIT_ROWS);
    let span = span(af.from, af.to);
    Ok(render(&AuditPage { who: me.name(), csrf: &me.csrf, filter: &filter, span, query: filter.query(), rows, more }))
}

pub async fn audit_pdf(me: Me, Query(filter): Query<Filter>) -> Result<Response, PageError> {
    let (rows, af) = load_audit(&me, &filter, None).await?;
    let report = reports::audit(&rows, &af);
    pdf_download("audit-trail.pdf".into(), move || report.pdf()).await
}
