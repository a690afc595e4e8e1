//! The mass write-off of patient balances (source document 001: "Mass
//! Write Off for insurances that do not balance bill the patient"): a
//! preview listing every row, a post under one receipt with one reason and
//! an audit row per claim, the approval gate claim by claim (held by the
//! database too), the filters, and two runs racing for the same balances.

mod common;

use std::process::Command;

use common::{claim, dec, import_csv, ingest, sample, sample_claims_except, TestDb};
use remitd::actors::Scope;
use remitd::writeoff::patient_balances::{self, Filter, RowOutcome};
use remitd::writeoff::{self, history, Approval};

/// The payer of every sample claim.
const MEDICAID: &str = "1999999901";

/// The sample claims with two remittances posted: four claims of the payer
/// leave the patient something to pay (CLM-2003 42.00, CLM-1001 25.00,
/// CLM-1002 169.00, CLM-1003 52.00). `ann` posts payments, `sam` approves.
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[Scope::PaymentWrite, Scope::DenialWrite]), ("sam", &[Scope::WriteoffApprove])]).await;
    db
}

fn medicaid() -> Filter {
    Filter { payer: Some(MEDICAID.into()), ..Filter::default() }
}

const OWED: [(&str, &str); 4] = [("CLM-2003", "42.00"), ("CLM-1001", "25.00"), ("CLM-1002", "169.00"), ("CLM-1003", "52.00")];

async fn patient_balances(db: &TestDb) -> Vec<(String, rust_decimal::Decimal)> {
    let mut out = Vec::new();
    for (id, _) in OWED {
        out.push((id.to_string(), claim(&db.pool, id).await.patient_balance));
    }
    out
}

#[tokio::test]
async fn the_preview_lists_every_row_and_the_post_writes_them_off_under_one_receipt() {
    let db = setup().await;
    let preview = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", None, "ann", true).await.unwrap();
    let rows: Vec<_> = preview.rows.iter().map(|r| (r.claim_id.as_str(), r.balance.to_string(), r.outcome)).collect();
    let expected: Vec<_> = OWED.iter().map(|(c, a)| (*c, a.to_string(), RowOutcome::WrittenOff)).collect();
    assert_eq!(rows, expected, "every row, by account");
    assert!(preview.rows.iter().all(|r| r.payer_name.as_deref() == Some("EXAMPLE TEST HEALTH PLAN")), "the name the remittances gave the payer");
    assert_eq!(claim(&db.pool, "CLM-1002").await.payer_name.as_deref(), Some("EXAMPLE TEST HEALTH PLAN"));
    assert_eq!((preview.written_off, preview.receipt), (dec("288.00"), None));
    assert!(patient_balances(&db).await.iter().zip(OWED).all(|((_, b), (_, owed))| *b == dec(owed)), "a preview writes nothing");
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM writeoff_receipts").fetch_one(&db.pool).await.unwrap(), 0);

    let posted = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", Some("state plan"), "ann", false).await.unwrap();
    assert_eq!(
        posted.rows.iter().map(|r| (r.claim_id.as_str(), r.outcome)).collect::<Vec<_>>(),
        preview.rows.iter().map(|r| (r.claim_id.as_str(), r.outcome)).collect::<Vec<_>>()
    );
    assert_eq!((posted.written_off, posted.receipt), (dec("288.00"), Some(1)));
    for (id, owed) in OWED {
        let c = claim(&db.pool, id).await;
        assert_eq!(c.patient_balance, dec("0"), "{id}");
        let entry = c.entries.iter().find(|e| e.kind == "write_off").unwrap_or_else(|| panic!("{id}: a write_off entry"));
        assert_eq!((entry.amount, entry.reason_code.as_deref(), entry.actor.as_str()), (dec(owed), Some("no-balance-billing"), "ann"), "{id}");
    }
    let audited: Vec<(String, rust_decimal::Decimal)> = sqlx::query_as(
        "SELECT c.claim_id, a.amount FROM audit_log a JOIN claims c ON c.id = a.claim_id WHERE a.receipt_id = 1 AND a.action = 'writeoff_posted' AND a.actor = 'ann' ORDER BY a.id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited.len(), 4, "one audit row per claim: {audited:?}");
    let h = history::history(&db.pool, &history::HistoryFilter { receipt: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(h.rows.len(), 4);
    assert_eq!(h.total, dec("288.00"));
    assert!(h.rows.iter().all(|r| r.note.as_deref() == Some("state plan")));

    let again = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", None, "ann", false).await.unwrap();
    assert_eq!((again.rows.len(), again.receipt), (0, None), "nothing is left, and no receipt is made");
    common::assert_balances_add_up(&db.pool).await;
}

async fn preview(db: &TestDb, f: Filter) -> Result<patient_balances::Outcome, remitd::ledger::ActionError> {
    patient_balances::write_off(&db.pool, &f, "no-balance-billing", None, "ann", true).await
}

#[tokio::test]
async fn filters_narrow_the_run_and_nonsense_is_refused() {
    let db = setup().await;
    let ids = |o: &patient_balances::Outcome| o.rows.iter().map(|r| r.claim_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&preview(&db, Filter { payer: Some("OTHER".into()), ..Filter::default() }).await.unwrap()), Vec::<String>::new());
    assert_eq!(ids(&preview(&db, Filter { account: Some("A00012".into()), ..Filter::default() }).await.unwrap()), ["CLM-1002"]);
    assert_eq!(ids(&preview(&db, Filter { claim: Some("CLM-1003".into()), ..medicaid() }).await.unwrap()), ["CLM-1003"]);
    let by_balance = Filter { min_balance: Some(dec("30")), max_balance: Some(dec("100")), ..medicaid() };
    assert_eq!(ids(&preview(&db, by_balance).await.unwrap()), ["CLM-2003", "CLM-1003"]);
    let by_service = Filter { service_from: Some("2023-12-16".parse().unwrap()), service_to: Some("2023-12-19".parse().unwrap()), ..medicaid() };
    assert_eq!(ids(&preview(&db, by_service).await.unwrap()), ["CLM-2003", "CLM-1002"]);

    for (f, says) in [
        (Filter::default(), "name the payer (--payer), an account (--account) or a claim (--claim)"),
        (
            Filter { service_from: Some("2024-01-02".parse().unwrap()), service_to: Some("2024-01-01".parse().unwrap()), ..medicaid() },
            "the service dates start",
        ),
        (Filter { min_balance: Some(dec("-1")), ..medicaid() }, "a balance bound is zero or more"),
        (Filter { min_balance: Some(dec("5")), max_balance: Some(dec("4")), ..medicaid() }, "the smallest balance (5) is above the largest (4)"),
    ] {
        let e = preview(&db, f).await.unwrap_err().to_string();
        assert!(e.starts_with(says), "{e}");
    }
    let e = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", None, "sam", false).await.unwrap_err();
    assert!(e.to_string().contains("lacks the scope billing.payment.write"), "the reason's scope: {e}");
    let e = patient_balances::write_off(&db.pool, &medicaid(), "other", None, "ann", false).await.unwrap_err();
    assert!(e.to_string().contains("needs a note"), "{e}");

    // A capped reason skips the balances over its cap, saying why.
    let capped = patient_balances::write_off(&db.pool, &medicaid(), "small-balance", None, "ann", false).await.unwrap();
    assert_eq!(capped.count(RowOutcome::Skipped), 4, "every balance is over 10.00");
    assert!(capped.rows[0].why.as_deref().unwrap().starts_with("a write-off of 42.00 is over the cap of reason \"small-balance\""));
    assert_eq!(capped.receipt, None);
}

/// Under `above:100` the 169.00 balance waits for an approver, the rest
/// posts; the waiting claim is skipped by the next run; its requester cannot
/// approve it, another approver can. In `psql` a person posting such a
/// write-off herself is refused by the database.
#[tokio::test]
async fn the_approval_gate_holds_claim_by_claim_here_and_in_the_database() {
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::parse("above:100").unwrap()).await.unwrap();
    let run = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", None, "ann", false).await.unwrap();
    assert_eq!((run.written_off, run.pending_approval), (dec("119.00"), dec("169.00")));
    let waiting = run.rows.iter().find(|r| r.outcome == RowOutcome::PendingApproval).unwrap();
    assert_eq!(waiting.claim_id, "CLM-1002");
    assert_eq!(claim(&db.pool, "CLM-1002").await.patient_balance, dec("169.00"));

    let next = patient_balances::write_off(&db.pool, &medicaid(), "no-balance-billing", None, "ann", true).await.unwrap();
    assert_eq!(next.rows.len(), 1);
    assert_eq!(next.rows[0].outcome, RowOutcome::Skipped);
    assert!(next.rows[0].why.as_deref().unwrap().starts_with("a patient write-off waits for approval"), "{:?}", next.rows[0].why);

    let id = waiting.writeoff_id.unwrap();
    assert!(writeoff::decide_writeoff(&db.pool, id, "ann", true).await.is_err(), "not by its requester");
    writeoff::decide_writeoff(&db.pool, id, "sam", true).await.unwrap();
    assert_eq!(claim(&db.pool, "CLM-1002").await.patient_balance, dec("0"));

    // The same gate in the database: a clerk with the payment scope asks and
    // posts a 169.00 mass write-off herself, in one transaction.
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::parse("above:100").unwrap()).await.unwrap();
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::PaymentWrite])]).await;
    let pool = clerk.pool().await;
    let mine = patient_balances::write_off(&pool, &Filter { claim: Some("CLM-1003".into()), ..medicaid() }, "no-balance-billing", None, &clerk.name, false)
        .await
        .unwrap();
    assert_eq!(mine.written_off, dec("52.00"), "under the limit the workflow posts it");
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE ledger_entries IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.unwrap();
    let id: i64 = sqlx::query_scalar(
        "WITH r AS (INSERT INTO writeoff_receipts (kind, actor, reason) VALUES ('patient_balance', session_user, 'no-balance-billing') RETURNING id)
         INSERT INTO writeoffs (receipt_id, claim_id, amount, bucket, reason, requested_by, status)
         SELECT r.id, c.id, 169.00, 'patient', 'no-balance-billing', session_user, 'PENDING_APPROVAL' FROM r, claims c WHERE c.claim_id = 'CLM-1002'
         RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO audit_log (actor, action, claim_id, writeoff_id, amount) SELECT session_user, 'writeoff_posted', claim_id, id, amount FROM writeoffs WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let e =
        sqlx::query("UPDATE writeoffs SET status = 'POSTED', decided_by = session_user, ledger_entry_id = (SELECT max(id) FROM ledger_entries) WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
    let e = e.as_database_error().unwrap().message().to_string();
    assert_eq!(e, format!("write-off #{id} waits for approval under the policy above:100: an approver posts it"));
    tx.rollback().await.unwrap();
    pool.close().await;
}

/// Two runs over the same payer at once: each balance is written off once,
/// by one of them; the other finds it paid off.
#[tokio::test]
async fn two_runs_at_once_write_each_balance_off_once() {
    let db = setup().await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move { patient_balances::write_off(&pool, &medicaid(), "no-balance-billing", None, "ann", false).await.unwrap() })
        })
        .collect();
    let mut written = rust_decimal::Decimal::ZERO;
    let mut rows = 0;
    for r in runs {
        let out = r.await.unwrap();
        written += out.written_off;
        rows += out.count(RowOutcome::WrittenOff);
    }
    assert_eq!((written, rows), (dec("288.00"), 4));
    let per_claim: Vec<(String, rust_decimal::Decimal)> =
        sqlx::query_as("SELECT c.claim_id, sum(w.amount) FROM writeoffs w JOIN claims c ON c.id = w.claim_id GROUP BY c.claim_id ORDER BY c.claim_id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut owed: Vec<(String, rust_decimal::Decimal)> = OWED.iter().map(|(c, a)| (c.to_string(), dec(a))).collect();
    owed.sort();
    assert_eq!(per_claim, owed);
    common::assert_balances_add_up(&db.pool).await;
}

/// From the command line: the preview as text, CSV and JSON; the post.
#[tokio::test]
async fn the_command_line_previews_as_text_csv_and_json_then_posts() {
    let db = setup().await;
    let remitd = |extra: &[&str]| {
        let mut args = vec!["patient-balance", "writeoff", "--payer", MEDICAID, "--reason", "no-balance-billing"];
        args.extend_from_slice(extra);
        if !extra.contains(&"--actor") {
            args.extend_from_slice(&["--actor", "ann"]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(&args).env("DATABASE_URL", &db.url).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, text, _) = remitd(&["--preview"]);
    assert_eq!(code, Some(0));
    assert!(text.starts_with("PREVIEW: PATIENT BALANCE WRITE-OFF, reason no-balance-billing\n"), "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with("written off")).count(), 4, "{text}");
    assert!(text.contains("TOTALS: 4 written off 288.00; 0 waiting for approval 0.00; 0 skipped"), "{text}");
    assert!(text.ends_with("PREVIEW: nothing was written.\n"), "{text}");

    let (code, csv, _) = remitd(&["--preview", "--format", "csv"]);
    assert_eq!(code, Some(0));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("claim_id,account,payer,payer_name,service_date,balance,outcome,writeoff_id,receipt,reason,why"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!((first[0], first[5], first[6], first[8]), ("CLM-2003", "42.00", "written_off", ""));
    assert_eq!(csv.lines().count(), 5);

    let out = Command::new(env!("CARGO_BIN_EXE_remitd"))
        .args(["patient-balance", "writeoff", "--payer", MEDICAID, "--reason", "no-balance-billing", "--actor", "ann", "--preview", "--format", "pdf"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.starts_with(b"%PDF-"), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("preview.pdf");
    std::fs::write(&pdf, &out.stdout).unwrap();
    let printed = common::pdf_text(&pdf);
    assert!(printed.contains("(preview: nothing written)") && printed.contains("no-balance-billing"), "{printed}");
    let first = printed.lines().find(|l| l.contains("CLM-2003")).unwrap_or_else(|| panic!("CLM-2003 printed:\n{printed}"));
    assert!(first.contains("42.00") && first.contains("written_off"), "{first}");
    assert!(printed.contains("288.00 on 4 claims"), "the total: {printed}");

    let (code, json, _) = remitd(&["--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((v["receipt"].as_i64(), v["written_off"].as_str(), v["rows"].as_array().map(Vec::len)), (Some(1), Some("288.00"), Some(4)));
    assert_eq!(v["rows"][0]["outcome"], "written_off");
    assert!(v["rows"][0]["writeoff_id"].as_i64().is_some());

    let (code, _, err) = remitd(&["--actor", "sam"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("lacks the scope billing.payment.write"), "{err}");
}

/// Insurance write-offs, patient write-offs (Write Off PR and mass alike)
/// and a $0 patient responsibility are different figures in `claim show`,
/// and each claim's figures still add up to its balances.
#[tokio::test]
async fn write_off_buckets_are_kept_apart_in_claim_show() {
    let db = setup().await;
    // CLM-1002: 169.00 of patient responsibility; Write Off PR of 60.00 of
    // its deductible on line 1, then the mass write-off of the rest.
    common::pr_write_off_deductible(&db.pool, "CLM-1002", "60.00", "ann").await;
    patient_balances::write_off(&db.pool, &Filter { claim: Some("CLM-1002".into()), ..medicaid() }, "no-balance-billing", None, "ann", false).await.unwrap();
    let c = claim(&db.pool, "CLM-1002").await;
    assert_eq!(
        (c.patient_responsibility, c.patient_written_off, c.insurance_written_off, c.patient_balance),
        (dec("169.00"), dec("169.00"), dec("0"), dec("0")),
        "the responsibility as the payer said it, and all of it written off on the patient's side"
    );
    // CLM-2001: a denial written off on the payer's side; no patient responsibility.
    let d = remitd::denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap()[0].id;
    writeoff::write_off(&db.pool, writeoff::Request { denial_id: d, reason: "non-covered", note: None, amount: None, actor: "ann" }).await.unwrap();
    let c = claim(&db.pool, "CLM-2001").await;
    assert_eq!((c.insurance_written_off, c.patient_written_off, c.patient_responsibility), (dec("250.00"), dec("0"), dec("0")));
    for id in ["CLM-1002", "CLM-2001", "CLM-1001"] {
        let c = claim(&db.pool, id).await;
        assert_eq!(c.insurance_balance, c.charge - c.paid - c.contractual - c.other_adjustments - c.patient_responsibility - c.insurance_written_off, "{id}");
        assert_eq!(c.patient_balance, c.patient_responsibility - c.patient_written_off, "{id}");
        assert_eq!(c.written_off, c.insurance_written_off + c.patient_written_off, "{id}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).args(["claim", "show", "CLM-1002"]).env("DATABASE_URL", &db.url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "  patient responsibility        169.00",
        "  insurance written off           0.00",
        "  patient written off           169.00",
        "  patient balance                 0.00",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
    }
}
