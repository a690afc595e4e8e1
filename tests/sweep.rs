//! The small-balance sweep against a real PostgreSQL: each parameter,
//! credits, protected denials, the out-of-range report, idempotence,
//! interactive answers fed on standard input to the real binary, and the
//! scheduled run (one per slot, from an injected clock).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, NaiveDate, Utc};
use common::{claim, dec, import_csv, ingest, TestDb};
use remitd::actors::Scope;
use remitd::denials;
use remitd::model::{Adjustment, Claim};
use remitd::sweep::schedule::{Clock, FixedClock};
use remitd::sweep::{self, Answer, Bucket, Params, Section, SlotOutcome, SweepConfig, SweepError};
use remitd::writeoff::{self, history, reasons};

/// The claims, as the practice-management system exports them: BROWN last
/// billed 200 days ago, RECENT 11 days ago, every other one 250 days ago.
fn claims_csv() -> String {
    let ago = |n: u64| (today() - chrono::Days::new(n)).to_string();
    let (brown, recent, old) = (ago(200), ago(11), ago(250));
    format!(
        "claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed
INS-SMALL,000040,\"BROWN, CHARLES\",ACME,2026-01-05,99213,100.00,{brown},2
PAT-SMALL,000020,\"O'DEAN, MARY A.\",ACME,2026-01-05,99213,200.00,{old},3
PAT-LARGE,000030,\"LARGE, LARRY\",ACME,2026-01-05,99213,300.00,{old},3
INS-APPEAL,000050,\"APPEAL, ANN\",ACME,2026-01-05,99213,100.00,{old},3
RECENT,000060,\"RECENT, RITA\",ACME,2026-01-05,99213,100.00,{recent},3
NEVER-STMT,000070,\"NEVER, NED\",ACME,2026-01-05,99213,100.00,{old},0
INS-CREDIT,000080,\"CREDIT, CORA\",ACME,2026-01-05,99213,90.00,{old},3
PAT-CREDIT,000090,\"REFUND, ROY\",ACME,2026-01-05,99213,100.00,{old},3
SECONDARY,000100,\"SECOND, SAM\",ACME,2026-01-05,99213,100.00,{old},3
"
    )
}

/// A last billed date as the report prints it.
fn billed(days_ago: u64) -> String {
    (today() - chrono::Days::new(days_ago)).format("%m/%d/%Y").to_string()
}

/// One claim payment of one line, its adjustments as (group, CARC, amount).
fn clp(id: &str, status: &str, charge: &str, paid: &str, adjustments: &[(&str, &str, &str)]) -> Claim {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut c = remitd::generate::synthetic_transaction(&mut rng, 1, 0, 1).claims.remove(0);
    c.patient_control_number = id.into();
    c.status_code = status.into();
    c.charge = dec(charge);
    c.paid = dec(paid);
    c.adjustments.clear();
    c.services.truncate(1);
    let s = &mut c.services[0];
    s.procedure = "99213".into();
    s.modifiers.clear();
    s.line_control_number = None;
    s.charge = dec(charge);
    s.paid = dec(paid);
    s.allowed = None;
    s.adjustments = adjustments.iter().map(|(g, r, a)| Adjustment { group: (*g).into(), reason: (*r).into(), amount: dec(a), quantity: None }).collect();
    c.patient_responsibility = Some(s.adjustments.iter().filter(|a| a.group == "PR").map(|a| a.amount).sum());
    c
}

/// An 835 paying `claims`, written to a file in `dir`.
fn era(dir: &std::path::Path, trace: &str, claims: Vec<Claim>) -> std::path::PathBuf {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut tx = remitd::generate::synthetic_transaction(&mut rng, 1, 0, 1);
    tx.claims = claims;
    tx.trace_number = trace.into();
    tx.trace.number = trace.into();
    tx.payment.amount = tx.claims.iter().map(|c| c.paid).sum();
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(1, false, "005010X221A1").unwrap();
    w.transaction(&tx).unwrap();
    w.close_interchange(1, 1).unwrap();
    let path = dir.join(format!("{trace}.835"));
    std::fs::write(&path, w.into_inner()).unwrap();
    path
}

/// Every claim posted today, with `sue` (may sweep) and `ann` (may not).
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &claims_csv()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = era(
        dir.path(),
        "EFT-SWEEP-1",
        vec![
            // 17.36 of the charge denied (CO-16): an OPEN denial, an insurance balance.
            clp("INS-SMALL", "1", "100.00", "82.64", &[("CO", "16", "17.36")]),
            clp("PAT-SMALL", "1", "200.00", "150.00", &[("PR", "2", "50.00")]),
            clp("PAT-LARGE", "1", "300.00", "180.00", &[("PR", "1", "120.00")]),
            clp("INS-APPEAL", "1", "100.00", "95.00", &[("CO", "16", "5.00")]),
            clp("RECENT", "1", "100.00", "90.00", &[("PR", "3", "10.00")]),
            clp("NEVER-STMT", "1", "100.00", "90.00", &[("PR", "3", "10.00")]),
            // Paid 100.00 on a 90.00 charge: a 10.00 insurance credit.
            clp("INS-CREDIT", "1", "100.00", "100.00", &[]),
            // The payer took back 10.00 of patient responsibility: a patient credit.
            clp("PAT-CREDIT", "1", "100.00", "110.00", &[("PR", "2", "-10.00")]),
            clp("SECONDARY", "2", "100.00", "80.00", &[("PR", "2", "20.00")]),
        ],
    );
    ingest(&db.pool, &file).await;
    db.people(&[("sue", &[Scope::DenialWrite, Scope::WriteoffApprove]), ("ann", &[Scope::DenialWrite])]).await;
    let d = denials::list(&db.pool, Some("INS-APPEAL"), None).await.unwrap().remove(0);
    writeoff::appeal(&db.pool, d.id, "sue", true).await.unwrap();
    // These cases are about the sweep's own maximum (100.00); the cap of its
    // reason, `small-balance` (10.00 as seeded), has tests of its own below.
    reasons::set_cap(&db.pool, common::ADMIN, "small-balance", None).await.unwrap();
    db
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Payments entered today, ages counted from today, both buckets, at most 100.00.
fn params() -> Params {
    Params { min_times_billed: 1, ..Params::for_day(today(), 30, Some(dec("100.00"))) }
}

fn lines(r: &sweep::Report, s: Section) -> Vec<(String, Bucket, String)> {
    r.section(s).map(|l| (l.claim_id.clone(), l.bucket, l.amount.to_string())).collect()
}

fn owned(v: &[(&str, Bucket, &str)]) -> Vec<(String, Bucket, String)> {
    v.iter().map(|(c, b, a)| (c.to_string(), *b, a.to_string())).collect()
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

#[tokio::test]
async fn preview_selects_by_every_criterion_and_writes_nothing() {
    let db = setup().await;
    let before = count(&db, "SELECT count(*) FROM ledger_entries").await;
    let r = sweep::preview(&db.pool, &params()).await.unwrap();
    // RECENT was billed 11 days before; NEVER-STMT was never sent a
    // statement; credits are left alone; INS-APPEAL is under appeal.
    assert_eq!(
        lines(&r, Section::WrittenOff),
        owned(&[("INS-SMALL", Bucket::Insurance, "17.36"), ("PAT-SMALL", Bucket::Patient, "50.00"), ("SECONDARY", Bucket::Patient, "20.00")])
    );
    assert_eq!(lines(&r, Section::OutOfRange), owned(&[("PAT-LARGE", Bucket::Patient, "120.00")]), "over the maximum: reported, not written off");
    assert_eq!(r.skipped_protected, 1, "the claim under appeal");
    assert_eq!(r.total(Section::WrittenOff), dec("87.36"));
    let secondary = r.section(Section::WrittenOff).find(|l| l.claim_id == "SECONDARY").unwrap();
    assert_eq!((secondary.policy_order, secondary.payer_code.as_str()), (2, "ACME"), "CLP02 = 2: processed as secondary");
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, before, "a preview writes nothing");
    assert_eq!(count(&db, "SELECT count(*) FROM sweep_runs").await, 0);

    let text = sweep::report::text(&r);
    assert!(text.starts_with(&format!("RANGE: {0}-{0} DAYS SINCE BILLED: 30 - MIN TIMES: 1 TX: w W\n", today().format("%m%d%Y"))), "{text}");
    assert!(text.contains(&format!("BROWN, CHARLES        000040 {}     17.36 w\n", billed(200))), "{text}");
    assert!(text.contains("TOTALS $87.36\n"), "{text}");
    assert!(text.contains("OUT OF RANGE: OVER $100.00"), "{text}");
    assert!(text.contains(&format!("LARGE, LARRY          000030 {}    120.00 W\nTOTALS $120.00\n", billed(250))), "{text}");
}

#[tokio::test]
async fn each_parameter_narrows_the_sweep() {
    let db = setup().await;
    let found = |r: sweep::Report| r.section(Section::WrittenOff).map(|l| l.claim_id.clone()).collect::<Vec<_>>();
    // Payment-entry range: nothing was entered yesterday.
    let yesterday = today().pred_opt().unwrap();
    let p = Params { from: yesterday, to: yesterday, ..params() };
    assert!(sweep::preview(&db.pool, &p).await.unwrap().lines.is_empty());
    // Days since billed, counted from as-of: today less 30 days keeps
    // RECENT (billed 11 days ago) out; counted from 20 days on it is in.
    assert!(!found(sweep::preview(&db.pool, &params()).await.unwrap()).contains(&"RECENT".to_string()));
    let p = Params { as_of: today() + chrono::Days::new(20), ..params() };
    assert!(found(sweep::preview(&db.pool, &p).await.unwrap()).contains(&"RECENT".to_string()));
    let p = Params { days_since_billed: 220, ..params() };
    assert_eq!(found(sweep::preview(&db.pool, &p).await.unwrap()), ["PAT-SMALL", "SECONDARY"], "BROWN was billed only 200 days ago");
    // Times billed.
    let p = Params { min_times_billed: 0, ..params() };
    assert!(found(sweep::preview(&db.pool, &p).await.unwrap()).contains(&"NEVER-STMT".to_string()));
    let p = Params { min_times_billed: 3, ..params() };
    assert!(!found(sweep::preview(&db.pool, &p).await.unwrap()).contains(&"INS-SMALL".to_string()), "BROWN was billed twice");
    // One code sweeps one kind of balance.
    let p = Params { patient_code: None, ..params() };
    assert_eq!(found(sweep::preview(&db.pool, &p).await.unwrap()), ["INS-SMALL"]);
    let p = Params { insurance_code: None, ..params() };
    assert_eq!(found(sweep::preview(&db.pool, &p).await.unwrap()), ["PAT-SMALL", "SECONDARY"]);
    // Maximum amount: absent means any amount; 20.00 sends 50.00 out of range.
    let p = Params { max_amount: None, ..params() };
    assert!(sweep::preview(&db.pool, &p).await.unwrap().section(Section::OutOfRange).next().is_none());
    let p = Params { max_amount: Some(dec("20.00")), ..params() };
    let r = sweep::preview(&db.pool, &p).await.unwrap();
    assert_eq!(found(r.clone()), ["INS-SMALL", "SECONDARY"]);
    assert_eq!(lines(&r, Section::OutOfRange).len(), 2);
}

#[tokio::test]
async fn credits_are_swept_only_when_asked() {
    let db = setup().await;
    let p = Params { include_insurance_credits: true, include_patient_credits: true, ..params() };
    let r = sweep::post(&db.pool, &p, "sue").await.unwrap();
    let credits: Vec<_> = lines(&r, Section::WrittenOff).into_iter().filter(|(c, _, _)| c.contains("CREDIT")).collect();
    assert_eq!(credits, owned(&[("INS-CREDIT", Bucket::Insurance, "-10.00"), ("PAT-CREDIT", Bucket::Patient, "-10.00")]));
    assert_eq!(claim(&db.pool, "INS-CREDIT").await.insurance_balance, dec("0"));
    assert_eq!(claim(&db.pool, "PAT-CREDIT").await.patient_balance, dec("0"));
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn post_writes_off_with_ledger_audit_receipt_and_closes_the_denial() {
    let db = setup().await;
    let r = sweep::post(&db.pool, &params(), "sue").await.unwrap();
    let (run, receipt) = (r.run.expect("a run"), r.receipt.expect("a receipt"));
    assert_eq!(r.count(Section::WrittenOff), 3);

    let brown = claim(&db.pool, "INS-SMALL").await;
    assert_eq!(brown.insurance_balance, dec("0"));
    assert_eq!(brown.denials[0].status, "WRITE_OFF", "the open denial the balance was is written off with it");
    let entry = brown.entries.iter().find(|e| e.kind == "write_off").unwrap();
    assert_eq!((entry.amount, entry.actor.as_str(), entry.reason_code.as_deref()), (dec("17.36"), "sue", Some("small-balance")));
    assert!(entry.memo.as_deref().unwrap_or("").contains("under code w"), "{:?}", entry.memo);
    let odean = claim(&db.pool, "PAT-SMALL").await;
    assert_eq!((odean.patient_balance, odean.insurance_balance), (dec("0"), dec("0")));
    assert_eq!(claim(&db.pool, "PAT-LARGE").await.patient_balance, dec("120.00"), "out of range stays");
    assert_eq!(claim(&db.pool, "INS-APPEAL").await.insurance_balance, dec("5.00"), "protected stays");

    let audit: Vec<(String, String, rust_decimal::Decimal)> =
        sqlx::query_as("SELECT actor, reason, amount FROM audit_log WHERE receipt_id = $1 AND action = 'writeoff_posted' ORDER BY amount")
            .bind(receipt)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let audit: Vec<_> = audit.iter().map(|(a, r, m)| (a.as_str(), r.as_str(), m.to_string())).collect();
    assert_eq!(audit, [("sue", "small-balance", "17.36".into()), ("sue", "small-balance", "20.00".into()), ("sue", "small-balance", "50.00".into())]);

    // The run is in the write-off history under its receipt, and its report is stored.
    let h = history::history(&db.pool, &history::HistoryFilter { receipt: Some(receipt), from: None, to: None, reason: None }).await.unwrap();
    assert_eq!((h.rows.len(), h.rows[0].receipt_kind.as_str(), h.total), (3, "sweep", dec("87.36")));
    let shown = sweep::show(&db.pool, run).await.unwrap();
    assert_eq!(sweep::report::text(&shown), sweep::report::text(&r), "the stored report reads as printed");
    let csv = sweep::report::csv(&shown).unwrap();
    assert_eq!(csv.lines().count(), 1 + 5, "header, three written off, one out of range, one protected: {csv}");
    assert!(csv.lines().last().unwrap().starts_with("protected,insurance,INS-APPEAL,"), "{csv}");
    let text = sweep::report::text(&shown);
    let skipped = text.lines().skip_while(|l| !l.starts_with("SKIPPED: 1 balances")).nth(1).unwrap_or_default();
    assert!(skipped.contains("APPEAL, ANN") && skipped.ends_with(" INS-APPEAL"), "the protected claim is listed: {text}");
    common::assert_balances_add_up(&db.pool).await;
}

#[tokio::test]
async fn posting_the_same_parameters_twice_writes_nothing_the_second_time() {
    let db = setup().await;
    sweep::post(&db.pool, &params(), "sue").await.unwrap();
    let tables = "SELECT (SELECT count(*) FROM ledger_entries) + (SELECT count(*) FROM audit_log) + (SELECT count(*) FROM writeoffs) + (SELECT count(*) FROM sweep_runs)";
    let before = count(&db, tables).await;
    let again = sweep::post(&db.pool, &params(), "sue").await.unwrap();
    assert_eq!((again.run, again.count(Section::WrittenOff)), (None, 0));
    assert_eq!(count(&db, tables).await, before);
}

#[tokio::test]
async fn refusals_name_what_is_wrong() {
    let db = setup().await;
    let e = sweep::post(&db.pool, &params(), "ann").await.unwrap_err();
    assert!(e.to_string().contains("lacks the scope billing.writeoff.approve"), "{e}");
    let e = sweep::preview(&db.pool, &Params { insurance_code: Some("ERA".into()), ..params() }).await.unwrap_err();
    assert_eq!(e.to_string(), "transaction code \"ERA\" is a payment code; a write-off needs an adjustment code");
    let e = sweep::preview(&db.pool, &Params { patient_code: Some("SB".into()), ..params() }).await.unwrap_err();
    assert!(matches!(e, SweepError::UnknownCode { .. }), "{e}");
    sweep::txcodes::add(&db.pool, "SB", "adjustment", "Small balance, patient", "sue").await.unwrap();
    sweep::preview(&db.pool, &Params { patient_code: Some("SB".into()), ..params() }).await.expect("a new adjustment code is usable");
    let e = sweep::preview(&db.pool, &Params { days_since_billed: 400, ..params() }).await.unwrap_err();
    assert!(e.to_string().contains("30 to 365"), "{e}");
    assert_eq!(count(&db, "SELECT count(*) FROM writeoffs").await, 0);
}

#[tokio::test]
async fn interactive_yes_no_all_quit() {
    let db = setup().await;
    // Three candidates: INS-SMALL, PAT-SMALL, SECONDARY. No, then All.
    let mut asked = Vec::new();
    let mut answers = vec![Answer::No, Answer::All].into_iter();
    let r = sweep::interactive(&db.pool, &params(), "sue", |l| {
        asked.push(l.claim_id.clone());
        answers.next().expect("asked too often")
    })
    .await
    .unwrap();
    assert_eq!(asked, ["INS-SMALL", "PAT-SMALL"], "All stops the questions");
    assert_eq!(lines(&r, Section::WrittenOff), owned(&[("PAT-SMALL", Bucket::Patient, "50.00"), ("SECONDARY", Bucket::Patient, "20.00")]));
    assert_eq!(r.declined, 1);
    assert_eq!(claim(&db.pool, "INS-SMALL").await.insurance_balance, dec("17.36"), "No leaves it");
    let shown = sweep::show(&db.pool, r.run.unwrap()).await.unwrap();
    assert_eq!(shown.count(Section::WrittenOff), 2);
    assert_eq!(shown.count(Section::OutOfRange), 1);
}

/// The real binary, answers on standard input: Yes to the first, Quit at
/// the second; what was confirmed stays, nothing from the Quit on changes.
#[tokio::test]
async fn interactive_answers_on_stdin_yes_then_quit() {
    let db = setup().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &db.url)
        .args(["sweep", "--interactive", "--actor", "sue", "--days-since-billed", "30", "--min-times-billed", "1"])
        .args(["--insurance-code", "w", "--patient-code", "W", "--max-amount", "100"])
        .args(["--from", &today().to_string(), "--to", &today().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"maybe\ny\nq\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("INS: ACME P/S: 1 = Primary"), "the prompt shows the insurance code and policy order: {stderr}");
    assert!(stderr.contains("answer y, n, a or q"), "{stderr}");
    assert_eq!(stderr.matches("Write off this").count(), 3, "asked twice about the first (bad answer), once about the second: {stderr}");
    assert!(stdout.contains(&format!("BROWN, CHARLES        000040 {}     17.36 w\nTOTALS $17.36\n", billed(200))), "{stdout}");
    assert!(stdout.contains("DECLINED: 2 balances"), "{stdout}");
    assert_eq!(claim(&db.pool, "INS-SMALL").await.insurance_balance, dec("0"));
    assert_eq!(claim(&db.pool, "PAT-SMALL").await.patient_balance, dec("50.00"));
    assert_eq!(claim(&db.pool, "SECONDARY").await.patient_balance, dec("20.00"));
}

/// The `[sweep]` section of a daemon that sweeps at 02:00 on the 1st, over
/// the previous month... widened here to the days before, so the payments
/// entered today are in it.
fn scheduled_config(schedule: &str) -> SweepConfig {
    let toml = format!(
        "schedule = \"{schedule}\"\ntime_zone = \"America/New_York\"\nwindow = \"days:3\"\ndays_since_billed = 30\nmin_times_billed = 1\n\
         insurance_code = \"w\"\npatient_code = \"W\"\nmax_amount = \"100.00\"\n"
    );
    toml::from_str(&toml).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::test]
async fn a_scheduled_slot_runs_once_across_instances_and_restarts() {
    let db = setup().await;
    // A slot at 02:00 New York time, two days from now: its window (the
    // three days before) holds today's payments.
    let slot_day = today() + chrono::Days::new(2);
    let config = scheduled_config(&format!("0 2 {} {} *", chrono::Datelike::day(&slot_day), chrono::Datelike::month(&slot_day)));
    let schedule = config.schedule().unwrap().expect("a schedule");
    let slot = schedule.next(slot_day.and_hms_opt(0, 0, 0).unwrap().and_utc()).unwrap();
    let clock = FixedClock::new(slot - chrono::Duration::minutes(1));
    assert!(matches!(sweep::scheduled(&db.pool, &config, &schedule, clock.now()).await.unwrap(), SlotOutcome::NotDue), "nothing before the slot");

    // Two instances wake at the slot together: one runs it, the other finds it taken.
    clock.set(slot + chrono::Duration::seconds(5));
    let (a, b) = tokio::join!(sweep::scheduled(&db.pool, &config, &schedule, clock.now()), sweep::scheduled(&db.pool, &config, &schedule, clock.now()));
    let outcomes = [a.unwrap(), b.unwrap()];
    let ran: Vec<&sweep::Report> = outcomes.iter().filter_map(|o| if let SlotOutcome::Ran(_, r) = o { Some(&**r) } else { None }).collect();
    assert_eq!(ran.len(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| matches!(o, SlotOutcome::AlreadyRan(s) if *s == slot)), "{outcomes:?}");
    assert_eq!(ran[0].count(Section::WrittenOff), 3);
    assert_eq!(ran[0].params.as_of, slot_day);
    let (actor, mode, stored_slot): (String, String, DateTime<Utc>) =
        sqlx::query_as("SELECT actor, mode, slot FROM sweep_runs").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor.as_str(), mode.as_str(), stored_slot), ("system", "scheduled", slot));

    // A restart later in the slot's grace period: already ran.
    clock.set(slot + chrono::Duration::hours(1));
    assert!(matches!(sweep::scheduled(&db.pool, &config, &schedule, clock.now()).await.unwrap(), SlotOutcome::AlreadyRan(_)));
    assert_eq!(count(&db, "SELECT count(*) FROM sweep_runs").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM writeoffs").await, 3);
    // Past the grace period nothing is due.
    clock.set(slot + chrono::Duration::hours(7));
    assert!(matches!(sweep::scheduled(&db.pool, &config, &schedule, clock.now()).await.unwrap(), SlotOutcome::NotDue));
}

#[tokio::test]
async fn the_next_scheduled_slot_runs_with_its_own_window_even_with_nothing_to_do() {
    let db = setup().await;
    let config = scheduled_config("0 2 * * *");
    let schedule = config.schedule().unwrap().unwrap();
    // Long ago: the window holds no payments; the slot is still recorded so
    // it runs once.
    let slot = utc("2026-03-08T07:00:00Z");
    let out = sweep::scheduled(&db.pool, &config, &schedule, slot).await.unwrap();
    let SlotOutcome::Ran(s, report) = out else { panic!("{out:?}") };
    assert_eq!((s, report.run.is_some(), report.receipt, report.lines.len()), (slot, true, None, 0));
    assert_eq!((report.params.from, report.params.to), (day("2026-03-05"), day("2026-03-07")));
    assert!(matches!(sweep::scheduled(&db.pool, &config, &schedule, slot).await.unwrap(), SlotOutcome::AlreadyRan(_)));
    assert_eq!(count(&db, "SELECT count(*) FROM writeoffs").await, 0);
}

#[test]
fn an_incomplete_sweep_section_is_refused_at_start() {
    let mut config = scheduled_config("0 2 1 * *");
    config.days_since_billed = None;
    assert!(config.schedule().unwrap_err().to_string().contains("days_since_billed"));
    config.days_since_billed = Some(10);
    assert!(config.schedule().unwrap_err().to_string().contains("30 to 365"));
    let bad = scheduled_config("not a schedule");
    assert!(bad.schedule().is_err());
}

/// The command line end to end: parameters from a config file's [sweep]
/// section under flags, the post, the runs list, a run shown again as CSV,
/// and transaction codes.
#[tokio::test]
async fn the_command_line_posts_lists_and_shows_runs() {
    let db = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("remitd.toml");
    std::fs::write(&config, "[sweep]\ndays_since_billed = 30\nmin_times_billed = 1\ninsurance_code = \"w\"\npatient_code = \"W\"\nmax_amount = \"100.00\"\n")
        .unwrap();
    let remitd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let today = today().to_string();
    let config = config.to_str().unwrap();

    let (code, _, err) = remitd(&["sweep", "--post", "--config", config, "--from", &today, "--to", &today]);
    assert_eq!(code, Some(1), "no actor named: the login acts: {err}");
    assert!(err.contains("actor \"postgres\" does not exist"), "{err}");
    let (code, out, err) = remitd(&["sweep", "--post", "--config", config, "--from", &today, "--to", &today, "--actor", "sue", "--max-amount", "30"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("TOTALS $37.36\n"), "the flag's maximum (30) wins over the file's (100): {out}");
    assert!(out.contains("OUT OF RANGE: OVER $30.00"), "{out}");
    let run = out.lines().find_map(|l| l.strip_prefix("RUN #")).and_then(|l| l.split(',').next()).expect("a run number").to_string();

    let (code, out, _) = remitd(&["sweep", "runs", "--format", "csv"]);
    assert_eq!(code, Some(0));
    assert!(out.starts_with("run,receipt,mode,slot,actor,started_at,written_off,total,out_of_range\n"), "{out}");
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with(&format!("{run},")) && l.contains(",post,") && l.contains(",sue,")), "{out}");
    let (code, out, _) = remitd(&["sweep", "runs"]);
    assert_eq!(code, Some(0));
    let row: Vec<&str> = out.lines().nth(1).map(|l| l.split_whitespace().collect()).unwrap_or_default();
    assert!(out.starts_with("  RUN  RECEIPT  MODE"), "a table, not CSV: {out}");
    assert_eq!((row.first(), row.get(2), row.get(4), row.get(7)), (Some(&run.as_str()), Some(&"post"), Some(&"sue"), Some(&"37.36")), "{out}");
    let (code, csv, _) = remitd(&["sweep", "show", &run, "--format", "csv"]);
    assert_eq!(code, Some(0));
    assert!(csv.contains("written_off,insurance,INS-SMALL,\"BROWN, CHARLES\",000040,"), "{csv}");
    assert!(csv.contains("out_of_range,patient,PAT-SMALL,"), "{csv}");
    let (code, _, err) = remitd(&["sweep", "show", "999"]);
    assert_eq!((code, err.trim()), (Some(1), "refused: sweep run #999 does not exist"));
    // By the receipt number people hold (the run's differs from it).
    let receipt = row.get(1).expect("the receipt column").to_string();
    let (code, by_receipt, _) = remitd(&["sweep", "show", "--receipt", &receipt, "--format", "csv"]);
    assert_eq!((code, by_receipt), (Some(0), csv));
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["sweep", "show", &run, "--format", "pdf"]).output().unwrap();
    assert!(out.status.success() && out.stdout.starts_with(b"%PDF-"), "{}", String::from_utf8_lossy(&out.stderr));
    let pdf = dir.path().join("sweep.pdf");
    std::fs::write(&pdf, &out.stdout).unwrap();
    let printed = common::pdf_text(&pdf);
    for expected in [format!("Small-balance sweep, run {run}, receipt {receipt}").as_str(), "INS-SMALL", "PAT-SMALL", "37.36", "Out of range"] {
        assert!(printed.contains(expected), "{expected:?} missing from the printed report:\n{printed}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["sweep", "runs", "--format", "pdf"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&pdf, &out.stdout).unwrap();
    let runs = common::pdf_text(&pdf);
    let row = runs.lines().find(|l| l.trim_start().starts_with(&format!("{run} "))).unwrap_or_else(|| panic!("run {run} listed:\n{runs}"));
    assert!(row.contains("post") && row.contains("sue") && row.contains("37.36"), "{row}");
    let (code, _, err) = remitd(&["sweep", "show", "--receipt", "999"]);
    assert_eq!((code, err.trim()), (Some(1), "refused: receipt #999 is not a sweep run's (remitd writeoffs history --receipt 999)"));

    let (code, _, err) = remitd(&["txcode", "add", "SB", "--kind", "adjustment", "--description", "Small balance", "--actor", "ann"]);
    assert_eq!(code, Some(1), "adding a code takes the approve scope: {err}");
    let (code, _, err) = remitd(&["txcode", "add", "SB", "--kind", "adjustment", "--description", "Small balance", "--actor", "sue"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = remitd(&["txcode", "add", "SB", "--kind", "adjustment", "--description", "Something else", "--actor", "sue"]);
    assert_eq!((code, err.trim()), (Some(1), "refused: transaction code \"SB\" exists already, as a adjustment code: nothing changed (remitd txcode list)"));
    let (_, out, _) = remitd(&["txcode", "list"]);
    assert!(out.lines().any(|l| l.starts_with("SB ") && l.contains("adjustment") && l.ends_with("Small balance")), "the first description stays: {out}");
}

/// A practice-management export is outside input: names and account
/// numbers that look like formulas stay text in the CSV a manager opens,
/// and cannot forge lines in the text report.
#[tokio::test]
async fn the_report_is_safe_to_open_in_a_spreadsheet_and_a_terminal() {
    let db = TestDb::new().await;
    let billed = (today() - chrono::Days::new(200)).to_string();
    import_csv(
        &db.pool,
        &format!(
            "claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed
EVIL,@SUM(A1),\"=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",ACME,2026-01-05,99213,100.00,{billed},2
"
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    ingest(&db.pool, &era(dir.path(), "EFT-EVIL", vec![clp("EVIL", "1", "100.00", "90.00", &[("PR", "3", "10.00")])])).await;
    db.people(&[("sue", &[Scope::DenialWrite, Scope::WriteoffApprove])]).await;
    let posted = sweep::post(&db.pool, &params(), "sue").await.unwrap();
    let run = posted.run.expect("a run").to_string();

    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["sweep", "show", &run, "--format", "csv"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut csv = csv::Reader::from_reader(out.stdout.as_slice());
    let row = csv.records().next().expect("one line").unwrap();
    assert_eq!((&row[2], &row[3], &row[4], &row[6]), ("EVIL", "'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(A1)", "10.00"));
}

/// The sweep writes off under `small-balance`, and never more than that
/// reason's cap: balances above it go on the out-of-range report, and the
/// run records the cap as the maximum it used.
#[tokio::test]
async fn balances_over_the_small_balance_cap_stay_out_of_range() {
    let db = setup().await;
    reasons::set_cap(&db.pool, common::ADMIN, "small-balance", Some(dec("18.00"))).await.unwrap();
    let preview = sweep::preview(&db.pool, &params()).await.unwrap();
    assert_eq!(preview.params.max_amount, Some(dec("18.00")), "the lower of the sweep's 100.00 and the cap");
    let r = sweep::post(&db.pool, &params(), "sue").await.unwrap();
    assert_eq!(lines(&r, Section::WrittenOff), lines(&preview, Section::WrittenOff));
    let written: Vec<_> = lines(&r, Section::WrittenOff).into_iter().map(|(c, _, a)| (c, a)).collect();
    assert!(written.iter().all(|(_, a)| dec(a).abs() <= dec("18.00")), "{written:?}");
    assert!(written.iter().any(|(c, _)| c == "INS-SMALL"), "17.36 is within the cap: {written:?}");
    let over: Vec<_> = lines(&r, Section::OutOfRange).into_iter().map(|(c, _, a)| (c, a)).collect();
    assert!(over.contains(&("PAT-SMALL".to_string(), "50.00".to_string())), "{over:?}");
    assert_eq!(claim(&db.pool, "PAT-SMALL").await.patient_balance, dec("50.00"), "over the cap, it stays");
    assert!(sweep::report::text(&r).contains("OUT OF RANGE: OVER $18.00"), "{}", sweep::report::text(&r));
    let shown = sweep::show(&db.pool, r.run.unwrap()).await.unwrap();
    assert_eq!(shown.params.max_amount, Some(dec("18.00")), "the run keeps the maximum it used");
    common::assert_balances_add_up(&db.pool).await;
}

/// With `small-balance` retired, no sweep runs: nothing is written off
/// under a reason nobody may choose any more.
#[tokio::test]
async fn no_sweep_runs_while_its_reason_is_retired() {
    let db = setup().await;
    reasons::retire(&db.pool, common::ADMIN, "small-balance").await.unwrap();
    for e in [sweep::preview(&db.pool, &params()).await.unwrap_err(), sweep::post(&db.pool, &params(), "sue").await.unwrap_err()] {
        assert!(e.to_string().contains("the reason \"small-balance\" was retired on"), "{e}");
    }
    assert_eq!(count(&db, "SELECT count(*) FROM writeoffs").await, 0);
}

/// A sweep narrowed to a payer, an account, a claim or service dates takes
/// only its balances, and its report says what it was narrowed to; runs stored
/// before the filters existed still read back.
#[tokio::test]
async fn a_sweep_can_be_narrowed_to_a_payer_an_account_or_a_claim() {
    let db = setup().await;
    let all = lines(&sweep::preview(&db.pool, &params()).await.unwrap(), Section::WrittenOff);
    assert!(all.len() > 2, "{all:?}");
    let by_payer = sweep::preview(&db.pool, &Params { payer: Some("ACME".into()), ..params() }).await.unwrap();
    assert_eq!(lines(&by_payer, Section::WrittenOff), all, "every claim here is ACME's");
    assert!(sweep::preview(&db.pool, &Params { payer: Some("OTHER".into()), ..params() }).await.unwrap().lines.is_empty());
    let served = |from: &str, to: &str| Params { service_from: Some(day(from)), service_to: Some(day(to)), ..params() };
    assert_eq!(lines(&sweep::preview(&db.pool, &served("2026-01-05", "2026-01-05")).await.unwrap(), Section::WrittenOff), all, "served that day");
    assert!(sweep::preview(&db.pool, &served("2026-01-06", "2026-12-31")).await.unwrap().lines.is_empty());
    let e = sweep::preview(&db.pool, &served("2026-01-06", "2026-01-05")).await.unwrap_err();
    assert_eq!(e.to_string(), "the service dates start (2026-01-06) after they end (2026-01-05)");
    let one = Params { account: Some("000020".into()), ..params() };
    assert_eq!(lines(&sweep::preview(&db.pool, &one).await.unwrap(), Section::WrittenOff), owned(&[("PAT-SMALL", Bucket::Patient, "50.00")]));
    let claim_only = Params { claim: Some("INS-SMALL".into()), ..params() };
    let r = sweep::post(&db.pool, &claim_only, "sue").await.unwrap();
    assert_eq!(lines(&r, Section::WrittenOff), owned(&[("INS-SMALL", Bucket::Insurance, "17.36")]));
    assert!(sweep::report::text(&r).lines().next().unwrap().ends_with(" CLAIM: INS-SMALL"), "{}", sweep::report::text(&r));
    assert_eq!(claim(&db.pool, "PAT-SMALL").await.patient_balance, dec("50.00"), "outside the filter, it stays");
    assert_eq!(sweep::show(&db.pool, r.run.unwrap()).await.unwrap().params.claim.as_deref(), Some("INS-SMALL"));

    // A run stored without the filters reads back with none.
    sqlx::query("UPDATE sweep_runs SET params = params - 'claim'").execute(&db.pool).await.expect_err("runs are append-only");
    let old: sweep::Params = serde_json::from_value(serde_json::json!({
        "from": "2026-01-01", "to": "2026-01-31", "days_since_billed": 30, "min_times_billed": 0, "insurance_code": "w",
        "patient_code": null, "max_amount": null, "include_insurance_credits": false, "include_patient_credits": false,
        "as_of": "2026-02-01", "time_zone": "UTC"
    }))
    .unwrap();
    assert_eq!((old.payer, old.account, old.claim), (None, None, None));
    common::assert_balances_add_up(&db.pool).await;
}
