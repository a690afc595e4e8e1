//! No patient data in any refusal.
//!
//! A valid remittance has its patient's name segment (NM1*QC) damaged in
//! the ways real files break: a name too long, an unknown entity code, too
//! many elements, control characters, the member id in the wrong element,
//! an unreadable tag, a stray terminator that turns part of the name into
//! a "segment". The patient's name and member id must then appear nowhere a
//! refusal goes: `remitd parse` in every format, `remitd ingest`,
//! `ingested_files.refusal_reason`, the daemon's reason file in `error/` and
//! its log. Each refusal still says where: segment number and tag, and the
//! element when it is known.
//!
//! Two of the damages only earn a warning (the guide's lengths are not
//! refused, see README); those files are valid and post, and their warning
//! says where without quoting. Their JSON output is left out: the JSON
//! document is the one place patient names are printed, on purpose.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::daemon::{wait_until, Daemon, Folder};
use common::{sample, TestDb};

/// The sample and its second patient, whose name segment is damaged.
const SAMPLE: &str = "valid/denial.835";
const PATIENT: &str = "NM1*QC*1*SMITH*ALEX****MI*XJZ000000012~";
/// What must not leak: the patient's last and first names and member id.
const PHI: [&str; 3] = ["SMITH", "ALEX", "XJZ000000012"];

/// `remitd parse` formats: every one it has.
const FORMATS: [&str; 3] = ["summary", "text", "json"];

struct Damage {
    name: &'static str,
    /// What replaces [`PATIENT`] in the file.
    segment: String,
    /// Where the refusal (or warning) must say the problem is.
    at: &'static str,
    refused: bool,
}

fn damages() -> Vec<Damage> {
    let refused = |name, segment: &str, at| Damage { name, segment: segment.to_string(), at, refused: true };
    vec![
        Damage {
            name: "name-too-long",
            segment: format!("NM1*QC*1*SMITH{}*ALEX****MI*XJZ000000012~", "H".repeat(90)),
            at: "segment 27 (NM1), NM103",
            refused: false,
        },
        Damage { name: "id-in-wrong-element", segment: "NM1*QC*XJZ000000012*SMITH*ALEX****MI~".into(), at: "segment 27 (NM1), NM102", refused: false },
        refused("unknown-entity-code", "NM1*Q!*1*SMITH*ALEX****MI*XJZ000000012~", "segment 27 (NM1)"),
        refused("too-many-elements", "NM1*QC*1*SMITH*ALEX****MI*XJZ000000012*AA*BB*XJZ000000012*SMITH~", "segment 27 (NM1), NM113"),
        refused("escape-in-name", "NM1*QC*1*SMITH*ALEX\x1b[2J****MI*XJZ000000012~", "segment 27 (NM1), NM104"),
        refused("nul-in-member-id", "NM1*QC*1*SMITH*ALEX****MI*XJZ000000012\0~", "segment 27 (NM1), NM109"),
        refused("member-id-too-short", "NM1*QC*1*SMITH*ALEX****MI*X~", "segment 27 (NM1), NM109"),
        refused("unreadable-tag", "N#1*QC*1*SMITH*ALEX****MI*XJZ000000012~", "segment 27 (unrecognised tag)"),
        refused("terminator-in-name", "NM1*QC*1*SMITH~ALEX****MI*XJZ000000012~", "segment 28 (unrecognised tag)"),
        refused("name-as-a-tag", "NM1*QC*1~SMITH*ALEX****MI*XJZ000000012~", "segment 28 (unrecognised tag)"),
    ]
}

/// Writes each damaged file into `dir` (named after the damage, never
/// after the patient) and returns it with its path. Each carries a trace
/// number of its own: the damages that are only warnings post, and one
/// payment's trace with other content would be held as a conflict.
fn damaged_files(dir: &Path) -> Vec<(Damage, PathBuf)> {
    let original = std::fs::read_to_string(sample(SAMPLE)).unwrap();
    assert_eq!(original.matches(PATIENT).count(), 1, "{SAMPLE} names the patient once");
    damages()
        .into_iter()
        .map(|d| {
            let path = dir.join(format!("{}.835", d.name));
            let own = original.replace(PATIENT, &d.segment).replace("CHK-0020001", &format!("CHK-{}", d.name));
            std::fs::write(&path, own).unwrap();
            (d, path)
        })
        .collect()
}

fn assert_no_phi(d: &Damage, what: &str, text: &str) {
    for secret in PHI {
        assert!(!text.contains(secret), "{}: {what} quotes {secret}:\n{text}", d.name);
    }
}

fn assert_names_where(d: &Damage, what: &str, text: &str) {
    assert!(text.contains(d.at), "{}: {what} does not say {:?}:\n{text}", d.name, d.at);
}

fn remitd(args: &[&str], file: &Path, database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).args(args).arg(file).env("DATABASE_URL", database_url).env_remove("REMITD_ACTOR").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn parse_and_ingest_refusals_quote_no_patient_data() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    for (d, path) in damaged_files(dir.path()) {
        for format in FORMATS {
            let out = remitd(&["parse", "--format", format], &path, &db.url);
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            let what = format!("parse --format {format}");
            assert_eq!(out.status.code(), Some(if d.refused { 1 } else { 0 }), "{}: {what}: {stderr}", d.name);
            assert_names_where(&d, &what, &stderr);
            assert_no_phi(&d, &format!("{what} (standard error)"), &stderr);
            if d.refused || format != "json" {
                assert_no_phi(&d, &format!("{what} (standard output)"), &stdout);
            }
        }

        let out = remitd(&["ingest"], &path, &db.url);
        let output = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(if d.refused { 1 } else { 0 }), "{}: ingest: {output}", d.name);
        assert_no_phi(&d, "ingest", &output);
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let (state, reason): (String, Option<String>) =
            sqlx::query_as("SELECT state, refusal_reason FROM ingested_files WHERE file_name = $1").bind(file_name).fetch_one(&db.pool).await.unwrap();
        if d.refused {
            assert_names_where(&d, "ingest", &output);
            assert_eq!(state, "refused", "{}", d.name);
            let reason = reason.unwrap_or_default();
            assert_names_where(&d, "refusal_reason", &reason);
            assert_no_phi(&d, "refusal_reason", &reason);
        } else {
            assert_eq!((state.as_str(), reason), ("posted", None), "{}", d.name);
        }
    }
    let refused = damages().iter().filter(|d| d.refused).count() as i64;
    let posted: i64 = sqlx::query_scalar("SELECT count(*) FROM remittances").fetch_one(&db.pool).await.unwrap();
    let files: i64 = sqlx::query_scalar("SELECT count(*) FROM ingested_files WHERE state = 'refused'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(files, refused, "every refused file is recorded");
    assert_eq!(posted, damages().len() as i64 - refused, "the refused files post nothing; each warned one is a payment of its own");
}

#[tokio::test]
async fn the_daemon_refuses_without_quoting_patient_data() {
    let db = TestDb::new().await;
    let folder = Folder::new();
    let daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    let dir = tempfile::tempdir().unwrap();
    let files = damaged_files(dir.path());
    for (d, path) in &files {
        folder.drop_renamed(path, &format!("{}.835", d.name));
    }
    let refused = files.iter().filter(|(d, _)| d.refused).count();
    let accepted = files.len() - refused;
    // A refused file lands in error/ with its reason file beside it.
    wait_until("every file handled", Duration::from_secs(60), async || {
        folder.errors().len() == 2 * refused && folder.archived().len() == accepted && folder.in_inbox().is_empty()
    })
    .await;
    let log = daemon.log() + &daemon.stderr();
    for (d, _) in &files {
        let reason_file = folder.root.join("error").join(format!("{}.835.reason.txt", d.name));
        if d.refused {
            let reason = std::fs::read_to_string(&reason_file).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert_names_where(d, "the reason file", &reason);
            assert_no_phi(d, "the reason file", &reason);
            let stored: String = sqlx::query_scalar("SELECT refusal_reason FROM ingested_files WHERE file_name = $1")
                .bind(format!("{}.835", d.name))
                .fetch_one(&db.pool)
                .await
                .unwrap();
            assert_names_where(d, "refusal_reason", &stored);
            assert_no_phi(d, "refusal_reason", &stored);
            assert!(log.lines().any(|l| l.contains(&format!("{}.835", d.name)) && l.contains(d.at)), "{}: the log does not say where:\n{log}", d.name);
        } else {
            assert!(!reason_file.exists(), "{}: accepted, yet refused", d.name);
        }
        assert_no_phi(d, "the daemon's log", &log);
    }
    let posted: i64 = sqlx::query_scalar("SELECT count(*) FROM remittances").fetch_one(&db.pool).await.unwrap();
    assert_eq!(posted as usize, accepted, "only the warned files post, each a payment of its own");
}
