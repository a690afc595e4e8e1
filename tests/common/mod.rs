//! Shared test support: a fresh PostgreSQL database per test.
//!
//! The server comes from `DATABASE_URL` (its database part is ignored) or
//! the local default. Each `TestDb` creates its own database with every
//! migration applied and drops it when the test ends.

#![allow(dead_code)]

pub mod bank;
pub mod browser;
pub mod daemon;

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{ConnectOptions, Connection};

pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
    admin: PgConnectOptions,
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| remitd::db::DEFAULT_URL.to_string())
}

impl TestDb {
    pub async fn new() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("remitd_test_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), fastrand::u32(..));
        let base = PgConnectOptions::from_str(&server_url()).expect("DATABASE_URL must be a postgres URL");
        let admin = base.clone().database("postgres");
        let url = remitd::db::with_database(&server_url(), &name);
        let pool = remitd::db::migrate(&url).await.unwrap_or_else(|e| panic!("test database {name}: {e} (is PostgreSQL running? see README)"));
        TestDb { pool, url, name, admin }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = self.admin.clone();
        // Drop cannot await: a thread with its own small runtime drops the
        // database. WITH (FORCE) ends the pool's sessions; closing the pool
        // here instead could deadlock on the test's blocked runtime.
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = admin.connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut conn).await;
                    // The roles `remitd migrate --daemon` made for it, if a test asked.
                    for role in [format!("{name}_owner"), format!("{name}_staff")] {
                        let _ = sqlx::query(&format!("DROP ROLE IF EXISTS \"{role}\"")).execute(&mut conn).await;
                    }
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

impl TestDb {
    /// Adds people with their scopes, granted by `admin`, this database's
    /// first admin (named here on first use, as its owner would).
    pub async fn people(&self, people: &[(&str, &[remitd::actors::Scope])]) {
        let admins: i64 = sqlx::query_scalar("SELECT count(*) FROM actor_scopes WHERE scope = 'remitd.admin'").fetch_one(&self.pool).await.unwrap();
        if admins == 0 {
            remitd::actors::init_admin(&self.pool, ADMIN).await.unwrap();
        }
        for (name, scopes) in people {
            remitd::actors::add(&self.pool, ADMIN, name).await.unwrap();
            for s in *scopes {
                remitd::actors::grant(&self.pool, ADMIN, name, *s).await.unwrap();
            }
        }
    }
}

/// A PostgreSQL login role of one test (roles belong to the whole cluster,
/// so its name is made from the test's database). [`TestDb::login_role`]
/// may read and write this database's tables as a staff login would.
/// Dropped with its privileges when the test ends.
pub struct LoginRole {
    pub name: String,
    pub url: String,
    db_url: String,
}

impl TestDb {
    pub async fn login_role(&self, prefix: &str) -> LoginRole {
        let role = self.bare_login_role(prefix).await;
        for sql in [
            format!("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {}", role.name),
            format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}", role.name),
        ] {
            sqlx::query(&sql).execute(&self.pool).await.unwrap();
        }
        role
    }

    /// A login role with no privileges of its own.
    pub async fn bare_login_role(&self, prefix: &str) -> LoginRole {
        let name: String = sqlx::query_scalar("SELECT $1 || '_' || left(md5(current_database()), 12)").bind(prefix).fetch_one(&self.pool).await.unwrap();
        sqlx::query(&format!("CREATE ROLE {name} LOGIN")).execute(&self.pool).await.unwrap();
        let options = PgConnectOptions::from_str(&self.url).unwrap();
        let url = self.url.replacen(&format!("://{}@", options.get_username()), &format!("://{name}@"), 1);
        assert_ne!(url, self.url, "the test server's URL names its user");
        LoginRole { name, url, db_url: self.url.clone() }
    }
}

impl LoginRole {
    pub async fn pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&self.url).await.unwrap()
    }
}

impl Drop for LoginRole {
    fn drop(&mut self) {
        let (name, url) = (self.name.clone(), self.db_url.clone());
        let dropper = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::query(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'")).execute(&mut conn).await;
                    let _ = sqlx::query(&format!("DROP OWNED BY {name}")).execute(&mut conn).await;
                    let _ = sqlx::query(&format!("DROP ROLE {name}")).execute(&mut conn).await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// The first admin [`TestDb::people`] names.
pub const ADMIN: &str = "admin";

/// Path of a file under the repository's `samples/`.
pub fn sample(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples").join(rel)
}

/// The claims CSV header.
pub const CSV_HEADER: &str = "claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed";

/// Imports claims from CSV text.
pub async fn import_csv(pool: &PgPool, csv: &str) -> remitd::claims::import::ImportSummary {
    let claims = remitd::claims::import::read(csv.as_bytes()).expect("valid CSV");
    remitd::claims::import::write(pool, &claims).await.expect("import")
}

/// The sample claims, minus those whose id is in `except`.
pub fn sample_claims_except(except: &[&str]) -> String {
    let all = std::fs::read_to_string(sample("claims.csv")).expect("samples/claims.csv");
    all.lines().filter(|l| !except.iter().any(|e| l.starts_with(&format!("{e},")))).map(|l| format!("{l}\n")).collect()
}

/// Ingests one file with the database's CARC categories.
pub async fn ingest(pool: &PgPool, path: &std::path::Path) -> remitd::ingest::FileOutcome {
    let cats = remitd::posting::load_categories(pool).await.expect("categories");
    remitd::ingest::ingest_file(pool, path, &cats).await.expect("ingest")
}

pub async fn claim(pool: &PgPool, id: &str) -> remitd::claims::view::ClaimView {
    remitd::claims::view::show(pool, id).await.expect("query").unwrap_or_else(|| panic!("claim {id} exists"))
}

pub fn dec(s: &str) -> rust_decimal::Decimal {
    s.parse().expect("decimal")
}

/// An earlier remittance that paid what `reversal-and-correction.835` reverses:
/// each reversal claim negated back, with the same payer claim control number.
pub fn original_of_reversals() -> Vec<u8> {
    let bytes = std::fs::read(sample("valid/reversal-and-correction.835")).unwrap();
    let doc = remitd::parse::FileDocument::read("reversal", &bytes[..]).unwrap();
    let mut tx: remitd::model::Transaction = doc.transactions().next().unwrap().clone();
    tx.claims.retain(|c| c.status_code == "22");
    for c in &mut tx.claims {
        c.status_code = "1".into();
        c.charge = -c.charge;
        c.paid = -c.paid;
        c.original_reference = None;
        for a in c.adjustments.iter_mut().chain(c.services.iter_mut().flat_map(|s| s.adjustments.iter_mut())) {
            a.amount = -a.amount;
        }
        for s in &mut c.services {
            s.charge = -s.charge;
            s.paid = -s.paid;
        }
        if c.paid.is_zero() {
            c.status_code = "4".into();
        }
    }
    tx.trace_number = "EFT-ORIGINAL".into();
    tx.trace.number = "EFT-ORIGINAL".into();
    tx.payment.amount = tx.claims.iter().map(|c| c.paid).sum();
    tx.provider_adjustments.clear();
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(77, false, "005010X221A1").unwrap();
    w.transaction(&tx).unwrap();
    w.close_interchange(77, 1).unwrap();
    w.into_inner()
}

/// The `claim_balances` view sums each balance on its own (so a sweep over
/// every claim computes two sums, not seven); they must always equal the
/// arithmetic on the columns `claim show` lists.
pub async fn assert_balances_add_up(pool: &PgPool) {
    let (claims, wrong): (i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE insurance_balance <> charge - paid - contractual - other_adjustments - patient_responsibility - insurance_written_off
                                    OR patient_balance <> patient_responsibility - patient_written_off)
         FROM claim_balances",
    )
    .fetch_one(pool)
    .await
    .expect("claim_balances");
    assert!(claims > 0, "no claim to check");
    assert_eq!(wrong, 0, "{wrong} of {claims} claims have balances that do not add up");
}

/// The patient every built claim names (NM1*QC is required).
fn patient() -> remitd::model::Person {
    remitd::model::Person {
        last_name: Some("DOE".into()),
        first_name: Some("JANE".into()),
        middle_name: None,
        suffix: None,
        id_qualifier: Some("MI".into()),
        id: Some("XJZ000000021".into()),
    }
}

/// Adjustments from (group, reason code, amount) triples.
fn adjustments(triples: &[(&str, &str, &str)]) -> Vec<remitd::model::Adjustment> {
    triples.iter().map(|(g, r, a)| remitd::model::Adjustment { group: (*g).into(), reason: (*r).into(), amount: dec(a), quantity: None }).collect()
}

/// A claim as a payer sends it: `charge` and `paid`, CLP05 from the PR
/// adjustments, the payer's claim number `pcn` (what a reversal of it names).
fn claim_of(id: &str, status: &str, pcn: &str, charge: rust_decimal::Decimal, paid: rust_decimal::Decimal, pr: rust_decimal::Decimal) -> remitd::model::Claim {
    remitd::model::Claim {
        patient_control_number: id.into(),
        status_code: status.into(),
        charge,
        paid,
        patient_responsibility: (!pr.is_zero()).then_some(pr),
        filing_indicator: "MC".into(),
        payer_claim_control_number: Some(pcn.into()),
        patient: Some(patient()),
        ..remitd::model::Claim::default()
    }
}

fn pr_of<'a>(adjustments: impl Iterator<Item = &'a remitd::model::Adjustment>) -> rust_decimal::Decimal {
    adjustments.filter(|a| a.group == "PR").map(|a| a.amount).sum()
}

/// One claim of a remittance at claim level (no service lines): `charge`
/// less its adjustments (group, reason code, amount) is what it pays.
pub fn clp(id: &str, status: &str, charge: &str, pcn: &str, triples: &[(&str, &str, &str)]) -> remitd::model::Claim {
    let adjustments = adjustments(triples);
    let charge = dec(charge);
    let paid = charge - adjustments.iter().map(|a| a.amount).sum::<rust_decimal::Decimal>();
    remitd::model::Claim { adjustments: adjustments.clone(), ..claim_of(id, status, pcn, charge, paid, pr_of(adjustments.iter())) }
}

/// One service line of a claim: `charge` less its adjustments is what it pays.
pub fn svc(procedure: &str, charge: &str, triples: &[(&str, &str, &str)]) -> remitd::model::Service {
    let adjustments = adjustments(triples);
    let charge = dec(charge);
    let paid = charge - adjustments.iter().map(|a| a.amount).sum::<rust_decimal::Decimal>();
    remitd::model::Service { procedure_qualifier: "HC".into(), procedure: procedure.into(), charge, paid, adjustments, ..Default::default() }
}

/// A claim paid line by line (no claim-level adjustments).
pub fn clp_lines(id: &str, status: &str, pcn: &str, services: Vec<remitd::model::Service>) -> remitd::model::Claim {
    let (charge, paid) = (services.iter().map(|s| s.charge).sum(), services.iter().map(|s| s.paid).sum());
    let pr = pr_of(services.iter().flat_map(|s| &s.adjustments));
    remitd::model::Claim { services, ..claim_of(id, status, pcn, charge, paid, pr) }
}

/// The payer's reversal of `c`: CLP02 = 22, every amount negated, naming
/// the original by its payer claim number (CLP07 and REF*F8).
pub fn reversal_of(c: &remitd::model::Claim) -> remitd::model::Claim {
    let mut r = c.clone();
    r.status_code = "22".into();
    r.charge = -r.charge;
    r.paid = -r.paid;
    r.patient_responsibility = r.patient_responsibility.map(|p| -p);
    r.original_reference = c.payer_claim_control_number.clone();
    for a in r.adjustments.iter_mut().chain(r.services.iter_mut().flat_map(|s| s.adjustments.iter_mut())) {
        a.amount = -a.amount;
    }
    for s in &mut r.services {
        s.charge = -s.charge;
        s.paid = -s.paid;
    }
    r
}

/// A valid, balanced 835 paying `claims` under trace number `trace`, with
/// the samples' payer and payee. A set that pays less than nothing in all
/// (a reversal alone) carries the difference as a provider adjustment, as
/// payers do.
pub fn remittance(trace: &str, claims: Vec<remitd::model::Claim>) -> Vec<u8> {
    remittance_sets(vec![(trace, claims)])
}

/// One interchange of several transaction sets, each as [`remittance`]
/// makes it (ST02 numbered from 0001).
pub fn remittance_sets(sets: Vec<(&str, Vec<remitd::model::Claim>)>) -> Vec<u8> {
    remittance_sets_with(sets, |_| {})
}

/// [`remittance_sets`], each set changed by `edit` once made (its payment
/// method, date or direction).
pub fn remittance_sets_with(sets: Vec<(&str, Vec<remitd::model::Claim>)>, edit: impl Fn(&mut remitd::model::Transaction)) -> Vec<u8> {
    let bytes = std::fs::read(sample("valid/reversal-and-correction.835")).unwrap();
    let doc = remitd::parse::FileDocument::read("base", &bytes[..]).unwrap();
    let base: remitd::model::Transaction = doc.transactions().next().unwrap().clone();
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(78, false, "005010X221A1").unwrap();
    let count = sets.len();
    for (n, (trace, claims)) in sets.into_iter().enumerate() {
        let mut tx = base.clone();
        tx.control_number = format!("{:04}", n + 1).as_str().into();
        tx.claims = claims;
        tx.trace_number = trace.into();
        tx.trace.number = trace.into();
        tx.provider_adjustments.clear();
        let total: rust_decimal::Decimal = tx.claims.iter().map(|c| c.paid).sum();
        if total < rust_decimal::Decimal::ZERO {
            tx.provider_adjustments.push(remitd::model::ProviderAdjustment {
                provider_id: "1999999984".into(),
                fiscal_period_date: chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap(),
                reason: "WO".into(),
                reference: Some(trace.into()),
                amount: total,
            });
        }
        tx.payment.amount = total.max(rust_decimal::Decimal::ZERO);
        edit(&mut tx);
        w.transaction(&tx).unwrap();
    }
    w.close_interchange(78, count).unwrap();
    w.into_inner()
}

/// [`remittance`] written to `dir/NAME.835`; returns the path.
pub fn remittance_file(dir: &std::path::Path, trace: &str, claims: Vec<remitd::model::Claim>) -> std::path::PathBuf {
    let path = dir.join(format!("{trace}.835"));
    std::fs::write(&path, remittance(trace, claims)).unwrap();
    path
}

/// Write Off PR of `amount` of line 1's deductible (PR-1) on `claim_id`,
/// reason `patient-uncollectable`, by `actor`.
pub async fn pr_write_off_deductible(pool: &PgPool, claim_id: &str, amount: &str, actor: &str) {
    let pr = remitd::writeoff::patient::PrRequest {
        claim_id,
        line: Some(1),
        amounts: [("1".to_string(), dec(amount))].into_iter().collect(),
        reason: "patient-uncollectable",
        preview: false,
        actor,
    };
    remitd::writeoff::patient::pr_writeoff(pool, pr).await.unwrap();
}

/// The text of a PDF, laid out as on the page.
pub fn pdf_text(pdf: &std::path::Path) -> String {
    let out = std::process::Command::new("pdftotext").args(["-layout"]).arg(pdf).arg("-").output().expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}
