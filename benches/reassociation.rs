//! How long reassociation takes at an office's year-end scale: an ACH file
//! of 100,000 entries and a bank statement, against 100,000 posted
//! remittances.
//!
//! The remittances are written set-based into a scratch database (not
//! timed): 40 payers, payment dates over four weeks. The bank's files are
//! then made to pay them as offices see it: 90 % by ACH with the 835's TRN
//! (0 to 3 days after the 835's date), 3 % short by a cent (a question), 2 %
//! three weeks late (a question), 4 % by check deposits (20 bulk deposits
//! of two checks each without a reference, the rest naming the check), 1 % never
//! paid (overdue); plus 4,500 credits no remittance explains and 500
//! takebacks. Timed, as the daemon does them: reading and storing each file
//! (`bank::store::import`), matching (`reconcile::match_all`), matching again
//! with nothing new (what every later 835 costs), and the full report
//! (`reconcile::report`, every deposit and open remittance, then only what
//! is open, as the dashboard counts it). Three rounds,
//! each on a fresh database; the figures are printed, not asserted.
//!
//! Needs PostgreSQL at `DATABASE_URL`. `REMITD_BENCH_REMITTANCES` changes
//! the number of remittances (default 100,000); `REMITD_BENCH_ROUNDS` the
//! rounds; `REMITD_BENCH_KEEP=1` keeps the last round's database to look at.

use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate};
use remitd::bank::bai2::{self, Account, Detail, Group, Statement};
use remitd::bank::nacha::{self, AchFile, Batch, Entry};
use remitd::bank::reconcile::{self, Filter};
use remitd::bank::store;
use rust_decimal::Decimal;

mod support;
use support::{admin, database_url, drop_database};

/// Rounds, each on a fresh database (`REMITD_BENCH_ROUNDS`).
const ROUNDS: usize = 3;

/// One generated remittance and how the bank pays it.
struct Remittance {
    payer: u32,
    trace: String,
    amount: Decimal,
    date: NaiveDate,
    check: bool,
}

fn payer_key(payer: u32) -> String {
    format!("1{payer:09}")
}

fn remittances(n: usize) -> Vec<Remittance> {
    let start = NaiveDate::from_ymd_opt(2026, 11, 2).expect("a date");
    (1..=n)
        .map(|i| {
            let kind = i % 100;
            Remittance {
                payer: 1 + (i % 40) as u32,
                trace: format!("EFT{i:010}"),
                amount: Decimal::new(10_000 + ((i * 7919) % 2_000_000) as i64, 2),
                date: start + Days::new((i % 28) as u64),
                check: (95..99).contains(&kind),
            }
        })
        .collect()
}

/// The ACH file and the statement that pay `rs` as the module says.
fn bank_files(rs: &[Remittance]) -> (Vec<u8>, Vec<u8>) {
    let mut entries: Vec<(u32, NaiveDate, Entry)> = Vec::new();
    let entry = |seq: usize, amount: Decimal, credit: bool, trn: Option<(&str, u32)>| Entry {
        transaction_code: if credit { 22 } else { 27 },
        amount,
        routing: "999999992".into(),
        account_last4: "3444".into(),
        identification: "A00011".into(),
        receiver_name: "EXAMPLE PROVIDER".into(),
        trace_number: format!("09999999{seq:07}"),
        addenda: trn.map(|(t, p)| format!("TRN*1*{t}*{}\\", payer_key(p))).into_iter().collect(),
    };
    let mut details: Vec<(NaiveDate, Detail)> = Vec::new();
    let mut bulk: Vec<&Remittance> = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        let seq = entries.len() + 1;
        let on = r.date + Days::new((i % 4) as u64);
        match (i + 1) % 100 {
            0..90 => entries.push((r.payer, on, entry(seq, r.amount, true, Some((&r.trace, r.payer))))),
            90..93 => entries.push((r.payer, on, entry(seq, r.amount + Decimal::new(1, 2), true, Some((&r.trace, r.payer))))),
            93..95 => entries.push((r.payer, r.date + Days::new(21), entry(seq, r.amount, true, Some((&r.trace, r.payer))))),
            95..97 => details.push((on, detail(301, r.amount, &r.trace))),
            97..99 if bulk.len() < 40 => bulk.push(r),
            97..99 => details.push((on, detail(301, r.amount, &r.trace))),
            _ => {}
        }
    }
    for pair in bulk.chunks(2) {
        details.push((pair[0].date.max(pair[1].date), detail(301, pair.iter().map(|r| r.amount).sum(), "")));
    }
    let start = rs.first().map_or(NaiveDate::MIN, |r| r.date);
    for k in 0..5000 {
        let seq = entries.len() + 1;
        let credit = k >= 500;
        entries.push((1 + (k % 40) as u32, start + Days::new((k % 28) as u64), entry(seq, Decimal::new(5_000 + k as i64, 2), credit, None)));
    }
    // One batch per payer and day, as a bank's file groups them.
    entries.sort_by_key(|(payer, date, _)| (*date, *payer));
    let mut batches: Vec<Batch> = Vec::new();
    for (payer, date, e) in entries {
        match batches.last_mut() {
            Some(b) if b.effective == Some(date) && b.company_id == payer_key(payer) => b.entries.push(e),
            _ => batches.push(Batch {
                number: batches.len() as u32 + 1,
                company_name: format!("HEALTH PLAN {payer}"),
                company_id: payer_key(payer),
                class: "CCD".into(),
                description: nacha::HCCLAIMPMT.into(),
                effective: Some(date),
                entries: vec![e],
            }),
        }
    }
    let ach = nacha::write(&AchFile { created: start, origin_name: "HEALTH PLANS".into(), destination_name: "BANK".into(), batches });
    details.sort_by_key(|(d, _)| *d);
    let mut groups: Vec<Group> = Vec::new();
    for (date, d) in details {
        match groups.last_mut() {
            Some(g) if g.as_of == date => g.accounts[0].details.push(d),
            _ => groups.push(Group { as_of: date, accounts: vec![Account { account_last4: "3444".into(), currency: "USD".into(), details: vec![d] }] }),
        }
    }
    let statement = bai2::write(&Statement { sender: "EXAMPLEBANK".into(), receiver: "EXAMPLEPROVIDER".into(), created: start, groups });
    (ach.into_bytes(), statement.into_bytes())
}

fn detail(type_code: u16, amount: Decimal, reference: &str) -> Detail {
    Detail { type_code, amount, bank_reference: "BR".into(), customer_reference: reference.into(), text: "CHECK DEPOSIT".into() }
}

/// The remittances, posted as the daemon would have written them.
async fn post(pool: &sqlx::PgPool, rs: &[Remittance]) {
    sqlx::query("INSERT INTO ingested_files (id, content_hash, file_name, size_bytes, state) VALUES (1, '\\x00', 'year.835', 1, 'posted')")
        .execute(pool)
        .await
        .expect("file row");
    sqlx::query(
        "INSERT INTO remittances (file_id, interchange_control, transaction_control, payer_key, payer_name, trace_number, payment_amount,
                                  payment_date, handling_code, credit_debit, payment_method)
         SELECT 1, '000000001', lpad(n::text, 4, '0'), p, 'HEALTH PLAN ' || right(p, 2), t, a, d, 'I', 'C', m
         FROM unnest($1::text[], $2::text[], $3::numeric[], $4::date[], $5::text[]) WITH ORDINALITY AS x(p, t, a, d, m, n)",
    )
    .bind(rs.iter().map(|r| payer_key(r.payer)).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.trace.clone()).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.amount).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| r.date).collect::<Vec<_>>())
    .bind(rs.iter().map(|r| if r.check { "CHK" } else { "ACH" }).collect::<Vec<_>>())
    .execute(pool)
    .await
    .expect("remittances");
    sqlx::query("ANALYZE").execute(pool).await.expect("analyze");
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("REMITD_BENCH_REMITTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let rs = remittances(n);
    let (ach, statement) = bank_files(&rs);
    println!(
        "reassociation: {n} remittances; ACH file {:.1} MB ({} lines), statement {:.1} MB",
        ach.len() as f64 / 1e6,
        ach.iter().filter(|b| **b == b'\n').count(),
        statement.len() as f64 / 1e6
    );
    let rounds: usize = std::env::var("REMITD_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(ROUNDS);
    let keep = std::env::var("REMITD_BENCH_KEEP").is_ok_and(|v| v == "1");
    for round in 1..=rounds {
        let name = format!("remitd_bench_reassociation_{}", std::process::id());
        drop_database(&name).await;
        admin(&format!("CREATE DATABASE \"{name}\"")).await;
        let pool = remitd::db::migrate(&database_url(&name)).await.expect("migrate");
        post(&pool, &rs).await;

        let t = Instant::now();
        let read = store::import(&pool, "year.ach", &ach).await.expect("import");
        let ach_took = t.elapsed();
        let t = Instant::now();
        store::import(&pool, "year.bai", &statement).await.expect("import");
        let statement_took = t.elapsed();
        sqlx::query("ANALYZE deposits").execute(&pool).await.expect("analyze");
        let t = Instant::now();
        let matched = reconcile::match_all(&pool).await.expect("match");
        let match_took = t.elapsed();
        let t = Instant::now();
        let again = reconcile::match_all(&pool).await.expect("match again");
        let again_took = t.elapsed();
        let today = NaiveDate::from_ymd_opt(2026, 12, 31).expect("a date");
        let t = Instant::now();
        let rows = reconcile::report(&pool, today, Filter::default()).await.expect("report");
        let report_took = t.elapsed();
        let t = Instant::now();
        let open = reconcile::report(&pool, today, Filter { open_only: true, ..Filter::default() }).await.expect("open report");
        let open_took = t.elapsed();
        let queues: Vec<String> = reconcile::queues(&rows).iter().map(|q| format!("{} {}", q.status.as_str(), q.count)).collect();
        println!(
            "round {round}: ACH read and stored {} ({read:?}); statement {}; matched {} ({matched}); matched again {} ({} new); \
             report {} ({} rows: {}); what is open {} ({} rows); total to explained {}",
            secs(ach_took),
            secs(statement_took),
            secs(match_took),
            secs(again_took),
            again.deposits(),
            secs(report_took),
            rows.len(),
            queues.join(", "),
            secs(open_took),
            open.len(),
            secs(ach_took + statement_took + match_took)
        );
        pool.close().await;
        if keep && round == rounds {
            println!("kept database {name}");
        } else {
            drop_database(&name).await;
        }
    }
}
