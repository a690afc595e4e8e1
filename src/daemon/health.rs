//! What `/readyz` reports: whether the database answers, every drop
//! folder's watcher runs, and every drop folder can be used (its inbox
//! readable, its archive and error folders writable).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Health {
    /// The last database problem, or `None` while the database answers.
    database: Mutex<Option<String>>,
    /// Drop folders that cannot be used now, by name, with why.
    folders: Mutex<BTreeMap<String, String>>,
    watchers_expected: AtomicUsize,
    watchers_running: AtomicUsize,
    starting: Mutex<bool>,
}

impl Health {
    pub fn new(watchers: usize) -> Self {
        let h = Health { starting: Mutex::new(true), ..Health::default() };
        h.watchers_expected.store(watchers, Ordering::SeqCst);
        h
    }

    pub fn database_ok(&self) {
        if let Ok(mut d) = self.database.lock() {
            *d = None;
        }
    }

    pub fn database_down(&self, problem: String) {
        if let Ok(mut d) = self.database.lock() {
            *d = Some(problem);
        }
    }

    pub fn database_is_ok(&self) -> bool {
        self.database.lock().map(|d| d.is_none()).unwrap_or(false)
    }

    /// Records whether drop folder `name` can be used; returns whether that
    /// changed (the caller logs changes, not every look).
    pub fn folder(&self, name: &str, problem: Option<String>) -> bool {
        let Ok(mut f) = self.folders.lock() else { return false };
        match problem {
            Some(p) => f.insert(name.to_string(), p.clone()).as_ref() != Some(&p),
            None => f.remove(name).is_some(),
        }
    }

    /// How many drop folders there are now (a reload may change it).
    pub fn expect_watchers(&self, expected: usize) {
        self.watchers_expected.store(expected, Ordering::SeqCst);
    }

    pub fn watchers(&self, running: usize) {
        self.watchers_running.store(running, Ordering::SeqCst);
    }

    pub fn started(&self) {
        if let Ok(mut s) = self.starting.lock() {
            *s = false;
        }
    }

    /// Everything that keeps the daemon from being ready; empty when ready.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.starting.lock().map(|s| *s).unwrap_or(true) {
            out.push("starting".to_string());
        }
        if let Ok(d) = self.database.lock() {
            if let Some(p) = d.as_ref() {
                out.push(format!("database: {p}"));
            }
        }
        if let Ok(f) = self.folders.lock() {
            out.extend(f.iter().map(|(name, p)| format!("drop folder {name:?}: {p}")));
        }
        let (running, expected) = (self.watchers_running.load(Ordering::SeqCst), self.watchers_expected.load(Ordering::SeqCst));
        if running < expected {
            out.push(format!("{running} of {expected} drop folder watchers running"));
        }
        out
    }
}
