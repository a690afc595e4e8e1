//! `remitd demo`: the whole product on one screen, for someone who just
//! cloned the repository.
//!
//! It finds (or starts) a PostgreSQL server, creates a database of its own,
//! imports the sample claims, runs the real daemon in-process on a temporary
//! drop folder and tells the [`story`]: it drops sample remittances in and
//! reads back what was posted. Whatever happens (success, a failed step,
//! Ctrl-C or SIGTERM) it then stops the daemon, drops its database, removes
//! its folders and stops the throwaway cluster it may have started.
//!
//! - [`database`]: finding a server; the demo's own database.
//! - [`daemon`]: the in-process daemon and dropping files into it.
//! - [`people`]: the daemon's and each person's own login.
//! - [`story`]: the steps, in order.
//! - [`show`]: printing amounts and claims.
//! - [`samples`]: the sample files, built into the binary.

/// Prints a line of the narration. Write errors are ignored: a reader that
/// went away (`remitd demo | head`) must not cut the clean-up short.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Prints part of a line (progress follows) and shows it at once.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = write!(out, $($arg)*);
        let _ = out.flush();
    }};
}

pub mod daemon;
pub mod database;
pub mod people;
pub mod samples;
pub mod show;
pub mod story;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use sqlx::PgPool;
use tokio::task::{AbortHandle, JoinHandle};

use daemon::Daemon;
use database::{Choice, Cluster, DemoDatabase, Server};
use story::{Demo, STEPS};

/// How long the daemon may take to reach the database and watch the inbox.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the demo set up so far, so it can be taken down again.
#[derive(Default)]
struct Held {
    /// A throwaway cluster whose `initdb`/`pg_ctl start` is still running.
    starting: Option<JoinHandle<(Cluster, anyhow::Result<()>)>>,
    cluster: Option<Cluster>,
    database: Option<DemoDatabase>,
    pool: Option<PgPool>,
    /// Roles created for the demo's logins, dropped after the database.
    roles: Vec<String>,
    folder: Option<tempfile::TempDir>,
    daemon: Option<Arc<Daemon>>,
    logins: Option<Arc<people::Logins>>,
    story: Option<AbortHandle>,
}

/// Runs the demo. `Ok` means every step told its part and everything it set
/// up was taken down again.
/// With `stay`, the demo keeps its data and the console up after the last
/// step until Ctrl-C (or SIGTERM), which then ends it as a success.
pub async fn run(choice: Choice, stay: bool) -> anyhow::Result<()> {
    // Installed before anything starts, so Ctrl-C always leads to the clean-up.
    let interrupted = interrupted()?;
    let mut held = Held::default();
    let staying = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let told = tokio::select! {
        told = tell(&choice, stay, staying.clone(), &mut held) => told,
        signal = interrupted => match staying.load(std::sync::atomic::Ordering::SeqCst) {
            true => Ok(()),
            false => Err(anyhow!("interrupted by {signal}")),
        },
    };
    let cleaned = held.clean_up().await;
    told.and(cleaned)
}

/// Resolves on SIGINT or SIGTERM, with the signal's name.
fn interrupted() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("cannot install the Ctrl-C handler")?;
    let mut term = signal(SignalKind::terminate()).context("cannot install the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        }
    })
}

/// Awaits `work`, printing a dot every half second so a slow step shows it is alive.
async fn with_dots<F: std::future::Future>(work: F) -> F::Output {
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = tick.tick() => {
                say_part!(".");
            }
        }
    }
}

/// Starts a throwaway cluster, held as soon as it exists so the clean-up
/// stops it whatever happens next.
async fn start_throwaway(choice: &Choice, held: &mut Held) -> anyhow::Result<Server> {
    let cluster = Cluster::prepare()?;
    let why = match choice {
        Choice::Throwaway => "--throwaway",
        Choice::Search(_) => "no DATABASE_URL and nothing answers on 127.0.0.1:5432",
    };
    say_part!("  {why}: starting a throwaway cluster in {} ...", cluster.folder().display());
    let started = Instant::now();
    let start = held.starting.insert(tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        let result = cluster.start();
        (cluster, result)
    }));
    let (cluster, result) = with_dots(start).await.context("starting the throwaway cluster")?;
    held.starting = None;
    let server = cluster.server();
    held.cluster = Some(cluster);
    if let Err(e) = result {
        say!();
        return Err(e);
    }
    with_dots(database::wait_until_up(&server.url, Duration::from_secs(30))).await?;
    say!(" up in {:.1} s", started.elapsed().as_secs_f64());
    Ok(server)
}

/// Gives the biller a password of the moment and says where the console
/// is: it serves the demo's data while the demo runs.
async fn console_login(pool: &PgPool, daemon: &Daemon, people_log_in: bool, stay: bool) -> anyhow::Result<()> {
    let url = format!("http://localhost:{}/", daemon.http.port());
    if !people_log_in {
        say!("  console: {url} (no one can log in: the people act through the owner here)");
        return Ok(());
    }
    let password = crate::console::password::fresh();
    crate::actors::set_password(pool, story::BILLER, story::BILLER, &password).await?;
    let keep = if stay { "" } else { "; `remitd demo --stay` keeps it up" };
    say!("  console: {url} (log in as {} with password {password} while the demo runs{keep})", story::BILLER);
    Ok(())
}

async fn tell(choice: &Choice, stay: bool, staying: Arc<std::sync::atomic::AtomicBool>, held: &mut Held) -> anyhow::Result<()> {
    say!("remitd demo: claims, remittances and the daemon on a database of its own; everything is removed at the end.");
    say!();
    say!("Database");
    let server = match database::existing(choice) {
        Some(server) => server,
        None => start_throwaway(choice, held).await?,
    };
    say!("  using {}", server.origin);
    let db = DemoDatabase::new(&server)?;
    // Held before it exists: migrate creates it, and the clean-up drops it
    // (if it exists) however far migrate got.
    held.database = Some(db.clone());
    let pool = crate::db::migrate(&db.url).await.with_context(|| format!("cannot create the demo database on {}", server.origin))?;
    held.pool = Some(pool.clone());
    say!("  created database {} and applied the schema ({} migrations)", db.name, crate::db::MIGRATOR.iter().count());
    let held_back = story::prepare(&pool).await?;
    let logins = people::sign_in(&db, &pool, &story::PEOPLE, &mut held.roles).await?.map(Arc::new);
    held.logins = logins.clone();

    say!();
    say!("Daemon");
    let folder = held.folder.insert(tempfile::Builder::new().prefix("remitd-demo.").tempdir().context("cannot create a temporary drop folder")?);
    let daemon_url = logins.as_ref().map_or(db.url.clone(), |l| l.daemon_url.clone());
    let daemon = Arc::new(Daemon::start(&daemon_url, folder.path())?);
    held.daemon = Some(daemon.clone());
    say!("  running in this process, as `remitd run` would, on drop folder {}", folder.path().display());
    say!("  (inbox/, archive/, error/; files are taken when renamed into inbox/)");
    let ready = daemon.wait_until_ready(READY_TIMEOUT).await?;
    say!("  GET http://{}/readyz: {ready}", daemon.http);
    console_login(&pool, &daemon, logins.is_some(), stay).await?;

    let categories = crate::posting::load_categories(&pool).await?;
    let demo = Demo { pool, daemon, categories, held_back, logins };
    // A task of its own, so that a step that panics still leads to the clean-up.
    let story = tokio::spawn(async move {
        for (i, (title, step)) in STEPS.iter().enumerate() {
            say!();
            say!("Step {} of {}: {title}", i + 1, STEPS.len());
            step(&demo).await.with_context(|| format!("step {} ({title})", i + 1))?;
        }
        if stay {
            say!();
            say!("The demo stays up for the console at http://localhost:{}/ until Ctrl-C; then it cleans up.", demo.daemon.http.port());
            staying.store(true, std::sync::atomic::Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        Ok::<(), anyhow::Error>(())
    });
    held.story = Some(story.abort_handle());
    match story.await {
        Ok(told) => told,
        Err(e) if e.is_panic() => bail!("a step failed unexpectedly (see the message above)"),
        Err(e) => Err(e.into()),
    }
}

impl Held {
    fn is_empty(&self) -> bool {
        self.starting.is_none() && self.cluster.is_none() && self.database.is_none() && self.folder.is_none() && self.daemon.is_none()
    }

    /// Takes down what was set up, newest first; reports the first problem
    /// but carries on, so one failure does not leave the rest behind.
    async fn clean_up(&mut self) -> anyhow::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        say!();
        say!("Cleaning up");
        let mut problems: Vec<anyhow::Error> = Vec::new();
        if let Some(story) = self.story.take() {
            story.abort();
        }
        if let Some(daemon) = self.daemon.take() {
            match daemon.stop().await {
                Ok(()) => say!("  daemon stopped"),
                Err(e) => problems.push(e.context("stopping the daemon")),
            }
        }
        if let Some(logins) = self.logins.take() {
            logins.close().await;
        }
        if let Some(pool) = self.pool.take() {
            pool.close().await;
        }
        if let Some(db) = self.database.take() {
            match db.drop_database().await {
                Ok(true) => say!("  database {} dropped", db.name),
                Ok(false) => say!("  database {} was never created", db.name),
                Err(e) => problems.push(e),
            }
            let roles = std::mem::take(&mut self.roles);
            match db.drop_roles(&roles).await {
                Ok(()) if roles.is_empty() => {}
                Ok(()) => say!("  logins and roles {} dropped", roles.join(", ")),
                Err(e) => problems.push(e),
            }
        }
        if let Some(folder) = self.folder.take() {
            let path = folder.path().display().to_string();
            match folder.close() {
                Ok(()) => say!("  drop folder {path} removed"),
                Err(e) => problems.push(anyhow!("cannot remove {path}: {e}")),
            }
        }
        if let Some(start) = self.starting.take() {
            if let Ok((cluster, _)) = start.await {
                self.cluster = Some(cluster);
            }
        }
        if let Some(cluster) = self.cluster.take() {
            say_part!("  stopping the throwaway cluster ...");
            let path = cluster.folder().display().to_string();
            let stopped = tokio::task::spawn_blocking(move || {
                let mut cluster = cluster;
                cluster.stop();
                // Dropping it removes its folder.
            })
            .await;
            match stopped {
                Ok(()) => say!(" stopped, {path} removed"),
                Err(e) => {
                    say!();
                    problems.push(anyhow!("stopping the throwaway cluster: {e}"));
                }
            }
        }
        for e in &problems {
            say!("  could not finish: {e:#}");
        }
        match problems.into_iter().next() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}
