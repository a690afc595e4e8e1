//! Replays the fuzzers' findings: every file in `fuzz/regressions/` (except
//! its README.md), plus every `samples/**/*.835`, goes through what the fuzz
//! targets in `fuzz/` do:
//!
//! - the lexer, drained to the end or the first error, ending the interchange
//!   after each segment that starts with `IEA` (as the reader does), then
//!   split with and without its fast lane, which must agree;
//! - `FileDocument::read` and `Summary::read`, whose results are ignored;
//!   a document that reads must re-serialize, transaction by transaction.
//!
//! Each input must return, Ok or Err, without panicking and within
//! [`TIME_LIMIT`]. All inputs are tried; the failure lists every bad one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use remitd::parse::{FileDocument, Summary};
use remitd::x12::lexer::{Lexer, Split};

include!("../fuzz/shared/splits.rs");

/// Generous for an unoptimized build: the fuzzers flag anything over 10 s
/// (`-timeout=10`, see fuzz/README.md) in an optimized one, and inputs are
/// at most 64 KiB.
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file under `dir`, recursively, that `keep` accepts.
fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            walk(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// What the `lexer` fuzz target does.
fn drain_lexer(data: &[u8]) {
    let _ = Lexer::new(data).drain();
    assert_eq!(splits(data, true), splits(data, false), "the fast lane splits differently");
}

/// What the `parse` fuzz target does.
fn read_document(data: &[u8]) {
    if let Ok(doc) = FileDocument::read("fuzz", data) {
        for tx in doc.transactions() {
            if let Err(e) = serde_json::to_string(tx) {
                panic!("a transaction read from the input does not serialize as JSON: {e}");
            }
        }
    }
    let _ = Summary::read(data);
}

/// Runs one input on its own thread; `Err` says how it failed.
fn replay(data: Vec<u8>) -> Result<(), String> {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        drain_lexer(&data);
        read_document(&data);
        let _ = done.send(());
    });
    match finished.recv_timeout(TIME_LIMIT) {
        Ok(()) => worker.join().map_err(|_| "panicked after finishing".to_string()),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => {
                let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                Err(format!("panicked: {}", message.unwrap_or_else(|| "(no message)".into())))
            }
            Ok(()) => Err("worker ended without finishing".into()),
        },
        // The worker is left running; the test fails and its process ends.
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still running after {TIME_LIMIT:?} (hang?)")),
    }
}

/// Replays `inputs`; one line per input that panicked or hung.
fn replay_all(inputs: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in inputs {
        let data = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if let Err(how) = replay(data) {
            failures.push(format!("{}: {how}", path.strip_prefix(root()).unwrap_or(path).display()));
        }
    }
    failures
}

#[test]
fn fuzz_regressions_and_samples_neither_panic_nor_hang() {
    let regressions_dir = root().join("fuzz").join("regressions");
    assert!(regressions_dir.is_dir(), "{} is missing (it holds at least its README.md)", regressions_dir.display());
    let mut regressions = Vec::new();
    walk(&regressions_dir, &|p| p.file_name().is_some_and(|n| n != "README.md"), &mut regressions);
    assert!(!regressions.is_empty(), "no fuzz findings in {}", regressions_dir.display());
    let mut samples = Vec::new();
    walk(&root().join("samples"), &|p| p.extension().is_some_and(|x| x == "835"), &mut samples);
    assert!(!samples.is_empty(), "no samples/**/*.835 found");

    let mut inputs = regressions;
    inputs.extend(samples);
    inputs.sort();
    let failures = replay_all(&inputs);
    assert!(failures.is_empty(), "{} of {} inputs failed:\n{}", failures.len(), inputs.len(), failures.join("\n"));
}
