//! Reads every public 835 in `../shared/corpus/835/` and checks the verdict
//! its MANIFEST.md gives. The corpus is third-party data kept beside the
//! repository, never inside it; where it is absent (a plain clone), the test
//! says so and checks nothing, except under CI, where its absence is a failure.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use remitd::parse::FileDocument;

/// Verdicts, as MANIFEST.md states them: `true` valid, `false` refused.
const VERDICTS: &[(&str, bool)] = &[
    ("ediparser-blue_cross_nc_sample.835", false),
    ("ediparser-emedny_sample.835", true),
    ("ediparser-united_healthcare_legacy_sample.835", true),
    ("lfh-cob-contractural-adjustment.835", true),
    ("lfh-demo.835", true),
    ("lfh-managed-care.835", true),
    ("lfh-medicare-part-a.835", true),
    ("lfh-secondary-payment.835", true),
    ("lfh-tertiary-payment.835", false),
    ("pyx12-mult-loops.835", true),
    ("stupidedi-4010-case1.835", true),
    ("stupidedi-dollars-and-data-sent-separate.835", true),
    ("stupidedi-dollars-and-data-sent-together.835", true),
    ("stupidedi-era-sample.835", true),
    ("stupidedi-multiple-claims-single-check.835", true),
    ("stupidedi-secondary-payment-with-higher-fee-schedule.835", true),
    ("stupidedi-secondary-payments.835", true),
    ("stupidedi-tertiary-payments.835", true),
    ("stupidedi-x221-case1.835", true),
    ("stupidedi-x221-case2.835", true),
    ("stupidedi-x221-case3a.835", false),
    ("x12parser-multi-line-not-delimited.835", true),
    ("x12parser-profee-multiple.835", true),
    ("x12parser-profee-one-line.835", true),
    ("x12parser-profee.835", true),
];

#[test]
fn corpus_files_get_the_manifest_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/835");
    if !dir.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI must have the corpus at {}", dir.display());
        eprintln!("corpus not found at {}; nothing checked", dir.display());
        return;
    }
    let manifest = fs::read_to_string(dir.join("MANIFEST.md")).expect("MANIFEST.md beside the corpus");
    let verdicts: BTreeMap<&str, bool> = VERDICTS.iter().copied().collect();
    let mut seen = 0;
    let mut failures = Vec::new();
    for entry in fs::read_dir(&dir).expect("list corpus") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !name.ends_with(".835") {
            continue;
        }
        let Some(&valid) = verdicts.get(name.as_str()) else {
            failures.push(format!("{name}: new corpus file without a verdict in this test; add it from MANIFEST.md"));
            continue;
        };
        if !valid {
            // The manifest names each refused file with "must be refused" or "must be reported".
            let stem = name.trim_end_matches(".835");
            let row = manifest.lines().find(|l| l.contains(stem)).unwrap_or_default();
            assert!(row.contains("must be"), "MANIFEST.md does not say {name} must be refused: {row}");
        }
        seen += 1;
        let bytes = fs::read(&path).expect("read corpus file");
        match (FileDocument::read(&name, &bytes[..]), valid) {
            (Ok(doc), true) => assert!(doc.transactions().count() > 0, "{name}: valid but holds no transaction"),
            (Err(e), false) => eprintln!("{name}: refused as expected: {e}"),
            (Ok(_), false) => failures.push(format!("{name}: accepted, but MANIFEST.md says it must be refused")),
            (Err(e), true) => failures.push(format!("{name}: refused, but MANIFEST.md says it is valid: {e}")),
        }
    }
    assert!(failures.is_empty(), "corpus verdicts differ:\n{}", failures.join("\n"));
    assert_eq!(seen, VERDICTS.len(), "corpus files missing from the folder");
}

#[test]
fn duplicate_control_numbers_warn_but_do_not_refuse() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/835/x12parser-profee-multiple.835");
    let Ok(bytes) = fs::read(&path) else {
        assert!(std::env::var_os("CI").is_none(), "CI must have the corpus at {}", path.display());
        return;
    };
    let doc = FileDocument::read("x12parser-profee-multiple.835", &bytes[..]).expect("valid");
    assert_eq!(doc.transactions().count(), 156);
    assert!(doc.warnings.iter().any(|w| w.message.contains("used more than once")), "{:?}", doc.warnings);
}
