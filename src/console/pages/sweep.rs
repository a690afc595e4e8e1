//! The small-balance sweep: the `[sweep]` settings, a preview with its
//! report, a post (both as jobs: a sweep over a large practice takes a
//! while), the stored runs, and each run's report as a page and a PDF.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::console::jobs::Finished;
use crate::console::web::{render, Me, PageError, Posted};
use crate::console::Console;
use crate::sweep::run::{self, RunSummary};
use crate::sweep::{report, Line, Params, Report, Section};

/// The most runs the page lists.
const RUNS_SHOWN: usize = 100;

#[derive(Template)]
#[template(path = "sweep.html")]
struct SweepPage<'a> {
    who: &'a str,
    csrf: &'a str,
    /// Today's parameters from `[sweep]`, or why there are none.
    params: Result<Params, String>,
    runs: Vec<RunSummary>,
}

impl Console {
    /// Today's sweep parameters, from the `[sweep]` section, in its zone.
    fn sweep_params(&self) -> Result<Params, PageError> {
        let tz: chrono_tz::Tz =
            self.sweep.time_zone().parse().map_err(|_| PageError::Unavailable(format!("[sweep] time zone {:?} is unknown", self.sweep.time_zone())))?;
        let today = chrono::Utc::now().with_timezone(&tz).date_naive();
        self.sweep.params_on(today).map_err(|e| PageError::Unavailable(format!("the daemon's configuration has no complete [sweep] section: {e}")))
    }
}

pub async fn show(State(console): State<Arc<Console>>, me: Me) -> Result<Response, PageError> {
    let mut runs = run::runs(&me.person.db).await?;
    runs.truncate(RUNS_SHOWN);
    let params = console.sweep_params().map_err(|e| e.message());
    Ok(render(&SweepPage { who: me.name(), csrf: &me.csrf, params, runs }))
}

#[derive(Deserialize)]
pub struct SweepForm {
    action: String,
    from: NaiveDate,
    to: NaiveDate,
}

/// Starts a preview or a post of the settings over the days given, as a
/// job, and sends the browser to its page.
pub async fn start(State(console): State<Arc<Console>>, me: Me, Posted(f): Posted<SweepForm>) -> Result<Response, PageError> {
    let params = Params { from: f.from, to: f.to, ..console.sweep_params()? };
    params.check()?;
    let (db, actor) = (me.person.db.clone(), me.name().to_string());
    let id = match f.action.as_str() {
        "preview" => console.jobs.start(me.name(), format!("Sweep preview, {} to {}", f.from, f.to), async move {
            run::preview(&db, &params).await.map(|r| Finished::Sweep(Box::new(r))).map_err(|e| PageError::from(e).told())
        }),
        "post" => console.jobs.start(me.name(), format!("Sweep post, {} to {}", f.from, f.to), async move {
            run::post(&db, &params, &actor).await.map(|r| Finished::Sweep(Box::new(r))).map_err(|e| PageError::from(e).told())
        }),
        other => return Err(PageError::BadForm(format!("no sweep action {other:?}"))),
    };
    Ok(Redirect::to(&format!("/jobs/{id}")).into_response())
}

/// One section of a report as the page shows it.
pub struct Shown<'a> {
    pub id: &'static str,
    pub heading: &'static str,
    pub count: usize,
    pub total: rust_decimal::Decimal,
    pub lines: Vec<&'a Line>,
}

/// The report's sections: what was (or would be) written off, always; the
/// out-of-range and protected balances when there are any.
pub fn sections(report: &Report) -> Vec<Shown<'_>> {
    let written = if report.preview { "Would be written off" } else { "Written off" };
    [
        (Section::WrittenOff, written),
        (Section::OutOfRange, "Out of range: over the maximum, not written off"),
        (Section::Protected, "Skipped: a denial on the claim is under appeal or waits for approval"),
    ]
    .into_iter()
    .filter(|(s, _)| *s == Section::WrittenOff || report.count(*s) > 0)
    .map(|(s, heading)| Shown { id: s.as_str(), heading, count: report.count(s), total: report.total(s), lines: report.section(s).collect() })
    .collect()
}

#[derive(Template)]
#[template(path = "sweep_run.html")]
struct RunPage<'a> {
    who: &'a str,
    csrf: &'a str,
    report: &'a Report,
    sections: Vec<Shown<'a>>,
}

pub async fn run_page(me: Me, Path(id): Path<i64>) -> Result<Response, PageError> {
    let report = run::show(&me.person.db, id).await?;
    Ok(render(&RunPage { who: me.name(), csrf: &me.csrf, report: &report, sections: sections(&report) }))
}

pub async fn run_pdf(me: Me, Path(id): Path<i64>) -> Result<Response, PageError> {
    let r = run::show(&me.person.db, id).await?;
    super::pdf_download(format!("sweep-run-{id}.pdf"), move || report::pdf(&r)).await
}
