//! The support console in a real browser (headless Chromium): logging in,
//! re-feeding an unmatched claim after uploading it, writing off a denial
//! and seeing the balance close, the approval gate between two people, and
//! forms refused without their CSRF token. The daemon is the real binary;
//! the console acts as each person in PostgreSQL, so what a page may do is
//! what the database lets that person do.

mod common;

use std::time::Duration;

use common::browser::Browser;
use common::daemon::{request, Daemon, Folder};
use common::{claim, dec, import_csv, ingest, pdf_text, sample, sample_claims_except, LoginRole, TestDb};
use remitd::actors::Scope;

/// Where the tests leave their screenshots, to be looked at.
fn screens() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screens")
}

struct Site {
    db: TestDb,
    ann: LoginRole,
    sam: LoginRole,
    daemon: Daemon,
    folder: Folder,
}

const ANN_PASSWORD: &str = "ann's long password";
const SAM_PASSWORD: &str = "sam's long password";

impl Site {
    /// The denial sample posted without CLM-2001's claim (so it waits in
    /// the unmatched queue); `ann` works denials, `sam` approves; write-offs
    /// over 500.00 need approval; the daemon serves the console.
    async fn start() -> Site {
        Site::start_with("").await
    }

    /// As [`Site::start`], with `extra` appended to the daemon's configuration.
    async fn start_with(extra: &str) -> Site {
        let db = TestDb::new().await;
        import_csv(&db.pool, &sample_claims_except(&["CLM-2001"])).await;
        ingest(&db.pool, &sample("valid/denial.835")).await;
        let ann = db.login_role("ann").await;
        let sam = db.login_role("sam").await;
        db.people(&[(&ann.name, &[Scope::DenialWrite, Scope::PaymentWrite]), (&sam.name, &[Scope::WriteoffApprove])]).await;
        remitd::actors::set_password(&db.pool, common::ADMIN, &ann.name, ANN_PASSWORD).await.unwrap();
        remitd::actors::set_password(&db.pool, common::ADMIN, &sam.name, SAM_PASSWORD).await.unwrap();
        remitd::writeoff::set_approval_policy(&db.pool, &sam.name, remitd::writeoff::Approval::parse("above:500.00").unwrap()).await.unwrap();
        let folder = Folder::new();
        let daemon = Daemon::spawn_configured(&db.url, &folder, &format!("settle_secs = 0.2\n[console]\nenabled = true\n{extra}"), &[]);
        daemon.ready().await;
        Site { db, ann, sam, daemon, folder }
    }

    /// The console's address by name: browsers take `Secure` cookies over
    /// plain HTTP from `localhost` only.
    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.daemon.http.port())
    }

    async fn log_in(&self, b: &Browser, name: &str, password: &str) {
        b.goto(&self.url("/login")).await;
        b.fill("name", name).await;
        b.fill("password", password).await;
        b.follow("#log-in").await;
    }
}

async fn denial_id(db: &TestDb, claim_id: &str, amount: &str) -> i64 {
    remitd::denials::list(&db.pool, Some(claim_id), None).await.unwrap().into_iter().find(|d| d.amount == dec(amount)).expect("the denial").id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_works_the_queues_in_a_browser() {
    let site = Site::start().await;
    let b = Browser::start().await;

    // A wrong password is refused, says nothing about which part was wrong, and is audited.
    site.log_in(&b, &site.ann.name, "not ann's password").await;
    assert_eq!(b.text("#error").await, "Wrong name or password.");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'console_login_failed' AND actor = 'system' AND detail->>'name' = $1")
        .bind(&site.ann.name)
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(failed, 1);

    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    assert_eq!(b.text("#who").await, site.ann.name, "the dashboard greets the person who logged in");
    b.screenshot(&screens(), "dashboard").await;

    // The unmatched claim: upload the missing claim, then re-feed it.
    b.goto(&site.url("/unmatched")).await;
    let item: i64 = sqlx::query_scalar("SELECT id FROM unmatched_claims WHERE claim_ref = 'CLM-2001'").fetch_one(&site.db.pool).await.unwrap();
    let csv = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
    let all = std::fs::read_to_string(sample("claims.csv")).unwrap();
    let rows: String = all.lines().filter(|l| l.starts_with("claim_id,") || l.starts_with("CLM-2001,")).map(|l| format!("{l}\n")).collect();
    std::fs::write(csv.path(), rows).unwrap();
    b.client.find(fantoccini::Locator::Id("claims-file")).await.unwrap().send_keys(&csv.path().display().to_string()).await.unwrap();
    b.follow("#import").await;
    assert_eq!(b.text("#notice").await, "Imported 1 claims, 1 service lines. Re-feed the items they match.");
    b.follow(&format!("#refeed-{item}")).await;
    let notice = b.text("#notice").await;
    assert!(notice.starts_with(&format!("Item #{item}: posted")), "item {item}: {notice}");
    let asked_by: String =
        sqlx::query_scalar("SELECT requested_by FROM refeed_requests WHERE unmatched_id = $1").bind(item).fetch_one(&site.db.pool).await.unwrap();
    assert_eq!(asked_by, site.ann.name, "the daemon answered ann's own request");

    // A denial under the gate: write it off with a reason; the claim's balance closes.
    let small = denial_id(&site.db, "CLM-2002", "480.00").await;
    b.goto(&site.url("/denials")).await;
    b.click(&format!("#reason-{small} option[value='non-covered']")).await;
    b.follow(&format!("#write-off-{small}")).await;
    assert!(b.text("#notice").await.contains("480.00 posted"), "{}", b.text("#notice").await);
    assert_eq!(claim(&site.db.pool, "CLM-2002").await.insurance_balance, dec("0"));
    b.screenshot(&screens(), "denials").await;
    b.follow("a[href^='/claims/']").await;
    b.screenshot(&screens(), "claim").await;

    // Over the gate: it waits, and its requester cannot approve it.
    let big = denial_id(&site.db, "CLM-2003", "1800.00").await;
    b.goto(&site.url("/denials")).await;
    b.click(&format!("#reason-{big} option[value='non-covered']")).await;
    b.follow(&format!("#write-off-{big}")).await;
    assert!(b.text("#notice").await.contains("1800.00 pending approval"), "{}", b.text("#notice").await);
    let waiting: i64 = sqlx::query_scalar("SELECT id FROM writeoffs WHERE denial_id = $1").bind(big).fetch_one(&site.db.pool).await.unwrap();
    b.goto(&site.url("/approvals")).await;
    b.follow(&format!("#approve-{waiting}")).await;
    let refusal = b.text("#error").await;
    assert!(refusal.contains("billing.writeoff.approve"), "ann may not approve: {refusal}");
    assert_eq!(claim(&site.db.pool, "CLM-2003").await.insurance_written_off, dec("0"));

    // A second person approves it.
    b.goto(&site.url("/approvals")).await;
    b.follow("header button").await;
    site.log_in(&b, &site.sam.name, SAM_PASSWORD).await;
    b.goto(&site.url("/approvals")).await;
    b.screenshot(&screens(), "approvals").await;
    b.follow(&format!("#approve-{waiting}")).await;
    assert_eq!(b.text("#notice").await, format!("Write-off #{waiting} of 1800.00: posted."));
    assert_eq!(claim(&site.db.pool, "CLM-2003").await.insurance_written_off, dec("1800.00"));
    let decided_by: String = sqlx::query_scalar("SELECT decided_by FROM writeoffs WHERE id = $1").bind(waiting).fetch_one(&site.db.pool).await.unwrap();
    assert_eq!(decided_by, site.sam.name);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let site = Site::start().await;
    let b = Browser::start().await;
    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    assert_eq!(b.text("#who").await, site.ann.name);
    let cookie = format!("__Host-remitd={}", b.cookie("__Host-remitd").await);
    let small = denial_id(&site.db, "CLM-2002", "480.00").await;
    let path = format!("/denials/{small}/writeoff");

    let (status, body) = request(site.daemon.http, "POST", &path, &cookie, "reason=non-covered");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    let (status, _) = request(site.daemon.http, "POST", &path, &cookie, &format!("reason=non-covered&csrf={}", "0".repeat(64)));
    assert_eq!(status, 403, "a made-up token is no token");
    assert_eq!(claim(&site.db.pool, "CLM-2002").await.insurance_written_off, dec("0"), "nothing was written off");

    // The same request with the page's token goes through: the refusals were the token's.
    let page = String::from_utf8(request(site.daemon.http, "GET", "/denials", &cookie, "").1).unwrap();
    let token = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let (status, body) = request(site.daemon.http, "POST", &path, &cookie, &format!("reason=non-covered&csrf={token}"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(claim(&site.db.pool, "CLM-2002").await.insurance_written_off, dec("480.00"));

    // Without a session, a page sends the visitor to log in; every answer carries the policy.
    let (status, _) = request(site.daemon.http, "GET", "/denials", "", "");
    assert_eq!(status, 303);
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remittance_reads_in_the_browser_and_downloads_as_a_pdf() {
    let site = Site::start().await;
    site.folder.drop_renamed(&sample("valid/provider-adjustments.835"), "plb.835");
    let pool = site.db.pool.clone();
    common::daemon::wait_until("the daemon to post and keep the file", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM remittances r JOIN ingested_files f ON f.id = r.file_id WHERE f.kept_at IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM remittances WHERE trace_number = 'EFT-20240212-0004'").fetch_one(&site.db.pool).await.unwrap();

    let b = Browser::start().await;
    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    b.goto(&site.url("/remittances")).await;
    b.follow(&format!("a[href='/remittances/{id}']")).await;
    assert_eq!(b.text("#payment").await, "627.50 credit (ACH) on 2024-02-12");
    assert_eq!(b.text("#balances").await, "yes");
    let page = b.source().await;
    for expected in ["HC:27447-RT", "CO-45 1400.00", "Overpayment Recovery", "Charge exceeds fee schedule"] {
        assert!(page.contains(expected), "{expected:?} missing from the page");
    }
    b.screenshot(&screens(), "remittance").await;

    let cookie = format!("__Host-remitd={}", b.cookie("__Host-remitd").await);
    let (status, pdf) = request(site.daemon.http, "GET", &format!("/remittances/{id}/pdf"), &cookie, "");
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remittance.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = pdf_text(&path);
    assert!(text.contains("Remittance EFT-20240212-0004") && text.contains("Claim CLM-4002") && text.contains("Interest Owed"), "{text}");
    // Without a session there is no PDF, only the way to the login.
    assert_eq!(request(site.daemon.http, "GET", &format!("/remittances/{id}/pdf"), "", "").0, 303);

    // The same document from the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &site.db.url)
        .args(["remittance", "show", &id.to_string(), "--format", "pdf", "--output"])
        .arg(dir.path().join("cli.pdf"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(pdf_text(&dir.path().join("cli.pdf")), text, "the console and the command line print the same document");
    b.close().await;
}

/// Waits for a job's page (it reloads itself while the job runs) to say
/// what the job did; returns `#notice` or `#failed`.
async fn job_outcome(b: &Browser) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        for id in ["notice", "failed"] {
            if let Ok(e) = b.client.find(fantoccini::Locator::Id(id)).await {
                if let Ok(text) = e.text().await {
                    return text;
                }
            }
        }
        assert!(std::time::Instant::now() < deadline, "the job never finished: {}", b.source().await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_feeds_files_appeals_sweeps_and_reads_the_history_in_a_browser() {
    let sweep = "[sweep]\ndays_since_billed = 30\ninsurance_code = \"w\"\npatient_code = \"W\"\nmax_amount = \"100.00\"\n";
    let site = Site::start_with(sweep).await;
    let pool = site.db.pool.clone();
    // A damaged file arrives and is refused; the daemon keeps it with the reason.
    let broken = sample("refused/bad-amount.835");
    site.folder.drop_renamed(&broken, "broken.835");
    common::daemon::wait_until("the daemon to refuse the file", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ingested_files WHERE state = 'refused' AND kept_at IS NOT NULL").fetch_one(&pool).await.unwrap() == 1
    })
    .await;
    let refused: i64 = sqlx::query_scalar("SELECT id FROM ingested_files WHERE state = 'refused'").fetch_one(&pool).await.unwrap();

    let b = Browser::start().await;
    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    b.goto(&site.url("/files?state=refused")).await;
    let row = b.text(&format!("#file-{refused}")).await;
    assert!(row.contains("broken.835") && row.contains("refused"), "{row}");
    assert!(row.contains("CLP03: expected an amount"), "the reason is shown: {row}");
    b.screenshot(&screens(), "files").await;

    // Its original downloads byte for byte; without a session it does not.
    let cookie = format!("__Host-remitd={}", b.cookie("__Host-remitd").await);
    let (status, original) = request(site.daemon.http, "GET", &format!("/files/{refused}/original"), &cookie, "");
    assert_eq!((status, original), (200, std::fs::read(&broken).unwrap()));
    assert_eq!(request(site.daemon.http, "GET", &format!("/files/{refused}/original"), "", "").0, 303);

    // Tried again as it is: refused again, and the try is ann's in the audit trail.
    let errors_before = site.folder.errors().len();
    b.follow(&format!("#refeed-{refused}")).await;
    assert!(b.text("#notice").await.contains("is in folder acme's inbox"), "{}", b.text("#notice").await);
    let folder = &site.folder;
    common::daemon::wait_until("the daemon to refuse it again", Duration::from_secs(30), async || folder.errors().len() > errors_before).await;

    // A fixed file, uploaded: the daemon posts it.
    let fixed = sample("valid/paid-claims.835");
    b.client.find(fantoccini::Locator::Id("file")).await.unwrap().send_keys(&fixed.display().to_string()).await.unwrap();
    b.follow("#upload").await;
    assert!(b.text("#notice").await.starts_with("paid-claims.835 is in folder acme's inbox"), "{}", b.text("#notice").await);
    common::daemon::wait_until("the daemon to post the upload", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ingested_files WHERE file_name = 'paid-claims.835' AND state = 'posted'")
            .fetch_one(&pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    // The same bytes again, from the clearinghouse: archived, posted nothing, and counted on the file's row.
    site.folder.drop_renamed(&fixed, "again.835");
    common::daemon::wait_until("the daemon to archive the duplicate", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i32>("SELECT duplicates FROM ingested_files WHERE file_name = 'paid-claims.835'").fetch_one(&pool).await.unwrap() == 1
    })
    .await;
    let posted: i64 = sqlx::query_scalar("SELECT id FROM ingested_files WHERE file_name = 'paid-claims.835'").fetch_one(&pool).await.unwrap();
    b.goto(&site.url("/files?state=duplicated")).await;
    let row = b.text(&format!("#file-{posted}")).await;
    assert!(row.contains("paid-claims.835") && row.contains("1 ×, last "), "{row}");
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM remittances").fetch_one(&pool).await.unwrap(), 2, "the duplicate posted nothing");

    // The same payment sent again with other content (a claim's received date changed): held as a conflict,
    // which ann compares and resolves with what she decided.
    let resent = tempfile::tempdir().unwrap();
    let changed = std::fs::read_to_string(&fixed).unwrap().replacen("DTM*050*20231228", "DTM*050*20231227", 1);
    std::fs::write(resent.path().join("resent.835"), changed).unwrap();
    site.folder.drop_renamed(&resent.path().join("resent.835"), "resent.835");
    common::daemon::wait_until("the daemon to hold the conflict", Duration::from_secs(30), async || {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM remittance_conflicts").fetch_one(&pool).await.unwrap() == 1
    })
    .await;
    let conflict: i64 = sqlx::query_scalar("SELECT id FROM remittance_conflicts").fetch_one(&pool).await.unwrap();
    b.goto(&site.url("/conflicts")).await;
    let row = b.text(&format!("#conflict-{conflict}")).await;
    assert!(row.contains("resent.835") && row.contains("EFT-20240115-0001") && row.contains("253.40"), "{row}");
    b.screenshot(&screens(), "conflicts").await;
    b.fill(&format!("reason-{conflict}"), "the payer corrected a received date; nothing to post").await;
    b.follow(&format!("#resolve-{conflict}")).await;
    assert_eq!(b.text("#notice").await, format!("Conflict #{conflict} is resolved: the payer corrected a received date; nothing to post."));
    let by: Option<String> = sqlx::query_scalar("SELECT resolved_by FROM remittance_conflicts WHERE id = $1").bind(conflict).fetch_one(&pool).await.unwrap();
    assert_eq!(by.as_deref(), Some(site.ann.name.as_str()));

    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log WHERE actor = $1 AND action LIKE 'file_%' ORDER BY id")
        .bind(&site.ann.name)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(actions, ["file_refed", "file_uploaded"]);

    // An appeal protects a denial; withdrawn, it is open again.
    let big = denial_id(&site.db, "CLM-2003", "1800.00").await;
    b.goto(&site.url("/denials")).await;
    b.follow(&format!("#appeal-{big}")).await;
    assert_eq!(b.text("#notice").await, format!("Denial #{big} is under appeal."));
    b.goto(&site.url("/denials?status=APPEAL_PENDING")).await;
    b.follow(&format!("#withdraw-{big}")).await;
    assert_eq!(b.text(&format!("#denial-{big} td:nth-child(8)")).await, "OPEN");

    // A bulk write-off previewed as a job writes nothing.
    b.goto(&site.url("/denials")).await;
    b.follow("#bulk-preview").await;
    let said = job_outcome(&b).await;
    assert!(said.contains("denials matched") && said.ends_with("A preview: nothing was written."), "{said}");
    assert_eq!(claim(&site.db.pool, "CLM-2003").await.insurance_written_off, dec("0"));

    // One denial written off by hand, then the history, its PDF, and the audit trail.
    let small = denial_id(&site.db, "CLM-2002", "480.00").await;
    b.goto(&site.url("/denials")).await;
    b.click(&format!("#reason-{small} option[value='non-covered']")).await;
    b.follow(&format!("#write-off-{small}")).await;
    b.goto(&site.url("/writeoffs")).await;
    assert!(b.text("table").await.contains("CLM-2002"), "{}", b.text("table").await);
    assert_eq!(b.text("#totals").await.lines().last(), Some("480.00"));
    b.screenshot(&screens(), "history").await;
    b.goto(&site.url("/")).await;
    let dashboard = b.source().await;
    assert!(dashboard.contains("Service not covered (insurance)</text>") && dashboard.contains(">480.00</text>"), "the causes chart: {dashboard}");
    assert_eq!(b.text("#next-sweep").await, "not scheduled");
    b.screenshot(&screens(), "dashboard-causes").await;
    let (status, pdf) = request(site.daemon.http, "GET", "/writeoffs.pdf", &cookie, "");
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("history.pdf"), pdf).unwrap();
    let text = pdf_text(&dir.path().join("history.pdf"));
    assert!(text.contains("Write-off history") && text.contains("CLM-2002") && text.contains("480.00"), "{text}");
    b.goto(&site.url(&format!("/audit?actor={}", site.ann.name))).await;
    let trail = b.text("table").await;
    assert!(trail.contains("file_uploaded") && trail.contains("denial_appealed"), "{trail}");
    b.screenshot(&screens(), "audit").await;

    // The sweep: a preview runs as a job and shows its report; ann may not post one.
    b.goto(&site.url("/sweep")).await;
    b.follow("#preview").await;
    let said = job_outcome(&b).await;
    assert!(said.contains("A preview: nothing was written."), "{said}");
    assert!(b.text("#section-written_off caption").await.starts_with("Would be written off: "));
    b.screenshot(&screens(), "sweep-preview").await;
    b.goto(&site.url("/sweep")).await;
    b.follow("#post").await;
    let said = job_outcome(&b).await;
    assert!(said.contains("billing.writeoff.approve"), "a sweep post takes the approve scope: {said}");
    b.close().await;
}

/// A request as a client at `from` sends it, with `headers`.
async fn request_from(from: &str, to: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let mut s = socket.connect(to).await.unwrap();
    s.write_all(&common::daemon::http_request("GET", path, headers, "")).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    common::daemon::response(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_person_and_no_one_else_can() {
    let site = Site::start_with("trusted_header = \"X-Remote-User\"\ntrusted_proxies = [\"127.0.0.1\"]\n").await;
    let http = site.daemon.http;

    // From the proxy: ann, without a password, audited as a single sign-on.
    let (status, _, page) = request_from("127.0.0.1", http, "/", &[("X-Remote-User", &site.ann.name)]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains(&format!("<strong id=\"who\">{}</strong>", site.ann.name)));
    let by: String = sqlx::query_scalar("SELECT detail->>'by' FROM audit_log WHERE action = 'console_login' AND actor = $1")
        .bind(&site.ann.name)
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(by, "single sign-on");

    // The same header from any other address is ignored: log in first.
    let (status, head, _) = request_from("127.0.0.2", http, "/", &[("X-Remote-User", &site.ann.name)]).await;
    assert_eq!(status, 303, "{head}");
    assert!(head.to_ascii_lowercase().contains("location: /login"), "{head}");

    // A login of the server that is not one of remitd's people, and a name no one has: refused.
    let stranger = site.db.login_role("stranger").await;
    let (status, _, page) = request_from("127.0.0.1", http, "/", &[("X-Remote-User", &stranger.name)]).await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&page).contains("is not one of remitd&#39;s people"), "{}", String::from_utf8_lossy(&page));
    let (status, _, _) = request_from("127.0.0.1", http, "/", &[("X-Remote-User", "nobody_at_all")]).await;
    assert_eq!(status, 403);

    // A session follows the header: when the proxy names sam, the page is sam's.
    let (_, head, _) = request_from("127.0.0.1", http, "/", &[("X-Remote-User", &site.ann.name)]).await;
    let cookie = head.lines().find_map(|l| l.strip_prefix("set-cookie: ")).and_then(|c| c.split(';').next()).expect("a session cookie").to_string();
    let (status, _, page) = request_from("127.0.0.1", http, "/", &[("X-Remote-User", &site.sam.name), ("Cookie", &cookie)]).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains(&format!("<strong id=\"who\">{}</strong>", site.sam.name)));
}

/// Opens `path` in `b` (a 640-pixel window) and checks that it fits
/// without scrolling sideways, that every control has a label and that the
/// first Tab lands on the link that skips the menu; keeps a screenshot.
async fn reads_at_200_percent(site: &Site, b: &Browser, path: &str) {
    b.goto(&site.url(path)).await;
    let sizes = b.client.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    let (scroll, inner) = (sizes[0].as_i64().unwrap(), sizes[1].as_i64().unwrap());
    assert!(scroll <= inner, "{path} scrolls sideways at 200 %: {scroll} CSS pixels in a {inner}-pixel window");
    let unlabelled = b
        .client
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].filter(e => e.labels.length == 0).map(e => e.id || e.name);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, serde_json::json!([]), "{path}: every control has a label");
    b.client.find(fantoccini::Locator::Css("body")).await.unwrap().send_keys("\u{E004}").await.unwrap();
    let focused = b.client.active_element().await.unwrap();
    assert_eq!(focused.attr("class").await.unwrap().as_deref(), Some("skip"), "{path}: the first Tab");
    let name = if path == "/" { "zoom-dashboard".to_string() } else { format!("zoom-{}", path.trim_start_matches('/')) };
    b.screenshot(&screens(), &name).await;
}

/// At 200 % zoom a 1280-pixel window is 640 CSS pixels wide: every page
/// must fit it without scrolling sideways (wide tables scroll inside
/// themselves), every control has a label, and the first Tab lands on the
/// link that skips the menu.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_read_at_200_percent_and_start_from_the_keyboard() {
    let site = Site::start().await;
    let b = Browser::start().await;
    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    b.client.set_window_size(640, 900).await.unwrap();
    for path in ["/", "/denials", "/approvals", "/unmatched", "/files", "/conflicts", "/remittances", "/reconcile", "/sweep", "/writeoffs", "/audit"] {
        reads_at_200_percent(&site, &b, path).await;
    }
    b.close().await;
}

const ROB_PASSWORD: &str = "rob's long password";

/// Rows of the reconciliation table the browser shows.
async fn shown_rows(b: &Browser) -> usize {
    b.client.find_all(fantoccini::Locator::Css("#rows tbody tr")).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_reconciles_deposits_with_remittances_in_a_browser() {
    use common::bank::{ach, import, post, Paid};
    let site = Site::start().await;
    // EFT-A's deposit is 0.40 short, EFT-B's is paid in full, EFT-C's money
    // never came; 5.00 arrived with no trace and 40.00 was taken back.
    post(&site.db.pool, &[Paid::new("EFT-A", "253.40", "2024-01-15"), Paid::new("EFT-B", "627.50", "2024-01-15"), Paid::new("EFT-C", "80.00", "2024-01-16")])
        .await;
    let entries = [("253.00", Some("EFT-A"), true), ("627.50", Some("EFT-B"), true), ("5.00", None, true), ("40.00", Some("RCP-9"), false)];
    import(&site.db.pool, "january.ach", &ach("2024-01-15", &entries)).await;
    let id = |sql: &'static str| {
        let pool = site.db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let short = id("SELECT id FROM deposits WHERE trace_number = 'EFT-A'").await;
    let paid_in_full = id("SELECT id FROM deposits WHERE trace_number = 'EFT-B'").await;
    let remittance = id("SELECT id FROM remittances WHERE trace_number = 'EFT-A'").await;
    let rob = site.db.login_role("rob").await;
    site.db.people(&[(&rob.name, &[Scope::Read])]).await;
    remitd::actors::set_password(&site.db.pool, common::ADMIN, &rob.name, ROB_PASSWORD).await.unwrap();

    let b = Browser::start().await;
    site.log_in(&b, &site.ann.name, ANN_PASSWORD).await;
    // The dashboard counts what waits for a person, as the report does.
    let today = chrono::Local::now().date_naive();
    let rows = remitd::bank::reconcile::report(&site.db.pool, today, Default::default()).await.unwrap();
    let waiting = rows.iter().filter(|r| r.status.needs_a_person()).count();
    assert!(waiting >= 5, "two rows of a mismatch, the unexplained credit, the takeback, EFT-C overdue: {waiting}");
    assert_eq!(b.text("#to-reconcile").await, waiting.to_string());
    b.follow("#to-reconcile a").await;

    // Every row, the totals by state, what to ask each payer.
    assert_eq!(shown_rows(&b).await, rows.len());
    assert!(
        b.text(&format!("#deposit-{short}")).await.starts_with("amount mismatch deposit credit 2024-01-15 253.00 EFT-A"),
        "{}",
        b.text(&format!("#deposit-{short}")).await
    );
    assert!(b.text(&format!("#deposit-{short}")).await.contains("the deposit is 0.40 less than the remittance"));
    assert!(b.text(&format!("#deposit-{paid_in_full}")).await.starts_with("matched deposit credit"));
    assert!(b.text("#queue-amount_mismatch").await.starts_with("amount mismatch 2 506.40"), "{}", b.text("#queue-amount_mismatch").await);
    assert!(b.text("#queue-takeback").await.starts_with("takeback 1 40.00"), "{}", b.text("#queue-takeback").await);
    let asks = b.text("#asks").await;
    for expected in [
        "where is the money for",
        "EFT-C 80.00",
        "which remittance explains the takeback of 1 (40.00): RCP-9 40.00",
        "EXAMPLE TEST HEALTH PLAN: why the amounts differ for 1 (253.40): EFT-A 253.40",
    ] {
        assert!(asks.contains(expected), "{expected:?} is not asked: {asks}");
    }
    assert!(!asks.contains("253.00"), "a disagreement is asked once, of the payer its remittance names: {asks}");
    b.client.set_window_size(1280, 1900).await.unwrap();
    let sizes = b.client.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await.unwrap();
    assert!(sizes[0].as_i64() <= sizes[1].as_i64(), "the page fits a wide window too: {sizes}");
    b.screenshot(&screens(), "reconcile").await;
    b.client.set_window_size(1280, 1000).await.unwrap();

    // Filtered by state: the mismatch's two sides, the remittance linked to its page.
    b.click("#status option[value='amount_mismatch']").await;
    b.follow("#show").await;
    assert_eq!(shown_rows(&b).await, 2);
    assert_eq!(b.text(&format!("#deposit-{short} a")).await, format!("#{remittance}"));

    // A remittance that is not there: refused on the page, the filter kept.
    b.fill(&format!("remittances-{short}"), "999999999").await;
    b.fill(&format!("match-reason-{short}"), "payer confirmed a 0.40 bank fee").await;
    b.follow(&format!("#match-{short}")).await;
    assert_eq!(b.text("#error").await, "Refused: no remittance #999999999");
    assert_eq!(shown_rows(&b).await, 2);

    // Matched by hand with its remittance, in ann's name, with her reason.
    assert_eq!(
        b.client.find(fantoccini::Locator::Id(&format!("remittances-{short}"))).await.unwrap().prop("value").await.unwrap(),
        Some(remittance.to_string()),
        "the one candidate is offered"
    );
    b.fill(&format!("match-reason-{short}"), "payer confirmed a 0.40 bank fee").await;
    b.follow(&format!("#match-{short}")).await;
    assert_eq!(b.text("#notice").await, format!("Deposit #{short} is matched with remittance #{remittance}; the deposit differs from them by -0.40."));
    assert_eq!(shown_rows(&b).await, 0, "nothing is left in that state");
    b.goto(&site.url("/reconcile?status=matched")).await;
    let row = b.text(&format!("#deposit-{short}")).await;
    assert!(row.contains(&format!("matched by {}: payer confirmed a 0.40 bank fee", site.ann.name)), "{row}");

    // Unmatched: the deposit and its remittance are open again.
    b.fill(&format!("unmatch-reason-{short}"), "the fee was refunded").await;
    b.follow(&format!("#unmatch-{short}")).await;
    assert_eq!(b.text("#notice").await, format!("Deposit #{short} is unmatched; remittance #{remittance} is open again."));
    assert!(b.client.find(fantoccini::Locator::Id(&format!("deposit-{short}"))).await.is_err(), "no longer matched");
    let audited: Vec<(String, String, String)> =
        sqlx::query_as("SELECT action, actor, reason FROM audit_log WHERE action LIKE 'deposit_%' ORDER BY id").fetch_all(&site.db.pool).await.unwrap();
    let ann = site.ann.name.clone();
    assert_eq!(
        audited,
        [
            ("deposit_matched".to_string(), ann.clone(), "payer confirmed a 0.40 bank fee".to_string()),
            ("deposit_unmatched".to_string(), ann, "the fee was refunded".to_string())
        ]
    );

    // The same view as PDF and CSV, the filter kept; the PDF is the command line's.
    let cookie = format!("__Host-remitd={}", b.cookie("__Host-remitd").await);
    let (status, csv) = request(site.daemon.http, "GET", "/reconcile.csv?status=amount_mismatch&from=2024-01-01", &cookie, "");
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("status,side,direction,date,amount,trace,payer,deposit,remittances,detail"), "{csv}");
    assert!(csv.contains("amount_mismatch,deposit,credit,2024-01-15,253.00,EFT-A,"), "{csv}");
    let (status, pdf) = request(site.daemon.http, "GET", "/reconcile.pdf?status=amount_mismatch", &cookie, "");
    assert_eq!(status, 200);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.pdf"), pdf).unwrap();
    let text = pdf_text(&dir.path().join("page.pdf"));
    for expected in ["Reconciliation: deposits and remittances", "To ask each payer", "why the amounts differ", "EFT-A"] {
        assert!(text.contains(expected), "{expected:?} missing from the PDF: {text}");
    }
    assert!(!text.contains("EFT-C"), "only the state asked for: {text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
        .env("DATABASE_URL", &site.db.url)
        .args(["reconcile", "--status", "amount_mismatch", "--format", "pdf"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.path().join("cli.pdf"), out.stdout).unwrap();
    assert_eq!(pdf_text(&dir.path().join("cli.pdf")), text, "the console and the command line print the same report");

    // With data and forms, the page still reads at 200 %.
    b.client.set_window_size(640, 900).await.unwrap();
    reads_at_200_percent(&site, &b, "/reconcile").await;
    b.client.set_window_size(1280, 1000).await.unwrap();

    // Rob may read: he sees the rows but no form; a match he forges is refused.
    b.follow("header button").await;
    site.log_in(&b, &rob.name, ROB_PASSWORD).await;
    b.goto(&site.url("/reconcile")).await;
    assert_eq!(shown_rows(&b).await, rows.len());
    assert!(b.client.find_all(fantoccini::Locator::Css("#rows form")).await.unwrap().is_empty(), "no action for a reader");
    let cookie = format!("__Host-remitd={}", b.cookie("__Host-remitd").await);
    let token = b.source().await.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let path = format!("/reconcile/deposits/{short}/match");
    let (status, body) = request(site.daemon.http, "POST", &path, &cookie, &format!("remittances={remittance}&reason=forged&csrf={token}"));
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains(&format!("id=\"error\">Refused: actor &#34;{}&#34; lacks the scope billing.payment.write", rob.name)), "{body}");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM reassociations WHERE deposit_id = $1 AND ended_at IS NULL")
        .bind(short)
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(open, 0, "nothing was matched");
    b.close().await;
}
