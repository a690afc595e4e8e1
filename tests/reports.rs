//! Looking back (source document 001's "write-off causes"): totals by
//! reason and bucket over a date range, the history with its approvers, and
//! the audit trail by date range, as text, CSV and JSON.

mod common;

use std::process::Command;

use common::{dec, import_csv, ingest, sample, sample_claims_except, TestDb};
use remitd::actors::Scope;
use remitd::ledger::Bucket;
use remitd::writeoff::history::{self, AuditFilter};
use remitd::writeoff::patient_balances::{self, Filter};
use remitd::writeoff::{self, Approval};

/// An insurance write-off (250.00 non-covered), a Write Off PR (60.00 of
/// CLM-1002's deductible) and a mass write-off of the payer's patient
/// balances under `above:100`: CLM-1002's remaining 109.00 waits (60.00 of
/// it written off already), the other three (119.00) post.
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[Scope::PaymentWrite, Scope::DenialWrite]), ("sam", &[Scope::WriteoffApprove])]).await;
    let d = remitd::denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap()[0].id;
    writeoff::write_off(&db.pool, writeoff::Request { denial_id: d, reason: "non-covered", note: None, amount: None, actor: "ann" }).await.unwrap();
    common::pr_write_off_deductible(&db.pool, "CLM-1002", "60.00", "ann").await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::parse("above:100").unwrap()).await.unwrap();
    let medicaid = Filter { payer: Some("1999999901".into()), ..Filter::default() };
    patient_balances::write_off(&db.pool, &medicaid, "no-balance-billing", None, "ann", false).await.unwrap();
    db
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

#[tokio::test]
async fn causes_total_by_reason_and_bucket_over_a_date_range() {
    let db = setup().await;
    let c = history::causes(&db.pool, None, None).await.unwrap();
    let rows: Vec<_> = c.rows.iter().map(|r| (r.bucket, r.reason.as_str(), r.count, r.amount, r.pending_count, r.pending_amount)).collect();
    assert_eq!(
        rows,
        [
            (Bucket::Insurance, "non-covered", 1, dec("250.00"), 0, dec("0")),
            (Bucket::Patient, "no-balance-billing", 3, dec("119.00"), 1, dec("109.00")),
            (Bucket::Patient, "patient-uncollectable", 1, dec("60.00"), 0, dec("0")),
        ]
    );
    assert_eq!((c.insurance, c.patient, c.total), (dec("250.00"), dec("179.00"), dec("429.00")));
    assert_eq!(c.rows[1].label, "Payer forbids balance billing the patient");

    let tomorrow = today().succ_opt().unwrap();
    assert!(history::causes(&db.pool, Some(tomorrow), None).await.unwrap().rows.is_empty(), "nothing was written off tomorrow");
    assert_eq!(history::causes(&db.pool, Some(today()), Some(today())).await.unwrap().total, dec("429.00"));
    let e = history::causes(&db.pool, Some(tomorrow), Some(today())).await.unwrap_err();
    assert_eq!(e.to_string(), format!("the date range starts ({tomorrow}) after it ends ({})", today()));

    // Undoing the Write Off PR takes it out of the causes.
    let pr: i64 = sqlx::query_scalar("SELECT w.id FROM writeoffs w JOIN writeoff_receipts r ON r.id = w.receipt_id WHERE r.kind = 'patient_responsibility'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    writeoff::undo(&db.pool, pr, "ann", "collected after all").await.unwrap();
    assert_eq!(history::causes(&db.pool, None, None).await.unwrap().patient, dec("119.00"));
}

#[tokio::test]
async fn the_audit_trail_and_history_by_date_range_refuse_a_range_that_ends_before_it_starts() {
    let db = setup().await;
    let all = history::audit_trail(&db.pool, &AuditFilter::default()).await.unwrap();
    assert!(!all.is_empty());
    let yesterday = today().pred_opt().unwrap();
    let up_to_yesterday = history::audit_trail(&db.pool, &AuditFilter { to: Some(yesterday), ..AuditFilter::default() }).await.unwrap();
    assert!(up_to_yesterday.is_empty(), "everything happened today");
    let today_only = history::audit_trail(&db.pool, &AuditFilter { from: Some(today()), to: Some(today()), ..AuditFilter::default() }).await.unwrap();
    let all = history::audit_trail(&db.pool, &AuditFilter::default()).await.unwrap();
    let newest = history::audit_trail(&db.pool, &AuditFilter { newest: Some(2), ..AuditFilter::default() }).await.unwrap();
    assert_eq!(newest, all[all.len() - 2..], "a page's newest rows, still oldest first");
    assert_eq!(today_only.len(), all.len());
    let e = history::audit_trail(&db.pool, &AuditFilter { from: Some(today()), to: Some(yesterday), ..AuditFilter::default() }).await.unwrap_err();
    assert!(e.to_string().starts_with("the date range starts"), "{e}");
    let e = history::history(&db.pool, &history::HistoryFilter { from: Some(today()), to: Some(yesterday), ..Default::default() }).await.unwrap_err();
    assert!(e.to_string().starts_with("the date range starts"), "{e}");
}

#[tokio::test]
async fn the_command_line_gives_causes_history_and_audit_as_text_csv_and_json() {
    let db = setup().await;
    let waiting: i64 = sqlx::query_scalar("SELECT id FROM writeoffs WHERE status = 'PENDING_APPROVAL'").fetch_one(&db.pool).await.unwrap();
    writeoff::decide_writeoff(&db.pool, waiting, "sam", true).await.unwrap();
    let remitd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(args).env("DATABASE_URL", &db.url).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, text, _) = remitd(&["writeoffs", "causes"]);
    assert_eq!(code, Some(0));
    assert!(text.starts_with("WRITE-OFF CAUSES the beginning to today\n"), "{text}");
    for line in ["TOTAL insurance       250.00", "TOTAL patient         288.00", "TOTAL                 538.00"] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
    let (code, csv, _) = remitd(&["writeoffs", "causes", "--format", "csv"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "bucket,reason,label,count,amount,pending_count,pending_amount",
            "insurance,non-covered,Service not covered,1,250.00,0,0.00",
            "patient,no-balance-billing,Payer forbids balance billing the patient,4,228.00,0,0.00",
            "patient,patient-uncollectable,Patient balance uncollectable,1,60.00,0,0.00",
        ]
    );
    let (code, json, _) = remitd(&["writeoffs", "causes", "--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((v["total"].as_str(), v["rows"].as_array().map(Vec::len)), (Some("538.00"), Some(3)));

    let (code, history, _) = remitd(&["writeoffs", "history"]);
    assert_eq!(code, Some(0));
    let approved: Vec<&str> = history.lines().filter(|l| l.ends_with("by ann, approved by sam")).collect();
    assert_eq!(approved.len(), 1, "the approver is named: {history}");
    assert!(approved[0].contains(" patient "), "{history}");

    let (code, audit, _) = remitd(&["audit", "--format", "csv", "--to", &today().to_string()]);
    assert_eq!(code, Some(0));
    assert!(audit.starts_with("id,at,actor,action,claim_id,denial_id,writeoff_id,receipt,reason,amount,detail\n"), "{audit}");
    assert!(audit.lines().any(|l| l.contains(",sam,writeoff_approved,CLM-1002,")), "{audit}");
    let (code, _, err) = remitd(&["audit", "--from", &today().to_string(), "--to", &today().pred_opt().unwrap().to_string()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("the date range starts"), "{err}");
}

/// The same reports printed: each PDF read back as text holds the rows and
/// totals its CSV has.
#[tokio::test]
async fn the_command_line_prints_causes_history_receipts_and_audit_as_pdf() {
    let db = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = |name: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(args).env("DATABASE_URL", &db.url).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.starts_with(b"%PDF-"), "{args:?} wrote a PDF");
        let path = dir.path().join(name);
        std::fs::write(&path, &out.stdout).unwrap();
        common::pdf_text(&path)
    };
    let causes = pdf("causes.pdf", &["writeoffs", "causes", "--format", "pdf"]);
    for expected in ["Write-off causes", "the beginning to today", "Service not covered", "Payer forbids balance billing the patient", "250.00", "429.00"] {
        assert!(causes.contains(expected), "{expected:?} missing from:\n{causes}");
    }
    let waiting = causes.lines().find(|l| l.contains("no-balance-billing")).unwrap();
    assert!(waiting.contains("119.00") && waiting.contains("109.00"), "written off and waiting on one row: {waiting}");

    let history = pdf("history.pdf", &["writeoffs", "history", "--format", "pdf"]);
    assert!(history.contains("Write-off history"), "{history}");
    for claim in ["CLM-2001", "CLM-1002"] {
        assert!(history.contains(claim), "{claim} missing from:\n{history}");
    }
    // The mass write-off's receipt alone: its rows under its number, and nothing else.
    let receipt: i64 = sqlx::query_scalar("SELECT max(receipt_id) FROM writeoffs").fetch_one(&db.pool).await.unwrap();
    let one = pdf("receipt.pdf", &["writeoffs", "history", "--receipt", &receipt.to_string(), "--format", "pdf"]);
    assert!(one.contains(&format!("Write-off receipt {receipt}")), "{one}");
    assert!(one.contains("no-balance-billing") && !one.contains("non-covered"), "{one}");
    assert!(one.contains("All reasons"), "{one}");

    let audit = pdf("audit.pdf", &["audit", "--format", "pdf", "--actor", "ann"]);
    assert!(audit.contains("Audit trail") && audit.contains("Actor") && audit.contains("CLM-2001"), "{audit}");
    assert!(!audit.lines().any(|l| l.contains(" sam ")), "only ann's actions: {audit}");
}
