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
//! out. Each session has a CSRF token every form carries (`web::Posted`
//! refuses a form without it), an idle timeout, and a token that changes at
//! login. Failed logins are counted per name and per address
//! (`session::Throttle`) and audited. Every response carries a strict
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
    /// Single sign-on behind a reverse proxy: the request header (say
    /// `X-Remote-User`) in which the proxy names the person it has
    /// authenticated. Believed only from `trusted_proxies`; the proxy must
    /// drop the header when a client sends it.
    pub trusted_header: Option<String>,
    /// The addresses the proxy connects from.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig { enabled: false, idle_minutes: 30, secure_cookies: true, max_failed_logins: 5, trusted_header: None, trusted_proxies: Vec::new() }
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
        match &self.trusted_header {
            Some(h) if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() => return Err(format!("trusted_header {h:?} is not a header name")),
            Some(_) if self.trusted_proxies.is_empty() => {
                return Err("trusted_header needs trusted_proxies: the addresses of the proxy that sets it (anyone else could send it)".into())
            }
            _ => {}
        }
        Ok(())
    }
}

/// The console's state: its settings, the daemon's pool (set once the
/// daemon reaches the database) and the sessions.
pub struct Console {
    config: ConsoleConfig,
    /// The remittance drop folders (not the bank folders): uploads go to an
    /// inbox; originals are read from the archive and error folders.
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

    /// The daemon's console: its remittance drop folders and `[sweep]`
    /// section too.
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

/// How a person proved who she is.
#[derive(Debug, Clone, Copy)]
pub enum Proof {
    Password,
    /// The trusted proxy's header.
    SingleSignOn,
}

impl Console {
    /// Starts `name`'s session (replacing `old`) once her identity is
    /// proven: the console must be able to act as her in the database, and
    /// the login is audited as hers. `Err` says why not, for her to read.
    async fn sign_in(&self, old: &str, name: &str, address: std::net::IpAddr, proof: Proof) -> Result<(String, session::Session), String> {
        let db = self.pool_for(name);
        let acting: Result<(String, bool), sqlx::Error> =
            sqlx::query_as("SELECT remitd_login()::text, EXISTS (SELECT 1 FROM actors WHERE name = $1)").bind(name).fetch_one(&db).await;
        match acting {
            Ok((acting, true)) if acting == name => {}
            Ok((_, false)) => return Err(format!("{name} is not one of remitd's people: ask an admin to add them (remitd actor add).")),
            other => {
                tracing::error!(person = %name, error = ?other.err(), "the console may not act as this person: grant the person's role to the daemon's login (remitd migrate --daemon ROLE)");
                return Err("You are who you say, but the console may not act as you yet: ask an admin to run remitd migrate --daemon again.".into());
            }
        }
        let how = match proof {
            Proof::Password => "password",
            Proof::SingleSignOn => "single sign-on",
        };
        let detail = serde_json::json!({ "address": address.to_string(), "by": how });
        let mut conn = db.acquire().await.map_err(|e| e.to_string())?;
        if let Err(e) =
            crate::ledger::audit::record(&mut conn, name, "console_login", crate::ledger::Audit { detail: Some(detail), ..Default::default() }).await
        {
            tracing::error!(error = %e, "recording a console login failed");
            return Err("Something went wrong on the server; the daemon's log says what.".into());
        }
        drop(conn);
        Ok(self.sessions.log_in(old, session::Person { name: name.to_string(), db }))
    }

    /// The person the trusted proxy names on this request, if it is from
    /// the proxy and names one.
    fn proxy_names(&self, headers: &axum::http::HeaderMap, peer: Option<std::net::IpAddr>) -> Option<String> {
        let header = self.config.trusted_header.as_deref()?;
        let value = headers.get(header)?.to_str().ok()?.trim().to_ascii_lowercase();
        let trusted = peer.is_some_and(|p| self.config.trusted_proxies.contains(&p));
        if !trusted {
            tracing::warn!(address = ?peer, header, "the single sign-on header came from an address that is not a trusted proxy: ignored");
            return None;
        }
        Some(value).filter(|v| !v.is_empty())
    }
}

/// The console's routes, to merge with the daemon's probes.
pub fn router(console: Arc<Console>) -> axum::Router {
    pages::router(console)
}
