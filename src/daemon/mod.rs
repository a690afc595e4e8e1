//! `remitd run`: watch drop folders, post what arrives, stay up.
//!
//! One task owns the main loop: it wakes on file events or a short tick,
//! rescans inboxes that are due, and takes whole files one at a time: an
//! 835 posts (two transaction sets at once), a bank file's deposits are
//! stored, each by its folder's `kind`, and either one then matches
//! deposits with remittances (`take`). Around it: the HTTP endpoints,
//! a database health probe, and the signal handler that flips the stop flag.
//! A stop lets the transaction sets in flight commit, leaves the rest of the
//! file in the inbox for the next start, and exits 0. With `[sweep]
//! schedule` set, a second task runs the small-balance sweep at its slots.
//!
//! systemd: READY=1 once the database answers and every watcher runs;
//! STATUS= on changes; WATCHDOG=1 from the main loop; STOPPING=1 on a stop.

pub mod config;
pub mod files;
pub mod health;
pub mod http;
pub mod metrics;
mod reassociation;
pub mod refeeds;
pub mod reload;
pub mod scheduler;
mod take;
pub mod telemetry;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use notify::event::{ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use sd_notify::NotifyState;
use sqlx::PgPool;
use tokio::sync::{mpsc, watch as signal};
use tracing::{error, info, warn};

use crate::ingest::Stop;
use config::Config;
use health::Health;
use metrics::Metrics;
use watch::Inbox;

/// What the HTTP endpoints read.
pub struct Shared {
    pub metrics: Metrics,
    pub health: Health,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("console: {0}")]
    Console(String),
    #[error("cannot watch drop folder {folder:?} ({path}): {detail}")]
    Watch { folder: String, path: String, detail: String },
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("drop folder {folder:?}: {problem}")]
    Folder { folder: String, problem: String },
}

/// Longest wait between attempts while the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often the main loop looks around when nothing happens.
const TICK: Duration = Duration::from_millis(100);

fn notify_systemd(states: &[NotifyState]) {
    // Outside systemd there is no socket; that is not an error.
    let _ = sd_notify::notify(states);
}

fn status(text: &str) {
    notify_systemd(&[NotifyState::Status(text)]);
}

/// Flips the stop flag on SIGTERM or SIGINT.
/// SIGTERM and SIGINT stop the daemon; SIGHUP asks for a reload.
fn spawn_signal_handler(stop: signal::Sender<bool>, reload: mpsc::UnboundedSender<()>) -> Result<(), DaemonError> {
    use tokio::signal::unix::{signal as unix_signal, SignalKind};
    let mut term = unix_signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = unix_signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    let mut hup = unix_signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => info!(signal = "SIGTERM", "stopping: finishing the transaction sets in flight"),
                _ = int.recv() => info!(signal = "SIGINT", "stopping: finishing the transaction sets in flight"),
                _ = hup.recv() => {
                    info!(signal = "SIGHUP", "reloading the configuration");
                    let _ = reload.send(());
                    continue;
                }
            }
            break;
        }
        notify_systemd(&[NotifyState::Stopping]);
        let _ = stop.send(true);
    });
    Ok(())
}

/// Where a reload reads the configuration from, and the requests for one.
pub struct Reloads {
    path: std::path::PathBuf,
    requests: mpsc::UnboundedReceiver<()>,
}

/// The next reload request; never, without reloads.
async fn reload_requested(reloads: &mut Option<Reloads>) -> Option<std::path::PathBuf> {
    match reloads {
        Some(r) => r.requests.recv().await.map(|()| r.path.clone()),
        None => std::future::pending().await,
    }
}

async fn stopped(mut stop: signal::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps `d`, or less if a stop comes first. Returns whether it was stopped.
async fn sleep_or_stop(d: Duration, stop: &signal::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stopped(stop.clone()) => true,
    }
}

/// Connects (migrating when the login owns the database), retrying with
/// back-off until it works or a stop comes.
async fn connect(config: &Config, shared: &Shared, stop: &signal::Receiver<bool>) -> Option<PgPool> {
    let mut delay = Duration::from_secs(1);
    loop {
        let attempt = async {
            let pool = crate::db::open(config.database_url.expose()).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(pool)
        };
        match attempt.await {
            Ok(ready) => {
                shared.health.database_ok();
                return Some(ready);
            }
            Err(e) => {
                warn!(error = %e, retry_in_secs = delay.as_secs(), "database not reachable");
                status(&format!("waiting for the database: {e}"));
                shared.health.database_down(e);
                if sleep_or_stop(delay, stop).await {
                    return None;
                }
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Records files another run left half ingested (see
/// [`crate::ingest::settle_abandoned`]); they post when fed again.
async fn settle_abandoned(pool: &PgPool) {
    match crate::ingest::settle_abandoned(pool).await {
        Ok(0) => {}
        Ok(n) => info!(files = n, "files left part way by an earlier run recorded as partial; they complete when fed again"),
        Err(e) => warn!(error = %e, "cannot look for files left part way"),
    }
}

/// Probes the database every few seconds so `/readyz` follows it.
fn spawn_database_probe(pool: PgPool, shared: Arc<Shared>, stop: signal::Receiver<bool>) {
    tokio::spawn(async move {
        loop {
            if sleep_or_stop(Duration::from_secs(5), &stop).await {
                return;
            }
            match sqlx::query("SELECT 1").execute(&pool).await {
                Ok(_) => shared.health.database_ok(),
                Err(e) => shared.health.database_down(e.to_string()),
            }
        }
    });
}

/// Runs until SIGTERM or SIGINT; SIGHUP reloads the configuration from
/// `path`.
pub async fn run(config: Config, path: &std::path::Path) -> Result<(), DaemonError> {
    let (stop_tx, stop_rx) = signal::channel(false);
    let (reload_tx, requests) = mpsc::unbounded_channel();
    spawn_signal_handler(stop_tx, reload_tx)?;
    serve(config, stop_rx, Some(Reloads { path: path.to_path_buf(), requests })).await
}

/// Runs until `stop_rx` holds `true`, installing no signal handler: for a
/// caller that owns the process's signals and runs the daemon in-process
/// (`remitd demo`). Stopping works as on SIGTERM.
pub async fn run_until(config: Config, stop_rx: signal::Receiver<bool>) -> Result<(), DaemonError> {
    serve(config, stop_rx, None).await
}

async fn serve(config: Config, stop_rx: signal::Receiver<bool>, mut reloads: Option<Reloads>) -> Result<(), DaemonError> {
    let shared = Arc::new(Shared { metrics: Metrics::default(), health: Health::new(config.drop_folders.len()) });

    let listener =
        tokio::net::TcpListener::bind(config.http.listen).await.map_err(|source| DaemonError::Listen { addr: config.http.listen.to_string(), source })?;
    let console = match config.console.enabled {
        true => Some(
            crate::console::Console::serving(config.console.clone(), config.database_url.expose(), config.remittance_folders(), config.sweep.clone())
                .map_err(|e| DaemonError::Console(e.to_string()))?,
        ),
        false => None,
    };
    let mut routes = http::router(shared.clone());
    if let Some(console) = &console {
        routes = routes.merge(crate::console::router(console.clone()));
        info!(listen = %config.http.listen, "serving the console");
    }
    info!(listen = %config.http.listen, "serving /healthz, /readyz and /metrics");
    let server = axum::serve(listener, routes.into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(stopped(stop_rx.clone()));
    let http = tokio::spawn(async move { server.await });

    // A folder that cannot be used at start is a configuration mistake:
    // say which and stop. Later, the same check makes `/readyz` say so.
    for f in &config.drop_folders {
        let _ = std::fs::create_dir_all(&f.inbox);
        if let Some(problem) = Inbox::new(f.clone()).problem() {
            return Err(DaemonError::Folder { folder: f.name.clone(), problem });
        }
    }
    status("connecting to the database");
    let Some(pool) = connect(&config, &shared, &stop_rx).await else {
        let _ = http.await;
        return Ok(());
    };
    if let Some(console) = &console {
        console.attach(pool.clone());
    }
    spawn_database_probe(pool.clone(), shared.clone(), stop_rx.clone());
    reassociation::spawn(pool.clone(), shared.clone(), stop_rx.clone());
    settle_abandoned(&pool).await;
    if let Some(policy) = config.approval {
        match crate::writeoff::apply_configured_policy(&pool, policy).await {
            Ok(true) => info!(approval = %policy.as_setting(), "write-off approval policy set from the configuration"),
            Ok(false) => {}
            Err(e) => warn!(error = %e, "cannot apply the configured write-off approval policy"),
        }
    }
    let sweeper = reload::Sweeper::start(&pool, &config, &shared);

    let refeeder = refeeds::spawn(pool.clone(), stop_rx.clone());

    let (events_tx, mut events) = mpsc::unbounded_channel::<notify::Event>();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let _ = events_tx.send(ev);
        }
    })
    .map_err(|e| DaemonError::Watch { folder: "*".into(), path: "-".into(), detail: e.to_string() })?;
    let mut running = reload::Running { inboxes: Vec::new(), watcher, sweeper, config };
    for f in &running.config.drop_folders {
        running.watcher.watch(&f.inbox, RecursiveMode::NonRecursive).map_err(|e| DaemonError::Watch {
            folder: f.name.clone(),
            path: f.inbox.display().to_string(),
            detail: e.to_string(),
        })?;
        running.inboxes.push(Inbox::new(f.clone()));
    }
    shared.health.watchers(running.inboxes.len());
    shared.health.started();
    notify_systemd(&[NotifyState::Ready, NotifyState::Status(&format!("watching {} drop folders", running.inboxes.len()))]);
    info!(folders = running.inboxes.len(), "ready");

    let progress = Arc::new(AtomicU64::new(0));
    if let Some(every) = sd_notify::watchdog_enabled() {
        spawn_watchdog(every / 2, progress.clone(), stop_rx.clone());
    }
    let mut retry_at: Option<Instant> = None;
    let mut delay = Duration::from_secs(1);
    let stop = Stop::on(stop_rx.clone()).with_progress(progress.clone());
    let mut tick = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            _ = stopped(stop_rx.clone()) => break,
            Some(ev) = events.recv() => note_event(&mut running.inboxes, ev),
            _ = tick.tick() => {}
            Some(path) = reload_requested(&mut reloads) => {
                // Between files: nothing is being ingested now.
                match Config::load(&path) {
                    Ok(new) => running.apply(new, &pool, &shared).await,
                    Err(e) => error!(error = %e, "configuration not reloaded: the running one stays"),
                }
                notify_systemd(&[NotifyState::Status(&format!("watching {} drop folders", running.inboxes.len()))]);
            }
        }
        progress.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if retry_at.is_some_and(|t| now < t) {
            continue;
        }
        // After an outage, the database is back only when it answers; until
        // then each failed look doubles the wait, up to a minute.
        if retry_at.is_some() {
            match sqlx::query("SELECT 1").execute(&pool).await {
                Ok(_) => {
                    retry_at = None;
                    shared.health.database_ok();
                    info!("database back: ingesting again");
                    settle_abandoned(&pool).await;
                    status(&format!("watching {} drop folders", running.inboxes.len()));
                }
                Err(e) => {
                    warn!(error = %e, retry_in_secs = delay.as_secs(), "database still unreachable: files stay in the inbox");
                    shared.health.database_down(e.to_string());
                    retry_at = Some(now + delay);
                    delay = (delay * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        match sweep_inboxes(&mut running.inboxes, &pool, &shared, &stop, now).await {
            Ok(()) => delay = Duration::from_secs(1),
            Err(e) => {
                warn!(error = %e, retry_in_secs = delay.as_secs(), "database error: files stay in the inbox");
                status(&format!("database error, retrying: {e}"));
                shared.health.database_down(e.to_string());
                retry_at = Some(now + delay);
                delay = (delay * 2).min(MAX_BACKOFF);
            }
        }
    }
    let reload::Running { watcher, sweeper, .. } = running;
    drop(watcher);
    if let Some(sweeper) = sweeper {
        // A sweep in flight commits (or rolls back) before the pool closes.
        sweeper.stop().await;
    }
    let _ = refeeder.await;
    let _ = http.await;
    pool.close().await;
    info!("stopped");
    Ok(())
}

/// Pings the systemd watchdog while work advances: the main loop counts each
/// turn, a long ingest counts megabytes read and transaction sets posted. A
/// loop or an ingest that hangs stops the pings, and systemd restarts the
/// service; a large file that takes minutes does not.
fn spawn_watchdog(every: Duration, progress: Arc<AtomicU64>, stop: signal::Receiver<bool>) {
    tokio::spawn(async move {
        let mut seen = progress.load(Ordering::Relaxed);
        loop {
            if sleep_or_stop(every, &stop).await {
                return;
            }
            let now = progress.load(Ordering::Relaxed);
            if now != seen {
                notify_systemd(&[NotifyState::Watchdog]);
                seen = now;
            } else {
                warn!("no progress since the last watchdog ping");
            }
        }
    });
}

/// Records what a file event says: a rename into an inbox means whole.
fn note_event(inboxes: &mut [Inbox], ev: notify::Event) {
    let destination = match ev.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => ev.paths.first().cloned(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => ev.paths.get(1).cloned(),
        _ => None,
    };
    if let Some(path) = destination {
        if let Some(inbox) = inboxes.iter_mut().find(|i| i.holds(&path)) {
            inbox.renamed_in(path);
        }
    }
    // Any other event is just a wake-up: the due scans below look around.
    for inbox in inboxes.iter_mut() {
        if ev.paths.iter().any(|p| inbox.holds(p)) && inbox.last_scan.is_some() {
            inbox.last_scan = inbox.last_scan.map(|t| t.checked_sub(inbox.folder.poll_interval()).unwrap_or(t));
        }
    }
}

/// Scans the inboxes that are due and ingests what is whole. A database
/// error stops the sweep: the file stays where it is.
async fn sweep_inboxes(inboxes: &mut [Inbox], pool: &PgPool, shared: &Shared, stop: &Stop, now: Instant) -> Result<(), sqlx::Error> {
    for inbox in inboxes.iter_mut() {
        if !inbox.scan_due(now) {
            continue;
        }
        let problem = inbox.problem_now(now);
        if shared.health.folder(&inbox.folder.name, problem.clone()) {
            match &problem {
                Some(p) => error!(folder = %inbox.folder.name, problem = %p, "drop folder cannot be used: its files wait in the inbox"),
                None => info!(folder = %inbox.folder.name, "drop folder usable again"),
            }
        }
        if problem.is_some() {
            inbox.last_scan = Some(now);
            continue;
        }
        let ready = match inbox.scan(now) {
            Ok(r) => r,
            Err(e) => {
                warn!(folder = %inbox.folder.name, error = %e, "cannot scan inbox");
                continue;
            }
        };
        for file in ready {
            if stop.requested() {
                return Ok(());
            }
            take::take(&file, &inbox.folder, pool, shared, stop).await?;
        }
    }
    Ok(())
}
