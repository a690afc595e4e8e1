//! `remitd migrate --daemon ROLE`: the database belongs to an owner nobody
//! logs in as; the daemon and staff logins read and write through the
//! guards and can change no table, trigger or function.

mod common;

use std::process::{Command, Output};

use common::{import_csv, sample, sample_claims_except, TestDb};
use remitd::actors::Scope;

fn remitd(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", url).env_remove("REMITD_ACTOR").args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_daemon_posts_as_system_but_can_change_no_table_and_write_nothing_off() {
    let db = TestDb::new().await;
    import_csv(&db.pool, &sample_claims_except(&[])).await;
    let daemon = db.bare_login_role("daemon").await;
    let staff_login = db.bare_login_role("ann").await;
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&db.pool).await.unwrap();
    let (owner, staff) = remitd::db::roles::names(&name);

    let out = remitd(&db.url, &["migrate", "--daemon", &daemon.name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    for line in [
        format!("created role {owner} (NOLOGIN)"),
        format!("created role {staff} (NOLOGIN)"),
        format!("database {name} now belongs to {owner}"),
        format!("the daemon logs in as {}", daemon.name),
    ] {
        assert!(said.contains(&line), "{line:?} in {said}");
    }
    assert!(!said.contains(&format!("created role {}", daemon.name)), "the daemon's login existed: {said}");
    let again = remitd(&db.url, &["migrate"]);
    let up_to_date = format!("database is up to date ({} migrations)\nroles are up to date\n", remitd::db::MIGRATOR.iter().count());
    assert_eq!(text(&again.stdout), up_to_date, "{}", text(&again.stderr));

    // The daemon's login changes no table, trigger or function.
    let pool = daemon.pool().await;
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DROP TABLE ledger_entries",
        "TRUNCATE audit_log",
        "DROP FUNCTION remitd_login_is_owner()",
        "CREATE OR REPLACE FUNCTION remitd_login_is_owner() RETURNS boolean LANGUAGE sql AS 'SELECT true'",
        "DELETE FROM audit_log",
    ] {
        let e = sqlx::query(sql).execute(&pool).await.expect_err(sql).to_string();
        assert!(e.contains("must be owner") || e.contains("permission denied"), "{sql}: {e}");
    }
    let e = sqlx::query("INSERT INTO audit_log (actor, action) VALUES ('ann', 'approval_policy_set')").execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("naming ann as its actor is refused"), "{e}");
    let e = sqlx::query("INSERT INTO actor_scopes (actor, scope) VALUES ('system', 'billing.denial.write')").execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains(&format!("actor {} lacks the scope remitd.admin", daemon.name)), "the daemon grants nothing: {e}");
    pool.close().await;

    // It posts remittances, as system.
    let out = remitd(&daemon.url, &["ingest", sample("valid/denial.835").to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let posted: Vec<String> = sqlx::query_scalar("SELECT DISTINCT actor FROM audit_log WHERE action = 'remittance_posted'").fetch_all(&db.pool).await.unwrap();
    assert_eq!(posted, ["system"]);

    // It writes nothing off by hand, in its own name or another's.
    let denial: i64 = sqlx::query_scalar("SELECT min(id) FROM denials").fetch_one(&db.pool).await.unwrap();
    let id = denial.to_string();
    db.people(&[(&staff_login.name, &[Scope::DenialWrite])]).await;
    let out = remitd(&daemon.url, &["denial", "writeoff", &id, "--reason", "bad-debt"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains(&format!("actor \"{}\" does not exist", daemon.name)), "{}", text(&out.stderr));
    let out = remitd(&daemon.url, &["denial", "writeoff", &id, "--reason", "bad-debt", "--actor", &staff_login.name]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("a login acts only as itself"), "{}", text(&out.stderr));

    // A person's login joins the staff group and acts as itself.
    let out = remitd(&staff_login.url, &["denial", "list"]);
    assert_ne!(out.status.code(), Some(0), "not in the staff group yet: {}", text(&out.stdout));
    sqlx::query(&format!("GRANT \"{staff}\" TO {}", staff_login.name)).execute(&db.pool).await.unwrap();
    let out = remitd(&staff_login.url, &["denial", "writeoff", &id, "--reason", "bad-debt", "--amount", "10"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let by: String = sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'writeoff_posted'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(by, staff_login.name);
    let pool = staff_login.pool().await;
    let e = sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER USER").execute(&pool).await.unwrap_err().to_string();
    assert!(e.contains("must be owner"), "{e}");
    pool.close().await;

    // Run again after adding a staff member: the daemon (serving the
    // console) may now take her role, and nobody else may.
    let report = remitd::db::roles::setup(&db.pool, &daemon.name).await.unwrap();
    assert!(report.contains(&format!("the console may act as {}", staff_login.name)), "{report:?}");
    let (daemon_may, staff_may): (bool, bool) = sqlx::query_as("SELECT pg_has_role($1, $2, 'MEMBER'), pg_has_role($3, $2, 'MEMBER')")
        .bind(&daemon.name)
        .bind(&staff_login.name)
        .bind(&staff)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((daemon_may, staff_may), (true, false));
    let options: sqlx::postgres::PgConnectOptions = daemon.url.parse().unwrap();
    let as_ann = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options.options([("role", staff_login.name.as_str())])).await.unwrap();
    let acting: String = sqlx::query_scalar("SELECT remitd_login()::text").fetch_one(&as_ann).await.unwrap();
    assert_eq!(acting, staff_login.name);
    as_ann.close().await;
}

#[tokio::test]
async fn setting_up_roles_takes_a_superuser_and_a_valid_daemon_name() {
    let db = TestDb::new().await;
    let e = remitd::db::roles::setup(&db.pool, "System").await.unwrap_err();
    assert!(e.to_string().contains("daemon role"), "{e}");
    let clerk = db.login_role("clerk").await;
    let pool = clerk.pool().await;
    let e = remitd::db::roles::setup(&pool, "remitd").await.unwrap_err();
    pool.close().await;
    assert!(e.to_string().contains("takes a superuser login"), "{e}");
}
