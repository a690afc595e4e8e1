//! A job's page: how long it has run, then what it did.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use crate::console::jobs::{Finished, Job, State as JobState};
use crate::console::web::{render, Me, PageError};
use crate::console::Console;
use crate::sweep::Report;

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage<'a> {
    who: &'a str,
    csrf: &'a str,
    job: &'a Job,
    running: bool,
    failed: Option<String>,
    notice: Option<(String, Option<(String, String)>)>,
    report: Option<&'a Report>,
    sections: Vec<super::sweep::Shown<'a>>,
}

pub async fn show(State(console): State<Arc<Console>>, me: Me, Path(id): Path<String>) -> Result<Response, PageError> {
    let job = console.jobs.get(me.name(), &id).ok_or(PageError::NotFound)?;
    Ok(job.with_state(|state| {
        let mut page = JobPage { who: me.name(), csrf: &me.csrf, job: &job, running: false, failed: None, notice: None, report: None, sections: Vec::new() };
        match state {
            JobState::Running => page.running = true,
            JobState::Failed(e) => page.failed = Some(e.clone()),
            JobState::Done(Finished::Notice { text, link }) => page.notice = Some((text.clone(), link.clone())),
            JobState::Done(Finished::Sweep(r)) => (page.report, page.sections) = (Some(&**r), super::sweep::sections(r)),
        }
        render(&page)
    }))
}
