//! How fast the console's pages answer with a million claims in the
//! database: each page's latency at the 50th and 95th percentiles and its
//! slowest answer, over sequential requests from one logged-in person.
//!
//! The data is written once, set-based, into a scratch database
//! (`tests/fixtures/console_pages.sql`, not timed): 1,000,000 claims over
//! 250,000 accounts and 40 payers, 4,000 remittances, 40,000 denials
//! (30,000 open), 6,000 write-offs on denials (2,000 waiting for approval),
//! 5,000 unmatched claims and about 300,000 audit rows; then a
//! small-balance sweep is posted over a week of payments, as the daemon
//! would, and one remittance's file is kept on disk, as the daemon keeps
//! it, for the pages that read it. The console runs in this process on a
//! loopback port, as the daemon serves it, and acts as a person with her
//! own role, as in production. Each page is asked a few times to warm up,
//! then `REQUESTS` times one after the other (or for `BUDGET`, whichever
//! ends first), timed from the request's first byte sent to the response's
//! last byte read. A page answering anything but 200 fails the run; speed
//! is reported, not asserted.
//!
//! Needs PostgreSQL at `DATABASE_URL` (the database part is replaced).
//! `REMITD_BENCH_CLAIMS` changes the number of claims (the other volumes
//! follow it); `REMITD_BENCH_KEEP=1` keeps the database (and its person's
//! role) afterwards and reuses it next time, applying new migrations; an
//! argument that is not a flag times only the pages whose name or path
//! contains it: `cargo bench --bench console -- denials`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgPool};

mod support;
use support::{admin, database_url, drop_database};

/// The pages timed, one line each: its name in the table and its path.
/// `{claim}` becomes the row of a claim with history (a denial written off
/// on approval), `{remittance}` and `{file}` the newest remittance and its
/// file (kept), `{run}` the sweep run. Not timed: `/jobs/{id}` (a job
/// started from a form) and the stylesheet.
const PAGES: &[(&str, &str)] = &[
    ("dashboard", "/"),
    ("denials, default filter (OPEN)", "/denials"),
    ("denials of one payer", "/denials?payer=P07"),
    ("approvals", "/approvals"),
    ("unmatched", "/unmatched"),
    ("claim with history", "/claims/{claim}"),
    ("remittances", "/remittances"),
    ("remittance, read from its file", "/remittances/{remittance}"),
    ("remittance PDF", "/remittances/{remittance}/pdf"),
    ("files", "/files"),
    ("files refused", "/files?state=refused"),
    ("file's original", "/files/{file}/original"),
    ("write-off history (30 days)", "/writeoffs"),
    ("write-off history PDF", "/writeoffs.pdf"),
    ("write-off causes PDF", "/writeoffs/causes.pdf"),
    ("audit trail (30 days)", "/audit"),
    ("audit trail PDF", "/audit.pdf"),
    ("sweep", "/sweep"),
    ("sweep run", "/sweep/runs/{run}"),
    ("sweep run PDF", "/sweep/runs/{run}/pdf"),
];

/// Timed requests per page, after `WARM_UP` untimed ones.
const REQUESTS: usize = 200;
const WARM_UP: usize = 5;
/// A page slower than this per request is timed fewer times.
const BUDGET: Duration = Duration::from_secs(30);

const DATABASE: &str = "remitd_bench_console";
/// The person logged in: a PostgreSQL role the console switches to.
const PERSON: &str = "remitd_bench_console_ann";
const PASSWORD: &str = "a bench password, long enough";

/// The data: see the fixture's header.
const DATA: &str = include_str!("../tests/fixtures/console_pages.sql");

fn claims_wanted() -> i64 {
    std::env::var("REMITD_BENCH_CLAIMS").ok().map(|v| v.replace('_', "").parse().expect("REMITD_BENCH_CLAIMS is a number")).unwrap_or(1_000_000)
}

fn keep() -> bool {
    std::env::var("REMITD_BENCH_KEEP").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// What the database says it holds: the comment the build leaves last.
fn marker(claims: i64) -> String {
    format!("remitd console bench: {claims} claims, complete")
}

async fn existing_marker() -> Option<String> {
    let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&support::server_url()).expect("DATABASE_URL").database("postgres");
    let mut conn = sqlx::postgres::PgConnection::connect_with(&options).await.expect("PostgreSQL for the benchmark");
    let found = sqlx::query_scalar("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut conn)
        .await
        .expect("pg_database")
        .flatten();
    let _ = conn.close().await;
    found
}

/// The database, built unless a complete one is kept from an earlier run.
async fn prepare(claims: i64) -> PgPool {
    let url = database_url(DATABASE);
    if keep() && existing_marker().await.as_deref() == Some(marker(claims).as_str()) {
        eprintln!("console bench: reusing the database {DATABASE} ({claims} claims)");
        return remitd::db::migrate(&url).await.expect("kept database");
    }
    drop_database(DATABASE).await;
    admin(&format!("DROP ROLE IF EXISTS {PERSON}")).await;
    let pool = remitd::db::migrate(&url).await.expect("scratch database");
    let started = Instant::now();
    let mut conn = pool.acquire().await.expect("connection");
    for sql in DATA.split("\n\n").map(str::trim).filter(|s| !s.is_empty() && !s.starts_with("--")) {
        let query = sqlx::query(sql);
        let query = if sql.contains("$1") { query.bind(claims) } else { query };
        query.execute(&mut *conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    drop(conn);
    // The person, as an admin adds her, with a role of her own that the
    // console's login (here the superuser) may take.
    remitd::actors::init_admin(&pool, "admin").await.expect("admin");
    for sql in [
        format!("CREATE ROLE {PERSON}"),
        format!("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {PERSON}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {PERSON}"),
    ] {
        sqlx::query(&sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    remitd::actors::add(&pool, "admin", PERSON).await.expect("person");
    for scope in [remitd::actors::Scope::DenialWrite, remitd::actors::Scope::PaymentWrite, remitd::actors::Scope::WriteoffApprove] {
        remitd::actors::grant(&pool, "admin", PERSON, scope).await.expect("scope");
    }
    remitd::actors::set_password(&pool, "admin", PERSON, PASSWORD).await.expect("password");
    let swept = remitd::sweep::post(&pool, &sweep_params(), "supervisor1").await.expect("sweep");
    eprintln!(
        "console bench: the sweep wrote off {} balances, {} out of range",
        swept.count(remitd::sweep::Section::WrittenOff),
        swept.count(remitd::sweep::Section::OutOfRange)
    );
    sqlx::query("VACUUM ANALYZE").execute(&pool).await.expect("vacuum");
    sqlx::query("CHECKPOINT").execute(&pool).await.expect("checkpoint");
    sqlx::query(&format!("COMMENT ON DATABASE {DATABASE} IS '{}'", marker(claims))).execute(&pool).await.expect("marker");
    eprintln!("console bench: {claims} claims and the rest written in {:.1} s", started.elapsed().as_secs_f64());
    pool
}

/// A small-balance sweep over the payments of a week 200 days ago: the
/// 5.00 patient balances go, the 20.00 ones are out of range.
fn sweep_params() -> remitd::sweep::Params {
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| today.checked_sub_days(chrono::Days::new(n)).expect("a date");
    remitd::sweep::Params {
        from: day(207),
        to: day(200),
        min_times_billed: 1,
        ..remitd::sweep::Params::for_day(today, 90, Some(rust_decimal::Decimal::new(1000, 2)))
    }
}

/// Writes the newest remittance's transaction set into a file, as the
/// daemon keeps what it ingests, and points its file's row there. The
/// same bytes every run.
async fn keep_remittance_file(pool: &PgPool) -> (i64, i64) {
    let (id, file, isa13, st02, trace): (i64, i64, String, String, String) =
        sqlx::query_as("SELECT r.id, r.file_id, r.interchange_control, r.transaction_control, r.trace_number FROM remittances r ORDER BY r.id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("a remittance");
    let mut rng = fastrand::Rng::with_seed(id as u64);
    let control = u32::try_from(id).expect("a small id");
    let tx = remitd::generate::synthetic_transaction(&mut rng, control as usize, 0, 250);
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(control, false, "005010X221A1").expect("ISA");
    w.transaction(&tx).expect("transaction");
    w.close_interchange(control, 1).expect("IEA");
    let bytes = w.into_inner();
    assert_eq!(
        (format!("{control:09}"), tx.control_number.to_string(), tx.trace.number.to_string()),
        (isa13, st02, trace),
        "the fixture names the remittance as the generator writes it"
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-bench");
    std::fs::create_dir_all(&dir).expect("kept files' folder");
    let path = dir.join(format!("remittance-{id}.835"));
    std::fs::write(&path, bytes).expect("kept file");
    sqlx::query("UPDATE ingested_files SET kept_at = $1 WHERE id = $2").bind(path.display().to_string()).bind(file).execute(pool).await.expect("kept_at");
    (id, file)
}

/// What the pages are timed against, counted.
async fn volumes(pool: &PgPool) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for (what, sql) in [
        ("claims", "SELECT count(*) FROM claims"),
        ("accounts", "SELECT count(*) FROM accounts"),
        ("payers", "SELECT count(*) FROM payers"),
        ("ledger entries", "SELECT count(*) FROM ledger_entries"),
        ("files", "SELECT count(*) FROM ingested_files"),
        ("remittances", "SELECT count(*) FROM remittances"),
        ("denials", "SELECT count(*) FROM denials"),
        ("denials OPEN", "SELECT count(*) FROM denials WHERE status = 'OPEN'"),
        ("write-offs", "SELECT count(*) FROM writeoffs"),
        ("write-offs PENDING_APPROVAL", "SELECT count(*) FROM writeoffs WHERE status = 'PENDING_APPROVAL'"),
        ("sweep lines", "SELECT count(*) FROM sweep_lines"),
        ("unmatched claims", "SELECT count(*) FROM unmatched_claims"),
        ("unmatched claims open", "SELECT count(*) FROM unmatched_claims WHERE state = 'open'"),
        ("audit rows", "SELECT count(*) FROM audit_log"),
    ] {
        out.push((what, sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))));
    }
    out
}

/// An HTTP/1.1 client on one kept-alive connection, carrying the session
/// cookie as a browser does.
struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    cookie: String,
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        Client { addr, conn: None, cookie: String::new() }
    }

    fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> Answer {
        // A kept-alive connection the server closed meanwhile fails at once: once more on a new one.
        match self.try_request(method, path, form) {
            Ok(a) => a,
            Err(_) => {
                self.conn = None;
                self.try_request(method, path, form).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            }
        }
    }

    fn try_request(&mut self, method: &str, path: &str, form: Option<&str>) -> std::io::Result<Answer> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(600)))?;
            self.conn = Some(BufReader::with_capacity(1 << 16, s));
        }
        let conn = self.conn.as_mut().expect("connected");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n");
        if !self.cookie.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", self.cookie));
        }
        let body = form.unwrap_or("");
        if form.is_some() {
            head.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        head.push_str(body);
        conn.get_mut().write_all(head.as_bytes())?;

        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| std::io::Error::other(format!("status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let find = |name: &str| headers.iter().find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
        let mut body = Vec::new();
        if let Some(n) = find("content-length") {
            body.resize(n.parse().map_err(std::io::Error::other)?, 0);
            conn.read_exact(&mut body)?;
        } else if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).map_err(std::io::Error::other)?;
                let start = body.len();
                body.resize(start + size, 0);
                conn.read_exact(&mut body[start..])?;
                line.clear();
                conn.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            conn.read_to_end(&mut body)?;
            self.conn = None;
        }
        if find("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            self.conn = None;
        }
        let answer = Answer { status, headers, body };
        if let Some(c) = answer.header("set-cookie") {
            self.cookie = c.split(';').next().unwrap_or("").to_string();
        }
        Ok(answer)
    }

    /// Logs in through the form, as a browser does: the login page gives
    /// the session cookie and its CSRF token.
    fn log_in(&mut self, name: &str, password: &str) {
        let page = self.request("GET", "/login", None);
        assert_eq!(page.status, 200, "GET /login: {}", page.text());
        let html = page.text();
        let csrf = html.split("name=\"csrf\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("the login form's CSRF token").to_string();
        let form = serde_urlencoded::to_string([("name", name), ("password", password), ("csrf", &csrf)]).expect("form");
        let answer = self.request("POST", "/login", Some(&form));
        assert_eq!(answer.status, 303, "logging in: {}", answer.text());
        assert_eq!(answer.header("location"), Some("/"), "logged in");
    }
}

/// One page's figures.
struct Timed {
    name: &'static str,
    path: String,
    times: Vec<Duration>,
    bytes: usize,
}

impl Timed {
    /// The nearest-rank percentile `p` (0 to 100).
    fn percentile(&self, p: usize) -> Duration {
        let mut sorted = self.times.clone();
        sorted.sort();
        let rank = (p * sorted.len()).div_ceil(100).max(1);
        sorted[rank - 1]
    }
}

fn time_page(client: &mut Client, name: &'static str, path: String) -> Timed {
    let ask = |client: &mut Client| {
        let started = Instant::now();
        let answer = client.request("GET", &path, None);
        let took = started.elapsed();
        if answer.status != 200 {
            let text = answer.text();
            panic!("{name} ({path}) answered {}: {}", answer.status, &text[..text.len().min(2000)]);
        }
        (took, answer.body.len())
    };
    let warming = Instant::now();
    for _ in 0..WARM_UP {
        ask(client);
        if warming.elapsed() > BUDGET / 4 {
            break;
        }
    }
    let (mut times, mut bytes) = (Vec::with_capacity(REQUESTS), 0);
    let started = Instant::now();
    while times.len() < REQUESTS && (times.is_empty() || started.elapsed() < BUDGET) {
        let (took, len) = ask(client);
        times.push(took);
        bytes = len;
    }
    Timed { name, path, times, bytes }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let claims = claims_wanted();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let pool = rt.block_on(prepare(claims));
    let (remittance, file) = rt.block_on(keep_remittance_file(&pool));
    let one = |sql: &'static str| rt.block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let claim = one("SELECT w.claim_id FROM writeoffs w WHERE w.status = 'POSTED' AND w.denial_id IS NOT NULL ORDER BY w.id LIMIT 1");
    let run = one("SELECT max(id) FROM sweep_runs");
    let fill = |path: &str| {
        [("{claim}", claim), ("{remittance}", remittance), ("{file}", file), ("{run}", run)]
            .iter()
            .fold(path.to_string(), |p, (k, v)| p.replace(k, &v.to_string()))
    };
    let counted = rt.block_on(volumes(&pool));

    let config = remitd::console::ConsoleConfig { enabled: true, secure_cookies: false, ..Default::default() };
    let console = remitd::console::Console::new(config, &database_url(DATABASE)).expect("console");
    console.attach(pool.clone());
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
    let addr = listener.local_addr().expect("address");
    let app = remitd::console::router(console).into_make_service_with_connect_info::<SocketAddr>();
    rt.spawn(async move { axum::serve(listener, app).await.expect("console server") });

    let mut client = Client::new(addr);
    client.log_in(PERSON, PASSWORD);
    let mut results = Vec::new();
    for (name, path) in PAGES {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str()) || path.contains(o.as_str())) {
            continue;
        }
        let path = fill(path);
        let timed = time_page(&mut client, name, path);
        eprintln!("console bench: {} ({}) p95 {} ms over {} requests", timed.name, timed.path, ms(timed.percentile(95)), timed.times.len());
        results.push(timed);
    }

    println!();
    println!("console pages, {claims} claims ({})", counted.iter().map(|(w, n)| format!("{w} {n}")).collect::<Vec<_>>().join(", "));
    println!();
    println!("| page | path | requests | p50 ms | p95 ms | max ms | KiB |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for t in &results {
        let max = t.times.iter().max().copied().unwrap_or_default();
        println!(
            "| {} | `{}` | {} | {} | {} | {} | {:.0} |",
            t.name,
            t.path,
            t.times.len(),
            ms(t.percentile(50)),
            ms(t.percentile(95)),
            ms(max),
            t.bytes as f64 / 1024.0
        );
    }
    println!();

    rt.block_on(pool.close());
    rt.shutdown_timeout(Duration::from_secs(1));
    if !keep() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            drop_database(DATABASE).await;
            admin(&format!("DROP ROLE IF EXISTS {PERSON}")).await;
        });
    }
}
