//! The real daemon, run in-process on a temporary drop folder, and the
//! demo's side of it: dropping files in as a clearinghouse would and waiting
//! to see where the daemon put them.
//!
//! The demo does not call the ingest code itself for remittances: it drops
//! them into the inbox so what the reader sees is what `remitd run` does in
//! production (watching, taking whole files, archiving after commit, moving
//! refused files to `error/`).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::daemon::config::{Config, DropFolder, FolderKind, Http, Secret};
use crate::daemon::DaemonError;

/// The name the demo's drop folder has in logs and metrics.
pub const FOLDER_NAME: &str = "demo-clearinghouse";

/// How long a dropped file may take before the demo gives up on it.
const FILE_TIMEOUT: Duration = Duration::from_secs(60);

/// The name the demo's bank drop folder has in logs and metrics.
pub const BANK_FOLDER_NAME: &str = "demo-bank";

/// A daemon running in this process.
pub struct Daemon {
    pub folder: DropFolder,
    /// Where the bank's daily files arrive.
    pub bank: DropFolder,
    pub http: SocketAddr,
    stop: watch::Sender<bool>,
    /// Taken when the daemon is stopped (or found stopped).
    task: Mutex<Option<JoinHandle<Result<(), DaemonError>>>>,
}

/// Where the daemon put a dropped file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Moved to `archive/YYYY/MM/DD/` (posted, duplicate or test data).
    Archived(PathBuf),
    /// Moved to `error/`, with the reason the daemon wrote beside it.
    Refused { path: PathBuf, reason: String },
}

impl Daemon {
    /// Starts the daemon on `inbox`, `archive` and `error` under `root`,
    /// with its HTTP endpoints on a free loopback port.
    pub fn start(database_url: &str, root: &Path) -> anyhow::Result<Daemon> {
        let folder_at = |name: &str, kind: FolderKind, dir: &Path| DropFolder {
            name: name.into(),
            kind,
            inbox: dir.join("inbox"),
            archive: dir.join("archive"),
            error: dir.join("error"),
            poll_interval_secs: 1,
            settle_secs: 0.5,
            max_file_bytes: 1 << 30,
        };
        let folder = folder_at(FOLDER_NAME, FolderKind::Remittances, root);
        let bank = folder_at(BANK_FOLDER_NAME, FolderKind::Bank, &root.join("bank"));
        for dir in [&folder.inbox, &folder.archive, &folder.error, &bank.inbox, &bank.archive, &bank.error] {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let port = super::database::free_port().context("cannot find a free port for the daemon's HTTP endpoints")?;
        let http = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let config = Config {
            database_url: Secret::new(database_url.to_string()),
            drop_folders: vec![folder.clone(), bank.clone()],
            http: Http { listen: http },
            sweep: Default::default(),
            sweep_schedule: None,
            approval: None,
            // The console, for whoever wants to look while the demo runs
            // (the narration says where and how to log in).
            console: crate::console::ConsoleConfig { enabled: true, ..Default::default() },
        };
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(crate::daemon::run_until(config, stop_rx));
        Ok(Daemon { folder, bank, http, stop, task: Mutex::new(Some(task)) })
    }

    /// Waits until `/readyz` answers 200: the daemon reached the database
    /// and watches the inbox.
    pub async fn wait_until_ready(&self, within: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(task) = self.take_task(|t| t.is_finished()) {
                match task.await {
                    Ok(Err(e)) => bail!("the daemon stopped: {e}"),
                    Ok(Ok(())) => bail!("the daemon stopped before it was ready"),
                    Err(e) => bail!("the daemon failed: {e}"),
                }
            }
            let last = match self.get("/readyz").await {
                Ok((200, body)) => return Ok(body.trim().to_string()),
                Ok((_, body)) => body.trim().to_string(),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                bail!("the daemon is not ready after {} s: {last}", within.as_secs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn take_task(&self, pick: impl FnOnce(&mut JoinHandle<Result<(), DaemonError>>) -> bool) -> Option<JoinHandle<Result<(), DaemonError>>> {
        self.task.lock().ok()?.take_if(pick)
    }

    /// `GET path` on the daemon's HTTP listener: status and body. Asked as
    /// HTTP/1.0, so the body comes whole (never chunked) and ends when the
    /// connection closes.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(self.http).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.http).as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("the daemon sent no HTTP status")?;
        Ok((status, body.to_string()))
    }

    /// One Prometheus counter of the daemon's `/metrics` (summed over labels).
    pub async fn counter(&self, name: &str) -> anyhow::Result<u64> {
        let (_, body) = self.get("/metrics").await?;
        let total = body
            .lines()
            .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{')))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
        // Counters are whole numbers of files or claims.
        Ok(total.round() as u64)
    }

    /// Drops `bytes` into the inbox as `name` the way senders should: write
    /// a hidden file, then rename it in, so the daemon takes it at once.
    pub fn drop_file(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        drop_into(&self.folder, name, bytes)
    }

    /// Drops a file and waits, printing progress, until the daemon archived
    /// or refused it.
    pub async fn deliver(&self, name: &str, bytes: &[u8]) -> anyhow::Result<Fate> {
        self.deliver_to(&self.folder, name, bytes).await
    }

    /// [`Daemon::deliver`] into the bank drop folder.
    pub async fn deliver_bank_file(&self, name: &str, bytes: &[u8]) -> anyhow::Result<Fate> {
        self.deliver_to(&self.bank, name, bytes).await
    }

    async fn deliver_to(&self, folder: &DropFolder, name: &str, bytes: &[u8]) -> anyhow::Result<Fate> {
        drop_into(folder, name, bytes)?;
        say_part!("  dropped {name} into the inbox; waiting for the daemon ");
        let started = Instant::now();
        let mut dots = Instant::now();
        loop {
            if let Some(fate) = fate(folder, name)? {
                let secs = started.elapsed().as_secs_f64();
                match &fate {
                    Fate::Archived(p) => say!("... archived after {secs:.1} s ({})", self.relative(p)),
                    Fate::Refused { path, .. } => say!("... refused after {secs:.1} s ({})", self.relative(path)),
                }
                return Ok(fate);
            }
            if started.elapsed() > FILE_TIMEOUT {
                say!();
                bail!("the daemon did not take {name} within {} s", FILE_TIMEOUT.as_secs());
            }
            if dots.elapsed() >= Duration::from_millis(500) {
                say_part!(".");
                dots = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `path` relative to the drop folder, for the narration.
    pub fn relative(&self, path: &Path) -> String {
        let root = self.folder.inbox.parent().unwrap_or(Path::new("/"));
        path.strip_prefix(root).unwrap_or(path).display().to_string()
    }

    /// Asks the daemon to stop (as SIGTERM does) and waits for it.
    pub async fn stop(&self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let Some(task) = self.take_task(|_| true) else { return Ok(()) };
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e.into()),
            Ok(Err(e)) => bail!("the daemon failed: {e}"),
            Err(_) => bail!("the daemon did not stop within 30 s"),
        }
    }
}

/// The file called `name` anywhere under `dir`.
fn find_file(dir: &Path, name: &str) -> std::io::Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if let Some(found) = find_file(&path, name)? {
                return Ok(Some(found));
            }
        } else if entry.file_name() == name {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Drops `bytes` into `folder`'s inbox as `name`: a hidden file, renamed in.
fn drop_into(folder: &DropFolder, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let hidden = folder.inbox.join(format!(".{name}"));
    let mut f = std::fs::File::create(&hidden).with_context(|| format!("cannot write {}", hidden.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&hidden, folder.inbox.join(name)).with_context(|| format!("cannot move {name} into the inbox"))?;
    Ok(())
}

/// Where `name` dropped into `folder` is now, if it left the inbox.
fn fate(folder: &DropFolder, name: &str) -> anyhow::Result<Option<Fate>> {
    let refused = folder.error.join(name);
    if refused.exists() {
        let reason_file = folder.error.join(format!("{name}.reason.txt"));
        // The reason is written right after the move; wait for it.
        let Ok(reason) = std::fs::read_to_string(&reason_file) else { return Ok(None) };
        return Ok(Some(Fate::Refused { path: refused, reason: reason.trim().to_string() }));
    }
    if folder.inbox.join(name).exists() {
        return Ok(None);
    }
    Ok(find_file(&folder.archive, name)?.map(Fate::Archived))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_files_are_found_in_the_archive_tree() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2024/01/05");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("a.835"), b"x").unwrap();
        assert_eq!(find_file(dir.path(), "a.835").unwrap(), Some(day.join("a.835")));
        assert_eq!(find_file(dir.path(), "b.835").unwrap(), None);
    }
}
