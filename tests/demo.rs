//! `remitd demo`, run as a new user would: the real binary, from a folder
//! outside the checkout, against the test server (`DATABASE_URL`, as
//! `scripts/test` exports it) and against a throwaway cluster of its own.

use std::io::{BufRead, BufReader};
use std::process::{Command as StdCommand, Stdio};
use std::str::FromStr;
use std::time::Duration;

mod common;

use assert_cmd::Command;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// What the demo prints when it finds no PostgreSQL at all.
const NOTHING_FOUND: &str = "remitd demo: no PostgreSQL server answers and none is installed; install PostgreSQL 13 or newer";

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| remitd::db::DEFAULT_URL.to_string())
}

fn demo() -> Command {
    let mut cmd = Command::cargo_bin("remitd").expect("the remitd binary");
    // Anywhere but the checkout: the demo must need none of its files.
    cmd.current_dir(std::env::temp_dir()).arg("demo").timeout(Duration::from_secs(300));
    cmd
}

/// The value after `prefix` on the line that holds it, up to the next space.
fn word_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    let start = text.find(prefix).unwrap_or_else(|| panic!("{prefix:?} is not in the output:\n{text}")) + prefix.len();
    text[start..].split_whitespace().next().unwrap_or_default()
}

async fn database_exists(name: &str) -> bool {
    let opts = PgConnectOptions::from_str(&server_url()).expect("a postgres URL").database("postgres");
    let mut conn = opts.connect().await.expect("the test server answers");
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)").bind(name).fetch_one(&mut conn).await.unwrap();
    let _ = conn.close().await;
    exists
}

/// The demo's people are logins of the whole cluster (ann, sam, sue): two
/// demos on the test server at once would share the names, so they take
/// turns.
static ONE_DEMO_ON_THE_SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn no_demo_logins_left() {
    let opts = PgConnectOptions::from_str(&server_url()).expect("a postgres URL").database("postgres");
    let mut conn = opts.connect().await.expect("the test server answers");
    let left: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname IN ('ann', 'sam', 'sue') OR rolname LIKE 'remitd\\_demo\\_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let _ = conn.close().await;
    assert!(left.is_empty(), "roles left behind: {left:?}");
}

fn assert_in(out: &str, needles: &[&str]) {
    for n in needles {
        assert!(out.contains(n), "{n:?} is not in the output:\n{out}");
    }
}

#[tokio::test]
async fn the_demo_tells_the_whole_story_and_leaves_nothing_behind() {
    let _turn = ONE_DEMO_ON_THE_SERVER.lock().await;
    let run = demo().env("DATABASE_URL", server_url()).assert().success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert_in(
        &out,
        &[
            "using the server DATABASE_URL names",
            "GET http://127.0.0.1:",
            "/readyz: ready",
            "the console may act as ann, sam, sue",
            "console: http://localhost:",
            "(log in as ann with password ",
            // Payments posted, balances read from the ledger.
            "Step 1 of",
            "payment EFT-20240115-0001 from EXAMPLE TEST HEALTH PLAN: 253.40",
            "CLM-1001  A00011",
            "109.40",
            // The duplicate posts nothing.
            "archived, nothing posted",
            "remitd_files_duplicate_total 1",
            // A broken file is refused with its reason.
            "refused after",
            "does not balance",
            // Unmatched, then re-fed.
            "CLM-6001 from",
            "she cannot post remittances, so she asks the daemon: refeed request #1, answered:",
            "#1: posted (0 reversals, 0 denials opened)",
            "unmatched queue: 0 open items",
            // The denial, written off with a reason, refused without the scope.
            "OPEN, 600.00 denied [CO-50]",
            "lacks the scope billing.denial.write",
            // Each person on their own login; the database refuses too.
            "each step runs as the person it names",
            "sam tries it in psql on her own login: the database refuses: a write-off entry comes only with a posted, audited write-off",
            "writes it off as non-covered",
            "600.00 POSTED; denial is WRITE_OFF",
            // The payer's reversal reopens it; the corrected claim resolves it.
            "denial_reopened",
            "is now RESOLVED",
            "write_off_reversal",
            // The small-balance sweep: preview with its report, post, nothing the second time.
            "PREVIEW: 3 balances would be written off; nothing was written.",
            "OUT OF RANGE: OVER $50.00, NOT WRITTEN OFF",
            "3 balances written off, TOTALS $96.00; 3 balances left on the out-of-range report",
            "posted again with the same parameters: 0 written off, nothing recorded",
            // The bank's file: one deposit explained, the rest asked about.
            "(bank/archive/",
            "matched      deposit    credit 2024-01-15   253.40 EFT-20240115-0001    remittance #",
            "overdue      remittance credit 2024-01-05   160.00 EFT-20240105-0001",
            "to ask EXAMPLE TEST HEALTH PLAN: where is the money for 3 (668.00)",
            "remitd_deposits_matched_total 1",
            // History and audit.
            "non-covered 600.00 UNDONE requested by ann",
            "writeoff_posted",
            // Clean-up.
            "daemon stopped",
            "Done:",
        ],
    );
    let name = word_after(&out, "created database ");
    assert!(name.starts_with("remitd_demo_"), "{name}");
    assert!(out.contains(&format!("database {name} dropped")), "{out}");
    assert!(!database_exists(name).await, "{name} is left behind");
    let folder = word_after(&out, "on drop folder ");
    assert!(!std::path::Path::new(folder).exists(), "{folder} is left behind");
    assert!(out.contains(&format!("logins and roles {name}_daemon, {name}_owner, {name}_staff, ann, sam, sue dropped")), "{out}");
    no_demo_logins_left().await;
}

/// `initdb` as the demo finds it: on PATH, else under /usr/lib/postgresql.
fn initdb_findable() -> bool {
    let on_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("initdb").is_file()));
    let packaged = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|dirs| dirs.filter_map(|d| d.ok()).any(|d| d.path().join("bin/initdb").is_file()));
    on_path || packaged
}

#[test]
fn the_demo_starts_a_throwaway_cluster_when_asked_and_removes_it() {
    let run = demo().arg("--throwaway").env("DATABASE_URL", server_url()).assert();
    if !initdb_findable() {
        let run = run.failure();
        let err = String::from_utf8_lossy(&run.get_output().stderr).into_owned();
        assert!(err.contains(NOTHING_FOUND), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
        return;
    }
    let run = run.success();
    let out = String::from_utf8_lossy(&run.get_output().stdout).into_owned();
    assert_in(&out, &["starting a throwaway cluster in", "using a throwaway PostgreSQL cluster on 127.0.0.1:", "is now RESOLVED", "daemon stopped"]);
    let folder = word_after(&out, "starting a throwaway cluster in ");
    let port = word_after(&out, "cluster on 127.0.0.1:");
    assert!(out.contains(&format!("stopped, {folder} removed")), "{out}");
    assert!(!std::path::Path::new(folder).exists(), "{folder} is left behind");
    let port: u16 = port.parse().unwrap_or_else(|_| panic!("port {port:?}"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the throwaway server still answers on {port}");
}

/// `remitd demo ARGS` running, its output piped.
fn spawn_demo(args: &[&str]) -> std::process::Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("remitd"))
        .current_dir(std::env::temp_dir())
        .arg("demo")
        .args(args)
        .env("DATABASE_URL", server_url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("remitd demo starts")
}

#[tokio::test]
async fn ctrl_c_still_cleans_up() {
    let _turn = ONE_DEMO_ON_THE_SERVER.lock().await;
    let mut child = spawn_demo(&[]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    let mut name = String::new();
    for line in lines.by_ref() {
        let line = line.expect("output");
        if let Some(rest) = line.trim().strip_prefix("created database ") {
            name = rest.split_whitespace().next().unwrap_or_default().to_string();
        }
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("Step 1 of") {
            break;
        }
    }
    assert!(name.starts_with("remitd_demo_"), "{seen}");
    let sent = StdCommand::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("the demo ends");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err).unwrap();
    let rest = rest.join("\n");
    assert_eq!(status.code(), Some(1), "{seen}{rest}\n{err}");
    assert!(err.contains("interrupted by Ctrl-C"), "{err}");
    assert!(rest.contains("daemon stopped") && rest.contains(&format!("database {name} dropped")), "{rest}");
    assert!(!database_exists(&name).await, "{name} is left behind");
    no_demo_logins_left().await;
}

/// The clean-up holds the demo database's name before `migrate` creates it,
/// so dropping must tell a database it removed from one that never was.
#[tokio::test]
async fn dropping_the_demo_database_says_whether_there_was_one() {
    let server = remitd::demo::database::Server { url: server_url(), origin: "the test server".into() };
    let db = remitd::demo::database::DemoDatabase::new(&server).expect("a demo database name");
    assert!(!db.drop_database().await.expect("the server answers"), "nothing was created yet");
    remitd::db::migrate(&db.url).await.expect("migrate creates the database").close().await;
    assert!(database_exists(&db.name).await);
    assert!(db.drop_database().await.expect("the server answers"), "it existed");
    assert!(!database_exists(&db.name).await, "{} is left behind", db.name);
}

/// `remitd demo --stay`: after the story, the console serves the demo's
/// data until Ctrl-C, and the biller logs in with the password printed.
#[tokio::test]
async fn the_demo_stays_up_for_the_console_until_ctrl_c() {
    let _turn = ONE_DEMO_ON_THE_SERVER.lock().await;
    let mut child = spawn_demo(&["--stay"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.expect("output");
        seen.push_str(&line);
        seen.push('\n');
        if line.starts_with("The demo stays up for the console") {
            break;
        }
    }
    let password = word_after(&seen, "(log in as ann with password ").to_string();
    let port: u16 = word_after(&seen, "The demo stays up for the console at http://localhost:").trim_end_matches('/').parse().expect("a port");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let (status, head, page) = common::daemon::request_with_head(addr, "GET", "/login", "", "");
    assert_eq!(status, 200);
    let cookie = head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).and_then(|c| c.split(';').next()).expect("a session cookie").to_string();
    let page = String::from_utf8(page).unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).and_then(|t| t.split('"').next()).expect("a CSRF token");
    let body = format!("name=ann&password={password}&csrf={csrf}");
    let (status, head, _) = common::daemon::request_with_head(addr, "POST", "/login", &cookie, &body);
    assert_eq!(status, 303, "{head}");
    let cookie = head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).and_then(|c| c.split(';').next()).unwrap_or(&cookie).to_string();
    let (status, page) = common::daemon::request(addr, "GET", "/", &cookie, "");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<strong id=\"who\">ann</strong>"), "ann is logged in");

    let sent = StdCommand::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("the demo ends");
    assert_eq!(status.code(), Some(0), "Ctrl-C ends a demo that stays up as a success: {seen}{}", rest.join("\n"));
    assert!(rest.join("\n").contains("daemon stopped"));
    no_demo_logins_left().await;
}
