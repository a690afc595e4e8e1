//! Denials and write-offs against a real PostgreSQL: scopes, reasons, the
//! approval gate, appeals, undo, and the checks source document 004 lists
//! (the denial flips state, the claim balance closes, the audit row carries
//! reason + actor + amount, undo reverses cleanly and the balance returns).

mod common;

use common::{claim, dec, import_csv, ingest, sample, sample_claims_except, TestDb};
use remitd::actors::{self, Scope};
use remitd::denials::{self, DenialStatus};
use remitd::ledger::{ActionError as WriteoffError, WriteoffStatus};
use remitd::writeoff::{self, Approval, Request};

/// A database with the denial sample posted and two actors:
/// `ann` (denial.write, payment.write) and `sam` (approve).
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[Scope::DenialWrite, Scope::PaymentWrite]), ("sam", &[Scope::WriteoffApprove]), ("bob", &[])]).await;
    db
}

async fn denial_of(db: &TestDb, claim_id: &str) -> denials::Denial {
    denials::list(&db.pool, Some(claim_id), None).await.unwrap().into_iter().next().expect("a denial")
}

fn req<'a>(denial_id: i64, reason: &'a str, actor: &'a str) -> Request<'a> {
    Request { denial_id, reason, note: None, amount: None, actor }
}

#[tokio::test]
async fn write_off_with_reason_closes_the_balance_and_is_audited() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    assert_eq!((d.status.as_str(), d.remaining), ("OPEN", dec("250.00")));
    assert_eq!(claim(&db.pool, "CLM-2001").await.insurance_balance, dec("250.00"));

    let out = writeoff::write_off(&db.pool, req(d.id, "non-covered", "ann")).await.unwrap();
    assert_eq!((out.status.as_str(), out.denial_status.unwrap().as_str(), out.amount), ("POSTED", "WRITE_OFF", dec("250.00")));

    let c = claim(&db.pool, "CLM-2001").await;
    assert_eq!(c.insurance_balance, dec("0"), "the claim balance closes");
    assert_eq!(c.written_off, dec("250.00"), "a write-off is visible as such, not as a $0 responsibility");
    assert_eq!(c.denials[0].status, "WRITE_OFF");
    let entry = c.entries.iter().find(|e| e.kind == "write_off").expect("WRITEOFF ledger entry");
    assert_eq!((entry.amount, entry.actor.as_str(), entry.reason_code.as_deref()), (dec("250.00"), "ann", Some("non-covered")));

    let (actor, reason, amount): (String, String, rust_decimal::Decimal) =
        sqlx::query_as("SELECT actor, reason, amount FROM audit_log WHERE action = 'writeoff_posted' AND denial_id = $1")
            .bind(d.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((actor.as_str(), reason.as_str(), amount), ("ann", "non-covered", dec("250.00")));
}

#[tokio::test]
async fn scopes_reasons_and_amounts_are_enforced() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    let e = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "bob")).await.unwrap_err();
    assert!(matches!(&e, WriteoffError::Forbidden { scope, .. } if *scope == Scope::DenialWrite.as_str()), "{e}");
    assert_eq!(e.to_string(), "actor \"bob\" lacks the scope billing.denial.write (grant it with: remitd actor grant bob billing.denial.write)");
    let e = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "nobody")).await.unwrap_err();
    assert!(matches!(e, WriteoffError::UnknownActor(_)), "{e}");
    actors::grant(&db.pool, common::ADMIN, "bob", Scope::DenialWrite).await.unwrap();
    let e = writeoff::write_off(&db.pool, req(d.id, "contractual", "bob")).await.unwrap_err();
    assert!(matches!(&e, WriteoffError::Forbidden { scope, .. } if *scope == Scope::PaymentWrite.as_str()), "contractual write-offs need payment.write: {e}");
    let e = writeoff::write_off(&db.pool, req(d.id, "other", "ann")).await.unwrap_err();
    assert!(e.to_string().contains("needs a note"), "{e}");
    let e = writeoff::write_off(&db.pool, req(d.id, "no-such-reason", "ann")).await.unwrap_err();
    assert!(e.to_string().contains("unknown reason"), "{e}");
    let too_much = Request { amount: Some(dec("250.01")), ..req(d.id, "bad-debt", "ann") };
    assert!(writeoff::write_off(&db.pool, too_much).await.is_err());
    // Nothing of the refused attempts reached the ledger.
    assert_eq!(claim(&db.pool, "CLM-2001").await.written_off, dec("0"));
}

#[tokio::test]
async fn partial_write_off_leaves_the_rest_open_and_other_takes_a_note() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    let part = Request { amount: Some(dec("100.00")), note: Some("payer agreed to 150 on appeal call"), ..req(d.id, "other", "ann") };
    let out = writeoff::write_off(&db.pool, part).await.unwrap();
    assert_eq!(out.denial_status, Some(DenialStatus::Open));
    let after = denial_of(&db, "CLM-2001").await;
    assert_eq!(after.remaining, dec("150.00"));
    assert_eq!(claim(&db.pool, "CLM-2001").await.insurance_balance, dec("150.00"));
    let rest = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.unwrap();
    assert_eq!((rest.amount, rest.denial_status.unwrap().as_str()), (dec("150.00"), "WRITE_OFF"));
}

#[tokio::test]
async fn an_appealed_denial_cannot_be_written_off_until_withdrawn() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    writeoff::appeal(&db.pool, d.id, "ann", true).await.unwrap();
    let e = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.unwrap_err();
    assert!(e.to_string().contains("withdraw the appeal first"), "{e}");
    writeoff::appeal(&db.pool, d.id, "ann", false).await.unwrap();
    assert!(writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.is_ok());
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE denial_id = $1 ORDER BY id").bind(d.id).fetch_all(&db.pool).await.unwrap();
    assert_eq!(actions, ["denial_opened", "denial_appealed", "denial_appeal_withdrawn", "writeoff_posted"]);
}

#[tokio::test]
async fn the_approval_gate_holds_write_offs_above_the_threshold() {
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::Above(dec("100"))).await.unwrap();
    let big = denial_of(&db, "CLM-2001").await; // 250.00: above
    let out = writeoff::write_off(&db.pool, req(big.id, "bad-debt", "ann")).await.unwrap();
    assert_eq!((out.status.as_str(), out.denial_status.unwrap().as_str()), ("PENDING_APPROVAL", "PENDING_WRITEOFF"));
    assert_eq!(claim(&db.pool, "CLM-2001").await.insurance_balance, dec("250.00"), "nothing posts before approval");

    let e = writeoff::decide(&db.pool, big.id, "ann", true).await.unwrap_err();
    assert!(matches!(e, WriteoffError::Forbidden { .. }), "the requester lacks approve: {e}");
    actors::grant(&db.pool, common::ADMIN, "ann", Scope::WriteoffApprove).await.unwrap();
    let e = writeoff::decide(&db.pool, big.id, "ann", true).await.unwrap_err();
    assert!(e.to_string().contains("cannot also approve"), "{e}");
    let approved = writeoff::decide(&db.pool, big.id, "sam", true).await.unwrap();
    assert_eq!((approved.status.as_str(), approved.denial_status.unwrap().as_str()), ("POSTED", "WRITE_OFF"));
    assert_eq!(claim(&db.pool, "CLM-2001").await.insurance_balance, dec("0"));

    // Rejected: the denial is OPEN again, nothing posted.
    let other = denial_of(&db, "CLM-2002").await; // 480.00
    writeoff::write_off(&db.pool, req(other.id, "timely-filing-expired", "ann")).await.unwrap();
    let rejected = writeoff::decide(&db.pool, other.id, "sam", false).await.unwrap();
    assert_eq!((rejected.status.as_str(), rejected.denial_status.unwrap().as_str()), ("REJECTED", "OPEN"));
    assert_eq!(denial_of(&db, "CLM-2002").await.remaining, dec("480.00"));
    assert_eq!(claim(&db.pool, "CLM-2002").await.written_off, dec("0"));
}

#[tokio::test]
async fn undo_reverses_cleanly_and_the_balance_returns() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    let out = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.unwrap();
    assert_eq!(claim(&db.pool, "CLM-2001").await.insurance_balance, dec("0"));
    let e = writeoff::undo(&db.pool, out.writeoff_id, "ann", " ").await.unwrap_err();
    assert!(e.to_string().contains("needs a reason"), "{e}");
    let amount = writeoff::undo(&db.pool, out.writeoff_id, "ann", "EOB shows the payer will pay").await.unwrap();
    assert_eq!(amount, dec("250.00"));
    let c = claim(&db.pool, "CLM-2001").await;
    assert_eq!((c.insurance_balance, c.written_off), (dec("250.00"), dec("0")));
    assert_eq!(c.denials[0].status, "OPEN");
    // History is kept: the write-off and its reversal are both there.
    let kinds: Vec<&str> = c.entries.iter().map(|e| e.kind.as_str()).filter(|k| k.starts_with("write_off")).collect();
    assert_eq!(kinds, ["write_off", "write_off_reversal"]);
    let e = writeoff::undo(&db.pool, out.writeoff_id, "ann", "again").await.unwrap_err();
    assert!(e.to_string().contains("only a posted write-off"), "{e}");
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn the_command_line_names_the_actor_and_refuses_clearly() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    let run = |args: &[&str], actor: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).env("REMITD_ACTOR", actor).args(args).output().unwrap()
    };
    let id = d.id.to_string();
    let out = run(&["denial", "writeoff", &id, "--reason", "bad-debt"], "bob");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lacks the scope billing.denial.write"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "50"], "ann");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("of 50 posted"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&["denial", "list", "--claim", "CLM-2001", "--format", "json"], "ann");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["remaining"], "200.00");
    assert_eq!(list[0]["reason_codes"][0], "CO-50");
}

/// The original posting the reversal sample reverses, with CLM-3002's
/// denial (OPEN when posted) written off in full.
async fn original_denial_written_off(db: &TestDb, dir: &std::path::Path) -> denials::Denial {
    let original = dir.join("original.835");
    std::fs::write(&original, common::original_of_reversals()).unwrap();
    ingest(&db.pool, &original).await;
    let d = denial_of(db, "CLM-3002").await;
    assert_eq!(d.status, DenialStatus::Open);
    writeoff::write_off(&db.pool, req(d.id, "auth-denied-final", "ann")).await.unwrap();
    d
}

#[tokio::test]
async fn a_payer_reversal_reopens_a_written_off_denial_and_the_correction_resolves_it() {
    let db = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = original_denial_written_off(&db, dir.path()).await;
    assert_eq!(claim(&db.pool, "CLM-3002").await.insurance_balance, dec("0"));

    let out = ingest(&db.pool, &sample("valid/reversal-and-correction.835")).await;
    let remitd::ingest::FileOutcome::Posted { claims, .. } = out else { panic!("{out:?}") };
    assert_eq!((claims.reversals, claims.denials_reopened, claims.denials_resolved), (2, 1, 1));

    let c = claim(&db.pool, "CLM-3002").await;
    let denial = c.denials.iter().find(|x| x.id == d.id).unwrap();
    assert_eq!(denial.status, "RESOLVED", "resolved with the new payment");
    assert_eq!(c.written_off, dec("0"), "the write-off was reversed by a new entry");
    assert!(c.entries.iter().any(|e| e.kind == "write_off_reversal" && e.actor == "system"));
    assert!(c.paid > dec("0"));
    // The balance follows: charge less the corrected claim's payment and adjustments.
    assert_eq!(c.insurance_balance, c.charge - c.paid - c.contractual - c.other_adjustments - c.patient_responsibility - c.insurance_written_off);
    let (actor, detail): (String, serde_json::Value) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'denial_reopened' AND denial_id = $1").bind(d.id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(actor, "system");
    assert_eq!(detail["trace_number"], "EFT-20240205-0003");
}

#[tokio::test]
async fn a_reversal_that_matches_no_posting_flags_the_denial_for_a_person() {
    let db = setup().await;
    let d = denial_of(&db, "CLM-2001").await;
    let out = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.unwrap();
    // A reversal of CLM-2001 under a payer claim number remitd never posted.
    let dir = tempfile::tempdir().unwrap();
    let odd = common::clp("CLM-2001", "4", "250.00", "NEVER-POSTED", &[("CO", "50", "250.00")]);
    let path = common::remittance_file(dir.path(), "EFT-ODD", vec![common::reversal_of(&odd)]);
    let outcome = ingest(&db.pool, &path).await;
    let remitd::ingest::FileOutcome::Posted { claims, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(claims.denials_flagged, 1);

    let flagged = remitd::writeoff::reopen::flagged(&db.pool).await.unwrap();
    assert_eq!(flagged.len(), 1);
    assert_eq!((flagged[0].denial_id, flagged[0].claim_id.as_str(), flagged[0].status), (d.id, "CLM-2001", DenialStatus::WriteOff));
    assert!(flagged[0].reason.contains("EFT-ODD"), "{}", flagged[0].reason);

    let e = remitd::writeoff::reopen::reopen_by_hand(&db.pool, d.id, "bob").await.unwrap_err();
    assert!(matches!(e, WriteoffError::Forbidden { .. }), "{e}");
    remitd::writeoff::reopen::reopen_by_hand(&db.pool, d.id, "ann").await.unwrap();
    assert_eq!(denial_of(&db, "CLM-2001").await.status, DenialStatus::Open);
    assert!(remitd::writeoff::reopen::flagged(&db.pool).await.unwrap().is_empty());
    let status: String = sqlx::query_scalar("SELECT status FROM writeoffs WHERE id = $1").bind(out.writeoff_id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "UNDONE");
}

#[tokio::test]
async fn bulk_write_off_skips_protected_states_and_gives_a_receipt() {
    let db = setup().await;
    let d2002 = denial_of(&db, "CLM-2002").await; // 480.00; CLM-2001 has 250.00
    writeoff::appeal(&db.pool, d2002.id, "ann", true).await.unwrap();
    let filter = writeoff::BulkFilter { max_balance: Some(dec("500")), ..Default::default() };

    let preview = writeoff::bulk(&db.pool, &filter, "bad-debt", None, "ann", true).await.unwrap();
    assert_eq!((preview.receipt, preview.matched, preview.written_off), (None, 2, 1));
    assert_eq!(claim(&db.pool, "CLM-2001").await.written_off, dec("0"), "a preview writes nothing");

    let run = writeoff::bulk(&db.pool, &filter, "bad-debt", None, "ann", false).await.unwrap();
    assert!(run.receipt.is_some());
    assert_eq!((run.matched, run.written_off, run.total), (2, 1, dec("250.00")));
    assert_eq!(run.skipped.len(), 1);
    assert_eq!((run.skipped[0].denial_id, run.skipped[0].why.as_str()), (d2002.id, "under appeal (protected)"));
    assert_eq!(denial_of(&db, "CLM-2001").await.status, DenialStatus::WriteOff);
    assert_eq!(denial_of(&db, "CLM-2002").await.status, DenialStatus::AppealPending);
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'writeoff_posted' AND receipt_id = $1")
        .bind(run.receipt)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(audited, 1, "one audit row per written-off row");

    // Age filter: nothing is 30 days old yet, unless counted from later.
    let young = writeoff::BulkFilter { min_age_days: Some(30), ..Default::default() };
    assert_eq!(writeoff::bulk(&db.pool, &young, "bad-debt", None, "ann", true).await.unwrap().matched, 0);
    let later = writeoff::BulkFilter { min_age_days: Some(30), as_of: Some(chrono::Local::now().date_naive() + chrono::Days::new(31)), ..Default::default() };
    assert_eq!(writeoff::bulk(&db.pool, &later, "bad-debt", None, "ann", true).await.unwrap().matched, 3);
}

#[tokio::test]
async fn the_gate_applies_row_by_row_in_a_bulk_run() {
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::Above(dec("300"))).await.unwrap();
    let run =
        writeoff::bulk(&db.pool, &writeoff::BulkFilter { max_balance: Some(dec("500")), ..Default::default() }, "bad-debt", None, "ann", false).await.unwrap();
    assert_eq!((run.written_off, run.pending_approval), (1, 1), "250 posts, 480 waits");
    assert_eq!(denial_of(&db, "CLM-2002").await.status, DenialStatus::PendingWriteoff);
}

#[tokio::test]
async fn history_finds_write_offs_by_receipt_date_and_reason_with_totals() {
    let db = setup().await;
    let single = writeoff::write_off(&db.pool, req(denial_of(&db, "CLM-2001").await.id, "non-covered", "ann")).await.unwrap();
    let bulk =
        writeoff::bulk(&db.pool, &writeoff::BulkFilter { claim: Some("CLM-2002".into()), ..Default::default() }, "timely-filing-expired", None, "ann", false)
            .await
            .unwrap();
    let all = remitd::writeoff::history::history(&db.pool, &Default::default()).await.unwrap();
    assert_eq!(all.rows.len(), 2);
    assert_eq!(all.totals_by_reason.get("non-covered"), Some(&dec("250.00")));
    assert_eq!(all.totals_by_reason.get("timely-filing-expired"), Some(&dec("480.00")));
    assert_eq!(all.total, dec("730.00"));
    let by_receipt =
        remitd::writeoff::history::history(&db.pool, &remitd::writeoff::history::HistoryFilter { receipt: bulk.receipt, ..Default::default() }).await.unwrap();
    assert_eq!(by_receipt.rows.len(), 1);
    assert_eq!((by_receipt.rows[0].receipt_kind.as_str(), by_receipt.rows[0].claim_id.as_str()), ("bulk", "CLM-2002"));
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let none =
        remitd::writeoff::history::history(&db.pool, &remitd::writeoff::history::HistoryFilter { to: Some(yesterday), ..Default::default() }).await.unwrap();
    assert!(none.rows.is_empty());
    // Undone write-offs stay in the history but leave the totals.
    writeoff::undo(&db.pool, single.writeoff_id, "ann", "posted to the wrong claim").await.unwrap();
    let after = remitd::writeoff::history::history(&db.pool, &remitd::writeoff::history::HistoryFilter { reason: Some("non-covered"), ..Default::default() })
        .await
        .unwrap();
    assert_eq!((after.rows.len(), after.rows[0].status.as_str(), after.total), (1, "UNDONE", dec("0")));

    let csv = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &db.url)
        .args(["writeoffs", "history", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("writeoff_id,receipt,kind,at,claim_id"), "{text}");
    assert_eq!(text.lines().count(), 3);
}

#[tokio::test]
async fn the_audit_trail_is_filtered_by_claim_and_actor() {
    let db = setup().await;
    writeoff::write_off(&db.pool, req(denial_of(&db, "CLM-2001").await.id, "bad-debt", "ann")).await.unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &db.url)
        .args(["audit", "--claim", "CLM-2001", "--actor", "ann", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["action"], "writeoff_posted");
    assert_eq!(rows[0]["reason"], "bad-debt");
    assert_eq!(rows[0]["amount"], "250.00");
    assert_eq!(rows[0]["claim_id"], "CLM-2001");
}

#[tokio::test]
async fn pr_write_off_moves_patient_responsibility_to_other_adjustments_net_zero() {
    let db = setup().await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    // CLM-1002: line 1 PR-1 160.00, line 2 PR-2 9.00; patient balance 169.00.
    let before = claim(&db.pool, "CLM-1002").await;
    assert_eq!(before.patient_balance, dec("169.00"));
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).env("REMITD_ACTOR", "ann").args(args).output().unwrap()
    };

    let ambiguous = run(&["pr-writeoff", "CLM-1002", "--carc", "1=10", "--reason", "hardship"]);
    assert_eq!(ambiguous.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&ambiguous.stderr).contains("--line"), "{}", String::from_utf8_lossy(&ambiguous.stderr));

    let preview = run(&["pr-writeoff", "CLM-1002", "--line", "1", "--carc", "1=60.00", "--reason", "hardship", "--preview"]);
    assert!(preview.status.success(), "{}", String::from_utf8_lossy(&preview.stderr));
    let text = String::from_utf8_lossy(&preview.stdout);
    assert!(text.contains("preview, nothing written") && text.contains("169.00 ->     109.00"), "{text}");
    assert_eq!(claim(&db.pool, "CLM-1002").await, before, "a preview writes nothing");

    let too_much = run(&["pr-writeoff", "CLM-1002", "--line", "2", "--carc", "2=9.01", "--reason", "hardship"]);
    assert_eq!(too_much.status.code(), Some(1));

    let posted = run(&["pr-writeoff", "CLM-1002", "--line", "1", "--carc", "1=60.00", "--reason", "patient-uncollectable"]);
    assert!(posted.status.success(), "{}", String::from_utf8_lossy(&posted.stderr));
    let after = claim(&db.pool, "CLM-1002").await;
    assert_eq!(after.patient_balance, dec("109.00"));
    assert_eq!(after.insurance_balance, before.insurance_balance, "net zero on the insurance side");
    // Shown as what it is: a patient write-off of responsibility the payer
    // assigned, not an adjustment of the payer's.
    assert_eq!(
        (after.other_adjustments, after.patient_responsibility, after.patient_written_off, after.insurance_written_off),
        (before.other_adjustments, before.patient_responsibility, before.patient_written_off + dec("60.00"), dec("0"))
    );
    // The original PR entry is untouched and still visible; the move is its own lines.
    assert!(after.entries.iter().any(|e| e.kind == "patient_responsibility" && e.amount == dec("160.00")));
    assert!(after.entries.iter().any(|e| e.kind == "patient_responsibility" && e.amount == dec("-60.00") && e.line_number == Some(1)));

    // Undo restores it.
    let id: i64 = sqlx::query_scalar("SELECT id FROM writeoffs WHERE bucket = 'patient'").fetch_one(&db.pool).await.unwrap();
    writeoff::undo(&db.pool, id, "ann", "copay was collected after all").await.unwrap();
    let undone = claim(&db.pool, "CLM-1002").await;
    assert_eq!(
        (undone.patient_balance, undone.other_adjustments, undone.patient_written_off),
        (before.patient_balance, before.other_adjustments, before.patient_written_off)
    );
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn the_configured_approval_policy_applies_once_and_is_audited() {
    let db = setup().await;
    let above = Approval::parse("above:100").unwrap();
    assert!(writeoff::apply_configured_policy(&db.pool, above).await.unwrap(), "off -> above:100");
    assert!(!writeoff::apply_configured_policy(&db.pool, above).await.unwrap(), "already in force: nothing to do");
    let mut conn = db.pool.acquire().await.unwrap();
    assert_eq!(writeoff::approval_policy(&mut conn).await.unwrap(), above);
    let rows: Vec<(String, String, serde_json::Value)> =
        sqlx::query_as("SELECT actor, reason, detail FROM audit_log WHERE action = 'approval_policy_set'").fetch_all(&db.pool).await.unwrap();
    assert_eq!(rows.len(), 1, "one change, one audit row");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2["from"].as_str()), ("system", "above:100", Some("configuration")));
    // A write-off above the threshold now waits.
    let d = denial_of(&db, "CLM-2001").await;
    let out = writeoff::write_off(&db.pool, req(d.id, "bad-debt", "ann")).await.unwrap();
    assert_eq!(out.status, WriteoffStatus::PendingApproval);
}

/// A bulk preview lists every denial it would write off, not only the
/// skipped ones, as text, CSV or JSON; balance and service-date filters
/// narrow it as on the other mass workflows.
#[tokio::test]
async fn bulk_preview_lists_every_row_and_filters_by_balance_and_service_date() {
    let db = setup().await;
    let all = writeoff::bulk(&db.pool, &writeoff::BulkFilter::default(), "bad-debt", None, "ann", true).await.unwrap();
    assert_eq!(all.taken.len(), all.written_off);
    assert!(all.taken.iter().any(|t| t.claim_id == "CLM-2002" && t.amount == dec("480.00")), "{:?}", all.taken);
    assert_eq!(all.total, all.taken.iter().map(|t| t.amount).sum::<rust_decimal::Decimal>());
    let big = writeoff::BulkFilter { min_balance: Some(dec("300")), ..Default::default() };
    let big = writeoff::bulk(&db.pool, &big, "bad-debt", None, "ann", true).await.unwrap();
    assert!(big.taken.iter().all(|t| t.amount >= dec("300")) && big.taken.iter().any(|t| t.claim_id == "CLM-2002"), "{:?}", big.taken);
    assert!(!big.taken.iter().any(|t| t.claim_id == "CLM-2001"), "250.00 is under 300: {:?}", big.taken);
    let recent = writeoff::BulkFilter { service_from: Some("2023-01-01".parse().unwrap()), ..Default::default() };
    let recent = writeoff::bulk(&db.pool, &recent, "bad-debt", None, "ann", true).await.unwrap();
    assert!(!recent.taken.iter().any(|t| t.claim_id == "CLM-2002"), "served 2022-09-01: {:?}", recent.taken);
    assert!(recent.taken.iter().any(|t| t.claim_id == "CLM-2001"));
    assert_eq!(claim(&db.pool, "CLM-2002").await.written_off, dec("0"), "previews write nothing");

    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).env("REMITD_ACTOR", "ann").args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (code, csv) = run(&["denial", "bulk-writeoff", "--reason", "bad-debt", "--preview", "--format", "csv"]);
    assert_eq!(code, Some(0));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "denial_id,claim_id,outcome,amount,writeoff_id,receipt,why");
    assert_eq!(lines.len(), 1 + all.taken.len() + all.skipped.len());
    assert!(lines.iter().any(|l| l.contains(",CLM-2002,POSTED,480.00,,,")), "{csv}");
    let (code, text) = run(&["denial", "bulk-writeoff", "--reason", "bad-debt", "--preview"]);
    assert_eq!(code, Some(0));
    assert!(text.lines().any(|l| l.contains("CLM-2002") && l.contains("480.00") && l.ends_with("posted")), "{text}");
    let (code, json) = run(&["denial", "bulk-writeoff", "--reason", "bad-debt", "--format", "json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["taken"].as_array().map(Vec::len), Some(all.taken.len()));
    assert!(v["receipt"].as_i64().is_some());
    assert_eq!(claim(&db.pool, "CLM-2002").await.written_off, dec("480.00"));
}

/// The denial worklist filters by payer, account, what remains and age,
/// and the approval queue shows who asked, why and for how much (while
/// `remaining` is 0, the request holding all of it).
#[tokio::test]
async fn the_denial_list_filters_and_shows_the_request_waiting_for_approval() {
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::parse("all").unwrap()).await.unwrap();
    let d = denial_of(&db, "CLM-2002").await;
    writeoff::write_off(&db.pool, Request { note: Some("old, never appealed"), ..req(d.id, "bad-debt", "ann") }).await.unwrap();
    let filter = |f: denials::DenialFilter<'static>| {
        let pool = db.pool.clone();
        async move { denials::list_where(&pool, &f).await.unwrap().into_iter().map(|d| d.claim_id).collect::<Vec<_>>() }
    };
    let all = filter(denials::DenialFilter::default()).await;
    assert_eq!(filter(denials::DenialFilter { payer: Some("1999999901"), ..Default::default() }).await, all);
    assert!(filter(denials::DenialFilter { payer: Some("nobody"), ..Default::default() }).await.is_empty());
    assert_eq!(filter(denials::DenialFilter { account: Some("A00001"), ..Default::default() }).await, ["CLM-2001"]);
    let big = filter(denials::DenialFilter { min_remaining: Some(dec("200")), max_remaining: Some(dec("300")), ..Default::default() }).await;
    assert_eq!(big, ["CLM-2001"], "CLM-2002's 480.00 waits for approval: nothing remains of it");
    assert!(filter(denials::DenialFilter { min_age_days: Some(1), ..Default::default() }).await.is_empty(), "every denial opened today");
    // A limit keeps the oldest, after the filters on what remains.
    assert_eq!(filter(denials::DenialFilter { limit: Some(1), ..Default::default() }).await, all[..1]);
    let nothing_left = filter(denials::DenialFilter { max_remaining: Some(dec("0")), ..Default::default() }).await;
    assert_ne!(nothing_left.first(), all.first(), "the filter on what remains skips the oldest denial");
    assert_eq!(filter(denials::DenialFilter { max_remaining: Some(dec("0")), limit: Some(1), ..Default::default() }).await, nothing_left[..1]);

    let queue = denials::list_where(&db.pool, &denials::DenialFilter { status: Some(DenialStatus::PendingWriteoff), ..Default::default() }).await.unwrap();
    assert_eq!(queue.len(), 1);
    let w = queue[0].waiting.as_ref().expect("the request");
    assert_eq!((w.requested_by.as_str(), w.reason.as_str(), w.amount, queue[0].remaining), ("ann", "bad-debt", dec("480.00"), dec("0")));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
        .args(["denial", "list", "--status", "PENDING_WRITEOFF"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("waiting: write-off #{} of 480.00, reason bad-debt, requested by ann on ", w.writeoff_id)), "{text}");
    assert!(text.lines().next().unwrap().contains(" A00002 "), "the account is shown: {text}");
}

/// Source document 004: when auto-reopen did not fire because the payer's
/// reversal names a claim id we do not have, support posts the reversal and
/// the corrected claim against the original claim by hand; the write-off is
/// reversed, and the denial reopens and resolves as it would have
/// automatically.
#[tokio::test]
async fn a_reversal_matched_by_hand_reopens_and_the_correction_resolves_the_denial() {
    let db = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let d = original_denial_written_off(&db, dir.path()).await;

    let sent = std::fs::read_to_string(sample("valid/reversal-and-correction.835")).unwrap().replace("CLP*CLM-3002*", "CLP*ZZ-77*");
    let file = dir.path().join("renamed.835");
    std::fs::write(&file, sent).unwrap();
    ingest(&db.pool, &file).await;
    let queued: Vec<_> = remitd::posting::unmatched::list(&db.pool, false).await.unwrap().into_iter().filter(|i| i.claim_ref == "ZZ-77").collect();
    assert_eq!(queued.len(), 2, "the reversal and the correction wait: {queued:?}");
    assert_eq!(denial_of(&db, "CLM-3002").await.status, DenialStatus::WriteOff, "nothing reopened it");

    let wait = std::time::Duration::from_secs(5);
    let tried = |id: i64, against: &'static str| {
        let pool = db.pool.clone();
        async move {
            match remitd::posting::unmatched::refeed_or_ask(&pool, Some(id), Some(against), wait).await.unwrap() {
                remitd::posting::unmatched::Asked::Done { tried, .. } => tried.into_iter().next().unwrap(),
                other => panic!("{other:?}"),
            }
        }
    };
    let nowhere = tried(queued[0].id, "CLM-NONE").await;
    assert!(!nowhere.posted && nowhere.message.contains("there is no claim \"CLM-NONE\""), "{nowhere:?}");
    assert!(remitd::posting::unmatched::refeed_or_ask(&db.pool, None, Some("CLM-3002"), wait).await.is_err(), "a claim is named for one item");

    // In file order: the reversal, then the corrected claim; the second on
    // a clerk's own login, who asks the daemon (here answered as it would).
    let t = tried(queued[0].id, "CLM-3002").await;
    assert!(t.posted, "{t:?}");
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::PaymentWrite])]).await;
    let pool = clerk.pool().await;
    let asked = remitd::posting::unmatched::request(&pool, Some(queued[1].id), Some("CLM-3002")).await.unwrap();
    let cats = remitd::posting::load_categories(&db.pool).await.unwrap();
    assert_eq!(remitd::posting::unmatched::answer_requests(&db.pool, &cats).await.unwrap(), 1);
    let answer = remitd::posting::unmatched::answer(&pool, asked).await.unwrap().expect("answered");
    assert!(answer[0].posted, "{answer:?}");
    pool.close().await;
    let c = claim(&db.pool, "CLM-3002").await;
    assert_eq!(c.denials.iter().find(|x| x.id == d.id).unwrap().status, "RESOLVED");
    assert_eq!(c.insurance_written_off, dec("0"), "the write-off was reversed");
    let audited: Vec<serde_json::Value> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'unmatched_matched_by_hand' ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!((audited[0]["claim_ref"].as_str(), audited[0]["posted_against"].as_str()), (Some("ZZ-77"), Some("CLM-3002")));
    assert_eq!(audited[1]["requested_by"].as_str(), Some(clerk.name.as_str()), "the person who asked is on the record");
    common::assert_balances_add_up(&db.pool).await;
}
