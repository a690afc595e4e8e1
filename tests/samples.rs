//! Golden-file tests over `samples/`.
//!
//! Every `samples/valid/NAME.835` must parse, and its JSON document must equal
//! `NAME.json` beside it. Every `samples/refused/NAME.835` must be refused with
//! exactly the message in `NAME.err`. Run with `UPDATE_GOLDEN=1` to rewrite
//! the golden files after an intended change, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use remitd::parse::FileDocument;

fn sample_files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "835"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no samples in {}", root.display());
    files
}

/// The name a sample is shown under: its path from the repository root, so
/// golden files do not depend on where the checkout lives.
fn display_name(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Compares `actual` with the golden file `expected_path`, or rewrites it.
fn check(expected_path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(expected_path, actual).expect("write golden file");
        return;
    }
    let expected =
        fs::read_to_string(expected_path).unwrap_or_else(|e| panic!("missing golden file {} ({e}); run with UPDATE_GOLDEN=1", expected_path.display()));
    assert_eq!(expected, actual, "{} differs; run with UPDATE_GOLDEN=1 and review the diff", expected_path.display());
}

#[test]
fn valid_samples_match_their_golden_json() {
    for path in sample_files("valid") {
        let name = display_name(&path);
        let bytes = fs::read(&path).expect("read sample");
        let doc = FileDocument::read(&name, &bytes[..]).unwrap_or_else(|e| panic!("{name} must be valid: {e}"));
        let json = serde_json::to_string_pretty(&doc).expect("serialize") + "\n";
        check(&path.with_extension("json"), &json);
    }
}

#[test]
fn refused_samples_give_their_golden_message() {
    for path in sample_files("refused") {
        let name = display_name(&path);
        let bytes = fs::read(&path).expect("read sample");
        let err = match FileDocument::read(&name, &bytes[..]) {
            Ok(_) => panic!("{name} must be refused"),
            Err(e) => e,
        };
        check(&path.with_extension("err"), &format!("{err}\n"));
    }
}
