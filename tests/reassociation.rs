//! Reassociation against a real database: bulk check deposits, debits,
//! the same credit reported by two files, questions instead of guesses, a
//! person's match and unmatch, matching raced from every side, and the
//! property that a bank file paying generated remittances explains them all.

mod common;

use std::process::Command;

use chrono::{Days, NaiveDate};
use common::bank::{ach, day, import, post, statement, Paid};
use proptest::prelude::*;
use remitd::actors::Scope;
use remitd::bank::reconcile::{self, Filter, Row, Side, Status};
use remitd::bank::store;
use rust_decimal::Decimal;
use sqlx::PgPool;

fn remitd(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", url).env_remove("REMITD_ACTOR").args(args).output().unwrap()
}

async fn rows(pool: &PgPool) -> Vec<Row> {
    reconcile::report(pool, day("2024-12-31"), Filter::default()).await.unwrap()
}

/// (trace, amount, status) of every row, sorted.
async fn states(pool: &PgPool) -> Vec<(String, String, Status)> {
    let mut v: Vec<_> = rows(pool).await.into_iter().map(|r| (r.trace.unwrap_or_default(), r.amount.to_string(), r.status)).collect();
    v.sort();
    v
}

fn s(trace: &str, amount: &str, status: Status) -> (String, String, Status) {
    (trace.to_string(), amount.to_string(), status)
}

#[tokio::test]
async fn a_bulk_check_deposit_matches_the_one_set_of_checks_adding_up_to_it() {
    let db = common::TestDb::new().await;
    post(
        &db.pool,
        &[
            Paid::new("CHK-1", "150.00", "2024-03-04").by_check(),
            Paid::new("CHK-2", "168.00", "2024-03-05").by_check(),
            Paid::new("CHK-3", "99.99", "2024-03-05").by_check(),
            // Far from the deposit: outside the window, never a candidate.
            Paid::new("CHK-9", "168.00", "2024-02-01").by_check(),
            // Paid by ACH: never in a check deposit.
            Paid::new("EFT-7", "168.00", "2024-03-05"),
        ],
    )
    .await;
    let m = import(&db.pool, "lockbox.bai", &statement("2024-03-06", &[(301, "318.00", "", "LOCKBOX DEPOSIT")])).await;
    assert_eq!((m.one_to_one, m.bulk, m.questions), (0, 1, 0), "{m}");
    let bulk: Vec<(i64, String)> = sqlx::query_as("SELECT x.remittance_id, x.how FROM reassociations x ORDER BY 1").fetch_all(&db.pool).await.unwrap();
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM remittances WHERE trace_number IN ('CHK-1', 'CHK-2') ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(bulk, ids.iter().map(|id| (*id, "bulk".to_string())).collect::<Vec<_>>());
    let matched = rows(&db.pool).await.into_iter().find(|r| r.side == Side::Deposit).unwrap();
    assert_eq!((matched.status, matched.remittance_ids), (Status::Matched, ids));

    // Two sets add up to 350.00 (either 100.00 with the 250.00): a question.
    post(
        &db.pool,
        &[
            Paid::new("CHK-4", "100.00", "2024-04-01").by_check(),
            Paid::new("CHK-5", "100.00", "2024-04-01").by_check(),
            Paid::new("CHK-6", "250.00", "2024-04-02").by_check(),
        ],
    )
    .await;
    let m = import(&db.pool, "lockbox2.bai", &statement("2024-04-02", &[(301, "350.00", "", "LOCKBOX DEPOSIT")])).await;
    assert_eq!((m.one_to_one, m.bulk, m.questions), (0, 0, 1), "{m}");
    let asked = rows(&db.pool).await.into_iter().find(|r| r.amount == common::dec("350.00")).unwrap();
    assert_eq!(asked.status, Status::Ambiguous);
    assert_eq!(asked.remittance_ids.len(), 3, "every candidate is named for the person");
    assert!(asked.detail.as_deref().unwrap().contains("more than one set of checks"), "{asked:?}");
    let open: Vec<Status> =
        rows(&db.pool).await.into_iter().filter(|r| r.side == Side::Remittance && r.date == Some(day("2024-04-01"))).map(|r| r.status).collect();
    assert_eq!(open, [Status::Ambiguous, Status::Ambiguous], "the checks wait on the same question");
}

#[tokio::test]
async fn debits_match_takebacks_and_never_payments() {
    let db = common::TestDb::new().await;
    post(&db.pool, &[Paid::new("RCP-1", "80.00", "2024-05-06").debit(), Paid::new("EFT-2", "80.00", "2024-05-06")]).await;
    let (method, direction): (String, String) =
        sqlx::query_as("SELECT payment_method, credit_debit FROM remittances WHERE trace_number = 'RCP-1'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((method.as_str(), direction.as_str()), ("ACH", "D"));
    // A credit naming the debit's trace is not its money.
    let m = import(&db.pool, "credit.ach", &ach("2024-05-06", &[("80.00", Some("RCP-1"), true)])).await;
    assert_eq!(m.one_to_one, 0);
    let m = import(&db.pool, "debit.ach", &ach("2024-05-07", &[("80.00", Some("RCP-1"), false), ("80.00", Some("EFT-2"), false)])).await;
    assert_eq!(m.one_to_one, 1, "{m}");
    assert_eq!(
        states(&db.pool).await,
        [
            s("EFT-2", "80.00", Status::Overdue),
            s("EFT-2", "80.00", Status::Takeback),
            s("RCP-1", "80.00", Status::Matched),
            s("RCP-1", "80.00", Status::Unexplained),
        ],
        "the debit explains the takeback; a debit naming a payment is a takeback nobody explained; the payment still awaits its money"
    );
}

#[tokio::test]
async fn amounts_or_dates_that_disagree_are_questions_and_the_same_credit_twice_is_one() {
    let db = common::TestDb::new().await;
    post(&db.pool, &[Paid::new("EFT-A", "253.40", "2024-01-15"), Paid::new("EFT-B", "627.50", "2024-02-12"), Paid::new("EFT-C", "12.00", "2024-02-12")]).await;
    import(&db.pool, "short.ach", &ach("2024-01-15", &[("253.00", Some("EFT-A"), true)])).await;
    import(&db.pool, "late.ach", &ach("2024-02-26", &[("627.50", Some("EFT-B"), true)])).await;
    // The ACH credit, then the statement showing it landed the next day.
    import(&db.pool, "c.ach", &ach("2024-02-12", &[("12.00", Some("EFT-C"), true)])).await;
    let m = import(&db.pool, "c.bai", &statement("2024-02-13", &[(165, "12.00", "", "ACH CREDIT TRN*1*EFT-C*1999999901\\")])).await;
    assert_eq!(m.one_to_one, 0, "the statement's line is the same money, not a second deposit");
    assert_eq!(
        states(&db.pool).await,
        [
            s("EFT-A", "253.00", Status::AmountMismatch),
            s("EFT-A", "253.40", Status::AmountMismatch),
            s("EFT-B", "627.50", Status::DateMismatch),
            s("EFT-B", "627.50", Status::DateMismatch),
            s("EFT-C", "12.00", Status::Matched),
            s("EFT-C", "12.00", Status::ReportedTwice),
        ]
    );
    let all = rows(&db.pool).await;
    let short = all.iter().find(|r| r.amount == common::dec("253.00")).unwrap();
    assert_eq!(short.detail.as_deref(), Some("the deposit is 0.40 less than the remittance"));
    let late = all.iter().find(|r| r.status == Status::DateMismatch && r.side == Side::Deposit).unwrap();
    assert_eq!(late.detail.as_deref(), Some("the remittance is dated 10 business days from the deposit"));
    let open: Vec<Status> =
        reconcile::report(&db.pool, day("2024-12-31"), Filter { open_only: true, ..Filter::default() }).await.unwrap().into_iter().map(|r| r.status).collect();
    assert_eq!(open.len(), 4, "what is still open: the two questions, on both sides: {open:?}");
    assert!(open.iter().all(|s| matches!(s, Status::AmountMismatch | Status::DateMismatch)), "{open:?}");
    let only: Vec<Status> = reconcile::report(&db.pool, day("2024-12-31"), Filter { status: Some(Status::DateMismatch), ..Filter::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(only, [Status::DateMismatch, Status::DateMismatch]);
    let twice = all.iter().find(|r| r.status == Status::ReportedTwice).unwrap();
    assert!(twice.detail.as_deref().unwrap().contains("reported again"), "{twice:?}");

    // The report's CSV and PDF say the same.
    let out = remitd(&db.url, &["reconcile", "--format", "csv", "--from", "2024-01-01", "--to", "2024-01-31"]);
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(csv.lines().count(), 3, "a header and January's two rows: {csv}");
    assert!(csv.contains("amount_mismatch,deposit,credit,2024-01-15,253.00,EFT-A"), "{csv}");
    let dir = tempfile::tempdir().unwrap();
    let out = remitd(&db.url, &["reconcile", "--format", "pdf"]);
    assert!(out.status.success());
    std::fs::write(dir.path().join("r.pdf"), &out.stdout).unwrap();
    let text = common::pdf_text(&dir.path().join("r.pdf"));
    assert!(text.contains("To ask each payer"), "{text}");
    assert!(text.contains("why the amounts differ for 1 (253.40): EFT-A 253.40"), "{text}");
    assert!(!text.contains("for 1 (253.00)"), "asked once, of the remittance's payer, not again for the deposit: {text}");
}

#[tokio::test]
async fn a_person_matches_and_unmatches_in_her_own_name_with_a_reason() {
    let db = common::TestDb::new().await;
    let ann = db.login_role("ann").await;
    let bob = db.login_role("bob").await;
    let eve = db.login_role("eve").await;
    db.people(&[(&ann.name, &[Scope::PaymentWrite]), (&bob.name, &[Scope::Read])]).await;
    post(&db.pool, &[Paid::new("EFT-A", "253.40", "2024-01-15"), Paid::new("EFT-B", "627.50", "2024-01-15")]).await;
    import(&db.pool, "a.ach", &ach("2024-01-15", &[("253.00", Some("EFT-A"), true), ("627.50", Some("EFT-B"), true), ("5.00", None, true)])).await;
    let deposit = |trace: &'static str| {
        let pool = db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>("SELECT id FROM deposits WHERE trace_number = $1").bind(trace).fetch_one(&pool).await.unwrap() }
    };
    let (short, auto) = (deposit("EFT-A").await, deposit("EFT-B").await);
    let remittance: i64 = sqlx::query_scalar("SELECT id FROM remittances WHERE trace_number = 'EFT-A'").fetch_one(&db.pool).await.unwrap();
    let (short_s, remittance_s) = (short.to_string(), remittance.to_string());
    let hand = ["deposits", "match", "--deposit", &short_s, "--remittance", &remittance_s, "--reason", "payer confirmed a 0.40 bank fee"];

    // Reading is not deciding: the command line and the database refuse.
    let out = remitd(&bob.url, &hand);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("billing.payment.write"), "{}", String::from_utf8_lossy(&out.stderr));
    let bob_pool = bob.pool().await;
    let sql = "INSERT INTO reassociations (deposit_id, remittance_id, how, match_id, matched_by, reason) VALUES ($1, $2, 'manual', nextval('reassociation_matches'), $3, 'x')";
    let e = sqlx::query(sql).bind(short).bind(remittance).bind(&bob.name).execute(&bob_pool).await.unwrap_err();
    assert!(e.to_string().contains("lacks the scope billing.payment.write"), "{e}");
    let e = sqlx::query("INSERT INTO reassociations (deposit_id, remittance_id, how, match_id) VALUES ($1, $2, 'trace', 1)")
        .bind(short)
        .bind(remittance)
        .execute(&bob_pool)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("written by the daemon"), "{e}");
    // Nor does a login with no scope read a deposit at all.
    let eve_pool = eve.pool().await;
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM deposits").fetch_one(&eve_pool).await.unwrap();
    assert_eq!(seen, 0, "row security hides deposits from a login without a scope");
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM reassociation_candidates").fetch_one(&eve_pool).await.unwrap();
    assert_eq!(seen, 0, "and the views read with the reader's rights");
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM deposits").fetch_one(&bob_pool).await.unwrap();
    assert_eq!(seen, 3);

    // Ann acts only as herself, and gives a reason.
    let ann_pool = ann.pool().await;
    let e = sqlx::query(sql).bind(short).bind(remittance).bind(&bob.name).execute(&ann_pool).await.unwrap_err();
    assert!(e.to_string().contains("in the name of"), "{e}");
    let out = remitd(&ann.url, &["deposits", "match", "--deposit", &short_s, "--remittance", &remittance_s, "--reason", " "]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a reason"));
    let out = remitd(&ann.url, &hand);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("differs from them by -0.40"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = remitd(&ann.url, &hand);
    assert!(String::from_utf8_lossy(&out.stderr).contains("matched already"), "{}", String::from_utf8_lossy(&out.stderr));
    let row = rows(&db.pool).await.into_iter().find(|r| r.side == Side::Deposit && r.deposit_id == Some(short)).unwrap();
    assert_eq!((row.status, row.detail.as_deref()), (Status::Matched, Some(format!("matched by {}: payer confirmed a 0.40 bank fee", ann.name).as_str())));

    // A match is never deleted or rewritten, by anyone.
    let e = sqlx::query("DELETE FROM reassociations").execute(&db.pool).await.unwrap_err();
    assert!(e.to_string().contains("never deleted"), "{e}");
    let e = sqlx::query("UPDATE reassociations SET reason = 'other' WHERE deposit_id = $1").bind(short).execute(&ann_pool).await.unwrap_err();
    assert!(e.to_string().contains("ended once"), "{e}");

    // The daemon's own match, undone: the deposit is left to people.
    let out = remitd(&ann.url, &["deposits", "unmatch", "--deposit", &auto.to_string(), "--reason", "the bank reversed this credit"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m = reconcile::match_all(&db.pool).await.unwrap();
    assert_eq!(m.one_to_one, 0, "a deposit a person unmatched is not matched again");
    let ended: (String, String) =
        sqlx::query_as("SELECT ended_by, end_reason FROM reassociations WHERE deposit_id = $1").bind(auto).fetch_one(&db.pool).await.unwrap();
    assert_eq!(ended, (ann.name.clone(), "the bank reversed this credit".to_string()));
    let out = remitd(&ann.url, &["deposits", "unmatch", "--deposit", &auto.to_string(), "--reason", "again"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not matched"));

    // A deposit no remittance will explain, explained by its reason alone.
    let interest = sqlx::query_scalar::<_, i64>("SELECT id FROM deposits WHERE trace_number IS NULL").fetch_one(&db.pool).await.unwrap();
    let out = remitd(&ann.url, &["deposits", "match", "--deposit", &interest.to_string(), "--reason", "interest"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("explained without a remittance"));
    let row = rows(&db.pool).await.into_iter().find(|r| r.side == Side::Deposit && r.deposit_id == Some(interest)).unwrap();
    assert_eq!(row.status, Status::Explained);

    let audited: Vec<(String, String)> =
        sqlx::query_as("SELECT action, actor FROM audit_log WHERE action LIKE 'deposit_%' ORDER BY id").fetch_all(&db.pool).await.unwrap();
    let who = ann.name.clone();
    assert_eq!(audited, [("deposit_matched".to_string(), who.clone()), ("deposit_unmatched".to_string(), who.clone()), ("deposit_matched".to_string(), who)]);
    for p in [bob_pool, eve_pool, ann_pool] {
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_deposit_or_remittance_is_matched_twice_whatever_runs_at_once() {
    let db = common::TestDb::new().await;
    let ann = db.login_role("ann").await;
    db.people(&[(&ann.name, &[Scope::PaymentWrite])]).await;
    let paid: Vec<Paid> = (0..30).map(|i| Paid::new(&format!("EFT-{i:03}"), &format!("{}.{:02}", 100 + i, i), "2024-06-03")).collect();
    post(&db.pool, &paid).await;
    let entries: Vec<(String, String)> = paid.iter().map(|p| (p.amount.to_string(), p.trace.clone())).collect();
    let entries: Vec<(&str, Option<&str>, bool)> = entries.iter().map(|(a, t)| (a.as_str(), Some(t.as_str()), true)).collect();
    assert!(matches!(store::import(&db.pool, "june.ach", &ach("2024-06-03", &entries)).await.unwrap(), store::Imported::Read { .. }));
    let ids: Vec<(i64, i64)> = sqlx::query_as("SELECT d.id, r.id FROM deposits d JOIN remittances r ON r.trace_number = d.trace_number ORDER BY d.id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let ann_pool = ann.pool().await;

    // The daemon matching three times at once while ann matches deposits
    // by hand with the wrong remittances, through remitd and around it.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let pool = db.pool.clone();
        tasks.spawn(async move { reconcile::match_all(&pool).await.map(|m| m.one_to_one).map_err(|e| e.to_string()) });
    }
    for k in 0..6 {
        let (pool, who) = (ann_pool.clone(), ann.name.clone());
        let (deposit, wrong) = (ids[k].0, ids[k + 1].1);
        tasks.spawn(async move { reconcile::match_by_hand(&pool, &who, deposit, &[wrong], "hostile").await.map(|_| 100).map_err(|e| e.to_string()) });
        let (pool, who) = (ann_pool.clone(), ann.name.clone());
        let (deposit, wrong) = (ids[k].0, ids[k + 2].1);
        tasks.spawn(async move {
            // Around remitd: no lock taken, a snapshot older than the others' commits.
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(&mut *tx).await.map_err(|e| e.to_string())?;
            sqlx::query("SELECT count(*) FROM reassociations").execute(&mut *tx).await.map_err(|e| e.to_string())?;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            sqlx::query("INSERT INTO reassociations (deposit_id, remittance_id, how, match_id, matched_by, reason) VALUES ($1, $2, 'manual', nextval('reassociation_matches'), $3, 'hostile')")
                .bind(deposit)
                .bind(wrong)
                .bind(&who)
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(1000)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(r) = tasks.join_next().await {
        outcomes.push(r.unwrap());
    }
    for e in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            e.contains("matched already") || e.contains("conflicting key") || e.contains("duplicate key") || e.contains("matched with another deposit"),
            "every refusal is a match refused, never something else: {e}"
        );
    }
    let (open_per_remittance, matches_per_deposit, open): (Option<i64>, Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT max(n) FROM (SELECT count(*) AS n FROM reassociations WHERE ended_at IS NULL GROUP BY remittance_id) a),
                (SELECT max(n) FROM (SELECT count(DISTINCT match_id) AS n FROM reassociations WHERE ended_at IS NULL GROUP BY deposit_id) b),
                (SELECT count(DISTINCT deposit_id) FROM reassociations WHERE ended_at IS NULL)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((open_per_remittance, matches_per_deposit), (Some(1), Some(1)), "{outcomes:?}");
    // Whatever won, the daemon finishes the rest: every deposit is matched
    // (rightly, or by ann's hand) once more matching runs.
    reconcile::match_all(&db.pool).await.unwrap();
    let rest: i64 = sqlx::query_scalar("SELECT count(*) FROM open_deposits").fetch_one(&db.pool).await.unwrap();
    assert!(open > 0 && rest <= 6, "only deposits whose remittance ann took may stay open: {rest}");
    ann_pool.close().await;
}

/// Remittances paid on weekdays of one week, half by ACH and half by check.
fn paid_strategy() -> impl Strategy<Value = Vec<(Paid, u64)>> {
    proptest::collection::vec((1i64..2_000_000, 0u64..5, any::<bool>(), 0u64..=3), 1..12).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (cents, weekday, check, later))| {
                let date = day("2024-07-01") + Days::new(weekday);
                let trace = if check { format!("CHK-{i:05}") } else { format!("EFT-{i:05}") };
                (Paid { trace, amount: Decimal::new(cents, 2), date, check, debit: false }, later)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Whatever the remittances, the ACH file and statement that pay them
    /// (within the window, in any order) explain every one: nothing is
    /// left open on either side.
    #[test]
    fn a_bank_file_paying_generated_remittances_reassociates_them_all(paid in paid_strategy(), statement_first in any::<bool>()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let db = common::TestDb::new().await;
            let remittances: Vec<Paid> = paid.iter().map(|(p, _)| p.clone()).collect();
            post(&db.pool, &remittances).await;
            // Money arrives 0 to 3 weekdays after the 835's date (Mon to Fri: within the window).
            let on = |(p, later): &(Paid, u64)| p.date + Days::new(*later);
            let entries: Vec<(String, String, NaiveDate)> = paid.iter().filter(|(p, _)| !p.check).map(|x| (x.0.amount.to_string(), x.0.trace.clone(), on(x))).collect();
            let checks: Vec<(String, String, NaiveDate)> = paid.iter().filter(|(p, _)| p.check).map(|x| (x.0.amount.to_string(), x.0.trace.clone(), on(x))).collect();
            let mut files: Vec<(String, Vec<u8>)> = Vec::new();
            for (n, (amount, trace, date)) in entries.iter().enumerate() {
                files.push((format!("{n}.ach"), ach(&date.to_string(), &[(amount.as_str(), Some(trace.as_str()), true)])));
            }
            for (n, (amount, trace, date)) in checks.iter().enumerate() {
                files.push((format!("{n}.bai"), statement(&date.to_string(), &[(301, amount.as_str(), trace.as_str(), "CHECK DEPOSIT")])));
            }
            if statement_first {
                files.reverse();
            }
            for (name, bytes) in &files {
                import(&db.pool, name, bytes).await;
            }
            let left: Vec<Row> = rows(&db.pool).await.into_iter().filter(|r| r.status != Status::Matched).collect();
            prop_assert!(left.is_empty(), "left open: {left:?}");
            let matched: i64 = sqlx::query_scalar("SELECT count(*) FROM reassociations").fetch_one(&db.pool).await.unwrap();
            prop_assert_eq!(matched as usize, paid.len());
            Ok(())
        })?;
    }
}

/// Business days are counted by arithmetic, as generate_series counted
/// them day by day: the same for every pair of days of a quarter, in both
/// orders, across weekends.
#[tokio::test]
async fn business_days_are_what_counting_the_days_gives() {
    let db = common::TestDb::new().await;
    let (differ, pairs): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE remitd_business_days(a, b) <> (SELECT count(*) FROM generate_series(LEAST(a, b) + 1, GREATEST(a, b), interval '1 day') d
                                                                    WHERE extract(isodow FROM d) < 6)),
                count(*)
         FROM (SELECT date '2024-01-01' + i AS a FROM generate_series(0, 90) i) x, (SELECT date '2024-01-01' + j AS b FROM generate_series(0, 90) j) y",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((differ, pairs), (0, 91 * 91));
    let fri_to_mon: i32 = sqlx::query_scalar("SELECT remitd_business_days('2024-03-01', '2024-03-04')").fetch_one(&db.pool).await.unwrap();
    assert_eq!(fri_to_mon, 1);
}
