//! SIGHUP: read the configuration again and apply what can change while
//! running, saying what changed.
//!
//! Drop folders are added, removed or changed (their inbox watched, their
//! settings taken) between files, never during one; the sweep's schedule
//! and settings restart its task (a sweep in progress finishes first); the
//! approval policy is applied as at start. The HTTP address and the
//! database URL need a restart, and the log says so. A configuration that
//! does not load is refused whole, with the reason, and the running one
//! stays.

use std::sync::Arc;

use notify::{RecursiveMode, Watcher};
use sqlx::PgPool;
use tokio::sync::watch as signal;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::config::{Config, DropFolder};
use super::watch::Inbox;
use super::{scheduler, Shared};

/// The scheduled sweep's task, with a stop of its own so that a reload can
/// replace it.
pub struct Sweeper {
    handle: JoinHandle<()>,
    stop: signal::Sender<bool>,
}

impl Sweeper {
    /// Starts the scheduled sweep if `config` has a schedule.
    pub fn start(pool: &PgPool, config: &Config, shared: &Arc<Shared>) -> Option<Sweeper> {
        let schedule = config.sweep_schedule.clone()?;
        info!(schedule = config.sweep.schedule.as_deref().unwrap_or_default(), time_zone = config.sweep.time_zone(), "small-balance sweep scheduled");
        let (stop, stop_rx) = signal::channel(false);
        let clock = Arc::new(crate::sweep::schedule::SystemClock);
        let handle = scheduler::spawn(pool.clone(), config.sweep.clone(), schedule, clock, shared.clone(), stop_rx);
        Some(Sweeper { handle, stop })
    }

    /// Stops the task; a sweep in progress commits (or rolls back) first.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

/// What the main loop runs with, and what a reload may change.
pub struct Running<W: Watcher> {
    pub config: Config,
    pub inboxes: Vec<Inbox>,
    pub watcher: W,
    pub sweeper: Option<Sweeper>,
}

impl<W: Watcher> Running<W> {
    /// Applies `new` over what runs, logging each change.
    pub async fn apply(&mut self, new: Config, pool: &PgPool, shared: &Arc<Shared>) {
        self.folders(&new.drop_folders, shared);
        if format!("{:?}", new.sweep) != format!("{:?}", self.config.sweep) {
            if let Some(s) = self.sweeper.take() {
                s.stop().await;
            }
            self.sweeper = Sweeper::start(pool, &new, shared);
            info!(schedule = new.sweep.schedule.as_deref().unwrap_or("none"), "reloaded: small-balance sweep settings changed");
        }
        if new.approval != self.config.approval {
            match new.approval {
                Some(policy) => match crate::writeoff::apply_configured_policy(pool, policy).await {
                    Ok(_) => info!(approval = %policy.as_setting(), "reloaded: write-off approval policy set from the configuration"),
                    Err(e) => warn!(error = %e, "reloaded, but cannot apply the configured write-off approval policy"),
                },
                None => info!("reloaded: [writeoffs] approval removed; the policy in the database stays as it is"),
            }
        }
        if new.http.listen != self.config.http.listen {
            warn!(listen = %new.http.listen, "http.listen changed: it takes effect at the next restart");
        }
        if new.database_url.expose() != self.config.database_url.expose() {
            warn!("database_url changed: it takes effect at the next restart");
        }
        self.config = new;
    }

    /// Adds, removes and changes drop folders to match `wanted`.
    fn folders(&mut self, wanted: &[DropFolder], shared: &Shared) {
        let before: Vec<DropFolder> = self.inboxes.iter().map(|i| i.folder.clone()).collect();
        for old in before.iter().filter(|old| !wanted.iter().any(|w| w == *old)) {
            let _ = self.watcher.unwatch(&old.inbox);
            self.inboxes.retain(|i| i.folder.name != old.name);
            shared.health.folder(&old.name, None);
            if !wanted.iter().any(|w| w.name == old.name) {
                info!(folder = %old.name, "reloaded: drop folder removed");
            }
        }
        for new in wanted.iter().filter(|w| !before.iter().any(|b| b == *w)) {
            let _ = std::fs::create_dir_all(&new.inbox);
            if let Err(e) = self.watcher.watch(&new.inbox, RecursiveMode::NonRecursive) {
                // The rescans still find its files; /readyz says why if the
                // folder cannot be used.
                error!(folder = %new.name, path = %new.inbox.display(), error = %e, "reloaded: cannot watch the inbox; rescanning it instead");
            }
            let changed = before.iter().any(|b| b.name == new.name);
            self.inboxes.push(Inbox::new(new.clone()));
            info!(folder = %new.name, inbox = %new.inbox.display(), "{}", if changed { "reloaded: drop folder changed" } else { "reloaded: drop folder added" });
        }
        shared.health.expect_watchers(self.inboxes.len());
        shared.health.watchers(self.inboxes.len());
    }
}
