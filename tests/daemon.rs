//! The daemon end to end: the real binary, real folders, a real PostgreSQL.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{free_port, http_get, wait_until, Daemon, Folder};
use common::{sample, sample_claims_except, TestDb};

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

async fn with_claims(db: &TestDb) {
    common::import_csv(&db.pool, &sample_claims_except(&[])).await;
}

#[tokio::test]
async fn a_file_written_slowly_is_posted_once_and_only_when_whole() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let daemon = Daemon::spawn(&db.url, &folder, 1.5);
    daemon.ready().await;
    let bytes = std::fs::read(sample("valid/paid-claims.835")).unwrap();
    let target = folder.inbox().join("slow.835");
    for chunk in bytes.chunks(bytes.len() / 4 + 1) {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&target).unwrap();
        f.write_all(chunk).unwrap();
        drop(f);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    wait_until("the file to be archived", Duration::from_secs(20), async || folder.archived().len() == 1).await;
    assert!(folder.errors().is_empty(), "a partial file was refused: {:?}\n{}", folder.errors(), daemon.log());
    assert_eq!(std::fs::read(&folder.archived()[0]).unwrap(), bytes, "archived whole");
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM ingested_files").await, 1, "taken once");
}

#[tokio::test]
async fn a_refused_file_lands_in_error_with_its_reason_and_a_duplicate_is_archived() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    folder.drop_renamed(&sample("refused/imbalanced-service.835"), "bad.835");
    folder.drop_renamed(&sample("valid/denial.835"), "denial.835");
    wait_until("both files handled", Duration::from_secs(20), async || folder.errors().len() == 2 && folder.archived().len() == 1).await;
    let reason = std::fs::read_to_string(folder.root.join("error/bad.835.reason.txt")).unwrap();
    assert!(reason.contains("segment 19 (SVC), SVC03") && reason.contains("does not balance"), "{reason}");
    // The same bytes again: archived as a duplicate, nothing posted twice.
    folder.drop_renamed(&sample("valid/denial.835"), "denial-again.835");
    wait_until("the duplicate archived", Duration::from_secs(20), async || folder.archived().len() == 2).await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 1);
    let (status, metrics) = http_get(daemon.http, "/metrics").unwrap();
    assert_eq!(status, 200);
    for series in [
        "remitd_files_refused_total{folder=\"acme\"} 1",
        "remitd_files_duplicate_total{folder=\"acme\"} 1",
        "remitd_files_ingested_total{folder=\"acme\"} 1",
        "remitd_denials_opened_total 3",
    ] {
        assert!(metrics.contains(series), "missing {series} in\n{metrics}");
    }
    assert!(metrics.contains("remitd_ingest_seconds_count 1"), "{metrics}");
    // No patient data in the logs.
    let log = daemon.log();
    for phi in ["DOE", "JANE", "MI*", "member"] {
        assert!(!log.contains(phi), "log mentions {phi}: {log}");
    }
}

#[tokio::test]
async fn kill_9_during_an_ingest_then_restart_posts_everything_exactly_once() {
    let db = TestDb::new().await;
    let folder = Folder::new();
    let work = tempfile::tempdir().unwrap();
    let (file, csv) = (work.path().join("big.835"), work.path().join("claims.csv"));
    let ok = Command::new(env!("CARGO_BIN_EXE_remitd"))
        .args(["generate", "--transactions", "60", "--claims-per-transaction", "400", "-o"])
        .arg(&file)
        .arg("--claims-csv")
        .arg(&csv)
        .status()
        .unwrap();
    assert!(ok.success());
    let claims = remitd::claims::import::read(std::fs::File::open(&csv).unwrap()).unwrap();
    remitd::claims::import::write(&db.pool, &claims).await.unwrap();

    let mut daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    folder.drop_renamed(&file, "big.835");
    wait_until("posting to start", Duration::from_secs(60), async || scalar(&db, "SELECT count(*) FROM remittances").await >= 2).await;
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let at_kill = scalar(&db, "SELECT count(*) FROM remittances").await;
    assert!(at_kill < 60, "finished before the kill");
    assert_eq!(folder.in_inbox().len(), 1, "the file stays in the inbox until it is fully posted");
    drop(daemon);

    let daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    wait_until("the file archived after restart", Duration::from_secs(120), async || folder.archived().len() == 1).await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 60);
    assert_eq!(scalar(&db, "SELECT count(*) FROM claim_postings").await, 24_000);
    assert_eq!(scalar(&db, "SELECT count(DISTINCT claim_id) FROM claim_postings").await, 24_000, "no claim posted twice");
}

#[tokio::test]
async fn two_daemons_on_one_folder_post_each_file_once() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let a = Daemon::spawn(&db.url, &folder, 0.2);
    let b = Daemon::spawn(&db.url, &folder, 0.2);
    a.ready().await;
    b.ready().await;
    let files = ["paid-claims", "denial", "provider-adjustments", "multiple-interchanges", "newline-terminator", "zero-payment-notification"];
    for f in files {
        folder.drop_renamed(&sample(&format!("valid/{f}.835")), &format!("{f}.835"));
    }
    wait_until("every file archived", Duration::from_secs(30), async || folder.in_inbox().is_empty() && folder.archived().len() == files.len()).await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 9, "each transaction set posted once");
    assert_eq!(scalar(&db, "SELECT count(*) FROM (SELECT remittance_id, claim_id FROM claim_postings GROUP BY 1, 2 HAVING count(*) > 1) d").await, 0);
    assert!(folder.errors().is_empty());
}

/// A TCP forwarder to PostgreSQL that the test can cut and restore, standing
/// in for a database outage without stopping the shared server.
struct Outage {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Outage {
    async fn start(port: u16) -> Outage {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else { return };
                conns.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Outage { port, task: Some(task) }
    }

    /// Refuses new connections and cuts the open ones.
    async fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

#[tokio::test]
async fn database_down_then_up_loses_nothing() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let port = free_port();
    let mut proxy = Outage::start(port).await;
    let via_proxy = db.url.replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    assert_ne!(via_proxy, db.url, "the test database must be on 127.0.0.1:5432 for the outage test");
    let folder = Folder::new();
    let daemon = Daemon::spawn(&via_proxy, &folder, 0.2);
    daemon.ready().await;

    proxy.cut().await;
    folder.drop_renamed(&sample("valid/paid-claims.835"), "during-outage.835");
    let http = daemon.http;
    wait_until("readiness to report the outage", Duration::from_secs(30), async || {
        http_get(http, "/readyz").is_some_and(|(s, body)| s == 503 && body.contains("database"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(folder.in_inbox().len(), 1, "the file waits in the inbox");
    assert!(folder.errors().is_empty(), "an outage is not a refusal");
    wait_until("the back-off to grow", Duration::from_secs(30), async || daemon.log().contains("\"retry_in_secs\":4")).await;
    assert!(!daemon.log().contains("database back"), "not back while it is down: {}", daemon.log());

    let _proxy = Outage::start(proxy.port).await;
    wait_until("the file posted after the outage", Duration::from_secs(90), async || folder.archived().len() == 1).await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 1);
    assert_eq!(scalar(&db, "SELECT count(*) FROM claim_postings").await, 3);
    wait_until("ready again", Duration::from_secs(30), async || http_get(http, "/readyz").is_some_and(|(s, _)| s == 200)).await;
    assert_eq!(daemon.log().matches("database back").count(), 1, "{}", daemon.log());
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let db = TestDb::new().await;
    let folder = Folder::new();
    let mut daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    let (status, body) = http_get(daemon.http, "/healthz").unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let started = Instant::now();
    daemon.signal("-TERM");
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "stopped well inside TimeoutStopSec");
}

#[tokio::test]
async fn speaks_the_systemd_notify_protocol() {
    let db = TestDb::new().await;
    let folder = Folder::new();
    let sock_dir = tempfile::tempdir().unwrap();
    let sock_path = sock_dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut daemon = Daemon::spawn_with(&db.url, &folder, 0.2, &[("NOTIFY_SOCKET", sock_path.to_str().unwrap()), ("WATCHDOG_USEC", "1000000")]);
    let mut heard = String::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !(heard.contains("READY=1") && heard.matches("WATCHDOG=1").count() >= 2) {
        if let Ok(n) = sock.recv(&mut buf) {
            heard.push_str(&String::from_utf8_lossy(&buf[..n]));
            heard.push('\n');
        }
    }
    assert!(heard.contains("READY=1"), "{heard}");
    assert!(heard.contains("STATUS=watching 1 drop folders"), "{heard}");
    assert!(heard.matches("WATCHDOG=1").count() >= 2, "watchdog pings at half of WATCHDOG_USEC: {heard}");
    daemon.signal("-TERM");
    assert!(daemon.child.wait().unwrap().success());
    let mut rest = String::new();
    while let Ok(n) = sock.recv(&mut buf) {
        rest.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(rest.contains("STOPPING=1"), "{rest}");
}

/// Two daemons with a sweep every minute: the minute's slot runs once,
/// recorded as a scheduled run by `system`, whichever daemon got to it.
/// Their configuration also sets the write-off approval policy.
#[tokio::test]
async fn the_scheduled_sweep_runs_each_slot_once_across_daemons() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let sweep = [
        ("REMITD_SWEEP__SCHEDULE", "* * * * *"),
        ("REMITD_SWEEP__TIME_ZONE", "America/Chicago"),
        ("REMITD_SWEEP__WINDOW", "previous-day"),
        ("REMITD_SWEEP__DAYS_SINCE_BILLED", "30"),
        ("REMITD_SWEEP__INSURANCE_CODE", "w"),
        ("REMITD_SWEEP__PATIENT_CODE", "W"),
        ("REMITD_WRITEOFFS__APPROVAL", "above:250"),
    ];
    let a = Daemon::spawn_with(&db.url, &folder, 0.2, &sweep);
    let b = Daemon::spawn_with(&db.url, &folder, 0.2, &sweep);
    a.ready().await;
    b.ready().await;
    wait_until("a scheduled sweep run", Duration::from_secs(30), async || scalar(&db, "SELECT count(*) FROM sweep_runs").await > 0).await;
    // Both daemons looked at the slot once they were ready; give the slower
    // one a moment. Each run was made by exactly one of them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let runs = scalar(&db, "SELECT count(*) FROM sweep_runs WHERE mode = 'scheduled' AND actor = 'system'").await;
    assert!((1..=2).contains(&runs), "one minute, or two if the test straddled a minute: {runs}");
    let logs = format!("{}{}", a.log(), b.log());
    assert_eq!(logs.matches("small-balance sweep ran").count() as i64, runs, "{logs}");
    assert!(logs.contains("small-balance sweep scheduled"), "{logs}");
    let policy: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'writeoff.approval'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(policy, "above:250", "the configured approval policy is in force");
}

/// The installed way: `remitd migrate --daemon ROLE` as the superuser, then
/// the daemon on its own login, which owns nothing. Files post as `system`
/// and the scheduled policy still applies; a refused file still lands in
/// error/.
#[tokio::test]
async fn the_daemon_runs_on_its_own_login_after_migrate_sets_up_the_roles() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let login = db.bare_login_role("daemon").await;
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["migrate", "--daemon", &login.name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let folder = Folder::new();
    let daemon = Daemon::spawn_with(&login.url, &folder, 0.2, &[("REMITD_WRITEOFFS__APPROVAL", "above:100")]);
    daemon.ready().await;
    folder.drop_renamed(&sample("valid/denial.835"), "denial.835");
    folder.drop_renamed(&sample("refused/imbalanced-service.835"), "bad.835");
    wait_until("both files handled", Duration::from_secs(20), async || folder.archived().len() == 1 && folder.errors().len() == 2).await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM remittances").await, 1, "{}", daemon.log());
    assert_eq!(scalar(&db, "SELECT count(*) FROM audit_log WHERE actor <> 'system'").await, 0);
    let policy: String = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'writeoff.approval'").fetch_one(&db.pool).await.unwrap();
    assert_eq!(policy, "above:100", "the configured policy, applied by the daemon's login");
    let owner: String =
        sqlx::query_scalar("SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE relname = 'ledger_entries'").fetch_one(&db.pool).await.unwrap();
    assert!(owner.ends_with("_owner") && owner != login.name, "{owner}");
}

/// Support staff on their own logins, with the roles `migrate --daemon`
/// sets up: a clerk cannot post a file herself (and is told where files
/// go), imports the missing claim in her own name, and re-feeds the
/// unmatched item by asking the daemon, which posts it as `system` and
/// records who asked. In psql she can neither answer a request, nor ask in
/// another's name, nor post or mark the queue herself.
#[tokio::test]
async fn support_staff_re_feed_by_asking_the_daemon() {
    let db = TestDb::new().await;
    common::import_csv(&db.pool, &sample_claims_except(&["CLM-1003"])).await;
    let daemon_login = db.bare_login_role("daemon").await;
    let out = Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &db.url).args(["migrate", "--daemon", &daemon_login.name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clerk = db.bare_login_role("clerk").await;
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&db.pool).await.unwrap();
    sqlx::query(&format!("GRANT \"{database}_staff\" TO {}", clerk.name)).execute(&db.pool).await.unwrap();
    db.people(&[(&clerk.name, &[remitd::actors::Scope::PaymentWrite])]).await;
    let folder = Folder::new();
    let daemon = Daemon::spawn(&daemon_login.url, &folder, 0.2);
    daemon.ready().await;
    folder.drop_renamed(&sample("valid/paid-claims.835"), "paid.835");
    wait_until("the file to be archived", Duration::from_secs(20), async || folder.archived().len() == 1).await;
    let item = scalar(&db, "SELECT id FROM unmatched_claims WHERE state = 'open'").await.to_string();

    let as_clerk = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_remitd")).env("DATABASE_URL", &clerk.url).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let out = as_clerk(&["ingest", sample("valid/paid-claims.835").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("put the files in a drop folder's inbox"), "{}", text(&out.stderr));

    let early = as_clerk(&["unmatched", "refeed", &item]);
    assert_eq!(early.status.code(), Some(1), "{}{}", text(&early.stdout), text(&early.stderr));
    assert!(text(&early.stdout).contains("answered by the daemon") && text(&early.stdout).contains("still unmatched"), "{}", text(&early.stdout));

    let csv = std::fs::read_to_string(sample("claims.csv")).unwrap();
    let only: String = csv.lines().filter(|l| l.starts_with("claim_id,") || l.starts_with("CLM-1003,")).map(|l| format!("{l}\n")).collect();
    let path = folder.root.join("CLM-1003.csv");
    std::fs::write(&path, only).unwrap();
    let out = as_clerk(&["claims", "import", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let imported: String =
        sqlx::query_scalar("SELECT actor FROM audit_log WHERE action = 'claims_imported' ORDER BY id DESC LIMIT 1").fetch_one(&db.pool).await.unwrap();
    assert_eq!(imported, clerk.name, "imported in her own name");

    let refed = as_clerk(&["unmatched", "refeed", &item]);
    assert!(refed.status.success(), "{}{}", text(&refed.stdout), text(&refed.stderr));
    assert!(text(&refed.stdout).contains(&format!("#{item}: posted")), "{}", text(&refed.stdout));
    let paid: rust_decimal::Decimal = common::claim(&db.pool, "CLM-1003").await.paid;
    assert_eq!(paid, common::dec("108.00"));
    let (actor, asked): (String, String) =
        sqlx::query_as("SELECT actor, detail->>'requested_by' FROM audit_log WHERE action = 'unmatched_refed'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((actor.as_str(), asked.as_str()), ("system", clerk.name.as_str()));

    let pool = clerk.pool().await;
    for (sql, refusal) in [
        ("UPDATE refeed_requests SET outcome = '[]'".to_string(), "written by the daemon"),
        ("INSERT INTO refeed_requests (requested_by) VALUES ('admin')".to_string(), "naming admin as its requested_by is refused"),
        (format!("UPDATE unmatched_claims SET state = 'open' WHERE id = {item}"), "written by the daemon"),
        ("INSERT INTO remittances (trace_number) VALUES ('FORGED')".to_string(), "written by the daemon"),
    ] {
        let e = sqlx::query(&sql).execute(&pool).await.expect_err(&sql).to_string();
        assert!(e.contains(refusal), "{sql}: {e}");
    }
    pool.close().await;
    drop(daemon);
    common::assert_balances_add_up(&db.pool).await;
}

/// Claims `ids` of 100.00 each beside the samples', and a file of sets
/// paying them, each `(trace, claim, contractual)`.
async fn paid_sets(db: &TestDb, dir: &Path, name: &str, sets: &[(&str, &str, &str)]) -> PathBuf {
    let path = dir.join(name);
    let sets = sets.iter().map(|(trace, id, co)| (*trace, vec![common::clp(id, "1", "100.00", &format!("PCN-{trace}"), &[("CO", "45", co)])])).collect();
    std::fs::write(&path, common::remittance_sets(sets)).unwrap();
    let known: i64 = sqlx::query_scalar("SELECT count(*) FROM claims WHERE claim_id LIKE 'S_'").fetch_one(&db.pool).await.unwrap();
    if known == 0 {
        let rows: String = (1..=4).map(|n| format!("S{n},B{n},\"DOE, JANE\",1999999901,2024-01-01,99213,100.00,2024-01-02,1\n")).collect();
        common::import_csv(&db.pool, &format!("{}\n{rows}", common::CSV_HEADER)).await;
    }
    path
}

/// One file's content can stop only that file: a set the database
/// refuses, or a payment reusing a posted trace with other content, sends
/// the file to error/ with a reason saying what posted and what did not,
/// while the next file posts, `/readyz` stays ready, and the metrics count
/// both.
#[tokio::test]
async fn a_file_the_database_refuses_in_part_goes_to_error_and_the_next_file_posts() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    sqlx::query("ALTER TABLE remittances ADD CONSTRAINT refuses_one_trace CHECK (trace_number <> 'EFT-REFUSED')").execute(&db.pool).await.unwrap();
    let folder = Folder::new();
    let daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    let staged = tempfile::tempdir().unwrap();
    let refused = paid_sets(&db, staged.path(), "refused.835", &[("EFT-OK-1", "S1", "20.00"), ("EFT-REFUSED", "S2", "20.00")]).await;
    folder.drop_renamed(&refused, "refused.835");
    folder.drop_renamed(&sample("valid/paid-claims.835"), "next.835");
    wait_until("both files handled", Duration::from_secs(30), async || folder.archived().len() == 1 && folder.errors().len() == 2).await;
    let reason = std::fs::read_to_string(folder.root.join("error/refused.835.reason.txt")).unwrap();
    assert!(reason.contains("transaction set 0002 (trace EFT-REFUSED): the database refused its data"), "{reason}");
    assert!(reason.contains("Transaction sets posted from this file: 0001 (trace EFT-OK-1)"), "{reason}");
    assert!(reason.contains("what posted is listed above and stays posted") && !reason.contains("nothing from this file was posted"), "{reason}");
    assert_eq!(http_get(daemon.http, "/readyz").map(|(s, _)| s), Some(200), "a file's data is not an outage");

    let conflict = paid_sets(&db, staged.path(), "conflict.835", &[("EFT-OK-1", "S1", "35.00"), ("EFT-OK-3", "S3", "20.00")]).await;
    folder.drop_renamed(&conflict, "conflict.835");
    wait_until("the conflicting file handled", Duration::from_secs(30), async || folder.errors().len() == 4).await;
    let reason = std::fs::read_to_string(folder.root.join("error/conflict.835.reason.txt")).unwrap();
    assert!(reason.contains("held as conflict #1") && reason.contains("posted from this file: 0002 (trace EFT-OK-3)"), "{reason}");
    let metrics = http_get(daemon.http, "/metrics").unwrap().1;
    assert!(metrics.contains("remitd_conflicts_held_total 1"), "{metrics}");
    assert!(metrics.contains("remitd_files_partial_total{folder=\"acme\"} 2"), "{metrics}");
    assert_eq!(scalar(&db, "SELECT count(*) FROM ingested_files WHERE state = 'processing'").await, 0);
    drop(daemon);
    common::assert_balances_add_up(&db.pool).await;
}

/// A drop folder that cannot be used makes `/readyz` say which and why, in
/// one log line (not one per look); its files wait and post once it is
/// back. At start, the same problem stops the daemon, naming the folder.
#[tokio::test]
async fn an_unusable_drop_folder_is_named_by_readyz_once_and_its_files_wait() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    let aside = folder.root.join("inbox-aside");
    std::fs::rename(folder.inbox(), &aside).unwrap();
    let http = daemon.http;
    wait_until("readiness to name the folder", Duration::from_secs(20), async || {
        http_get(http, "/readyz").is_some_and(|(s, body)| s == 503 && body.contains("drop folder \"acme\": inbox"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(daemon.log().matches("drop folder cannot be used").count(), 1, "{}", daemon.log());
    std::fs::rename(&aside, folder.inbox()).unwrap();
    folder.drop_renamed(&sample("valid/paid-claims.835"), "after.835");
    wait_until("the file posted once the folder is back", Duration::from_secs(20), async || folder.archived().len() == 1).await;
    wait_until("ready again", Duration::from_secs(20), async || http_get(http, "/readyz").is_some_and(|(s, _)| s == 200)).await;
    assert!(daemon.log().contains("drop folder usable again"), "{}", daemon.log());

    // At start: an archive that cannot be made (its parent is a file).
    let blocked = Folder::new();
    std::fs::remove_dir(blocked.root.join("archive")).unwrap();
    std::fs::write(blocked.root.join("archive"), "not a folder").unwrap();
    let mut stopped = Daemon::spawn(&db.url, &blocked, 0.2);
    let status = stopped.child.wait().unwrap();
    assert!(!status.success());
    assert!(stopped.log().contains("drop folder \\\"acme\\\": archive"), "{}", stopped.log());
}

/// A file over the size limit is refused before it is read; a file whose
/// name is not UTF-8 posts and is archived under the same bytes.
#[tokio::test]
async fn a_file_over_the_size_limit_is_refused_unread_and_names_are_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let daemon = Daemon::spawn_configured(&db.url, &folder, "settle_secs = 0.2\nmax_file_bytes = 2000\n", &[]);
    daemon.ready().await;
    folder.drop_renamed(&sample("valid/multiple-interchanges.835"), "big.835");
    wait_until("the big file refused", Duration::from_secs(20), async || folder.errors().len() == 2).await;
    let reason = std::fs::read_to_string(folder.root.join("error/big.835.reason.txt")).unwrap();
    assert!(reason.contains("larger than the limit of 2000 bytes (max_file_bytes); nothing was read"), "{reason}");
    assert_eq!(scalar(&db, "SELECT count(*) FROM ingested_files").await, 0, "not even hashed");

    let small = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.835");
    let path = paid_sets(&db, small.path(), "small.835", &[("EFT-LATIN1", "S1", "20.00")]).await;
    assert!(std::fs::metadata(&path).unwrap().len() < 2000);
    let staged = folder.root.join("staged");
    std::fs::copy(&path, &staged).unwrap();
    std::fs::rename(&staged, folder.inbox().join(name)).unwrap();
    wait_until("the file archived", Duration::from_secs(20), async || folder.archived().len() == 1).await;
    assert_eq!(folder.archived()[0].file_name().unwrap().as_bytes(), b"caf\xe9.835");
    assert!(daemon.log().contains("caf\u{fffd}.835"), "logged lossily: {}", daemon.log());
}

/// SIGHUP reloads the configuration: a drop folder added is watched and
/// its files post; a configuration that does not load is refused with the
/// reason and the running one stays; the daemon never dies of the signal.
#[tokio::test]
async fn sighup_reloads_the_drop_folders_and_keeps_running_on_a_bad_configuration() {
    let db = TestDb::new().await;
    with_claims(&db).await;
    let folder = Folder::new();
    let mut daemon = Daemon::spawn(&db.url, &folder, 0.2);
    daemon.ready().await;
    let path = daemon.config_path();
    let config = std::fs::read_to_string(&path).unwrap();
    let beta = Folder::new();
    let added = config.replacen(
        "[http]",
        &format!(
            "[[drop_folders]]\nname = \"beta\"\ninbox = \"{}\"\narchive = \"{}\"\nerror = \"{}\"\npoll_interval_secs = 1\nsettle_secs = 0.2\n[http]",
            beta.inbox().display(),
            beta.root.join("archive").display(),
            beta.root.join("error").display()
        ),
        1,
    );
    std::fs::write(&path, &added).unwrap();
    daemon.signal("-HUP");
    wait_until("the reload", Duration::from_secs(20), async || daemon.log().contains("reloaded: drop folder added")).await;
    beta.drop_renamed(&sample("valid/paid-claims.835"), "beta.835");
    wait_until("the new folder's file posted", Duration::from_secs(20), async || beta.archived().len() == 1).await;

    std::fs::write(&path, added.replace("settle_secs = 0.2\n[http]", "settle_secs = nan\n[http]")).unwrap();
    daemon.signal("-HUP");
    wait_until("the refusal", Duration::from_secs(20), async || daemon.log().contains("configuration not reloaded")).await;
    assert!(daemon.log().contains("settle_secs must be a number of seconds from 0 to 3600, not NaN"), "{}", daemon.log());
    folder.drop_renamed(&sample("valid/denial.835"), "still.835");
    wait_until("still posting", Duration::from_secs(20), async || folder.archived().len() == 1).await;
    assert!(daemon.child.try_wait().unwrap().is_none(), "still running");
    assert_eq!(http_get(daemon.http, "/readyz").map(|(s, _)| s), Some(200));
}
