//! Who may act, tried as a hostile user would: granting oneself a scope,
//! acting as `system` or a look-alike, naming a second first admin, and
//! forging lines or formulas in what remitd prints.

mod common;

use std::process::{Command, Output};

use common::{clp_lines, import_csv, ingest, remittance_file, sample, sample_claims_except, svc, TestDb, ADMIN};
use remitd::actors::{self, Scope};
use remitd::denials;
use remitd::ledger::ActionError;
use remitd::writeoff::{self, history, Approval, Request};

/// The denial sample posted; `ann` may write off, `sam` may approve,
/// `mallory` may write off but not approve.
async fn setup() -> TestDb {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    db.people(&[
        ("ann", &[Scope::DenialWrite, Scope::PaymentWrite]),
        ("sam", &[Scope::WriteoffApprove]),
        ("mallory", &[Scope::DenialWrite, Scope::PaymentWrite]),
    ])
    .await;
    db
}

fn remitd(db: &TestDb, actor: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remitd"));
    cmd.env("DATABASE_URL", &db.url).env_remove("REMITD_ACTOR").args(args);
    if let Some(a) = actor {
        cmd.env("REMITD_ACTOR", a);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a person could type in `psql`: a receipt and, in one statement, a
/// write-off of `amount` (an SQL expression over `d`, the denial) in
/// `status` on CLM-2001, on its denial or (`on_denial` false) on the claim.
/// Returns the write-off's id.
fn write_off_by_hand(on_denial: bool, amount: &str, reason: &str, status: &str) -> String {
    let denial = if on_denial { "d.id" } else { "NULL" };
    format!(
        "WITH r AS (INSERT INTO writeoff_receipts (kind, actor, reason) VALUES ('single', session_user, '{reason}') RETURNING id)
         INSERT INTO writeoffs (receipt_id, denial_id, claim_id, amount, bucket, reason, requested_by, status)
         SELECT r.id, {denial}, c.id, {amount}, 'insurance', '{reason}', session_user, '{status}'
         FROM r, claims c JOIN denials d ON d.claim_id = c.id WHERE c.claim_id = 'CLM-2001' RETURNING id"
    )
}

async fn scopes_of(db: &TestDb, name: &str) -> Vec<String> {
    actors::list(&db.pool).await.unwrap().into_iter().find(|(n, _)| n == name).map(|(_, s)| s).unwrap_or_default()
}

#[tokio::test]
async fn a_clerk_cannot_add_a_helper_and_approve_her_own_write_off() {
    let db = setup().await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::All).await.unwrap();
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    let req = Request { denial_id: d.id, reason: "bad-debt", note: None, amount: None, actor: "mallory" };
    let pending = writeoff::write_off(&db.pool, req).await.unwrap();

    // The attack of the report, step by step, on the command line.
    let add = remitd(&db, Some("mallory"), &["actor", "add", "mallory2"]);
    assert_eq!(add.status.code(), Some(1));
    assert!(text(&add.stderr).contains("lacks the scope remitd.admin"), "{}", text(&add.stderr));
    let grant = remitd(&db, Some("mallory"), &["actor", "grant", "mallory", "billing.writeoff.approve"]);
    assert_eq!(grant.status.code(), Some(1));
    assert!(text(&grant.stderr).contains("lacks the scope remitd.admin"), "{}", text(&grant.stderr));
    let no_actor = remitd(&db, None, &["actor", "grant", "mallory", "billing.writeoff.approve"]);
    assert_eq!(no_actor.status.code(), Some(1), "the login is not an actor: {}", text(&no_actor.stderr));
    assert!(text(&no_actor.stderr).contains("actor \"postgres\" does not exist"), "{}", text(&no_actor.stderr));
    assert_eq!(scopes_of(&db, "mallory").await, ["billing.denial.write", "billing.payment.write"]);
    let approve = remitd(&db, Some("mallory"), &["writeoff", "approve", &pending.writeoff_id.to_string()]);
    assert_eq!(approve.status.code(), Some(1), "{}", text(&approve.stdout));
    assert!(text(&approve.stderr).contains("lacks the scope billing.writeoff.approve"), "{}", text(&approve.stderr));

    // Nor through the library, whoever she claims granted it.
    let e = actors::grant(&db.pool, "mallory", "mallory", Scope::Admin).await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "remitd.admin"), "{e}");
    let e = actors::grant(&db.pool, "system", "mallory", Scope::WriteoffApprove).await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { .. }), "system holds no scopes: {e}");
    assert!(matches!(writeoff::decide_writeoff(&db.pool, pending.writeoff_id, "mallory", true).await, Err(ActionError::Forbidden { .. })));
}

#[tokio::test]
async fn grants_and_revokes_are_audited_with_who_granted_them() {
    let db = setup().await;
    actors::grant(&db.pool, ADMIN, "ann", Scope::WriteoffApprove).await.unwrap();
    actors::revoke(&db.pool, ADMIN, "ann", Scope::WriteoffApprove).await.unwrap();
    // Granting what is held, or revoking what is not, changes nothing and is not audited twice.
    actors::grant(&db.pool, ADMIN, "ann", Scope::DenialWrite).await.unwrap();
    actors::revoke(&db.pool, ADMIN, "ann", Scope::WriteoffApprove).await.unwrap();
    let rows: Vec<(String, String, serde_json::Value)> =
        sqlx::query_as("SELECT actor, action, detail FROM audit_log WHERE action IN ('scope_granted', 'scope_revoked') AND detail->>'scope' = 'billing.writeoff.approve' AND coalesce(detail->>'to', detail->>'from') = 'ann' ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(a, act, d)| (a.as_str(), act.as_str(), d["to"].as_str().or(d["from"].as_str()).unwrap())).collect();
    assert_eq!(rows, [(ADMIN, "scope_granted", "ann"), (ADMIN, "scope_revoked", "ann")]);
    let no_system: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action IN ('scope_granted', 'scope_revoked', 'actor_added') AND actor = 'system'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(no_system, 0, "no grant is audited as system");
    let added: (String, serde_json::Value) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'actor_added' AND detail->>'name' = 'sam'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(added.0, ADMIN);
}

#[tokio::test]
async fn the_first_admin_is_named_once_by_the_owner_and_the_last_admin_stays() {
    let db = TestDb::new().await;
    let e = actors::add(&db.pool, "root", "ann").await.unwrap_err();
    assert!(matches!(e, ActionError::UnknownActor(_)), "before an admin exists nobody can add: {e}");

    // Two owners racing to name the first admin: exactly one wins.
    let (a, b) = tokio::join!(actors::init_admin(&db.pool, "root"), actors::init_admin(&db.pool, "eve"));
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    let winner = if a.is_ok() { "root" } else { "eve" };
    let again = remitd(&db, None, &["admin", "init", "mallory"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains(&format!("already has an admin ({winner})")), "{}", text(&again.stderr));
    let (actor, detail): (String, serde_json::Value) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'admin_initialised'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor.as_str(), detail["by_login"].as_str()), (winner, Some("postgres")));

    // The last admin cannot leave the database without one.
    let e = actors::revoke(&db.pool, winner, winner, Scope::Admin).await.unwrap_err();
    assert!(e.to_string().contains("is the last admin"), "{e}");
    assert_eq!(scopes_of(&db, winner).await, ["remitd.admin"]);
    actors::add(&db.pool, winner, "ann").await.unwrap();
    actors::grant(&db.pool, winner, "ann", Scope::Admin).await.unwrap();
    actors::revoke(&db.pool, "ann", winner, Scope::Admin).await.unwrap();
    assert!(scopes_of(&db, winner).await.is_empty());
}

#[tokio::test]
async fn a_login_that_does_not_own_the_database_cannot_name_its_first_admin() {
    let db = TestDb::new().await;
    let clerk = db.login_role("clerk").await;
    let pool = clerk.pool().await;
    let e = actors::init_admin(&pool, "mallory").await.unwrap_err();
    pool.close().await;
    assert_eq!(e.to_string(), format!("only the database's owner names its first admin (connected as {})", clerk.name));
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &clerk.url).args(["admin", "init", "mallory"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(actors::list(&db.pool).await.unwrap().iter().all(|(n, _)| n != "mallory"));
}

/// A person on their own PostgreSQL login acts as that login: naming
/// someone else with `--actor` is refused, by the command line and by the
/// library, even with every table privilege.
#[tokio::test]
async fn a_login_acts_only_as_itself() {
    let db = setup().await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    let pool = clerk.pool().await;

    let as_ann = Request { denial_id: d.id, reason: "bad-debt", note: None, amount: Some(common::dec("10.00")), actor: "ann" };
    let e = writeoff::write_off(&pool, as_ann).await.unwrap_err();
    assert!(matches!(&e, ActionError::NotYou { login, actor } if *login == clerk.name && actor == "ann"), "{e}");
    let e = actors::grant(&pool, ADMIN, &clerk.name, Scope::WriteoffApprove).await.unwrap_err();
    assert!(matches!(e, ActionError::NotYou { .. }), "an admin's name does not make a clerk an admin: {e}");
    let e = writeoff::set_approval_policy(&pool, "sam", Approval::Off).await.unwrap_err();
    assert!(matches!(e, ActionError::NotYou { .. }), "{e}");

    let id = d.id.to_string();
    let cli =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &clerk.url).env_remove("REMITD_ACTOR").args(args).output().unwrap();
    let out = cli(&["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "10", "--actor", "ann"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains(&format!("logged in to PostgreSQL as \"{}\", so acting as \"ann\" is refused", clerk.name)), "{}", text(&out.stderr));
    let out = cli(&["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "10"]);
    assert!(out.status.success(), "without --actor a login acts as itself: {}", text(&out.stderr));
    let out = cli(&["denial", "approve", &id]);
    assert!(text(&out.stderr).contains(&format!("actor \"{}\" lacks the scope billing.writeoff.approve", clerk.name)), "{}", text(&out.stderr));
    pool.close().await;
    let (actor, amount): (String, rust_decimal::Decimal) =
        sqlx::query_as("SELECT actor, amount FROM audit_log WHERE action = 'writeoff_posted'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor, amount), (clerk.name.clone(), common::dec("10.00")));
}

#[tokio::test]
async fn system_and_look_alike_names_are_refused_by_the_cli_and_the_database() {
    let db = setup().await;
    for name in [
        "system",
        "System",
        "SYSTEM",
        " system",
        "system ",
        "ANN",
        "Ann",
        "eve\n2026-12-02 15:42:14 system approval_policy_set (all)",
        "ann\u{202e}",
        "pg_monitor",
        "public",
        "",
        "1ann",
        "ann bob",
    ] {
        let e = actors::add(&db.pool, ADMIN, name).await.unwrap_err();
        assert!(e.to_string().contains("cannot be an actor name"), "{name:?}: {e}");
        let direct = sqlx::query("INSERT INTO actors (name) VALUES ($1)").bind(name).execute(&db.pool).await;
        let err = direct.expect_err(name).to_string();
        assert!(err.contains("actors_name_check") || err.contains("duplicate key"), "{name:?}: {err}");
    }
    for name in ["ann.lee", "bob_2", "o-brien"] {
        actors::add(&db.pool, ADMIN, name).await.unwrap();
    }
    let e = actors::grant(&db.pool, ADMIN, "system", Scope::DenialWrite).await.unwrap_err();
    assert!(e.to_string().contains("`system` is the daemon"), "{e}");
    let out = remitd(&db, Some(ADMIN), &["actor", "grant", "system", "billing.denial.write"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(scopes_of(&db, "system").await.is_empty());
}

#[tokio::test]
async fn text_output_cannot_be_forged_and_csv_cannot_run_formulas() {
    let db = setup().await;
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    let note = "=HYPERLINK(\"http://evil.example\",\"open\")";
    let req = Request { denial_id: d.id, reason: "other", note: Some(note), amount: None, actor: "ann" };
    let posted = writeoff::write_off(&db.pool, req).await.unwrap();
    let forged = "mistake\n2026-12-02 15:42:14 system approval_policy_set (all)";
    writeoff::undo(&db.pool, posted.writeoff_id, "ann", forged).await.unwrap();

    let out = remitd(&db, None, &["audit"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let audit = text(&out.stdout);
    assert!(audit.contains("(mistake\\u{a}2026-12-02 15:42:14 system approval_policy_set (all))"), "escaped, on its own row: {audit}");
    assert!(audit.lines().all(|l| !l.starts_with("2026-12-02 15:42:14")), "no forged line: {audit}");
    let rows = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM audit_log").fetch_one(&db.pool).await.unwrap();
    assert_eq!(audit.lines().count() as i64, rows, "one line per audit row: {audit}");

    let out = remitd(&db, None, &["writeoffs", "history", "--format", "csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut csv = csv::Reader::from_reader(out.stdout.as_slice());
    let notes: Vec<String> = csv.records().map(|r| r.unwrap()[8].to_string()).collect();
    assert_eq!(notes, [format!("'{note}")], "the formula is text");
}

/// The same attacks in `psql`, as a staff login with every table
/// privilege: the database refuses each, naming what is missing.
#[tokio::test]
async fn the_database_refuses_a_staff_login_what_its_scopes_do_not_allow() {
    let db = setup().await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::All).await.unwrap();
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    let pool = clerk.pool().await;
    let req = Request { denial_id: d.id, reason: "bad-debt", note: None, amount: None, actor: &clerk.name };
    let pending = writeoff::write_off(&pool, req).await.unwrap();
    assert_eq!(pending.status.as_str(), "PENDING_APPROVAL");

    let refused = |sql: String| {
        let pool = pool.clone();
        async move {
            let e = sqlx::query(&sql).execute(&pool).await.expect_err(&sql);
            let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
            (code, e.to_string())
        }
    };
    let me = &clerk.name;
    let (code, e) = refused("INSERT INTO audit_log (actor, action) VALUES ('system', 'approval_policy_set')".into()).await;
    assert_eq!(code.as_deref(), Some("42501"), "{e}");
    assert!(e.contains("naming system as its actor is refused"), "{e}");
    let (_, e) = refused(
        "INSERT INTO ledger_entries (claim_id, kind, amount, actor) SELECT id, 'write_off', 1.00, 'ann' FROM claims WHERE claim_id = 'CLM-2001'".into(),
    )
    .await;
    assert!(e.contains("naming ann as its actor is refused"), "{e}");
    let (_, e) = refused(format!("INSERT INTO actor_scopes (actor, scope) VALUES ('{me}', 'billing.writeoff.approve')")).await;
    assert!(e.contains(&format!("actor {me} lacks the scope remitd.admin")), "{e}");
    let (_, e) = refused("INSERT INTO actors (name) VALUES ('mallory2')".into()).await;
    assert!(e.contains("lacks the scope remitd.admin"), "{e}");
    let (_, e) = refused("UPDATE settings SET value = 'off' WHERE key = 'approval'".into()).await;
    assert!(e.contains("lacks the scope billing.writeoff.approve"), "{e}");
    let (_, e) = refused(format!(
        "UPDATE writeoffs SET status = 'POSTED', decided_by = requested_by, ledger_entry_id = (SELECT max(id) FROM ledger_entries) WHERE id = {}",
        pending.writeoff_id
    ))
    .await;
    assert!(e.contains(&format!("{me} may not decide a write-off they requested")), "{e}");
    let (_, e) = refused(format!(
        "UPDATE writeoffs SET status = 'POSTED', decided_by = 'sam', ledger_entry_id = (SELECT max(id) FROM ledger_entries) WHERE id = {}",
        pending.writeoff_id
    ))
    .await;
    assert!(e.contains("lacks the scope billing.writeoff.approve"), "{e}");
    let (_, e) = refused("UPDATE audit_log SET actor = 'sam'".into()).await;
    assert!(e.contains("append-only") || e.contains("refused"), "{e}");
    let (_, e) = refused("ALTER TABLE audit_log DISABLE TRIGGER USER".into()).await;
    assert!(e.contains("must be owner of table audit_log"), "{e}");
    let (_, e) = refused("CREATE OR REPLACE FUNCTION remitd_login_is_owner() RETURNS boolean LANGUAGE sql AS 'SELECT true'".into()).await;
    assert!(e.contains("must be owner of function") || e.contains("permission denied for schema public"), "{e}");
    pool.close().await;

    // Not even the owner approves its own request in psql.
    let e = sqlx::query(&format!(
        "UPDATE writeoffs SET status = 'POSTED', decided_by = requested_by, ledger_entry_id = (SELECT max(id) FROM ledger_entries) WHERE id = {}",
        pending.writeoff_id
    ))
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert!(e.to_string().contains("may not decide a write-off they requested"), "{e}");
    let still: String = sqlx::query_scalar("SELECT status FROM writeoffs WHERE id = $1").bind(pending.writeoff_id).fetch_one(&db.pool).await.unwrap();
    assert_eq!(still, "PENDING_APPROVAL");
}

/// A login without a write-off scope puts nothing in the ledger, and no
/// person's login posts what only remittances post.
#[tokio::test]
async fn the_ledger_takes_from_a_person_only_write_offs_and_only_with_a_scope() {
    let db = setup().await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[])]).await;
    let pool = clerk.pool().await;
    let me = &clerk.name;
    let insert = |kind: &str| {
        format!("INSERT INTO ledger_entries (claim_id, kind, amount, actor) SELECT id, '{kind}', 1.00, '{me}' FROM claims WHERE claim_id = 'CLM-2001'")
    };
    let e = sqlx::query(&insert("write_off")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains(&format!("actor {me} lacks the scope billing.denial.write or billing.payment.write (writing ledger_entries)")), "{e}");
    let e = sqlx::query(&insert("payment")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("payment entries come from remittances, posted by the daemon"), "{e}");
    let request = |reason: &str| write_off_by_hand(false, "1.00", reason, "PENDING_APPROVAL");
    let e = sqlx::query(&request("bad-debt")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains(&format!("actor {me} lacks the scope billing.denial.write (changing writeoffs)")), "{e}");
    pool.close().await;
    actors::grant(&db.pool, ADMIN, &clerk.name, Scope::DenialWrite).await.unwrap();
    let pool = clerk.pool().await;
    let e = sqlx::query(&insert("payment")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("payment entries come from remittances"), "a write-off scope posts no payment: {e}");
    let e = sqlx::query(&request("contractual")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains(&format!("actor {me} lacks the scope billing.payment.write (changing writeoffs)")), "contractual takes payment.write: {e}");
    sqlx::query(&request("bad-debt")).execute(&pool).await.expect("a request with the right scope");
    let over = write_off_by_hand(true, "d.amount + 0.01", "bad-debt", "PENDING_APPROVAL");
    let e = sqlx::query(&over).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("a write-off takes no more than what remains of its denial"), "{e}");
    pool.close().await;
}

/// A person with the write-off scope, in `psql`, cannot go around the
/// workflow: a write-off starts as a request, posting one's own request
/// passes the approval gate, and ledger entries come only with a posted
/// write-off of that amount.
#[tokio::test]
async fn the_approval_gate_holds_in_psql_too() {
    let db = setup().await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    writeoff::set_approval_policy(&db.pool, "sam", Approval::parse("above:100").unwrap()).await.unwrap();
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    let pool = clerk.pool().await;
    let me = clerk.name.clone();
    let small = Request { denial_id: d.id, reason: "bad-debt", note: None, amount: Some(common::dec("50.00")), actor: &me };
    let posted = writeoff::write_off(&pool, small).await.unwrap();
    assert_eq!(posted.status.as_str(), "POSTED", "under the limit, the workflow posts it");

    let refused = |e: sqlx::Error| e.as_database_error().map(|d| (d.code().map(|c| c.into_owned()), d.message().to_string())).unwrap();
    let entry = |writeoff: &str, amount: &str| {
        format!("INSERT INTO ledger_entries (claim_id, kind, amount, actor, writeoff_id) SELECT claim_id, 'write_off', {amount}, session_user, {writeoff} FROM denials WHERE id = {}", d.id)
    };
    let (code, e) = refused(sqlx::query(&entry("NULL", "10.00")).execute(&pool).await.unwrap_err());
    assert_eq!(code.as_deref(), Some("42501"));
    assert!(e.starts_with("a write-off entry comes only with a posted, audited write-off of that amount"), "{e}");
    let (_, e) = refused(sqlx::query(&entry(&posted.writeoff_id.to_string(), "10.00")).execute(&pool).await.unwrap_err());
    assert!(e.starts_with("a write-off entry comes only with a posted, audited write-off of that amount"), "a second 10.00 on a 50.00 write-off: {e}");

    let (_, e) = refused(sqlx::query(&write_off_by_hand(true, "200.00", "bad-debt", "POSTED")).execute(&pool).await.unwrap_err());
    assert!(e.starts_with("a write-off starts as a request"), "{e}");
    let mut tx = pool.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(&write_off_by_hand(true, "200.00", "bad-debt", "PENDING_APPROVAL")).fetch_one(&mut *tx).await.unwrap();
    let (_, e) = refused(
        sqlx::query(&format!(
            "UPDATE writeoffs SET status = 'POSTED', decided_by = session_user, ledger_entry_id = (SELECT max(id) FROM ledger_entries) WHERE id = {id}"
        ))
        .execute(&mut *tx)
        .await
        .unwrap_err(),
    );
    assert_eq!(e, format!("write-off #{id} waits for approval under the policy above:100: an approver posts it"));
    tx.rollback().await.unwrap();

    // Under the limit the gate lets a person post her own 20.00 by hand (its
    // entry and its state in one statement, as the workflow does), but only
    // after its audit row; and never posted without its entry.
    let mut tx = pool.begin().await.unwrap();
    let id: i64 = sqlx::query_scalar(&write_off_by_hand(true, "20.00", "bad-debt", "PENDING_APPROVAL")).fetch_one(&mut *tx).await.unwrap();
    let post = format!(
        "WITH e AS ({} RETURNING id) UPDATE writeoffs SET status = 'POSTED', decided_by = session_user, ledger_entry_id = (SELECT id FROM e) WHERE id = {id}",
        entry(&id.to_string(), "20.00")
    );
    sqlx::query("SAVEPOINT before_entry").execute(&mut *tx).await.unwrap();
    let (_, e) = refused(sqlx::query(&post).execute(&mut *tx).await.unwrap_err());
    assert!(e.starts_with("a write-off entry comes only with a posted, audited write-off"), "no audit row yet: {e}");
    sqlx::query("ROLLBACK TO SAVEPOINT before_entry").execute(&mut *tx).await.unwrap();
    let (_, e) = refused(
        sqlx::query(&format!("UPDATE writeoffs SET status = 'POSTED', decided_by = session_user WHERE id = {id}")).execute(&mut *tx).await.unwrap_err(),
    );
    assert!(e.contains("a write-off is posted with its ledger entry"), "{e}");
    sqlx::query("ROLLBACK TO SAVEPOINT before_entry").execute(&mut *tx).await.unwrap();
    sqlx::query(&format!("INSERT INTO audit_log (actor, action, writeoff_id, amount) VALUES (session_user, 'writeoff_posted', {id}, 20.00)"))
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(&post).execute(&mut *tx).await.expect("audited, within the gate and the denial: the database takes it");
    tx.rollback().await.unwrap();
    pool.close().await;
}

/// The everyday workflows still work for a person on their own login,
/// through every guard: a PR write-off and its undo, a denial write-off
/// and its undo, an appeal.
#[tokio::test]
async fn a_person_on_their_own_login_works_the_everyday_workflows() {
    let db = setup().await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite, Scope::PaymentWrite])]).await;
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &clerk.url).env_remove("REMITD_ACTOR").args(args).output().unwrap();
        assert!(out.status.success(), "remitd {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };
    let pr = cli(&["pr-writeoff", "CLM-1002", "--line", "1", "--carc", "1=10.00", "--reason", "patient-uncollectable"]);
    assert!(pr.contains("posted"), "{pr}");
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    cli(&["denial", "appeal", &d.id.to_string()]);
    cli(&["denial", "withdraw-appeal", &d.id.to_string()]);
    cli(&["denial", "writeoff", &d.id.to_string(), "--reason", "bad-debt", "--amount", "20"]);
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM writeoffs ORDER BY id").fetch_all(&db.pool).await.unwrap();
    assert_eq!(ids.len(), 2);
    for id in &ids {
        cli(&["writeoff", "undo", &id.to_string(), "--reason", "entered in error"]);
    }
    let actors: Vec<String> = sqlx::query_scalar("SELECT DISTINCT actor FROM audit_log WHERE action LIKE 'writeoff%' OR action LIKE 'denial_appeal%'")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(actors, std::slice::from_ref(&clerk.name));

    // Under `all`, a supervisor on her own login approves; the clerk then
    // reopens by hand and writes off in bulk.
    let boss = db.login_role("boss").await;
    db.people(&[(&boss.name, &[Scope::WriteoffApprove])]).await;
    let as_boss = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &boss.url).env_remove("REMITD_ACTOR").args(args).output().unwrap();
        assert!(out.status.success(), "remitd {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    };
    as_boss(&["writeoff", "policy", "--approval", "all"]);
    let waiting = cli(&["denial", "writeoff", &d.id.to_string(), "--reason", "bad-debt"]);
    assert!(waiting.contains("pending approval"), "{waiting}");
    let id: i64 = sqlx::query_scalar("SELECT max(id) FROM writeoffs").fetch_one(&db.pool).await.unwrap();
    let approved = as_boss(&["writeoff", "approve", &id.to_string()]);
    assert!(approved.contains("posted"), "{approved}");
    cli(&["denial", "reopen", &d.id.to_string()]);
    as_boss(&["writeoff", "policy", "--approval", "off"]);
    let bulk = cli(&["denial", "bulk-writeoff", "--reason", "bad-debt", "--claim", "CLM-2001"]);
    assert!(bulk.contains("1 of 1 written off"), "{bulk}");
    common::assert_balances_add_up(&db.pool).await;
}

/// Undoing takes the scope posting took: a PR write-off is undone with
/// billing.payment.write, not with billing.denial.write.
#[tokio::test]
async fn undoing_a_pr_write_off_takes_the_scope_that_posted_it() {
    let db = setup().await;
    ingest(&db.pool, &sample("valid/paid-claims.835")).await;
    db.people(&[("dee", &[Scope::DenialWrite]), ("pam", &[Scope::PaymentWrite])]).await;
    let amounts = std::collections::BTreeMap::from([("1".to_string(), common::dec("10.00"))]);
    let req =
        remitd::writeoff::patient::PrRequest { claim_id: "CLM-1002", line: Some(1), amounts, reason: "patient-uncollectable", actor: "pam", preview: false };
    let posted = remitd::writeoff::patient::pr_writeoff(&db.pool, req).await.unwrap().writeoff.expect("posted");
    let e = writeoff::undo(&db.pool, posted.writeoff_id, "dee", "wrong claim").await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "billing.payment.write"), "{e}");
    assert_eq!(writeoff::undo(&db.pool, posted.writeoff_id, "pam", "wrong claim").await.unwrap(), common::dec("10.00"));
}

/// A write-off typed in psql fits what its line still owes, not only what
/// was denied (else it takes from the claim's other lines), and once made,
/// a write-off's terms, a denial's figures and a receipt never change, nor
/// does a write-off's state move back.
#[tokio::test]
async fn in_psql_a_write_off_fits_its_line_and_what_was_decided_stays() {
    let db = setup().await;
    let rows = "TWO,A9,\"DOE, JANE\",1999999901,2024-01-01,99213,100.00,2024-01-02,1\nTWO,A9,\"DOE, JANE\",1999999901,2024-01-01,99214,200.00,2024-01-02,1\n";
    import_csv(&db.pool, &format!("{}\n{rows}", common::CSV_HEADER)).await;
    let dir = tempfile::tempdir().unwrap();
    // Both lines denied; then line 1 is paid 60.00 and 40.00 denied again:
    // its first denial (100.00) now covers only the 40.00 line 1 owes.
    let denied = |pcn: &str, first: &[(&str, &str, &str)]| {
        clp_lines("TWO", "4", pcn, vec![svc("99213", "100.00", first), svc("99214", "200.00", &[("CO", "50", "200.00")])])
    };
    ingest(&db.pool, &remittance_file(dir.path(), "EFT-TWO-1", vec![denied("P1", &[("CO", "50", "100.00")])])).await;
    ingest(&db.pool, &remittance_file(dir.path(), "EFT-TWO-2", vec![denied("P2", &[("CO", "50", "40.00")])])).await;
    let first = denials::list(&db.pool, Some("TWO"), None).await.unwrap().remove(0);
    assert_eq!((first.amount, first.remaining), (common::dec("100.00"), common::dec("40.00")));

    let clerk = db.login_role("clerk").await;
    db.people(&[(&clerk.name, &[Scope::DenialWrite])]).await;
    let pool = clerk.pool().await;
    let request = |amount: &str| {
        format!(
            "WITH r AS (INSERT INTO writeoff_receipts (kind, actor, reason) VALUES ('single', session_user, 'bad-debt') RETURNING id)
             INSERT INTO writeoffs (receipt_id, denial_id, claim_id, service_line_id, amount, bucket, reason, requested_by, status)
             SELECT r.id, d.id, d.claim_id, d.service_line_id, {amount}, 'insurance', 'bad-debt', session_user, 'PENDING_APPROVAL'
             FROM r, denials d WHERE d.id = {} RETURNING id",
            first.id
        )
    };
    let e = sqlx::query(&request("100.00")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("what its line still owes"), "{e}");
    let e = sqlx::query(&request("40.01")).execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("what its line still owes"), "{e}");
    let fits: i64 = sqlx::query_scalar(&request("40.00")).fetch_one(&pool).await.unwrap();

    let refused = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query(&sql).execute(&pool).await.expect_err(&sql).to_string() }
    };
    let e = refused(format!("UPDATE writeoffs SET amount = 100.00 WHERE id = {fits}")).await;
    assert!(e.contains("terms never change"), "{e}");
    let e = refused(format!("UPDATE writeoffs SET requested_by = 'ann' WHERE id = {fits}")).await;
    assert!(e.contains("terms never change"), "{e}");
    let e = refused(format!("UPDATE denials SET amount = 1000.00 WHERE id = {}", first.id)).await;
    assert!(e.contains("what a remittance denied never changes"), "{e}");
    let e = refused("UPDATE writeoff_receipts SET reason = 'small-balance'".into()).await;
    assert!(e.contains("append-only"), "{e}");
    let e = refused(
        "INSERT INTO denials (claim_id, claim_posting_id, amount, reason_codes) SELECT claim_id, claim_posting_id, 5.00, reason_codes FROM denials LIMIT 1"
            .into(),
    )
    .await;
    assert!(e.contains("denials rows are written by the daemon"), "{e}");

    // Posted, then undone through the workflow as the owner: the state
    // never moves back, and an undone write-off cannot pose as posted.
    let line2 = denials::list(&db.pool, Some("TWO"), None).await.unwrap().remove(1);
    let posted =
        writeoff::write_off(&db.pool, Request { denial_id: line2.id, reason: "bad-debt", note: None, amount: Some(common::dec("10.00")), actor: "ann" })
            .await
            .unwrap();
    let done = posted.writeoff_id;
    writeoff::undo(&db.pool, done, "ann", "entered in error").await.unwrap();
    let e = refused(format!("UPDATE writeoffs SET status = 'POSTED' WHERE id = {done}")).await;
    assert!(e.contains("never back"), "{e}");
    let e = sqlx::query(&format!("UPDATE writeoffs SET status = 'PENDING_APPROVAL' WHERE id = {done}")).execute(&db.pool).await.unwrap_err().to_string();
    assert!(e.contains("never back"), "not even the owner: {e}");
    pool.close().await;
    common::assert_balances_add_up(&db.pool).await;
}

/// Reading write-offs, receipts and the audit trail takes a scope: a login
/// holding none sees only the rows it wrote, in `psql` as through remitd
/// (which refuses, naming `billing.read`, rather than show an empty
/// history); `billing.read`, or any other scope, shows everything.
#[tokio::test]
async fn reading_write_offs_and_the_audit_trail_takes_a_scope() {
    let db = setup().await;
    let d = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap().remove(0);
    writeoff::write_off(&db.pool, Request { denial_id: d.id, reason: "bad-debt", note: None, amount: Some(common::dec("50.00")), actor: "ann" }).await.unwrap();
    let reader = db.login_role("reader").await;
    db.people(&[(&reader.name, &[])]).await;
    let pool = reader.pool().await;
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}")).fetch_one(&pool).await.unwrap() }
    };
    for table in ["writeoffs", "writeoff_receipts", "audit_log"] {
        assert_eq!(count(table).await, 0, "{table}: no scope, no rows");
    }
    let e = history::history(&pool, &history::HistoryFilter::default()).await.unwrap_err();
    assert_eq!(e.to_string(), format!("actor {:?} lacks the scope billing.read (grant it with: remitd actor grant {} billing.read)", reader.name, reader.name));
    assert!(matches!(history::audit_trail(&pool, &history::AuditFilter::default()).await, Err(ActionError::Forbidden { .. })));
    assert!(matches!(history::causes(&pool, None, None).await, Err(ActionError::Forbidden { .. })));
    pool.close().await;

    actors::grant(&db.pool, ADMIN, &reader.name, Scope::Read).await.unwrap();
    let pool = reader.pool().await;
    let h = history::history(&pool, &history::HistoryFilter::default()).await.unwrap();
    assert_eq!(h.rows.len(), 1);
    assert!(!history::audit_trail(&pool, &history::AuditFilter::default()).await.unwrap().is_empty());
    // Reading is all it gives.
    let e = writeoff::write_off(&pool, Request { denial_id: d.id, reason: "bad-debt", note: None, amount: Some(common::dec("1.00")), actor: &reader.name })
        .await
        .unwrap_err();
    assert!(matches!(e, ActionError::Forbidden { .. }), "{e}");
    pool.close().await;
}

/// The console's way of acting (migration 0021): a connection that took a
/// person's role is that person to every check, and a person gets no
/// further by taking the staff group's role or by calling the password
/// functions in SQL.
#[tokio::test]
async fn a_session_that_took_a_persons_role_acts_as_her_and_no_further() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    ingest(&db.pool, &sample("valid/denial.835")).await;
    let ann = db.login_role("ann").await;
    let sam = db.login_role("sam").await;
    db.people(&[(&ann.name, &[Scope::DenialWrite]), (&sam.name, &[Scope::WriteoffApprove])]).await;
    actors::set_password(&db.pool, ADMIN, &ann.name, "ann's password").await.unwrap();
    let denial = denials::list(&db.pool, Some("CLM-2001"), None).await.unwrap()[0].id;

    // The console: the daemon's (here the owner's) login, switched to ann's role.
    let options: sqlx::postgres::PgConnectOptions = db.url.parse().unwrap();
    let as_ann = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options.options([("role", ann.name.as_str())])).await.unwrap();
    let (login, owner): (String, bool) = sqlx::query_as("SELECT remitd_login()::text, remitd_login_is_owner()").fetch_one(&as_ann).await.unwrap();
    assert_eq!((login.as_str(), owner), (ann.name.as_str(), false), "the role taken, not the login, acts");
    // As ann it may write off as ann ...
    writeoff::write_off(&as_ann, Request { denial_id: denial, reason: "bad-debt", note: None, amount: Some("10.00".parse().unwrap()), actor: &ann.name })
        .await
        .unwrap();
    // ... but not as sam, nor approve, nor read password hashes.
    let e = writeoff::write_off(&as_ann, Request { denial_id: denial, reason: "bad-debt", note: None, amount: None, actor: &sam.name }).await.unwrap_err();
    assert!(matches!(e, ActionError::NotYou { .. }), "{e}");
    let e = sqlx::query("INSERT INTO audit_log (actor, action) VALUES ($1, 'forged')").bind(&sam.name).execute(&as_ann).await.unwrap_err();
    assert!(e.to_string().contains("a login acts only as itself"), "{e}");
    let e = sqlx::query_scalar::<_, Option<String>>("SELECT remitd_password_hash($1)").bind(&ann.name).fetch_one(&as_ann).await.unwrap_err();
    assert!(e.to_string().contains("permission denied for function remitd_password_hash"), "{e}");

    // On her own login: she sets her own password, not sam's, and cannot read the hashes.
    let own = ann.pool().await;
    sqlx::query("SELECT remitd_set_password($1, '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA')")
        .bind(&ann.name)
        .execute(&own)
        .await
        .unwrap();
    let e = sqlx::query("SELECT remitd_set_password($1, '$argon2id$x')").bind(&sam.name).execute(&own).await.unwrap_err();
    assert!(e.to_string().contains("takes the scope remitd.admin"), "{e}");
    // Even with the table granted (as this test's login is), no row shows or changes.
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM actor_passwords").fetch_one(&own).await.unwrap();
    let changed = sqlx::query("UPDATE actor_passwords SET hash = '$argon2id$mine'").execute(&own).await.unwrap().rows_affected();
    assert_eq!((seen, changed), (0, 0));
    let e = actors::set_password(&own, &ann.name, &sam.name, "sam's new password").await.unwrap_err();
    assert!(matches!(&e, ActionError::Forbidden { scope, .. } if scope == "remitd.admin"), "{e}");
    // Taking a group's role makes her nobody, not somebody else.
    sqlx::raw_sql(&format!("CREATE ROLE {0}_group; GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {0}_group; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {0}_group; GRANT {0}_group TO {0}", ann.name))
        .execute(&db.pool)
        .await
        .unwrap();
    let mut conn = own.acquire().await.unwrap();
    sqlx::query(&format!("SET ROLE {}_group", ann.name)).execute(&mut *conn).await.unwrap();
    let e = sqlx::query("INSERT INTO audit_log (actor, action) VALUES ($1, 'forged')").bind(&ann.name).execute(&mut *conn).await.unwrap_err();
    assert!(e.to_string().contains(&format!("logged in as {}_group", ann.name)) && e.to_string().contains("a login acts only as itself"), "{e}");
    drop(conn);
    own.close().await;
    sqlx::raw_sql(&format!("DROP OWNED BY {0}_group; DROP ROLE {0}_group", ann.name)).execute(&db.pool).await.unwrap();
}
