//! The money invariants, each tried the way a billing office would break
//! it: ordinary sequences of events driven through the `remitd` command
//! line on a fresh database, ending with the balances a billing manager
//! expects, and no bucket below zero that a payer did not overpay.

mod common;

use std::process::Output;

use common::{clp, clp_lines, dec, remittance_file, reversal_of, svc, TestDb};
use rust_decimal::Decimal;
use serde_json::Value;

/// The command line against one test database.
struct Cli {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Cli {
    /// A fresh database with `csv` (rows after the header) imported and the
    /// people billing offices have: ann (denials, payments), bob (the same),
    /// sam (approves), sue (runs the sweep), root (admin).
    async fn new(rows: &str) -> Cli {
        let db = TestDb::new().await;
        let cli = Cli { db, dir: tempfile::tempdir().unwrap() };
        let csv = cli.dir.path().join("claims.csv");
        std::fs::write(&csv, format!("{}\n{rows}", common::CSV_HEADER)).unwrap();
        cli.ok(None, &["claims", "import", csv.to_str().unwrap()]);
        cli.ok(None, &["admin", "init", "root"]);
        for (name, scopes) in [
            ("ann", &["billing.denial.write", "billing.payment.write"][..]),
            ("bob", &["billing.denial.write", "billing.payment.write"][..]),
            ("sam", &["billing.writeoff.approve"][..]),
            ("sue", &["billing.denial.write", "billing.writeoff.approve"][..]),
        ] {
            cli.ok(Some("root"), &["actor", "add", name]);
            for s in scopes {
                cli.ok(Some("root"), &["actor", "grant", name, s]);
            }
        }
        cli
    }

    fn run(&self, actor: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"));
        cmd.env("DATABASE_URL", &self.db.url).env_remove("REMITD_ACTOR").args(args);
        if let Some(a) = actor {
            cmd.env("REMITD_ACTOR", a);
        }
        cmd.output().unwrap()
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, actor: Option<&str>, args: &[&str]) -> String {
        let out = self.run(actor, args);
        assert!(out.status.success(), "remitd {args:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must be refused (exit 1); returns its standard error.
    fn refused(&self, actor: Option<&str>, args: &[&str]) -> String {
        let out = self.run(actor, args);
        assert_eq!(out.status.code(), Some(1), "remitd {args:?} was not refused: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(None, args)).unwrap()
    }

    /// Posts a remittance of `claims` under `trace`.
    fn ingest(&self, trace: &str, claims: Vec<remitd::model::Claim>) {
        let path = remittance_file(self.dir.path(), trace, claims);
        self.ok(None, &["ingest", path.to_str().unwrap()]);
    }

    fn claim(&self, id: &str) -> Value {
        self.json(&["claim", "show", id, "--format", "json"])
    }

    /// The claim's two balances.
    fn balances(&self, id: &str) -> (Decimal, Decimal) {
        let c = self.claim(id);
        (money(&c["insurance_balance"]), money(&c["patient_balance"]))
    }

    /// The claim's denials as `denial list` shows them.
    fn denials(&self, id: &str) -> Vec<Value> {
        self.json(&["denial", "list", "--claim", id, "--format", "json"]).as_array().unwrap().clone()
    }

    fn denial_id(&self, claim: &str) -> String {
        self.denials(claim)[0]["id"].to_string()
    }

    async fn writeoff_status(&self, id: i64) -> String {
        sqlx::query_scalar("SELECT status FROM writeoffs WHERE id = $1").bind(id).fetch_one(&self.db.pool).await.unwrap()
    }

    /// No bucket of any claim is below zero (these tests have no true overpayment).
    async fn assert_no_credit(&self) {
        let below: Vec<(String, Decimal, Decimal)> = sqlx::query_as(
            "SELECT c.claim_id, o.insurance_balance, o.patient_balance FROM claim_owed o JOIN claims c ON c.id = o.claim_id
             WHERE o.insurance_balance < 0 OR o.patient_balance < 0",
        )
        .fetch_all(&self.db.pool)
        .await
        .unwrap();
        assert!(below.is_empty(), "balances below zero: {below:?}");
        common::assert_balances_add_up(&self.db.pool).await;
    }
}

fn money(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("an amount, found {v}")).parse().unwrap()
}

/// The id a write-off command printed (`write-off #12 of ...`).
fn writeoff_id(out: &str) -> i64 {
    out.split("write-off #")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("{out}"))
}

fn row(id: &str, account: &str, charge: &str) -> String {
    format!("{id},{account},\"DOE, JANE\",1999999901,2024-01-01,99213,{charge},2024-01-02,1\n")
}

#[tokio::test]
async fn a_denial_the_payer_later_pays_is_resolved_and_cannot_be_written_off_into_a_credit() {
    let cli = Cli::new(&[row("PAID", "A1", "200.00"), row("APPEALED", "A2", "200.00"), row("PARTLY", "A3", "200.00")].concat()).await;
    let denied = |id: &str, pcn: &str| clp(id, "4", "200.00", pcn, &[("CO", "50", "200.00")]);
    cli.ingest("EFT-1", vec![denied("PAID", "P1"), denied("APPEALED", "P2"), denied("PARTLY", "P3")]);
    for id in ["PAID", "APPEALED", "PARTLY"] {
        assert_eq!(money(&cli.denials(id)[0]["remaining"]), dec("200.00"));
    }
    cli.ok(Some("ann"), &["denial", "appeal", &cli.denial_id("APPEALED")]);

    // The payer pays two in full (the appeal won) and one in part.
    cli.ingest(
        "EFT-2",
        vec![
            clp("PAID", "1", "200.00", "P1-B", &[("CO", "45", "50.00")]),
            clp("APPEALED", "1", "200.00", "P2-B", &[("CO", "45", "20.00")]),
            clp("PARTLY", "1", "200.00", "P3-B", &[("CO", "45", "50.00"), ("CO", "50", "50.00")]),
        ],
    );
    for id in ["PAID", "APPEALED"] {
        let d = &cli.denials(id)[0];
        assert_eq!((d["status"].as_str(), money(&d["remaining"])), (Some("RESOLVED"), dec("0")), "{id}: {d}");
        assert_eq!(cli.balances(id), (dec("0"), dec("0")));
        let e = cli.refused(Some("ann"), &["denial", "writeoff", &cli.denial_id(id), "--reason", "bad-debt"]);
        assert!(e.contains("RESOLVED"), "{e}");
    }
    // 200 denied; then 100 paid, 50 contractual: 50 is still owed, and the
    // remittance's own new CO-50 is a denial of its own.
    let first = &cli.denials("PARTLY")[0];
    assert_eq!((first["status"].as_str(), money(&first["remaining"])), (Some("OPEN"), dec("50.00")));
    let too_much = cli.refused(Some("ann"), &["denial", "writeoff", &first["id"].to_string(), "--reason", "bad-debt", "--amount", "50.01"]);
    assert!(too_much.contains("at most what remains"), "{too_much}");
    cli.ok(Some("ann"), &["denial", "writeoff", &first["id"].to_string(), "--reason", "bad-debt"]);
    assert_eq!(cli.balances("PARTLY"), (dec("0"), dec("0")));
    let second = &cli.denials("PARTLY")[1];
    assert_eq!(money(&second["remaining"]), dec("0"), "nothing left for the second denial: {second}");
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn a_waiting_write_off_the_payer_overtakes_is_cancelled_and_audited() {
    let cli = Cli::new(&row("GATED", "A1", "200.00")).await;
    cli.ok(Some("sam"), &["writeoff", "policy", "--approval", "all"]);
    cli.ingest("EFT-1", vec![clp("GATED", "4", "200.00", "P1", &[("CO", "50", "200.00")])]);
    let id = cli.denial_id("GATED");
    let requested = cli.ok(Some("ann"), &["denial", "writeoff", &id, "--reason", "bad-debt"]);
    assert!(requested.contains("pending approval"), "{requested}");
    cli.ingest("EFT-2", vec![clp("GATED", "1", "200.00", "P1-B", &[("CO", "45", "40.00")])]);
    let d = &cli.denials("GATED")[0];
    assert_eq!(d["status"], "RESOLVED");
    assert_eq!(cli.writeoff_status(writeoff_id(&requested)).await, "CANCELLED");
    let e = cli.refused(Some("sam"), &["denial", "approve", &id]);
    assert!(e.contains("RESOLVED") && e.contains("nothing waits"), "{e}");
    let audit = cli.json(&["audit", "--claim", "GATED", "--format", "json"]);
    let cancelled = audit.as_array().unwrap().iter().find(|a| a["action"] == "writeoff_cancelled").expect("audited");
    assert_eq!((cancelled["actor"].as_str(), cancelled["detail"]["trace_number"].as_str()), (Some("system"), Some("EFT-2")));
    assert_eq!(cli.balances("GATED"), (dec("0"), dec("0")));
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn a_payer_reversal_gives_back_every_write_off_made_on_the_reversed_posting() {
    let cli = Cli::new(&[row("PARTIAL", "A1", "200.00"), row("PR", "A2", "200.00"), row("SWEPT", "A3", "200.00")].concat()).await;
    let partial = clp("PARTIAL", "4", "200.00", "P1", &[("CO", "50", "200.00")]);
    let pr = clp_lines("PR", "1", "P2", vec![svc("99213", "200.00", &[("CO", "45", "40.00"), ("PR", "1", "160.00")])]);
    let swept = clp("SWEPT", "1", "200.00", "P3", &[("CO", "45", "30.00"), ("CO", "50", "10.00"), ("PR", "2", "7.50")]);
    cli.ingest("EFT-1", vec![partial.clone(), pr.clone(), swept.clone()]);

    // 50 of the 200 denied written off; 60 of the deductible; the small
    // insurance (10.00, denied) and patient (7.50) balances swept.
    cli.ok(Some("ann"), &["denial", "writeoff", &cli.denial_id("PARTIAL"), "--reason", "bad-debt", "--amount", "50"]);
    cli.ok(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=60.00", "--reason", "patient-uncollectable"]);
    let today = chrono::Utc::now().date_naive().to_string();
    cli.ok(
        Some("sue"),
        &[
            "sweep",
            "--post",
            "--from",
            &today,
            "--to",
            &today,
            "--days-since-billed",
            "30",
            "--as-of",
            "2026-12-31",
            "--insurance-code",
            "w",
            "--patient-code",
            "W",
            "--max-amount",
            "20",
        ],
    );
    assert_eq!(cli.balances("SWEPT"), (dec("0"), dec("0")));
    assert_eq!(cli.balances("PARTIAL"), (dec("150.00"), dec("0")));
    assert_eq!(cli.balances("PR"), (dec("0"), dec("100.00")));

    // The payer reverses all three; the corrected claims pay in full.
    cli.ingest(
        "EFT-2",
        vec![
            reversal_of(&partial),
            clp("PARTIAL", "1", "200.00", "P1-B", &[("CO", "45", "30.00")]),
            reversal_of(&pr),
            clp_lines("PR", "1", "P2-B", vec![svc("99213", "200.00", &[("CO", "45", "40.00"), ("PR", "1", "160.00")])]),
            reversal_of(&swept),
            clp("SWEPT", "1", "200.00", "P3-B", &[("CO", "45", "30.00"), ("CO", "50", "10.00"), ("PR", "2", "7.50")]),
        ],
    );
    // What the corrected claims leave, and nothing a write-off made.
    assert_eq!(cli.balances("PARTIAL"), (dec("0"), dec("0")));
    assert_eq!(cli.balances("PR"), (dec("0"), dec("160.00")), "the deductible is owed again, as the corrected claim says");
    assert_eq!(cli.balances("SWEPT"), (dec("10.00"), dec("7.50")), "swept balances are owed again");
    let history = cli.json(&["writeoffs", "history", "--format", "json"]);
    let statuses: Vec<&str> = history["rows"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == "UNDONE"), "{statuses:?}");
    assert_eq!(statuses.len(), 4, "partial, PR, and the swept insurance and patient balances");
    assert_eq!(money(&history["total"]), dec("0"));
    let audit = cli.json(&["audit", "--claim", "PARTIAL", "--format", "json"]);
    assert!(audit.as_array().unwrap().iter().any(|a| a["action"] == "writeoff_reversed" && a["actor"] == "system" && a["detail"]["trace_number"] == "EFT-2"));
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn a_patient_write_off_never_takes_the_patient_balance_below_zero() {
    let cli = Cli::new(&row("PR", "A1", "200.00")).await;
    let pr = clp_lines("PR", "1", "P1", vec![svc("99213", "200.00", &[("CO", "45", "35.00"), ("PR", "1", "5.00")])]);
    cli.ingest("EFT-1", vec![pr]);
    let today = chrono::Utc::now().date_naive().to_string();
    let sweep = ["sweep", "--post", "--from", &today, "--to", &today, "--days-since-billed", "30", "--as-of", "2026-12-31", "--patient-code", "W"];
    cli.ok(Some("sue"), &sweep);
    assert_eq!(cli.balances("PR"), (dec("0"), dec("0")));
    // The deductible is still on the line, but the sweep already wrote the
    // patient's balance off: there is nothing left to write off.
    let preview = cli.refused(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=5.00", "--reason", "hardship", "--preview"]);
    assert!(preview.contains("patient balance is 0"), "{preview}");
    cli.refused(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=5.00", "--reason", "hardship"]);
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn the_approval_gate_counts_write_offs_together() {
    let cli = Cli::new(&[row("BIG", "A1", "1800.00"), row("PR", "A2", "200.00")].concat()).await;
    cli.ok(Some("sam"), &["writeoff", "policy", "--approval", "above:500"]);
    cli.ingest(
        "EFT-1",
        vec![clp("BIG", "4", "1800.00", "P1", &[("CO", "50", "1800.00")]), clp_lines("PR", "1", "P2", vec![svc("99213", "200.00", &[("PR", "1", "200.00")])])],
    );
    let id = cli.denial_id("BIG");
    let first = cli.ok(Some("ann"), &["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "500"]);
    assert!(first.contains("posted"), "500 is not above 500: {first}");
    let second = cli.ok(Some("ann"), &["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "500"]);
    assert!(second.contains("pending approval"), "500 + 500 is above 500: {second}");
    let third = cli.refused(Some("ann"), &["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "300"]);
    assert!(third.contains("PENDING_WRITEOFF"), "{third}");
    assert_eq!(cli.balances("BIG").0, dec("1300.00"), "only the first 500 posted");

    // PR write-offs count together on their claim too, and `all` gates them.
    cli.ok(Some("sam"), &["writeoff", "policy", "--approval", "above:100"]);
    let pr = cli.ok(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=80", "--reason", "hardship"]);
    assert!(pr.contains(": posted (write-off"), "{pr}");
    let gated = cli.ok(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=30", "--reason", "hardship"]);
    assert!(gated.contains("pending approval"), "80 + 30 is above 100: {gated}");
    cli.ok(Some("sam"), &["writeoff", "reject", &writeoff_id(&gated).to_string()]);
    cli.ok(Some("sam"), &["writeoff", "policy", "--approval", "all"]);
    let gated = cli.ok(Some("ann"), &["pr-writeoff", "PR", "--carc", "1=10", "--reason", "hardship"]);
    assert!(gated.contains("pending approval"), "{gated}");
    assert_eq!(cli.balances("PR").1, dec("120.00"), "nothing posts before approval");
    let wid = writeoff_id(&gated).to_string();
    assert!(cli.refused(Some("ann"), &["writeoff", "approve", &wid]).contains("lacks the scope billing.writeoff.approve"));
    cli.ok(Some("sam"), &["writeoff", "approve", &wid]);
    assert_eq!(cli.balances("PR").1, dec("110.00"));
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn a_claims_re_import_never_silently_changes_money() {
    let rows = [
        "BIG,A1,\"DOE, JANE\",1999999901,2024-01-01,99213,300.00,2024-01-02,1\n",
        "BIG,A1,\"DOE, JANE\",1999999901,2024-01-01,70553,1800.00,2024-01-02,1\n",
        "FRESH,A2,\"ROE, RICHARD\",1999999901,2024-01-01,99213,100.00,2024-01-02,1\n",
    ]
    .concat();
    let cli = Cli::new(&rows).await;
    cli.ingest("EFT-1", vec![clp_lines("BIG", "1", "P1", vec![svc("99213", "300.00", &[]), svc("70553", "1800.00", &[("CO", "197", "1800.00")])])]);
    assert_eq!(cli.balances("BIG").0, dec("1800.00"));
    let csv = cli.dir.path().join("again.csv");
    let write = |text: &str| std::fs::write(&csv, format!("{}\n{text}", common::CSV_HEADER)).unwrap();
    let path = csv.to_str().unwrap();

    write(&rows.replace("1800.00", "0.00"));
    let e = cli.refused(None, &["claims", "import", path]);
    assert!(e.contains("line 3:") && e.contains("from 1800.00 to 0.00") && e.contains("--amend"), "{e}");
    write(&rows.lines().filter(|l| !l.contains("70553")).map(|l| format!("{l}\n")).collect::<String>());
    let e = cli.refused(None, &["claims", "import", path]);
    assert!(e.contains("line 2:") && e.contains("line 2 (1800.00) would be dropped"), "{e}");
    write(&rows.replace("FRESH,A2,\"ROE, RICHARD\"", "FRESH,A1,\"ROE, RICK\""));
    let e = cli.refused(None, &["claims", "import", path]);
    assert!(e.contains("line 4: account A1 has another patient name than on line 2") && !e.contains("RICK"), "no names in the message: {e}");
    write(&rows.replace("FRESH,A2,\"ROE, RICHARD\"", "FRESH,A2,\"ROE, RICK\""));
    let e = cli.refused(None, &["claims", "import", path]);
    assert!(e.contains("line 4: account A2 belongs to a patient with another name") && !e.contains("RICK"), "{e}");
    assert_eq!(cli.balances("BIG").0, dec("1800.00"), "nothing changed");
    // A claim without postings updates in place, as before.
    write(&rows.replace("100.00", "120.00"));
    cli.ok(None, &["claims", "import", path]);
    assert_eq!(money(&cli.claim("FRESH")["charge"]), dec("120.00"));

    // An amendment needs an actor and a reason, and posts a correction.
    write(&rows.replace("1800.00", "0.00"));
    assert_eq!(cli.run(None, &["claims", "import", path, "--amend"]).status.code(), Some(2));
    cli.ok(Some("ann"), &["claims", "import", path, "--amend", "--reason", "line billed in error"]);
    let c = cli.claim("BIG");
    assert_eq!((money(&c["charge"]), money(&c["insurance_balance"])), (dec("300.00"), dec("0")));
    let correction = c["entries"].as_array().unwrap().iter().find(|e| e["kind"] == "charge_correction").expect("a charge correction entry");
    assert_eq!((money(&correction["amount"]), correction["actor"].as_str()), (dec("-1800.00"), Some("ann")));
    assert!(correction["memo"].as_str().unwrap().contains("from 1800.00 to 0.00"), "the old figure stays visible: {correction}");
    assert_eq!(cli.denials("BIG")[0]["status"], "RESOLVED", "nothing denied is owed any more");
    let audit = cli.json(&["audit", "--claim", "BIG", "--format", "json"]);
    let amended = audit.as_array().unwrap().iter().find(|a| a["action"] == "claim_amended").expect("audited");
    assert_eq!((amended["actor"].as_str(), amended["reason"].as_str()), (Some("ann"), Some("line billed in error")));
    cli.assert_no_credit().await;
}

#[tokio::test]
async fn unknown_states_reasons_and_scopes_are_refused_with_the_valid_ones() {
    let cli = Cli::new(&row("X", "A1", "100.00")).await;
    let status = cli.run(None, &["denial", "list", "--status", "CLOSED"]);
    assert_eq!(status.status.code(), Some(2));
    let e = String::from_utf8_lossy(&status.stderr);
    assert!(e.contains("OPEN") && e.contains("APPEAL_PENDING") && e.contains("RESOLVED"), "{e}");
    let e = cli.refused(None, &["writeoffs", "history", "--reason", "charity"]);
    assert!(e.contains("unknown reason \"charity\"") && e.contains("bad-debt"), "{e}");
    let scope = cli.run(Some("root"), &["actor", "grant", "ann", "billing.everything"]);
    assert_eq!(scope.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&scope.stderr).contains("remitd.admin"), "{}", String::from_utf8_lossy(&scope.stderr));
}

#[tokio::test]
async fn the_database_refuses_a_write_off_past_zero_whoever_writes_it() {
    let cli = Cli::new(&row("X", "A1", "100.00")).await;
    cli.ingest("EFT-1", vec![clp("X", "4", "100.00", "P1", &[("CO", "45", "80.00"), ("CO", "50", "20.00")])]);
    assert_eq!(cli.balances("X").0, dec("20.00"));
    // Straight into the tables, past the 20.00 owed: the trigger refuses it.
    let write_off = |amount: &'static str| {
        sqlx::query(
            "WITH r AS (INSERT INTO writeoff_receipts (kind, actor, reason) VALUES ('single', 'ann', 'bad-debt') RETURNING id),
                  w AS (INSERT INTO writeoffs (receipt_id, claim_id, amount, bucket, reason, requested_by, status)
                        SELECT r.id, c.id, $1::numeric, 'insurance', 'bad-debt', 'ann', 'POSTED' FROM r, claims c WHERE c.claim_id = 'X' RETURNING id, claim_id)
             INSERT INTO ledger_entries (claim_id, kind, amount, actor, writeoff_id) SELECT claim_id, 'write_off', $1::numeric, 'ann', id FROM w",
        )
        .bind(dec(amount))
        .execute(&cli.db.pool)
    };
    let e = write_off("30.00").await.unwrap_err();
    assert!(e.to_string().contains("toward zero, never past it"), "{e}");
    write_off("20.00").await.expect("down to zero is allowed");
    assert_eq!(cli.balances("X").0, dec("0"));
    let e = write_off("0.01").await.unwrap_err();
    assert!(e.to_string().contains("never past it"), "{e}");
}
