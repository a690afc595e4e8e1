//! Finding a PostgreSQL server for the demo, and the demo's own database on it.
//!
//! Someone who just cloned the repository should not have to set anything
//! up, so the server is searched for in the order `scripts/test` uses:
//! 1. `DATABASE_URL` (or `--database-url`), when the user set it;
//! 2. a server answering on 127.0.0.1:5432 (user postgres, trust auth);
//! 3. a private throwaway cluster started from the machine's PostgreSQL
//!    binaries (`initdb`/`pg_ctl` on `PATH`, else the newest under
//!    `/usr/lib/postgresql/*/bin`), on a free port with its socket in a
//!    temporary folder and `fsync=off`, stopped and removed afterwards.
//!
//! Unlike `scripts/test`, the demo does not start the machine's own cluster:
//! a demo should leave no service running that was not running before.
//!
//! On that server the demo creates a database of its own, with a name no
//! one else uses, and drops it at the end, so it never touches real data.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The one sentence the demo ends with when it finds no PostgreSQL at all.
pub const NOTHING_FOUND: &str =
    "no PostgreSQL server answers and none is installed; install PostgreSQL 13 or newer (Debian: apt-get install postgresql) or set DATABASE_URL.";

/// Where the PostgreSQL server should come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Search in the usual order; `Some` when the user named a URL.
    Search(Option<String>),
    /// Always start a throwaway cluster (`remitd demo --throwaway`).
    Throwaway,
}

/// A server the demo may create databases on.
#[derive(Debug)]
pub struct Server {
    /// URL of the server (its database part is replaced by the demo's).
    pub url: String,
    /// Where it came from, for the narration.
    pub origin: String,
}

const LOCAL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Whether something accepts TCP connections at `addr`.
fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// The server named by the user, or one answering on 127.0.0.1:5432.
/// `None` means a throwaway cluster is needed.
pub fn existing(choice: &Choice) -> Option<Server> {
    match choice {
        Choice::Throwaway => None,
        Choice::Search(Some(url)) => Some(Server { url: url.clone(), origin: "the server DATABASE_URL names".into() }),
        Choice::Search(None) if answers(SocketAddr::from((Ipv4Addr::LOCALHOST, 5432))) => {
            Some(Server { url: LOCAL.into(), origin: "the PostgreSQL server answering on 127.0.0.1:5432".into() })
        }
        Choice::Search(None) => None,
    }
}

/// `program` on `PATH`, else the newest `/usr/lib/postgresql/VERSION/bin/program`.
pub fn find_bin(program: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| is_executable(p)));
    on_path.or_else(|| {
        let mut versions: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let version = e.file_name().to_str()?.split('.').map(|n| n.parse::<u64>().ok()).collect::<Option<Vec<u64>>>()?;
                Some((version, e.path().join("bin").join(program)))
            })
            .filter(|(_, p)| is_executable(p))
            .collect();
        versions.sort();
        versions.pop().map(|(_, p)| p)
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port nothing listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// A private PostgreSQL cluster in a temporary folder. Dropping it stops the
/// server and removes the folder, whatever state the demo ended in.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    pg_ctl: PathBuf,
    initdb: PathBuf,
    /// `runuser -u USER --` when remitd runs as root: PostgreSQL refuses root.
    run_as: Option<String>,
    pub port: u16,
    started: bool,
}

impl Cluster {
    /// Prepares the folder (owned by the unprivileged user when running as
    /// root) and picks a port; nothing runs yet.
    pub fn prepare() -> anyhow::Result<Cluster> {
        let (Some(initdb), Some(pg_ctl)) = (find_bin("initdb"), find_bin("pg_ctl")) else {
            bail!(NOTHING_FOUND);
        };
        let dir = tempfile::Builder::new().prefix("remitd-demo-pg.").tempdir().context("cannot create a temporary folder for the throwaway cluster")?;
        let run_as = if running_as_root() {
            let user = if user_exists("postgres") { "postgres" } else { "nobody" };
            let uid = user_id(user).with_context(|| format!("cannot find the user id of {user:?}"))?;
            std::os::unix::fs::chown(dir.path(), Some(uid), None).with_context(|| format!("cannot give {} to {user}", dir.path().display()))?;
            Some(user.to_string())
        } else {
            None
        };
        let port = free_port().context("cannot find a free port for the throwaway cluster")?;
        Ok(Cluster { dir, pg_ctl, initdb, run_as, port, started: false })
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `initdb` and starts the server; blocks until it accepts connections.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let out = self
            .command(&self.initdb)
            .arg("-D")
            .arg(self.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
            .output()
            .context("cannot run initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let options = format!("-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off", self.port, self.dir.path().display());
        // Marked started before the attempt: a half-started server is stopped too.
        self.started = true;
        let out = self
            .command(&self.pg_ctl)
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output()
            .context("cannot run pg_ctl")?;
        if !out.status.success() {
            let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
            bail!("the throwaway PostgreSQL did not start: {} {}", String::from_utf8_lossy(&out.stderr).trim(), log.trim());
        }
        Ok(())
    }

    pub fn server(&self) -> Server {
        Server {
            url: format!("postgres://postgres@127.0.0.1:{}/postgres", self.port),
            origin: format!("a throwaway PostgreSQL cluster on 127.0.0.1:{} (from {})", self.port, self.pg_ctl.parent().unwrap_or(Path::new("/")).display()),
        }
    }

    /// Stops the server (fast: the demo's database is gone by then) and
    /// removes the folder. Returns whether a server was running.
    pub fn stop(&mut self) -> bool {
        if !std::mem::take(&mut self.started) {
            return false;
        }
        let _ = self.command(&self.pg_ctl).arg("-D").arg(self.data()).args(["-m", "fast", "-w", "stop"]).output();
        true
    }

    pub fn folder(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        // The TempDir field removes the folder after this.
    }
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn user_exists(user: &str) -> bool {
    user_id(user).is_some()
}

fn user_id(user: &str) -> Option<u32> {
    let out = Command::new("id").args(["-u", user]).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok()).flatten()
}

/// Waits until the server at `url` accepts a session, for a server that
/// was just started.
pub async fn wait_until_up(url: &str, within: Duration) -> anyhow::Result<()> {
    let opts = PgConnectOptions::from_str(url)?;
    let deadline = Instant::now() + within;
    loop {
        match opts.connect().await {
            Ok(conn) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Err(e) if Instant::now() >= deadline => return Err(e).context("the throwaway PostgreSQL does not accept sessions"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The demo's own database on a server.
#[derive(Debug, Clone)]
pub struct DemoDatabase {
    pub name: String,
    /// URL of the demo database.
    pub url: String,
    /// The server's maintenance database, for creating and dropping.
    admin: PgConnectOptions,
}

impl DemoDatabase {
    /// A fresh, unused name on `server`; nothing is created yet.
    pub fn new(server: &Server) -> anyhow::Result<DemoDatabase> {
        let name = format!("remitd_demo_{}_{}", std::process::id(), fastrand::u32(..));
        let admin = PgConnectOptions::from_str(&server.url).context("the database URL is not a postgres:// URL")?.database("postgres");
        Ok(DemoDatabase { url: crate::db::with_database(&server.url, &name), name, admin })
    }

    /// Drops `roles` (those the demo created), once its database is gone.
    pub async fn drop_roles(&self, roles: &[String]) -> anyhow::Result<()> {
        let mut conn = self.admin.connect().await.context("cannot reach PostgreSQL to drop the demo's logins")?;
        // People and the daemon first: the owner and staff groups go last.
        for role in roles.iter().rev() {
            sqlx::query(&format!("DROP ROLE IF EXISTS \"{}\"", role.replace('"', "\"\"")))
                .execute(&mut conn)
                .await
                .with_context(|| format!("cannot drop role {role}"))?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Drops the database, ending any session still on it. Returns whether
    /// there was one to drop: the clean-up holds the name before `migrate`
    /// creates it, so a failure early on leaves nothing behind.
    pub async fn drop_database(&self) -> anyhow::Result<bool> {
        let mut conn = self.admin.connect().await.context("cannot reach PostgreSQL to drop the demo database")?;
        let existed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&self.name)
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("cannot look up {}", self.name))?;
        if existed {
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name))
                .execute(&mut conn)
                .await
                .with_context(|| format!("cannot drop {}", self.name))?;
        }
        let _ = conn.close().await;
        Ok(existed)
    }
}
