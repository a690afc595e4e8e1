//! Moving a file out of its inbox once its fate is committed.
//!
//! Posted, duplicate and test files go to `archive/YYYY/MM/DD/`; refused
//! files go to `error/` with `NAME.reason.txt` beside them. Nothing is ever
//! deleted or overwritten: a name already taken gets a numeric suffix, and
//! "taken" is the kernel's answer, not a look beforehand: moves use
//! `renameat2(RENAME_NOREPLACE)` (or, where a filesystem lacks it, a hard
//! link then an unlink) and reason files are created with `O_EXCL`, so two
//! daemons, or a file arriving meanwhile, can never be overwritten. Across
//! filesystems the file is copied into a new file, flushed, and only then
//! removed from the inbox. Names are bytes: a name that is not UTF-8 moves
//! as it is, and only logs show it lossily.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rustix::fs::{renameat_with, RenameFlags, CWD};

/// The longest file name most filesystems allow, in bytes.
const NAME_MAX: usize = 255;

/// `name` with suffix `.n` (none for 0), cut so that it and `extra` after
/// it fit in a file name. Cuts bytes from the end of the original name.
fn candidate(name: &OsStr, n: u32, extra: &str) -> OsString {
    let suffix = if n == 0 { String::new() } else { format!(".{n}") };
    let room = NAME_MAX.saturating_sub(suffix.len() + extra.len());
    let bytes = name.as_bytes();
    let mut out = bytes[..bytes.len().min(room)].to_vec();
    out.extend_from_slice(suffix.as_bytes());
    out.extend_from_slice(extra.as_bytes());
    OsString::from_vec(out)
}

/// Tries names `name`, `name.1`, `name.2`, ... in `dir` until `place`
/// succeeds, `place` failing with `AlreadyExists` when a name is taken.
fn first_free(dir: &Path, name: &OsStr, extra: &str, mut place: impl FnMut(&Path) -> io::Result<()>) -> io::Result<PathBuf> {
    for n in 0..10_000 {
        let target = dir.join(candidate(name, n, extra));
        match place(&target) {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("no free name for {} in {}", name.to_string_lossy(), dir.display())))
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists` then).
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        // A filesystem without RENAME_NOREPLACE: a hard link is atomic and
        // fails on an existing name too; the inbox's name is removed after.
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

fn sync_dir(dir: &Path) {
    // Makes the rename itself durable; failure only weakens durability.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Copies `from` into a new file `to` (refusing an existing one), flushed.
fn copy_new(from: &Path, to: &Path) -> io::Result<()> {
    let mut out = fs::OpenOptions::new().write(true).create_new(true).open(to)?;
    let copied = io::copy(&mut fs::File::open(from)?, &mut out).and_then(|_| out.sync_all());
    if copied.is_err() {
        let _ = fs::remove_file(to);
    }
    copied
}

/// Moves `file` into `dir` and returns where it went. `Ok(None)` when the
/// file is gone already (another instance moved it).
pub fn move_into(file: &Path, dir: &Path) -> io::Result<Option<PathBuf>> {
    fs::create_dir_all(dir)?;
    let name = file.file_name().unwrap_or(OsStr::new("unnamed"));
    let mut across = false;
    let moved = first_free(dir, name, "", |target| {
        if across {
            return copy_new(file, target);
        }
        match rename_no_replace(file, target) {
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                across = true;
                copy_new(file, target)
            }
            other => other,
        }
    });
    let target = match moved {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    sync_dir(dir);
    if across {
        match fs::remove_file(file) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(Some(target))
}

/// Puts `bytes` into `dir` as a new file named `name` (or `name.1`, ...),
/// whole or not at all: they are written and flushed under a hidden name
/// the watcher ignores, then renamed without replacing anything, so the
/// daemon never sees half a file. Returns where it went.
pub fn place_new(bytes: &[u8], dir: &Path, name: &OsStr) -> io::Result<PathBuf> {
    let hidden = dir.join(format!(".remitd-upload-{}-{}", std::process::id(), fastrand::u64(..)));
    let written = fs::OpenOptions::new().write(true).create_new(true).open(&hidden).and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    let placed = written.and_then(|()| first_free(dir, name, "", |target| rename_no_replace(&hidden, target)));
    if placed.is_err() {
        let _ = fs::remove_file(&hidden);
    }
    let target = placed?;
    sync_dir(dir);
    Ok(target)
}

/// The dated archive folder for a moment.
pub fn archive_dir(archive: &Path, at: DateTime<Utc>) -> PathBuf {
    archive.join(at.format("%Y").to_string()).join(at.format("%m").to_string()).join(at.format("%d").to_string())
}

/// What a refused file's reason says about its postings.
pub const NOTHING_POSTED: &str = "nothing from this file was posted; fix or re-request it, then drop it in the inbox again";

/// Moves a refused file to `error/` and writes the reason beside it
/// (`NAME.reason.txt`, shortened if the name is long, never overwriting),
/// with `outcome` saying what was posted (see [`NOTHING_POSTED`]). Returns
/// where the file and its reason went.
pub fn refuse(file: &Path, error_dir: &Path, reason: &str, outcome: &str, at: DateTime<Utc>) -> io::Result<Option<(PathBuf, PathBuf)>> {
    let Some(moved) = move_into(file, error_dir)? else { return Ok(None) };
    let name = moved.file_name().unwrap_or(OsStr::new("unnamed"));
    let mut created = None;
    let reason_path = first_free(error_dir, name, ".reason.txt", |path| {
        created = Some(fs::OpenOptions::new().write(true).create_new(true).open(path)?);
        Ok(())
    })?;
    let Some(mut f) = created else { return Err(io::Error::other("reason file not created")) };
    writeln!(f, "refused: {reason}")?;
    writeln!(f, "file: {}", name.to_string_lossy())?;
    writeln!(f, "at: {}", at.to_rfc3339())?;
    writeln!(f, "{outcome}")?;
    f.sync_all()?;
    sync_dir(error_dir);
    Ok(Some((moved, reason_path)))
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
        let (moved, reason_path) = refuse(&file, &dir.path().join("error"), "segment 1: no interchange envelope", NOTHING_POSTED, Utc::now()).unwrap().unwrap();
        assert_eq!(reason_path, PathBuf::from(format!("{}.reason.txt", moved.display())));
        let reason = fs::read_to_string(reason_path).unwrap();
        assert!(reason.starts_with("refused: segment 1: no interchange envelope"), "{reason}");
        assert!(moved.exists() && !file.exists());
    }

    #[test]
    fn a_reason_file_never_overwrites_and_long_names_get_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = dir.path().join("error");
        fs::create_dir_all(&error).unwrap();
        // A refused file that happens to be named like a reason file.
        fs::write(error.join("a.835.reason.txt"), "an earlier refused file").unwrap();
        fs::write(dir.path().join("a.835"), "ST").unwrap();
        let (_, reason) = refuse(&dir.path().join("a.835"), &error, "why", NOTHING_POSTED, Utc::now()).unwrap().unwrap();
        assert_eq!(reason, error.join("a.835.1.reason.txt"));
        assert_eq!(fs::read_to_string(error.join("a.835.reason.txt")).unwrap(), "an earlier refused file");

        let long = "x".repeat(250) + ".835";
        fs::write(dir.path().join(&long), "ST").unwrap();
        let (moved, reason) = refuse(&dir.path().join(&long), &error, "why", NOTHING_POSTED, Utc::now()).unwrap().unwrap();
        assert_eq!(moved, error.join(&long));
        assert!(reason.file_name().unwrap().len() <= NAME_MAX && reason.exists(), "{}", reason.display());
        assert!(fs::read_to_string(&reason).unwrap().contains(&format!("file: {long}")));
    }

    #[test]
    fn names_that_are_not_utf8_move_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let name = OsString::from_vec(b"caf\xe9.835".to_vec());
        fs::write(dir.path().join(&name), "ST").unwrap();
        let moved = move_into(&dir.path().join(&name), &dir.path().join("archive")).unwrap().unwrap();
        assert_eq!(moved.file_name().unwrap(), name.as_os_str());
    }

    #[test]
    fn archive_is_dated() {
        let at = DateTime::parse_from_rfc3339("2024-03-07T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(archive_dir(Path::new("/a"), at), PathBuf::from("/a/2024/03/07"));
    }
}
