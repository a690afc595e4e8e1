//! The support console: server-rendered pages on the daemon's `[http]`
//! address, off unless `[console] enabled = true`.
//!
//! **The console acts as the person, in the database.** A person logs in
//! with the password remitd keeps as an argon2id hash (`remitd actor
//! password`); the console then opens a small pool of connections of her
//! own, logged in as the daemon and switched to her role at connection
//! start (`options=-c role=ann`). PostgreSQL lets the daemon's login take
//! only the roles granted to it (`remitd migrate --daemon ROLE` grants each
//! staff member's), and every check of migrations 0010 to 0021 reads that
//! role (`remitd_login()`), so a page can do exactly what the same person
//! can do with the command line, and nothing a page forgets to check gets
//! past the database. The pages call the same workflow functions as the CLI.
//!
//! **Sessions** are random 256-bit tokens in a `__Host-` cookie (Secure,
//! HttpOnly, SameSite=Strict), held in memory: a restart logs everyone
//! out. Each session has a CSRF token every form carries ([`web::Posted`]
//! refuses a form without it), an idle timeout, and a token that changes at
//! login. Failed logins are counted per name and per address
//! ([`session::Throttle`]) and audited. Every response carries a strict
//! Content-Security-Policy: no scripts, styles only from the console's own
//! stylesheet. URLs carry row numbers, never claim or patient identifiers.

mod jobs;
mod pages;
pub mod password;
mod session;
mod web;

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPool};

/// `[console]` in the daemon's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve the console on the `[http]` address.
    pub enabled: bool,
    /// Minutes without a request after which a session ends.
    pub idle_minutes: u64,
    /// Mark the session cookie `Secure` (and name it `__Host-remitd`).
    /// Browsers accept such cookies over plain HTTP from `localhost` only;
    /// a console reached by another name needs TLS (a reverse proxy).
    pub secure_cookies: bool,
    /// Failed logins allowed per name, and per address, in a quarter of an
    /// hour before logins from it pause for the rest of that time.
    pub max_failed_logins: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: false, idle_minutes: 30, secure_cookies: true, max_failed_logins: 5 }
    }
}

impl ConsoleConfig {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=24 * 60).contains(&self.idle_minutes) {
            return Err(format!("idle_minutes must be from 1 to 1440, not {}", self.idle_minutes));
        }
        if self.max_failed_logins == 0 {
            return Err("max_failed_logins must be at least 1".into());
        }
        Ok(())
    }
}

/// The console's state: its settings, the daemon's pool (set once the
/// daemon reaches the database) and the sessions.
pub struct Console {
    config: ConsoleConfig,
    /// The drop folders: uploads go to an inbox; originals are read from
    /// the archive and error folders.
    folders: Vec<crate::daemon::config::DropFolder>,
    /// The `[sweep]` section: the sweep page's parameters.
    sweep: crate::sweep::SweepConfig,
    connect: PgConnectOptions,
    daemon: OnceLock<PgPool>,
    sessions: session::Sessions,
    throttle: session::Throttle,
    jobs: jobs::Jobs,
}

impl Console {
    /// A console logging people in through `database_url` (the daemon's),
    /// with no drop folders and no sweep settings.
    pub fn new(config: ConsoleConfig, database_url: &str) -> Result<Arc<Console>, sqlx::Error> {
        Console::serving(config, database_url, Vec::new(), crate::sweep::SweepConfig::default())
    }

    /// The daemon's console: its drop folders and `[sweep]` section too.
    pub fn serving(
        config: ConsoleConfig,
        database_url: &str,
        folders: Vec<crate::daemon::config::DropFolder>,
        sweep: crate::sweep::SweepConfig,
    ) -> Result<Arc<Console>, sqlx::Error> {
        let connect = PgConnectOptions::from_str(database_url)?;
        let idle = Duration::from_secs(config.idle_minutes * 60);
        let throttle = session::Throttle::new(config.max_failed_logins, Duration::from_secs(15 * 60));
        Ok(Arc::new(Console {
            config,
            folders,
            sweep,
            connect,
            daemon: OnceLock::new(),
            sessions: session::Sessions::new(idle),
            throttle,
            jobs: jobs::Jobs::default(),
        }))
    }

    /// Gives the console the daemon's pool; pages answer 503 until then.
    pub fn attach(&self, pool: PgPool) {
        let _ = self.daemon.set(pool);
    }

    /// A pool acting as `person`: the daemon's login, switched to her role
    /// at connection start.
    fn pool_for(&self, person: &str) -> PgPool {
        let options = self.connect.clone().options([("role", person)]).application_name("remitd-console");
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(3)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(60))
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options)
    }
}

/// The console's routes, to merge with the daemon's probes.
pub fn router(console: Arc<Console>) -> axum::Router {
    pages::router(console)
}
