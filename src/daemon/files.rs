//! Moving a file out of its inbox once its fate is committed.
//!
//! Posted, duplicate and test files go to `archive/YYYY/MM/DD/`; refused
//! files go to `error/` with `NAME.reason.txt` beside them. Nothing is ever
//! deleted or overwritten: a name already taken gets a numeric suffix. A
//! rename is atomic on one filesystem; across filesystems the file is copied,
//! flushed, and only then removed from the inbox.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// A free path for `name` in `dir`: `name`, else `name.1`, `name.2`, ...
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    (1u32..).map(|n| dir.join(format!("{name}.{n}"))).find(|p| !p.exists()).unwrap_or(first)
}

fn sync_dir(dir: &Path) {
    // Makes the rename itself durable; failure only weakens durability.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Moves `file` into `dir` and returns where it went. `Ok(None)` when the
/// file is gone already (another instance moved it).
pub fn move_into(file: &Path, dir: &Path) -> io::Result<Option<PathBuf>> {
    fs::create_dir_all(dir)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("unnamed");
    let target = free_path(dir, name);
    match fs::rename(file, &target) {
        Ok(()) => {
            sync_dir(dir);
            Ok(Some(target))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            fs::copy(file, &target)?;
            fs::File::open(&target)?.sync_all()?;
            sync_dir(dir);
            match fs::remove_file(file) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(Some(target)),
            }
        }
        Err(e) => Err(e),
    }
}

/// The dated archive folder for a moment.
pub fn archive_dir(archive: &Path, at: DateTime<Utc>) -> PathBuf {
    archive.join(at.format("%Y").to_string()).join(at.format("%m").to_string()).join(at.format("%d").to_string())
}

/// Moves a refused file to `error/` and writes the reason beside it.
pub fn refuse(file: &Path, error_dir: &Path, reason: &str, at: DateTime<Utc>) -> io::Result<Option<PathBuf>> {
    let Some(moved) = move_into(file, error_dir)? else { return Ok(None) };
    let reason_path = PathBuf::from(format!("{}.reason.txt", moved.display()));
    let mut f = fs::File::create(&reason_path)?;
    writeln!(f, "refused: {reason}")?;
    writeln!(f, "file: {}", moved.file_name().and_then(|n| n.to_str()).unwrap_or_default())?;
    writeln!(f, "at: {}", at.to_rfc3339())?;
    writeln!(f, "nothing from this file was posted; fix or re-request it, then drop it in the inbox again")?;
    f.sync_all()?;
    Ok(Some(moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("inbox");
        let archive = dir.path().join("archive/2024/01/02");
        fs::create_dir_all(&inbox).unwrap();
        for content in ["one", "two"] {
            fs::write(inbox.join("r.835"), content).unwrap();
            move_into(&inbox.join("r.835"), &archive).unwrap().unwrap();
        }
        assert_eq!(fs::read_to_string(archive.join("r.835")).unwrap(), "one");
        assert_eq!(fs::read_to_string(archive.join("r.835.1")).unwrap(), "two");
        assert_eq!(move_into(&inbox.join("r.835"), &archive).unwrap(), None, "a vanished file is not an error");
    }

    #[test]
    fn refused_files_keep_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.835");
        fs::write(&file, "ST*835").unwrap();
        let moved = refuse(&file, &dir.path().join("error"), "segment 1: no interchange envelope", Utc::now()).unwrap().unwrap();
        let reason = fs::read_to_string(format!("{}.reason.txt", moved.display())).unwrap();
        assert!(reason.starts_with("refused: segment 1: no interchange envelope"), "{reason}");
        assert!(moved.exists() && !file.exists());
    }

    #[test]
    fn archive_is_dated() {
        let at = DateTime::parse_from_rfc3339("2024-03-07T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(archive_dir(Path::new("/a"), at), PathBuf::from("/a/2024/03/07"));
    }
}
