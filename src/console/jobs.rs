//! Long actions (a sweep, a bulk write-off) run apart from the request
//! that started them: the page answers at once with the job's own page,
//! which reloads itself (a `<meta http-equiv="refresh">`: no script) and
//! shows how long the job has run until it shows what it did. A slow run
//! never times out a browser or a proxy, and a closed tab does not stop
//! it: the work is one transaction in the database either way.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// Finished jobs are kept this long for their page, then forgotten.
const KEEP_FINISHED: chrono::TimeDelta = chrono::TimeDelta::hours(2);

/// What a finished job did, for its page.
pub enum Finished {
    /// A sentence, and a page to go on to.
    Notice { text: String, link: Option<(String, String)> },
    /// A sweep's report (a preview's, or a post's with its run).
    Sweep(Box<crate::sweep::Report>),
}

pub enum State {
    Running,
    Done(Finished),
    Failed(String),
}

/// One job: whose it is (only she sees it), what it is, since when.
pub struct Job {
    pub owner: String,
    pub title: String,
    pub started: DateTime<Utc>,
    finished: Mutex<Option<DateTime<Utc>>>,
    state: Mutex<State>,
}

impl Job {
    /// Runs `f` with the job's state.
    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Seconds since the job started (or until it finished).
    pub fn seconds(&self) -> i64 {
        let end = self.finished.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or_else(Utc::now);
        (end - self.started).num_seconds()
    }
}

#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    /// Starts `work` as `owner`'s job and returns its id (random, so one
    /// person cannot guess another's job page).
    pub fn start<F>(&self, owner: &str, title: String, work: F) -> String
    where
        F: Future<Output = Result<Finished, String>> + Send + 'static,
    {
        let job = Arc::new(Job { owner: owner.to_string(), title, started: Utc::now(), finished: Mutex::new(None), state: Mutex::new(State::Running) });
        let id = super::session::token();
        {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            let now = Utc::now();
            map.retain(|_, j| j.finished.lock().unwrap_or_else(|e| e.into_inner()).is_none_or(|f| now - f < KEEP_FINISHED));
            map.insert(id.clone(), job.clone());
        }
        tokio::spawn(async move {
            let state = match work.await {
                Ok(done) => State::Done(done),
                Err(e) => State::Failed(e),
            };
            *job.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
            *job.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Utc::now());
        });
        id
    }

    /// `owner`'s job `id`.
    pub fn get(&self, owner: &str, id: &str) -> Option<Arc<Job>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(id).filter(|j| j.owner == owner).cloned()
    }
}
