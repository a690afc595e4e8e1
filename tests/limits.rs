//! Amounts beyond what the ledger stores are refused when the file is read.
//!
//! Each remittance here balances, and each has one amount (or one figure
//! posting would derive) that a `NUMERIC(14,2)` column cannot hold, or a
//! fraction of a cent it would round away. `remitd parse` and `remitd
//! ingest` refuse it naming the element, and nothing posts; before, such a
//! file failed inside the database. The largest amounts the columns hold
//! post to the cent.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{clp, clp_lines, dec, import_csv, remittance_file, svc, TestDb, CSV_HEADER};
use remitd::model::{Adjustment, Claim};

const TOO_LARGE: &str = "is beyond what remitd stores (at most 999,999,999,999.99)";

struct Case {
    name: &'static str,
    claims: Vec<Claim>,
    /// Where the refusal must point, and what it must say.
    at: &'static str,
    says: &'static str,
}

fn co45(amount: &str) -> Adjustment {
    Adjustment { group: "CO".into(), reason: "45".into(), amount: dec(amount), quantity: None }
}

fn cases() -> Vec<Case> {
    // A line charging a trillion, the claim charging 100.00: CLP03 need not
    // be the lines' sum, so only SVC02 is out of bounds.
    let mut line_too_large = clp_lines("CLM-L2", "1", "PCN-L2", vec![svc("99213", "1000000000000.00", &[("CO", "45", "999999999900.00")])]);
    line_too_large.charge = dec("100.00");
    line_too_large.adjustments = vec![co45("-999999999900.00")];
    // Two lines paying 600 billion each, the claim paying nothing: its
    // claim-level payment would be -1.2 trillion.
    let mut claim_payment = clp_lines("CLM-L6", "1", "PCN-L6", vec![svc("99213", "600000000000.00", &[]), svc("99214", "600000000000.00", &[])]);
    claim_payment.charge = dec("600000000000.00");
    claim_payment.paid = dec("0");
    claim_payment.adjustments = vec![co45("600000000000.00")];
    vec![
        Case {
            name: "bpr",
            claims: vec![clp("CLM-L1", "1", "600000000000.00", "PCN-L1", &[]), clp("CLM-L1B", "1", "600000000000.00", "PCN-L1B", &[])],
            at: "(BPR), BPR02: amount 1200000000000.00",
            says: TOO_LARGE,
        },
        Case { name: "svc", claims: vec![line_too_large], at: "(SVC), SVC02: amount 1000000000000.00", says: TOO_LARGE },
        Case {
            name: "clp",
            claims: vec![clp("CLM-L3", "1", "1000000000000.00", "PCN-L3", &[("CO", "45", "999999999900.00")])],
            at: "(CLP), CLP03: amount 1000000000000.00",
            says: TOO_LARGE,
        },
        Case {
            name: "cas",
            claims: vec![clp("CLM-L4", "1", "1000.00", "PCN-L4", &[("CO", "45", "1000000000000.00")])],
            at: "(CAS), CAS03: amount 1000000000000.00",
            says: TOO_LARGE,
        },
        Case {
            name: "fraction",
            claims: vec![clp("CLM-L5", "1", "100.005", "PCN-L5", &[("CO", "45", "0.005")])],
            at: "(CLP), CLP03: amount 100.005",
            says: "has a fraction of a cent",
        },
        Case { name: "claim-payment", claims: vec![claim_payment], at: "(CLP), CLP04: the claim-level payment", says: "comes to -1200000000000.00" },
        Case {
            name: "denial",
            claims: vec![clp_lines(
                "CLM-L7",
                "1",
                "PCN-L7",
                vec![svc("99213", "600000000000.00", &[("CO", "50", "600000000000.00"), ("CO", "50", "600000000000.00")])],
            )],
            at: "(CLP): the claim's adjustments other than patient responsibility",
            says: "comes to 1200000000000.00",
        },
    ]
}

fn remitd(args: &[&str], file: &Path, database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).args(args).arg(file).env("DATABASE_URL", database_url).env_remove("REMITD_ACTOR").output().unwrap()
}

/// Every claim of `cases` in the claims CSV, so that any posting would
/// match and write entries.
fn claims_csv(cases: &[Case]) -> String {
    let rows: String = cases
        .iter()
        .flat_map(|c| &c.claims)
        .map(|c| format!("{},A-{},\"DOE, JANE\",1999999901,2024-01-02,99213,100.00,,1\n", c.patient_control_number, c.patient_control_number))
        .collect();
    format!("{CSV_HEADER}\n{rows}")
}

async fn count(db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&db.pool).await.unwrap()
}

#[tokio::test]
async fn amounts_beyond_the_ledger_are_refused_naming_the_element_and_post_nothing() {
    let db = TestDb::new().await;
    let cases = cases();
    import_csv(&db.pool, &claims_csv(&cases)).await;
    let dir = tempfile::tempdir().unwrap();
    for case in &cases {
        let file = remittance_file(dir.path(), &format!("EFT-LIMIT-{}", case.name), case.claims.clone());
        for (args, what) in [(&["parse"][..], "parse"), (&["ingest"][..], "ingest")] {
            let out = remitd(args, &file, &db.url);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{}: {what} must refuse: {stderr}", case.name);
            assert!(stderr.contains(case.at) && stderr.contains(case.says), "{}: {what} does not say {:?} ... {:?}:\n{stderr}", case.name, case.at, case.says);
        }
        let reason: String = sqlx::query_scalar("SELECT refusal_reason FROM ingested_files WHERE file_name = $1 AND state = 'refused'")
            .bind(file.file_name().unwrap().to_str().unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(reason.contains(case.at), "{}: {reason}", case.name);
    }
    for table in ["remittances", "claim_postings", "ledger_entries", "denials", "unmatched_claims"] {
        assert_eq!(count(&db, table).await, 0, "{table}: a refused file posted");
    }
}

#[tokio::test]
async fn the_largest_amounts_the_ledger_holds_post_to_the_cent() {
    let db = TestDb::new().await;
    let max = "999999999999.99";
    import_csv(&db.pool, &format!("{CSV_HEADER}\nCLM-MAX,A-MAX,\"DOE, JANE\",1999999901,2024-01-02,99213,{max},,1\n")).await;
    let dir = tempfile::tempdir().unwrap();
    // Billed and paid in full at the bound, and a trailing zero past the
    // cents (a whole number of cents all the same).
    let mut claim = clp_lines("CLM-MAX", "1", "PCN-MAX", vec![svc("99213", max, &[])]);
    claim.patient_responsibility = Some(dec("0.000"));
    let file = remittance_file(dir.path(), "EFT-LIMIT-MAX", vec![claim]);
    let out = remitd(&["ingest"], &file, &db.url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let view = common::claim(&db.pool, "CLM-MAX").await;
    assert_eq!((view.charge, view.paid), (dec(max), dec(max)));
    let payment: rust_decimal::Decimal = sqlx::query_scalar("SELECT payment_amount FROM remittances").fetch_one(&db.pool).await.unwrap();
    assert_eq!(payment, dec(max));
}
