//! Bank files: the project's ACH sample read into its deposits, refusals
//! that name the line and column, and properties over generated files
//! (what is written reads back the same; no damage makes the reader panic
//! or point outside the file).

mod common;

use std::path::PathBuf;
use std::process::Command;

use chrono::NaiveDate;
use proptest::prelude::*;
use remitd::bank::nacha::{self, AchFile, Batch, Entry};
use remitd::bank::{BankError, Trn};
use rust_decimal::Decimal;

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/bank").join(name)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn the_sample_ach_file_reads_into_its_deposits_with_their_traces() {
    let file = nacha::read(&std::fs::read(sample("daily.ach")).unwrap()).unwrap();
    assert_eq!((file.created, file.origin_name.as_str(), file.batches.len()), (day("2024-02-12"), "EXAMPLE HEALTH PLAN", 2));
    assert_eq!((file.batches[0].class.as_str(), file.batches[0].description.as_str()), ("CCD", nacha::HCCLAIMPMT));
    let deposits = file.deposits();
    let seen: Vec<_> = deposits.iter().map(|d| (d.credit, d.amount.to_string(), d.date, d.trn.as_ref().map(|t| t.trace.as_str()))).collect();
    assert_eq!(
        seen,
        [
            (true, "253.40".to_string(), Some(day("2024-01-15")), Some("EFT-20240115-0001")),
            (true, "627.50".to_string(), Some(day("2024-02-12")), Some("EFT-20240212-0004")),
            (false, "12.50".to_string(), Some(day("2024-02-12")), None),
        ]
    );
    assert_eq!(deposits[0].trn.as_ref().unwrap().payer_id, "1999999901");
    assert_eq!(file.batches[0].entries[0].account_last4, "3444", "only the account's last four are kept");
}

/// The sample with line `line` (1-based) changed by `change`.
fn damaged(line: usize, change: impl Fn(&str) -> String) -> Vec<u8> {
    let text = std::fs::read_to_string(sample("daily.ach")).unwrap();
    let lines: Vec<String> = text.lines().enumerate().map(|(i, l)| if i + 1 == line { change(l) } else { l.to_string() }).collect();
    (lines.join("\n") + "\n").into_bytes()
}

fn refusal(bytes: &[u8]) -> BankError {
    nacha::read(bytes).expect_err("refused")
}

#[test]
fn refusals_name_the_line_the_column_and_what_is_wrong() {
    let e = refusal(&std::fs::read(sample("bad-entry-hash.ach")).unwrap());
    assert_eq!(e.to_string(), "line 5, column 11: the entry hash is 100000000, but the entries add up to 99999999");

    let e = refusal(&damaged(3, |l| l[..93].to_string()));
    assert_eq!(e.to_string(), "line 3, column 1: a record is 94 characters; this one has 93");
    let e = refusal(&damaged(3, |l| format!("{}12,40{}", &l[..29], &l[34..])));
    assert_eq!(e.to_string(), "line 3, column 30: expected an amount in cents (10 digits)");
    let e = refusal(&damaged(3, |l| format!("{}0000025341{}", &l[..29], &l[39..])));
    assert_eq!(e.to_string(), "line 5, column 33: the total credit amount is 25340, but the entries add up to 25341");
    let e = refusal(&damaged(4, |l| format!("6{}", &l[1..])));
    assert!(e.to_string().starts_with("line 3, column 79: the addenda indicator is 1, but no addenda record follows"), "{e}");
    let e = refusal(&damaged(11, |l| format!("9000003{}", &l[7..])));
    assert_eq!(e.to_string(), "line 11, column 2: the batch count is 3, but the file has 2 batches");
    let e = refusal(&damaged(12, |_| format!("{:<94}", "junk")));
    assert_eq!(e.to_string(), "line 12, column 1: after the file control only lines of nines may follow");
    let e = refusal(&damaged(1, |l| format!("{}240231{}", &l[..23], &l[29..])));
    assert_eq!(e.to_string(), "line 1, column 24: expected a real file creation date YYMMDD");
    assert_eq!(refusal(b"").to_string(), "line 1, column 1: the file is empty");
}

#[test]
fn the_command_line_lists_deposits_or_says_where_the_file_is_wrong() {
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(["deposits", "read"]).arg(sample("daily.ach")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.contains("credit       253.40 2024-01-15") && l.ends_with("TRN EFT-20240115-0001 payer 1999999901")), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(["deposits", "read", "--format", "json"]).arg(sample("daily.ach")).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v[1]["amount"].as_str(), v[1]["trn"]["trace"].as_str()), (Some("627.50"), Some("EFT-20240212-0004")));
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(["deposits", "read"]).arg(sample("statement.bai")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("credit       168.00 2024-02-12                  reference CHK-0020001"));
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(["deposits", "read"]).arg(sample("bad-entry-hash.ach")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad-entry-hash.ach: refused: line 5, column 11: the entry hash"));
}

fn entry_strategy() -> impl Strategy<Value = Entry> {
    (any::<bool>(), 0u64..100_000_000, 0u32..10_000_000, "[A-Z0-9]{1,12}", 1u32..99_999, prop::option::of("[A-Z0-9-]{1,20}")).prop_map(
        |(credit, cents, sequence, id, routing, trace)| Entry {
            transaction_code: if credit { 22 } else { 27 },
            amount: Decimal::new(cents as i64, 2),
            routing: format!("{routing:08}1"),
            account_last4: "1234".into(),
            identification: id,
            receiver_name: "PROVIDER".into(),
            trace_number: format!("09999999{sequence:07}"),
            addenda: trace.map(|t| vec![format!("TRN*1*{t}*1999999901\\")]).into_iter().flatten().collect(),
        },
    )
}

fn file_strategy() -> impl Strategy<Value = AchFile> {
    prop::collection::vec((prop::collection::vec(entry_strategy(), 0..8), 1u32..28), 0..5).prop_map(|batches| AchFile {
        created: day("2024-03-01"),
        origin_name: "PAYER".into(),
        destination_name: "BANK".into(),
        batches: batches
            .into_iter()
            .enumerate()
            .map(|(i, (entries, d))| Batch {
                number: i as u32 + 1,
                company_name: "PAYER".into(),
                company_id: "1999999901".into(),
                class: "CCD".into(),
                description: nacha::HCCLAIMPMT.into(),
                effective: NaiveDate::from_ymd_opt(2024, 2, d),
                entries,
            })
            .collect(),
    })
}

proptest! {
    #[test]
    fn what_is_written_reads_back_the_same(file in file_strategy()) {
        let text = nacha::write(&file);
        let read = nacha::read(text.as_bytes());
        prop_assert_eq!(read.as_ref(), Ok(&file), "{}", text);
        for d in read.unwrap().deposits() {
            if let Some(Trn { payer_id, .. }) = d.trn {
                prop_assert_eq!(payer_id, "1999999901");
            }
        }
    }

    #[test]
    fn no_damage_to_a_statement_makes_the_reader_panic_or_point_outside_it(at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let mut bytes = std::fs::read(sample("statement.bai")).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(cut.index(bytes.len()) + 1);
        if let Err(e) = remitd::bank::bai2::read(&bytes) {
            let lines = bytes.split(|b| *b == b'\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e}");
        }
    }

    #[test]
    fn no_damage_makes_the_reader_panic_or_point_outside_the_file(file in file_strategy(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = nacha::write(&file).into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Err(e) = nacha::read(&bytes) {
            let lines = bytes.split(|b| *b == b'\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines && (1..=94).contains(&e.column), "{e}");
        }
    }
}

#[test]
fn the_sample_statement_reads_into_deposits_with_traces_and_check_numbers() {
    let file = remitd::bank::BankFile::read(&std::fs::read(sample("statement.bai")).unwrap()).unwrap();
    let deposits = file.deposits();
    let seen: Vec<_> = deposits
        .iter()
        .map(|d| (d.credit, d.amount.to_string(), d.payer_name.as_str(), d.trn.as_ref().map(|t| t.trace.as_str()), d.customer_reference.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (true, "627.50".to_string(), "EXAMPLE HEALTH PLAN", Some("EFT-20240212-0004"), Some("CR2001")),
            (true, "168.00".to_string(), "", None, Some("CHK-0020001")),
            (false, "12.50".to_string(), "EXAMPLE HEALTH PLAN", None, None),
        ]
    );
    assert!(deposits.iter().all(|d| d.date == Some(day("2024-02-12"))), "the group's as-of date");
}

/// The BAI2 sample with line `line` (1-based) replaced.
fn statement_with(line: usize, replacement: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(sample("statement.bai")).unwrap();
    text.lines().enumerate().map(|(i, l)| format!("{}\n", if i + 1 == line { replacement } else { l })).collect::<String>().into_bytes()
}

#[test]
fn statement_refusals_name_the_line_the_column_and_what_is_wrong() {
    let e = remitd::bank::bai2::read(&std::fs::read(sample("bad-account-total.bai")).unwrap()).unwrap_err();
    assert_eq!(e.to_string(), "line 8, column 4: the account control total is 1093301, but the records add up to 1093300");
    let e = remitd::bank::bai2::read(&statement_with(8, "49,1093300,5/")).unwrap_err();
    assert_eq!(e.to_string(), "line 8, column 12: the number of records is 5, but the records add up to 6");
    let e = remitd::bank::bai2::read(&statement_with(6, "16,301,168.00,0,BR1002,CHK-0020001,CHECK DEPOSIT/")).unwrap_err();
    assert_eq!(e.to_string(), "line 6, column 8: expected the amount in cents (digits, optionally signed)");
    let e = remitd::bank::bai2::read(&statement_with(6, "16,30,16800,0,BR1002,CHK-0020001,CHECK DEPOSIT/")).unwrap_err();
    assert_eq!(e.to_string(), "line 6, column 4: expected a type code from 100 to 999");
    let e = remitd::bank::bai2::read(&statement_with(2, "02,EXAMPLEPROVIDER,EXAMPLEBANK,1,241302,,USD,2/")).unwrap_err();
    assert_eq!(e.to_string(), "line 2, column 34: expected the as-of date YYMMDD");
    let e = remitd::bank::bai2::read(&statement_with(10, "98,1093300,1,8/")).unwrap_err();
    assert!(e.to_string().starts_with("line 10, column 1: expected a group header (02) or the file trailer (99)"), "{e}");
}

fn remitd(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", url).env_remove("REMITD_ACTOR").args(args).output().unwrap()
}

#[tokio::test]
async fn bank_files_are_stored_once_refusals_kept_with_their_reason() {
    let db = common::TestDb::new().await;
    let daily = sample("daily.ach").display().to_string();
    let out = remitd(&db.url, &["deposits", "import", &daily, &sample("statement.bai").display().to_string()]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("daily.ach: read as bank file #1: 3 deposits and debits stored"), "{said}");
    assert!(said.contains("statement.bai: read as bank file #2: 3 deposits and debits stored"), "{said}");
    let out = remitd(&db.url, &["deposits", "import", &daily]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("the same bytes as bank file #1, read before: nothing stored"));
    let stored: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT amount::text, trace_number, customer_reference FROM deposits ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(stored.len(), 6, "each file once");
    assert_eq!(stored[0], ("253.40".to_string(), Some("EFT-20240115-0001".to_string()), None));
    assert_eq!(stored[4], ("168.00".to_string(), None, Some("CHK-0020001".to_string())));

    let out = remitd(&db.url, &["deposits", "import", &sample("bad-entry-hash.ach").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused (bank file #4): line 5, column 11: the entry hash"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (state, reason): (String, Option<String>) =
        sqlx::query_as("SELECT state, refusal_reason FROM bank_files WHERE id = 4").fetch_one(&db.pool).await.unwrap();
    assert_eq!((state.as_str(), reason.as_deref().map(|r| r.starts_with("line 5, column 11"))), ("refused", Some(true)));
}

#[tokio::test]
async fn a_person_stores_no_bank_file_from_the_command_line_or_in_sql() {
    let db = common::TestDb::new().await;
    let ann = db.login_role("ann").await;
    let out = remitd(&ann.url, &["deposits", "import", &sample("daily.ach").display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bank files are the daemon's to store"));
    let pool = ann.pool().await;
    let e = remitd::bank::store::import(&pool, "daily.ach", &std::fs::read(sample("daily.ach")).unwrap()).await.unwrap_err();
    assert!(e.to_string().contains("bank_files rows are written by the daemon"), "{e}");
    let e = remitd::bank::reconcile::match_all(&pool).await.unwrap_err();
    assert!(e.to_string().contains("deposit_questions rows are written by the daemon"), "matching is the daemon's: {e}");
    pool.close().await;
    // Reading where deposits stand takes a scope, as reading write-offs does.
    let out = remitd(&ann.url, &["reconcile"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("billing.read"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_imported_twice_at_once_is_stored_once() {
    let db = common::TestDb::new().await;
    let bytes = std::fs::read(sample("daily.ach")).unwrap();
    let (a, b) = tokio::join!(remitd::bank::store::import(&db.pool, "a.ach", &bytes), remitd::bank::store::import(&db.pool, "b.ach", &bytes));
    let mut outcomes = [a.unwrap(), b.unwrap()].map(|o| matches!(o, remitd::bank::store::Imported::Read { deposits: 3, .. }));
    outcomes.sort();
    assert_eq!(outcomes, [false, true], "one read, one duplicate");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM deposits").fetch_one(&db.pool).await.unwrap();
    assert_eq!(n, 3);
}

/// The status of each row `remitd reconcile --format json` prints, by trace.
fn statuses(url: &str) -> Vec<(String, String, String)> {
    let out = remitd(url, &["reconcile", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["trace"].as_str().unwrap_or("-").to_string(), r["amount"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn deposits_match_their_remittances_only_without_a_doubt() {
    let db = common::TestDb::new().await;
    common::import_csv(&db.pool, &common::sample_claims_except(&[])).await;
    for f in ["valid/paid-claims.835", "valid/provider-adjustments.835", "valid/denial.835"] {
        common::ingest(&db.pool, &common::sample(f)).await;
    }
    // Two deposits with one remittance's trace and amount: neither is matched.
    let twice = common::bank::ach("2024-01-15", &[("253.40", Some("EFT-20240115-0001"), true); 2]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("twice.ach"), twice).unwrap();
    let out = remitd(&db.url, &["deposits", "import", &dir.path().join("twice.ach").display().to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 deposits matched"), "{}", String::from_utf8_lossy(&out.stdout));

    let out = remitd(&db.url, &["deposits", "import", &sample("daily.ach").display().to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 deposits matched"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = remitd(&db.url, &["deposits", "import", &sample("statement.bai").display().to_string()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 deposits matched"), "{}", String::from_utf8_lossy(&out.stdout));
    let s = |t: &str, a: &str, st: &str| (t.to_string(), a.to_string(), st.to_string());
    assert_eq!(
        statuses(&db.url),
        [
            s("-", "12.50", "takeback"),
            s("-", "12.50", "takeback"),
            s("CHK-0020001", "168.00", "date_mismatch"),
            s("CHK-0020001", "168.00", "date_mismatch"),
            s("EFT-20240115-0001", "253.40", "ambiguous"),
            s("EFT-20240115-0001", "253.40", "ambiguous"),
            s("EFT-20240115-0001", "253.40", "ambiguous"),
            s("EFT-20240115-0001", "253.40", "ambiguous"),
            s("EFT-20240212-0004", "627.50", "matched"),
            s("EFT-20240212-0004", "627.50", "reported_twice"),
        ],
        "the 253.40 has three deposits: ambiguous, a question for a person, as is its remittance; the check came three weeks \
         late: outside the window, a question too; the statement's 627.50 is the ACH credit reported again"
    );
}
