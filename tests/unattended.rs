//! Files that could stop or mislead ingestion, fed through the real
//! command line: a set the database refuses, a payment reusing a posted
//! trace with other content, a file that changes while it is read, and
//! files that are not files at all.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{assert_balances_add_up, clp, dec, import_csv, remittance_sets, TestDb, CSV_HEADER};
use remitd::model::Claim;

fn remitd(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).env_remove("REMITD_ACTOR").args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ingest(db: &TestDb, file: &Path) -> Output {
    remitd(db, &["ingest", file.to_str().unwrap()])
}

/// `remitd ingest FILE` run while `meanwhile` happens to the file, which
/// makes it exit 1: the state and reason it leaves the file (named `name`) in.
async fn ingest_while(db: &TestDb, file: &Path, name: &str, meanwhile: impl std::future::Future<Output = ()>) -> (String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &db.url)
        .args(["ingest", file.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (out, ()) = tokio::join!(tokio::task::spawn_blocking(move || child.wait_with_output()), meanwhile);
    let out = out.unwrap().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (state, reason) = file_state(db, name).await;
    (state, reason.unwrap())
}

/// Claims `ids`, one line of 100.00 each.
async fn claims(db: &TestDb, ids: &[&str]) {
    let rows: String = ids.iter().enumerate().map(|(n, id)| format!("{id},A{n},\"DOE, JANE\",1999999901,2024-01-01,99213,100.00,2024-01-02,1\n")).collect();
    import_csv(&db.pool, &format!("{CSV_HEADER}\n{rows}")).await;
}

/// `id` paid 100.00 less `contractual`.
fn paid(id: &str, contractual: &str) -> Claim {
    clp(id, "1", "100.00", &format!("PCN-{id}"), &[("CO", "45", contractual)])
}

async fn traces(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT trace_number FROM remittances ORDER BY trace_number").fetch_all(&db.pool).await.unwrap()
}

async fn file_state(db: &TestDb, name: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, refusal_reason FROM ingested_files WHERE file_name = $1 ORDER BY id DESC LIMIT 1")
        .bind(name)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// The traces a partial file's reason lists as posted from it.
fn listed_as_posted(reason: &str) -> Vec<String> {
    let list = reason.split("Transaction sets posted from this file: ").nth(1).and_then(|r| r.split(';').next()).unwrap_or_default();
    let mut out: Vec<String> = list.split("(trace ").skip(1).filter_map(|part| part.split(')').next()).map(str::to_string).collect();
    out.sort();
    out
}

/// A set whose data the database refuses stops the file: the sets before
/// it stay posted, the reason names each of them and the refused set, and
/// feeding the file again once the database takes it posts only the rest.
#[tokio::test]
async fn a_set_the_database_refuses_stops_the_file_and_the_reason_says_what_posted() {
    let db = TestDb::new().await;
    claims(&db, &["S1", "S2", "S3", "S4"]).await;
    // Stands for any value the file carries and the schema cannot store.
    sqlx::query("ALTER TABLE remittances ADD CONSTRAINT refuses_one_trace CHECK (trace_number <> 'EFT-REFUSED')").execute(&db.pool).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("four.835");
    let sets = vec![
        ("EFT-OK-1", vec![paid("S1", "20.00")]),
        ("EFT-REFUSED", vec![paid("S2", "20.00")]),
        ("EFT-OK-3", vec![paid("S3", "20.00")]),
        ("EFT-OK-4", vec![paid("S4", "20.00")]),
    ];
    std::fs::write(&file, remittance_sets(sets)).unwrap();

    let out = ingest(&db, &file);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("posted in part") && text(&out).contains("transaction set 0002 (trace EFT-REFUSED): the database refused its data"),
        "{}",
        text(&out)
    );
    let (state, reason) = file_state(&db, "four.835").await;
    let reason = reason.unwrap();
    assert_eq!(state, "partial");
    let posted = traces(&db).await;
    assert!(posted.contains(&"EFT-OK-1".to_string()) && !posted.contains(&"EFT-REFUSED".to_string()), "{posted:?}");
    assert_eq!(listed_as_posted(&reason), posted, "the reason lists exactly what posted: {reason}");
    assert!(reason.contains("Feeding the complete file again posts only what is not posted yet"), "{reason}");

    sqlx::query("ALTER TABLE remittances DROP CONSTRAINT refuses_one_trace").execute(&db.pool).await.unwrap();
    let again = ingest(&db, &file);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains(&format!("{} already posted before", posted.len())), "{}", text(&again));
    assert_eq!(traces(&db).await, ["EFT-OK-1", "EFT-OK-3", "EFT-OK-4", "EFT-REFUSED"]);
    assert_eq!(file_state(&db, "four.835").await.0, "posted");
    assert_balances_add_up(&db.pool).await;
}

/// A payer reusing a posted trace number for other content is neither
/// posted nor dropped: held as a conflict a person lists, reads and
/// resolves, while the file's other sets post. The same content again is
/// a quiet duplicate, and so is a conflict once resolved.
#[tokio::test]
async fn a_payment_reusing_a_posted_trace_with_other_content_is_held_as_a_conflict() {
    let db = TestDb::new().await;
    claims(&db, &["S1", "S2"]).await;
    db.people(&[("pat", &[remitd::actors::Scope::PaymentWrite])]).await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.835");
    std::fs::write(&first, remittance_sets(vec![("EFT-SAME", vec![paid("S1", "20.00")])])).unwrap();
    assert!(ingest(&db, &first).status.success());
    let second = dir.path().join("second.835");
    std::fs::write(&second, remittance_sets(vec![("EFT-SAME", vec![paid("S1", "30.00")]), ("EFT-OTHER", vec![paid("S2", "20.00")])])).unwrap();

    for _ in 0..2 {
        let out = ingest(&db, &second);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("transaction set 0001 (trace EFT-SAME) has the payer and trace number of a payment posted before"), "{}", text(&out));
        assert!(text(&out).contains("held as conflict #1"), "{}", text(&out));
    }
    assert_eq!(traces(&db).await, ["EFT-OTHER", "EFT-SAME"]);
    assert_eq!(common::claim(&db.pool, "S1").await.paid, dec("80.00"), "the held payment posted nothing");
    let listed = text(&remitd(&db, &["conflicts", "list"]));
    assert!(listed.contains("#1") && listed.contains("trace EFT-SAME") && listed.contains("held 70.00") && listed.contains("posted before 80.00"), "{listed}");
    assert!(listed.contains("1 conflict"), "one conflict for the same content fed twice: {listed}");
    let shown = text(&remitd(&db, &["conflicts", "show", "1", "--format", "json", "--transaction"]));
    assert!(shown.contains("\"trace_number\": \"EFT-SAME\""), "{shown}");

    let refused = remitd(&db, &["conflicts", "resolve", "1", "--reason", " "]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let resolved = remitd(&db, &["conflicts", "resolve", "1", "--reason", "payer re-sent it under trace EFT-NEW", "--actor", "pat"]);
    assert!(resolved.status.success(), "{}", text(&resolved));
    let (actor, why): (String, String) =
        sqlx::query_as("SELECT actor, reason FROM audit_log WHERE action = 'remittance_conflict_resolved'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor.as_str(), why.as_str()), ("pat", "payer re-sent it under trace EFT-NEW"));
    assert!(text(&remitd(&db, &["conflicts", "list"])).contains("0 conflicts"));

    for file in [&second, &first] {
        let out = ingest(&db, file);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM remittance_conflicts").fetch_one(&db.pool).await.unwrap(), 1);
    assert_balances_add_up(&db.pool).await;
}

/// A file cut short while its sets post: the sets posted are recorded and
/// named, the file is `partial` (never left `processing`), and the whole
/// file fed again posts the rest, nothing twice.
#[tokio::test]
async fn a_file_truncated_while_it_posts_says_which_sets_posted_and_completes_later() {
    let db = TestDb::new().await;
    let ids: Vec<String> = (0..6000).map(|n| format!("T{n:05}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    claims(&db, &refs).await;
    let sets: Vec<(String, Vec<Claim>)> =
        ids.chunks(100).enumerate().map(|(n, c)| (format!("EFT-T{n:02}"), c.iter().map(|id| paid(id, "20.00")).collect())).collect();
    let whole = remittance_sets(sets.iter().map(|(t, c)| (t.as_str(), c.clone())).collect());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.835");
    std::fs::write(&file, &whole).unwrap();

    let cut = async {
        // Once posting has begun, the file is cut to a tenth.
        loop {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM remittances").fetch_one(&db.pool).await.unwrap();
            if n > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(whole.len() as u64 / 10).unwrap();
    };
    let (state, reason) = ingest_while(&db, &file, "long.835", cut).await;
    assert_eq!(state, "partial", "{reason}");
    assert!(reason.contains("the file changed while it was ingested"), "{reason}");
    let posted = traces(&db).await;
    assert!(!posted.is_empty() && posted.len() < sets.len(), "{posted:?}");
    assert_eq!(listed_as_posted(&reason), posted, "{reason}");

    std::fs::write(&file, &whole).unwrap();
    let again = ingest(&db, &file);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(traces(&db).await.len(), sets.len());
    let paid_total: rust_decimal::Decimal = sqlx::query_scalar("SELECT sum(payment_amount) FROM remittances").fetch_one(&db.pool).await.unwrap();
    assert_eq!(paid_total, dec("80.00") * rust_decimal::Decimal::from(ids.len()), "every claim paid once");
    assert_balances_add_up(&db.pool).await;
}

/// What is not a regular file is refused at once, before anything is read:
/// `remitd ingest /dev/zero` would otherwise never end.
#[tokio::test]
async fn a_device_or_a_pipe_is_refused_before_it_is_read() {
    let db = TestDb::new().await;
    let out = remitd(&db, &["ingest", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("/dev/zero: refused: not a regular file"), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.835");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let out = ingest(&db, &fifo);
    assert!(text(&out).contains("refused: not a regular file"), "{}", text(&out));
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ingested_files").fetch_one(&db.pool).await.unwrap(), 0);
}

/// `n` claims `B00000`.., one line of 100.00 each, and a set paying each
/// 80.00 under trace `trace`.
async fn large_set(db: &TestDb, n: usize, trace: &str) -> (Vec<String>, Vec<u8>) {
    let ids: Vec<String> = (0..n).map(|i| format!("B{i:05}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    claims(db, &refs).await;
    let set = ids.iter().map(|id| paid(id, "20.00")).collect();
    (ids, remittance_sets(vec![(trace, set)]))
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.unwrap()
}

/// A set of more claims than one part holds (memory holds a part at a
/// time) posts as one payment: every claim once, one remittance and audit
/// row, and the same fingerprint as the set read whole, so the same set
/// fed again is a quiet duplicate and altered content is held, not posted.
#[tokio::test]
async fn a_set_larger_than_a_part_posts_as_one_payment() {
    let db = TestDb::new().await;
    let n = remitd::parse::PART_CLAIMS * 2 + 500;
    let (ids, bytes) = large_set(&db, n, "EFT-LARGE").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.835");
    std::fs::write(&file, &bytes).unwrap();

    let out = ingest(&db, &file);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&db, "SELECT count(*) FROM remittances").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, n as i64);
    assert_eq!(count(&db, "SELECT count(DISTINCT claim_id) FROM claim_postings").await, n as i64, "every claim posted once");
    let posted: serde_json::Value = sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'remittance_posted'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(posted["claims_posted"], n);
    let whole = remitd::parse::FileDocument::read("large", &bytes[..]).unwrap();
    let whole = whole.transactions().next().unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT content_hash FROM remittances").fetch_one(&db.pool).await.unwrap();
    assert_eq!(stored, remitd::posting::conflicts::fingerprint(whole), "read in parts or whole, one fingerprint");
    for id in [&ids[0], &ids[n / 2], &ids[n - 1]] {
        assert_eq!(common::claim(&db.pool, id).await.paid, dec("80.00"), "{id}");
    }

    // The same set in other bytes (a line break after each segment).
    let resent = dir.path().join("resent.835");
    std::fs::write(&resent, String::from_utf8(bytes.clone()).unwrap().replace('~', "~\n")).unwrap();
    let again = ingest(&db, &resent);
    assert!(again.status.success() && text(&again).contains("1 already posted before"), "{}", text(&again));
    let mut altered = whole.clone();
    altered.claims[n - 1] = paid(&ids[n - 1], "30.00");
    altered.payment.amount -= dec("10.00");
    let other = dir.path().join("altered.835");
    std::fs::write(&other, remittance_sets(vec![("EFT-LARGE", altered.claims)])).unwrap();
    let out = ingest(&db, &other);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("held as conflict #1"), "{}", text(&out));
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, n as i64, "the altered set posted nothing");
    let held: serde_json::Value = sqlx::query_scalar("SELECT transaction FROM remittance_conflicts").fetch_one(&db.pool).await.unwrap();
    assert_eq!(held["trace_number"], "EFT-LARGE");
    assert_balances_add_up(&db.pool).await;
}

/// The parts of one set post all or nothing: a claim the database refuses
/// in the last part takes back every part before it.
#[tokio::test]
async fn a_large_set_refused_in_its_last_part_posts_none_of_its_parts() {
    let db = TestDb::new().await;
    let n = remitd::parse::PART_CLAIMS * 2 + 500;
    let (ids, bytes) = large_set(&db, n, "EFT-LARGE").await;
    let last = format!("PCN-{}", ids[n - 1]);
    sqlx::query(&format!("ALTER TABLE claim_postings ADD CONSTRAINT refuses_one CHECK (payer_claim_control_number <> '{last}')"))
        .execute(&db.pool)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.835");
    std::fs::write(&file, &bytes).unwrap();

    let out = ingest(&db, &file);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (state, reason) = file_state(&db, "large.835").await;
    assert_eq!(state, "refused", "{reason:?}");
    assert!(reason.unwrap().contains("transaction set 0001 (trace EFT-LARGE): the database refused its data"));
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, 0, "no part of the set stayed posted");
    assert_eq!(count(&db, "SELECT count(*) FROM remittances").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 0);

    sqlx::query("ALTER TABLE claim_postings DROP CONSTRAINT refuses_one").execute(&db.pool).await.unwrap();
    let again = ingest(&db, &file);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, n as i64);
    assert_balances_add_up(&db.pool).await;
}

/// A large set that reads differently the second time (the file was
/// rewritten after it was validated) posts none of its parts, and the
/// reason says so; the file as it was posts later.
#[tokio::test]
async fn a_large_set_rewritten_while_it_posts_posts_none_of_its_parts() {
    let db = TestDb::new().await;
    // Larger than the reader runs ahead of posting (a few parts), so the
    // end of the file is rewritten before it is read the second time.
    let n = remitd::parse::PART_CLAIMS * 10;
    let (ids, bytes) = large_set(&db, n, "EFT-LARGE").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.835");
    std::fs::write(&file, &bytes).unwrap();
    // The same length and still valid: the last two claims trade ids.
    let (a, b) = (ids[n - 2].as_bytes(), ids[n - 1].as_bytes());
    let at = |id: &[u8]| bytes.windows(id.len() + 4).rposition(|w| w.starts_with(b"CLP*") && &w[4..] == id).unwrap() + 4;
    let (at_a, at_b) = (at(a), at(b));
    let mut rewritten = bytes.clone();
    rewritten[at_a..at_a + a.len()].copy_from_slice(b);
    rewritten[at_b..at_b + b.len()].copy_from_slice(a);

    let rewrite = async {
        // The file is claimed once its first reading is done.
        while count(&db, "SELECT count(*) FROM ingested_files").await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        let from = at_a.min(at_b);
        f.seek(SeekFrom::Start(from as u64)).unwrap();
        f.write_all(&rewritten[from..]).unwrap();
    };
    let (state, reason) = ingest_while(&db, &file, "large.835", rewrite).await;
    assert_eq!(state, "refused", "{reason}");
    assert!(reason.contains("transaction set 0001 (trace EFT-LARGE) no longer reads as it did, and none of it was posted"), "{reason}");
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, 0);

    std::fs::write(&file, &bytes).unwrap();
    let again = ingest(&db, &file);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(count(&db, "SELECT count(*) FROM claim_postings").await, n as i64);
    assert_balances_add_up(&db.pool).await;
}
