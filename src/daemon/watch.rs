//! Deciding when a file in an inbox is whole.
//!
//! Events from the kernel (inotify through `notify`) only wake the daemon;
//! a periodic rescan is the floor, since network mounts send no events, and
//! the first scan picks up the backlog. A file is taken when:
//! - it is a regular file, not hidden (`.name`) and without a temporary
//!   suffix (`.tmp`, `.part`, `.partial`, `.filepart`, `.crdownload`, `~`);
//! - and either it was renamed into the inbox (senders that write elsewhere
//!   and rename are done by definition), or its size and modification time
//!   stayed the same across two looks at least `settle` apart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use super::config::DropFolder;

/// Suffixes of files still being written by common transfer tools.
const TEMPORARY_SUFFIXES: &[&str] = &[".tmp", ".part", ".partial", ".filepart", ".crdownload", ".swp", "~"];

/// Whether a file name is one the daemon never takes.
pub fn is_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || TEMPORARY_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

#[derive(Debug, Clone, Copy)]
struct Look {
    size: u64,
    modified: SystemTime,
    /// When this size and time were first seen.
    since: Instant,
}

/// The files of one inbox on their way to being taken.
#[derive(Debug)]
pub struct Inbox {
    pub folder: DropFolder,
    looks: HashMap<PathBuf, Look>,
    renamed: HashMap<PathBuf, Instant>,
    pub last_scan: Option<Instant>,
    /// When the folders were last found usable (looked at again each poll
    /// interval, not at every scan).
    usable_at: Option<Instant>,
}

impl Inbox {
    pub fn new(folder: DropFolder) -> Self {
        Inbox { folder, looks: HashMap::new(), renamed: HashMap::new(), last_scan: None, usable_at: None }
    }

    /// A file was renamed into the inbox: it is whole.
    pub fn renamed_in(&mut self, path: PathBuf) {
        self.renamed.insert(path, Instant::now());
    }

    /// Whether a scan is due: the poll interval passed, or files wait to settle
    /// or were renamed in.
    pub fn scan_due(&self, now: Instant) -> bool {
        match self.last_scan {
            None => true,
            Some(last) => {
                let since = now.saturating_duration_since(last);
                since >= self.folder.poll_interval()
                    || !self.renamed.is_empty()
                    || (!self.looks.is_empty() && since >= self.folder.settle().min(self.folder.poll_interval()) / 2)
            }
        }
    }

    /// Looks at the inbox and returns the files that are whole, oldest first.
    pub fn scan(&mut self, now: Instant) -> std::io::Result<Vec<PathBuf>> {
        self.last_scan = Some(now);
        let mut present = Vec::new();
        for entry in std::fs::read_dir(&self.folder.inbox)? {
            let Ok(entry) = entry else { continue };
            // Names are bytes: one that is not UTF-8 is taken all the same.
            let name = entry.file_name();
            if is_ignored(&name.to_string_lossy()) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            present.push((entry.path(), meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
        }
        let settle = self.folder.settle();
        let mut ready = Vec::new();
        let mut looks = HashMap::with_capacity(present.len());
        for (path, size, modified) in present {
            let renamed = self.renamed.contains_key(&path);
            let look = match self.looks.get(&path) {
                Some(prev) if prev.size == size && prev.modified == modified => *prev,
                _ => Look { size, modified, since: now },
            };
            let stable = self.looks.contains_key(&path) && now.saturating_duration_since(look.since) >= settle && look.since < now;
            if (renamed && size > 0) || stable {
                ready.push((modified, path));
            } else {
                looks.insert(path, look);
            }
        }
        self.looks = looks;
        self.renamed.clear();
        ready.sort();
        Ok(ready.into_iter().map(|(_, p)| p).collect())
    }

    /// [`Inbox::problem`], looked at again once a poll interval has passed
    /// since the folder was last found usable (at once while it is not).
    pub fn problem_now(&mut self, now: Instant) -> Option<String> {
        if self.usable_at.is_some_and(|t| now.saturating_duration_since(t) < self.folder.poll_interval()) {
            return None;
        }
        let problem = self.problem();
        self.usable_at = if problem.is_none() { Some(now) } else { None };
        problem
    }

    /// Why this drop folder cannot be used now, if it cannot: its inbox
    /// cannot be read, or its archive or error folder cannot be written
    /// (each created when missing, then tried with a file of its own).
    /// Files wait in the inbox meanwhile: a posted file that could not be
    /// moved would be taken again and again.
    pub fn problem(&self) -> Option<String> {
        if let Err(e) = std::fs::read_dir(&self.folder.inbox) {
            return Some(format!("inbox {}: {e}", self.folder.inbox.display()));
        }
        for (key, dir) in [("archive", &self.folder.archive), ("error", &self.folder.error)] {
            let probe = dir.join(format!(".remitd-write-check-{}", std::process::id()));
            let tried = std::fs::create_dir_all(dir).and_then(|()| std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe));
            match tried {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                }
                Err(e) => return Some(format!("{key} {}: {e}", dir.display())),
            }
        }
        None
    }

    /// Whether `path` belongs to this inbox (directly inside it).
    pub fn holds(&self, path: &Path) -> bool {
        path.parent() == Some(self.folder.inbox.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn inbox(dir: &Path, settle: f64) -> Inbox {
        Inbox::new(DropFolder {
            name: "t".into(),
            kind: crate::daemon::config::FolderKind::Remittances,
            inbox: dir.to_path_buf(),
            archive: dir.join("../a"),
            error: dir.join("../e"),
            poll_interval_secs: 1,
            settle_secs: settle,
            max_file_bytes: 1 << 20,
        })
    }

    #[test]
    fn temporary_and_hidden_files_are_ignored() {
        for name in [".hidden.835", "x.835.tmp", "x.part", "x.PARTIAL", "x.filepart", "x.835~", "x.crdownload"] {
            assert!(is_ignored(name), "{name}");
        }
        assert!(!is_ignored("remit.835"));
        assert!(!is_ignored("REMIT"));
    }

    #[test]
    fn a_file_is_taken_after_two_equal_looks_a_settle_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut ib = inbox(dir.path(), 0.5);
        std::fs::write(dir.path().join("a.835"), b"ISA").unwrap();
        let t0 = Instant::now();
        assert!(ib.scan(t0).unwrap().is_empty(), "first look");
        assert!(ib.scan(t0 + Duration::from_millis(100)).unwrap().is_empty(), "not settled yet");
        let ready = ib.scan(t0 + Duration::from_millis(600)).unwrap();
        assert_eq!(ready, vec![dir.path().join("a.835")]);
    }

    #[test]
    fn a_growing_file_waits() {
        let dir = tempfile::tempdir().unwrap();
        let mut ib = inbox(dir.path(), 0.2);
        let path = dir.path().join("a.835");
        std::fs::write(&path, b"ISA").unwrap();
        let t0 = Instant::now();
        ib.scan(t0).unwrap();
        std::fs::write(&path, b"ISA*00").unwrap();
        assert!(ib.scan(t0 + Duration::from_millis(300)).unwrap().is_empty(), "size changed: the clock restarts");
        assert_eq!(ib.scan(t0 + Duration::from_millis(600)).unwrap().len(), 1);
    }

    #[test]
    fn a_renamed_file_is_taken_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut ib = inbox(dir.path(), 60.0);
        let path = dir.path().join("a.835");
        std::fs::write(&path, b"ISA").unwrap();
        ib.renamed_in(path.clone());
        assert_eq!(ib.scan(Instant::now()).unwrap(), vec![path]);
    }
}
