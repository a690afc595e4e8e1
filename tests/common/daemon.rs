//! The real daemon on temporary folders: spawning it with a config of its
//! own, dropping files the way senders do, waiting for their fate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A minimal HTTP/1.0 GET: status code and body.
/// One HTTP/1.1 request with a cookie and a form body; status and body bytes.
pub fn request(addr: SocketAddr, method: &str, path: &str, cookie: &str, body: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = request_with_head(addr, method, path, cookie, body);
    (status, body)
}

/// As [`request`], with the response's header lines too.
pub fn request_with_head(addr: SocketAddr, method: &str, path: &str, cookie: &str, body: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&http_request(method, path, &[("Cookie", cookie)], body)).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    response(out)
}

/// The bytes of an HTTP/1.1 request with these headers and a form body.
pub fn http_request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

/// Status, header lines and body of a whole HTTP response.
pub fn response(out: Vec<u8>) -> (u16, String, Vec<u8>) {
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a header");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, out[split + 4..].to_vec())
}

pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let status = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

pub async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, timeout: Duration, mut check: F) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

pub struct Folder {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Folder {
    pub fn new() -> Folder {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for sub in ["inbox", "archive", "error"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        Folder { _dir: dir, root }
    }

    pub fn inbox(&self) -> PathBuf {
        self.root.join("inbox")
    }

    /// Files under archive/ (any depth) and error/.
    pub fn archived(&self) -> Vec<PathBuf> {
        walk(&self.root.join("archive"))
    }

    pub fn errors(&self) -> Vec<PathBuf> {
        walk(&self.root.join("error"))
    }

    pub fn in_inbox(&self) -> Vec<PathBuf> {
        walk(&self.inbox())
    }

    /// A `[[drop_folders]]` table for this folder named `name`, with
    /// `extra` keys (for a second folder beside the one a daemon is spawned
    /// with, given in `folder_toml`).
    pub fn table(&self, name: &str, extra: &str) -> String {
        format!(
            "[[drop_folders]]\nname = \"{name}\"\ninbox = \"{}\"\narchive = \"{}\"\nerror = \"{}\"\npoll_interval_secs = 1\n{extra}",
            self.inbox().display(),
            self.root.join("archive").display(),
            self.root.join("error").display()
        )
    }

    /// Drops a file the way careful senders do: write aside, rename in.
    pub fn drop_renamed(&self, src: &Path, name: &str) {
        let tmp = self.root.join(format!(".{name}.tmp"));
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, self.inbox().join(name)).unwrap();
    }
}

pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub struct Daemon {
    pub child: Child,
    pub http: SocketAddr,
    config_dir: tempfile::TempDir,
}

impl Daemon {
    pub fn spawn(database_url: &str, folder: &Folder, settle: f64) -> Daemon {
        Daemon::spawn_with(database_url, folder, settle, &[])
    }

    pub fn spawn_with(database_url: &str, folder: &Folder, settle: f64, env: &[(&str, &str)]) -> Daemon {
        Daemon::spawn_configured(database_url, folder, &format!("settle_secs = {settle}\n"), env)
    }

    /// With `folder_toml` inside the drop folder's table.
    pub fn spawn_configured(database_url: &str, folder: &Folder, folder_toml: &str, env: &[(&str, &str)]) -> Daemon {
        let config_dir = tempfile::tempdir().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = format!(
            "database_url = \"{database_url}\"\n[[drop_folders]]\nname = \"acme\"\ninbox = \"{}\"\narchive = \"{}\"\nerror = \"{}\"\npoll_interval_secs = 1\n{folder_toml}[http]\nlisten = \"{http}\"\n",
            folder.inbox().display(),
            folder.root.join("archive").display(),
            folder.root.join("error").display(),
        );
        let path = config_dir.path().join("remitd.toml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(config_dir.path().join("log.jsonl")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_remitd"))
            .args(["run", "--config"])
            .arg(&path)
            .env_remove("DATABASE_URL")
            .env_remove("JOURNAL_STREAM")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .envs(env.iter().copied())
            .stdout(log)
            .stderr(std::fs::File::create(config_dir.path().join("stderr.txt")).unwrap())
            .spawn()
            .unwrap();
        Daemon { child, http, config_dir }
    }

    pub async fn ready(&self) {
        let http = self.http;
        wait_until("the daemon to be ready", Duration::from_secs(30), async || http_get(http, "/readyz").is_some_and(|(s, _)| s == 200)).await;
    }

    pub fn signal(&self, sig: &str) {
        assert!(Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success());
    }

    /// Its configuration file (a test may rewrite it, then send SIGHUP).
    pub fn config_path(&self) -> PathBuf {
        self.config_dir.path().join("remitd.toml")
    }

    /// What it logged (JSON lines on standard output).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config_dir.path().join("log.jsonl")).unwrap_or_default()
    }

    /// What it wrote to standard error (nothing, normally).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.config_dir.path().join("stderr.txt")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
