//! Posting remittances into a real PostgreSQL: every rule, duplicates,
//! reversals, the unmatched queue, test data and claim import.

mod common;

use common::{claim, dec, import_csv, ingest, original_of_reversals, sample, sample_claims_except, TestDb};
use remitd::ingest::FileOutcome;

fn posted(outcome: &FileOutcome) -> &remitd::posting::ClaimsOutcome {
    match outcome {
        FileOutcome::Posted { claims, .. } => claims,
        other => panic!("expected the file to post, got {other:?}"),
    }
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

#[tokio::test]
async fn payments_contractual_and_patient_responsibility_post_per_line() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let out = ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    assert_eq!(posted(&out).posted, 3);

    let c = claim(&db.pool, "CLM-1001").await;
    assert_eq!((c.charge, c.paid, c.contractual, c.patient_responsibility), (dec("175.00"), dec("109.40"), dec("40.60"), dec("25.00")));
    assert_eq!(c.insurance_balance, dec("0"));
    assert_eq!(c.patient_balance, dec("25.00"));
    assert_eq!(c.status, "patient_balance");
    // PR keeps its CARC (3 = copay) and lands on the line it came from (REF*6R).
    let copay = c.entries.iter().find(|e| e.kind == "patient_responsibility").expect("PR entry");
    assert_eq!((copay.reason_code.as_deref(), copay.line_number, copay.amount), (Some("3"), Some(1), dec("25.00")));

    let c2 = claim(&db.pool, "CLM-1002").await;
    let deductible: Vec<_> = c2.entries.iter().filter(|e| e.reason_code.as_deref() == Some("1")).collect();
    assert_eq!(deductible.len(), 1);
    assert_eq!(deductible[0].amount, dec("160.00"));
    assert_eq!(c2.patient_balance, dec("169.00"));
}

#[tokio::test]
async fn denials_open_and_the_denied_amount_stays_owed() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let out = ingest(&db.pool, &sample("valid/denial.835")).await;
    assert_eq!(posted(&out).denials_opened, 3);

    let denied = claim(&db.pool, "CLM-2001").await;
    assert_eq!(denied.denials.len(), 1);
    assert_eq!(denied.denials[0].status, "OPEN");
    assert_eq!(denied.denials[0].reason_codes, vec!["CO-50".to_string()]);
    assert_eq!(denied.denials[0].amount, dec("250.00"));
    assert_eq!(denied.insurance_balance, dec("250.00"), "a denial is owed until written off, appealed or paid");
    assert_eq!(denied.status, "denied");

    let timely = claim(&db.pool, "CLM-2002").await;
    assert_eq!(timely.denials[0].reason_codes, vec!["CO-29".to_string()]);

    let line_denial = claim(&db.pool, "CLM-2003").await;
    assert_eq!(line_denial.denials.len(), 1);
    assert_eq!(line_denial.denials[0].line_number, Some(2));
    assert_eq!(line_denial.denials[0].reason_codes, vec!["CO-197".to_string()]);
    let audits = count(&db, "SELECT count(*) FROM audit_log WHERE action = 'denial_opened' AND actor = 'system'").await;
    assert_eq!(audits, 3);
}

#[tokio::test]
async fn the_same_file_or_the_same_payment_posts_once() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let first = ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    assert_eq!(posted(&first).posted, 3);
    let entries = count(&db, "SELECT count(*) FROM ledger_entries").await;

    let again = ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    assert!(matches!(again, FileOutcome::Duplicate { ref state, .. } if state == "posted"), "{again:?}");

    // Same payment (payer + TRN02) in other bytes: a resend with a new ISA13.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(sample("valid/paid-claims.835")).unwrap();
    let resend = dir.path().join("resend.835");
    std::fs::write(&resend, text.replace("000000101", "000000102")).unwrap();
    let out = ingest(&db.pool, &resend).await;
    assert!(matches!(out, FileOutcome::Posted { already_posted: 1, transactions: 1, .. }), "{out:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, entries, "nothing posted twice");
}

#[tokio::test]
async fn a_reversal_negates_the_original_and_the_correction_posts() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("original.835");
    std::fs::write(&original, original_of_reversals()).unwrap();
    let first = ingest(&db.pool, &original).await;
    assert_eq!(posted(&first).posted, 2);
    let paid_before = claim(&db.pool, "CLM-3001").await.paid;
    assert!(paid_before > dec("0"));

    let out = ingest(&db.pool, &sample("valid/reversal-and-correction.835")).await;
    let o = posted(&out);
    assert_eq!((o.reversals, o.posted, o.unmatched), (2, 2, 0));

    let c = claim(&db.pool, "CLM-3001").await;
    let reversals: Vec<_> = c.entries.iter().filter(|e| e.kind == "reversal").collect();
    assert!(!reversals.is_empty());
    assert!(reversals.iter().all(|e| e.reversed_kind.is_some()));
    let corrected: rust_decimal::Decimal =
        c.entries.iter().filter(|e| e.kind == "payment" && e.trace_number.as_deref() == Some("EFT-20240205-0003")).map(|e| e.amount).sum();
    assert_eq!(c.paid, corrected, "only the corrected payment remains");
    // Reversing again (a resend of the reversal under a new trace) finds nothing left to reverse.
    let posted_reversals = count(&db, "SELECT count(*) FROM claim_postings WHERE reverses_posting_id IS NOT NULL").await;
    assert_eq!(posted_reversals, 2);
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn unmatched_claims_queue_and_post_after_the_claim_is_imported() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&["CLM-1003"])).await;
    let out = ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    assert_eq!((posted(&out).posted, posted(&out).unmatched), (2, 1));

    let queue = remitd::posting::unmatched::list(&db.pool, false).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].claim_ref, "CLM-1003");
    assert!(queue[0].reason.contains("no claim"), "{}", queue[0].reason);
    let cats = remitd::posting::load_categories(&db.pool).await.unwrap();

    // Still missing: stays queued, nothing posted.
    let early = remitd::posting::unmatched::refeed(&db.pool, queue[0].id, &cats, None).await.unwrap();
    assert!(matches!(early, remitd::posting::unmatched::Refeed::StillUnmatched { .. }), "{early:?}");

    let all = std::fs::read_to_string(sample("claims.csv")).unwrap();
    let only: String = all.lines().filter(|l| l.starts_with("claim_id,") || l.starts_with("CLM-1003,")).map(|l| format!("{l}\n")).collect();
    import_csv(&db.pool, &only).await;
    let refed = remitd::posting::unmatched::refeed(&db.pool, queue[0].id, &cats, None).await.unwrap();
    assert!(matches!(refed, remitd::posting::unmatched::Refeed::Posted(_)), "{refed:?}");
    let c = claim(&db.pool, "CLM-1003").await;
    assert_eq!(c.paid, dec("108.00"));
    assert!(remitd::posting::unmatched::list(&db.pool, false).await.unwrap().is_empty());
    // Re-feeding again does nothing.
    let twice = remitd::posting::unmatched::refeed(&db.pool, queue[0].id, &cats, None).await.unwrap();
    assert!(matches!(twice, remitd::posting::unmatched::Refeed::NotOpen { .. }), "{twice:?}");
    assert_eq!(claim(&db.pool, "CLM-1003").await.paid, dec("108.00"));
}

#[tokio::test]
async fn claim_ids_match_folded_and_by_unique_prefix() {
    let db = TestDb::new().await;
    let csv = sample_claims_except(&[]).replace("CLM-1001,", "clm-1001 ,").replace("CLM-1002,", "CLM-1002-LONG-SUFFIX,");
    import_csv(&db.pool, &csv).await;
    let out = ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    assert_eq!(posted(&out).posted, 3, "{out:?}");
    assert_eq!(claim(&db.pool, "clm-1001").await.paid, dec("109.40"));
    assert_eq!(claim(&db.pool, "CLM-1002-LONG-SUFFIX").await.paid, dec("36.00"));
}

#[tokio::test]
async fn provider_adjustments_post_at_remittance_level() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/provider-adjustments.835")).await;
    let plb = count(&db, "SELECT count(*) FROM ledger_entries WHERE kind = 'provider_adjustment'").await;
    assert!(plb >= 4, "{plb}");
    let sum: rust_decimal::Decimal =
        sqlx::query_scalar("SELECT sum(amount) FROM ledger_entries WHERE kind = 'provider_adjustment'").fetch_one(&db.pool).await.unwrap();
    let paid: rust_decimal::Decimal = sqlx::query_scalar("SELECT sum(amount) FROM ledger_entries WHERE kind = 'payment'").fetch_one(&db.pool).await.unwrap();
    let check: rust_decimal::Decimal = sqlx::query_scalar("SELECT payment_amount FROM remittances").fetch_one(&db.pool).await.unwrap();
    assert_eq!(paid - sum, check, "ledger reproduces the check: payments - provider adjustments = BPR02");
    let interest = count(&db, "SELECT count(*) FROM ledger_entries WHERE kind = 'interest'").await;
    assert!(interest >= 1);
}

#[tokio::test]
async fn test_data_is_never_posted() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &std::fs::read_to_string(sample("claims.csv")).unwrap().replace("CLM-6001", "CLM-9001")).await;
    let out = ingest(&db.pool, &sample("valid/test-usage.835")).await;
    assert!(matches!(out, FileOutcome::Test { transactions: 1, .. }), "{out:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM remittances").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM ingested_files WHERE state = 'test'").await, 1);
}

#[tokio::test]
async fn a_refused_file_posts_nothing_and_keeps_its_reason() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let out = ingest(&db.pool, &sample("refused/imbalanced-transaction.835")).await;
    assert!(matches!(out, FileOutcome::Refused { .. }), "{out:?}");
    let reason: String = sqlx::query_scalar("SELECT refusal_reason FROM ingested_files WHERE state = 'refused'").fetch_one(&db.pool).await.unwrap();
    assert!(reason.contains("BPR02") && reason.contains("does not balance"), "{reason}");
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 0);
}

#[tokio::test]
async fn claims_import_upserts_and_a_bad_row_imports_nothing() {
    let db = TestDb::new().await;
    let header = "claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed\n";
    let good = format!("{header}C1,A1,\"DOE, JANE\",P1,2024-01-02,99213:25,100.00,2024-01-10,1\nC1,A1,\"DOE, JANE\",P1,2024-01-02,36415,20.00,2024-01-10,1\n");
    let s = import_csv(&db.pool, &good).await;
    assert_eq!((s.claims, s.lines), (1, 2));
    // Re-import updates in place.
    import_csv(&db.pool, &good.replace("100.00", "110.00").replace(",1\n", ",2\n")).await;
    let c = claim(&db.pool, "C1").await;
    assert_eq!((c.charge, c.times_billed), (dec("130.00"), 2));
    assert_eq!(count(&db, "SELECT count(*) FROM service_lines").await, 2);
    let mods: Vec<String> = sqlx::query_scalar("SELECT modifiers FROM service_lines WHERE line_number = 1").fetch_one(&db.pool).await.unwrap();
    assert_eq!(mods, vec!["25".to_string()]);

    let bad = format!("{header}C2,A2,\"ROE, RICHARD\",P1,2024-01-02,99213,50.00,,0\nC3,A3,\"POE, EDGAR\",P1,2024-02-30,99213,50.00,,0\n");
    let err = remitd::claims::import::read(bad.as_bytes()).expect_err("bad date");
    assert_eq!(err.to_string(), "line 3: service_date must be a date YYYY-MM-DD, found \"2024-02-30\"");
    assert!(remitd::claims::view::show(&db.pool, "C2").await.unwrap().is_none(), "nothing from a refused file");
    let wrong_header = remitd::claims::import::read("claim,account\nx,y\n".as_bytes()).expect_err("header");
    assert!(wrong_header.to_string().starts_with("header must be"), "{wrong_header}");
}

#[tokio::test]
async fn carc_categories_are_data_changed_by_an_admin_and_apply_to_later_postings() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    // CLM-2001 is denied CO-50 before the change.
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[("ann", &[]), ("root", &[remitd::actors::Scope::Admin])]).await;
    let set = |actor: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"));
        cmd.env("DATABASE_URL", &db.url).env_remove("REMITD_ACTOR").args(["carc", "set", "CO", "50", "contractual"]);
        if let Some(a) = actor {
            cmd.args(["--actor", a]);
        }
        cmd.output().unwrap()
    };
    let unnamed = set(None);
    assert_eq!(unnamed.status.code(), Some(1), "without --actor the login (postgres) acts, and is no actor");
    assert!(String::from_utf8_lossy(&unnamed.stderr).contains("actor \"postgres\" does not exist"), "{}", String::from_utf8_lossy(&unnamed.stderr));
    let refused = set(Some("ann"));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("lacks the scope remitd.admin"), "{}", String::from_utf8_lossy(&refused.stderr));
    let done = set(Some("root"));
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    assert!(String::from_utf8_lossy(&done.stdout).starts_with("CO-50 now posts as a contractual adjustment"));
    let (actor, detail): (String, serde_json::Value) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'carc_category_set'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor.as_str(), detail["from"].as_str(), detail["to"].as_str()), ("root", Some("denial"), Some("contractual")));

    // What posted before stays as it posted: the denial is still open, its amount owed.
    let before = claim(&db.pool, "CLM-2001").await;
    assert_eq!((before.denials[0].status.as_str(), before.insurance_balance), ("OPEN", dec("250.00")));
    // A later remittance's CO-50 is contractual.
    let dir = tempfile::tempdir().unwrap();
    let later = common::clp("CLM-1101", "1", "320.00", "PCN-1101", &[("CO", "50", "320.00")]);
    ingest(&db.pool, &common::remittance_file(dir.path(), "EFT-LATER", vec![later])).await;
    let c = claim(&db.pool, "CLM-1101").await;
    assert!(c.entries.iter().any(|e| e.kind == "contractual" && e.reason_code.as_deref() == Some("50")));
    assert!(c.denials.is_empty());
    assert_eq!(c.insurance_balance, dec("0"), "CO-50 as contractual closes the balance");
}

/// A ledger entry as compared: claim, kind, group, reason, amount.
type LedgerRow = (String, String, Option<String>, Option<String>, rust_decimal::Decimal);

/// The file with each run of NM1, DTM or PER segments put in the guide's
/// order of their qualifiers (the order the implementation guide lists).
fn in_guide_order(text: &str) -> String {
    const ORDER: &[&str] = &["QC", "IL", "74", "82", "TT", "PR", "GB", "232", "233", "036", "050", "CX", "BL", "IC"];
    let rank = |seg: &str| seg.split('*').nth(1).and_then(|q| ORDER.iter().position(|o| *o == q)).unwrap_or(ORDER.len());
    let tag = |seg: &str| seg.split('*').next().unwrap_or_default().to_string();
    let mut segments: Vec<&str> = text.split("~\n").collect();
    let mut start = 0;
    while start < segments.len() {
        let t = tag(segments[start]);
        let end = (start..segments.len()).find(|&i| tag(segments[i]) != t).unwrap_or(segments.len());
        if ["NM1", "DTM", "PER"].contains(&t.as_str()) {
            segments[start..end].sort_by_key(|s| rank(s));
        }
        start = end;
    }
    segments.join("~\n")
}

/// X12 orders positions, not the segments at one position: a file with
/// DTM*050 before DTM*232/233, NM1*74 before NM1*QC and PER*BL before
/// PER*CX reads and posts exactly as the same file in the guide's order.
#[tokio::test]
async fn segments_at_one_position_post_as_in_guide_order() {
    let any = std::fs::read_to_string(sample("valid/segments-in-any-order.835")).unwrap();
    let guide = in_guide_order(&any);
    assert_ne!(any, guide, "the sample is out of the guide's order");
    let read = |text: &str| -> Vec<remitd::model::Transaction> {
        remitd::parse::FileDocument::read("sample", text.as_bytes()).expect("valid").transactions().cloned().collect()
    };
    let transactions = read(&any);
    assert_eq!(transactions, read(&guide));
    let mut csv = Vec::new();
    remitd::claims::export::write_csv(&mut csv, &transactions).unwrap();
    let mut ledgers = Vec::new();
    for text in [&any, &guide] {
        let db = TestDb::new().await;
        import_csv(&db.pool, std::str::from_utf8(&csv).unwrap()).await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("claims.835");
        std::fs::write(&file, text).unwrap();
        assert_eq!(posted(&ingest(&db.pool, &file).await).posted, 2);
        let ledger: Vec<LedgerRow> = sqlx::query_as(
            "SELECT c.claim_id, e.kind, e.group_code, e.reason_code, e.amount FROM ledger_entries e JOIN claims c ON c.id = e.claim_id ORDER BY 1, 2, 3, 4, 5",
        )
        .fetch_all(&db.pool)
        .await
        .unwrap();
        ledgers.push(ledger);
    }
    assert!(ledgers[0].len() > 4, "{:?}", ledgers[0]);
    assert_eq!(ledgers[0], ledgers[1]);
}
