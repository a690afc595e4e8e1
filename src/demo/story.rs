//! What the demo tells, one step at a time. Each step drops sample
//! remittances into the running daemon's inbox or acts as a billing person
//! would (through the same library calls the CLI uses), then reads what
//! happened back from the database: nothing printed here is canned.
//!
//! The steps run in the order of [`STEPS`]; each reads what the earlier ones
//! posted, so a new step is one function and one line in that list.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::{bail, Context};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use super::daemon::{Daemon, Fate};
use super::samples;
use super::show::{self, count, money};
use crate::actors::{self, Scope};
use crate::bank::reconcile::{self, Side, Status};
use crate::claims::import::{self, ImportClaim};
use crate::denials;
use crate::documents::reconciliation;
use crate::posting::plan::CarcCategories;
use crate::posting::unmatched::{self, Asked};
use crate::writeoff::{self, history};

/// The claim left out of the first import, so a remittance for it is queued.
pub const HELD_BACK: &str = "CLM-6001";
/// The claim whose denial is written off, then reopened by the payer.
const DENIED: &str = "CLM-3002";
/// The billing person who works denials.
pub const BILLER: &str = "ann";
/// The supervisor, who approves write-offs but does not post them.
const SUPERVISOR: &str = "sam";
/// The billing manager, who runs the small-balance sweep.
const MANAGER: &str = "sue";
/// Everyone who acts in the story.
pub const PEOPLE: [&str; 3] = [BILLER, SUPERVISOR, MANAGER];

/// What every step works with.
pub struct Demo {
    pub pool: PgPool,
    pub daemon: Arc<Daemon>,
    pub categories: CarcCategories,
    /// The claims CSV row(s) of [`HELD_BACK`], imported in the unmatched step.
    pub held_back: Vec<ImportClaim>,
    /// Each person's own login, when the server allows them.
    pub logins: Option<std::sync::Arc<super::people::Logins>>,
}

impl Demo {
    /// The connection `person` acts on: their own login, or the owner's.
    fn as_person(&self, person: &str) -> &PgPool {
        self.logins.as_ref().and_then(|l| l.pool(person)).unwrap_or(&self.pool)
    }
}

pub type StepFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;
pub type Step = for<'a> fn(&'a Demo) -> StepFuture<'a>;

/// The story, in order: a title and the step that tells it.
pub const STEPS: &[(&str, Step)] = &[
    ("Payments posted", payments_posted),
    ("A duplicate file ignored", duplicate_ignored),
    ("A broken file refused", broken_file_refused),
    ("An unmatched claim queued, then re-fed", unmatched_refed),
    ("A denial opened and written off with a reason", denial_written_off),
    ("A payer reversal reopens the written-off denial", reversal_reopens),
    ("A small-balance sweep, previewed then posted", small_balance_sweep),
    ("Patient balances written off for a payer that forbids balance billing", medicaid_mass_write_off),
    ("The bank's deposits matched with their remittances", deposits_explained),
    ("Write-off history and audit trail", history_and_audit),
];

/// Imports the sample claims except [`HELD_BACK`] and creates the actors.
/// Returns the held-back claim for later.
pub async fn prepare(pool: &PgPool) -> anyhow::Result<Vec<ImportClaim>> {
    let all = import::read(samples::CLAIMS_CSV.as_bytes()).context("the embedded sample claims")?;
    let (held_back, first): (Vec<ImportClaim>, Vec<ImportClaim>) = all.into_iter().partition(|c| c.claim_id == HELD_BACK);
    let summary = import::write(pool, &first).await?;
    say!(
        "  imported {} and {} from the sample claims CSV ({HELD_BACK} is held back until step 4)",
        count(summary.claims, "claim"),
        count(summary.lines, "service line")
    );
    let people = [
        (BILLER, &[Scope::DenialWrite, Scope::PaymentWrite][..]),
        (SUPERVISOR, &[Scope::WriteoffApprove][..]),
        (MANAGER, &[Scope::DenialWrite, Scope::WriteoffApprove][..]),
    ];
    // The database's owner names the first admin; the admin adds the others.
    actors::init_admin(pool, MANAGER).await?;
    for (actor, scopes) in people {
        actors::add(pool, MANAGER, actor).await?;
        for scope in scopes {
            actors::grant(pool, MANAGER, actor, *scope).await?;
        }
    }
    for (actor, scopes) in actors::list(pool).await?.into_iter().filter(|(a, _)| [BILLER, SUPERVISOR, MANAGER].contains(&a.as_str())) {
        say!("  actor {actor} may: {}", scopes.join(", "));
    }
    Ok(held_back)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// What the database recorded for a file, by its content.
struct FileRow {
    id: i64,
    file_name: String,
    state: String,
    refusal_reason: Option<String>,
}

async fn file_row(pool: &PgPool, bytes: &[u8]) -> anyhow::Result<FileRow> {
    let r = sqlx::query("SELECT id, file_name, state, refusal_reason FROM ingested_files WHERE content_hash = $1")
        .bind(sha256(bytes))
        .fetch_optional(pool)
        .await?
        .context("the daemon moved the file but the database has no record of it")?;
    Ok(FileRow { id: r.get(0), file_name: r.get(1), state: r.get(2), refusal_reason: r.get(3) })
}

/// Prints the payments a file posted and returns the claim ids they touched.
async fn remittances_of(pool: &PgPool, file_id: i64) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT r.trace_number, r.payer_name, r.payment_amount,
                (SELECT count(*) FROM claim_postings cp WHERE cp.remittance_id = r.id),
                (SELECT count(*) FROM unmatched_claims u WHERE u.remittance_id = r.id)
         FROM remittances r WHERE r.file_id = $1 ORDER BY r.id",
    )
    .bind(file_id)
    .fetch_all(pool)
    .await?;
    for r in &rows {
        let (trace, payer, amount, postings, queued): (String, String, Decimal, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let queued = if queued > 0 { format!(", {} queued as unmatched", count(queued as usize, "claim")) } else { String::new() };
        say!("  payment {trace} from {payer}: {} on {}{queued}", money(amount), count(postings as usize, "claim posting"));
    }
    let claims: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT c.claim_id FROM claim_postings cp JOIN remittances r ON r.id = cp.remittance_id JOIN claims c ON c.id = cp.claim_id
         WHERE r.file_id = $1 ORDER BY c.claim_id",
    )
    .bind(file_id)
    .fetch_all(pool)
    .await?;
    Ok(claims)
}

/// Delivers a file the daemon should archive; returns its database record.
async fn deliver_archived(demo: &Demo, name: &str, bytes: &[u8]) -> anyhow::Result<FileRow> {
    match demo.daemon.deliver(name, bytes).await? {
        Fate::Archived(_) => file_row(&demo.pool, bytes).await,
        Fate::Refused { reason, .. } => bail!("the daemon refused {name}: {reason}"),
    }
}

async fn ledger_size(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    let r = sqlx::query("SELECT (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM remittances)").fetch_one(pool).await?;
    Ok((r.get(0), r.get(1)))
}

fn payments_posted(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  A payer's 835 arrives in the clearinghouse drop folder.");
        let file = deliver_archived(demo, "paid-claims.835", samples::PAID_CLAIMS).await?;
        let claims = remittances_of(&demo.pool, file.id).await?;
        say!("  balances now (from the ledger; contractual CO-45 and patient responsibility PR-1/2/3 split out):");
        let ids: Vec<&str> = claims.iter().map(String::as_str).collect();
        show::claims(&demo.pool, &ids).await?;
        Ok(())
    })
}

fn duplicate_ignored(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  The clearinghouse sends the same file again, under another name.");
        let (entries_before, remittances_before) = ledger_size(&demo.pool).await?;
        let fate = demo.daemon.deliver("paid-claims-resent.835", samples::PAID_CLAIMS).await?;
        if let Fate::Refused { reason, .. } = fate {
            bail!("the daemon refused the duplicate: {reason}");
        }
        let file = file_row(&demo.pool, samples::PAID_CLAIMS).await?;
        let (entries_after, remittances_after) = ledger_size(&demo.pool).await?;
        let hash = sha256(samples::PAID_CLAIMS);
        say!(
            "  its SHA-256 ({}...) is already recorded as file #{} {:?} ({}): archived, nothing posted",
            hash.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>(),
            file.id,
            file.file_name,
            file.state
        );
        say!("  ledger entries: {entries_before} before, {entries_after} after; payments: {remittances_before} before, {remittances_after} after");
        say!("  daemon /metrics: remitd_files_duplicate_total {}", demo.daemon.counter("remitd_files_duplicate_total").await?);
        if (entries_before, remittances_before) != (entries_after, remittances_after) {
            bail!("the duplicate posted something");
        }
        Ok(())
    })
}

fn broken_file_refused(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  A file whose claim does not balance (CLP04 off by one cent) arrives.");
        let (entries_before, _) = ledger_size(&demo.pool).await?;
        let fate = demo.daemon.deliver("imbalanced-claim.835", samples::IMBALANCED).await?;
        let Fate::Refused { path, .. } = fate else { bail!("the daemon accepted a file that does not balance") };
        let file = file_row(&demo.pool, samples::IMBALANCED).await?;
        say!("  recorded as file #{} ({}); the reason, also in {}.reason.txt:", file.id, file.state, demo.daemon.relative(&path));
        say!("    {}", file.refusal_reason.unwrap_or_default());
        let (entries_after, _) = ledger_size(&demo.pool).await?;
        say!("  ledger entries: {entries_before} before, {entries_after} after: a refused file posts nothing");
        Ok(())
    })
}

fn unmatched_refed(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  A remittance for {HELD_BACK} arrives before the claim was imported (this file also has odd");
        say!("  delimiters, a byte-order mark and lines wrapped at 80 columns).");
        deliver_archived(demo, "unusual-delimiters.835", samples::UNMATCHED).await?;
        let queued = unmatched::list(&demo.pool, false).await?;
        let Some(item) = queued.iter().find(|i| i.claim_ref == HELD_BACK) else { bail!("{HELD_BACK} was not queued as unmatched") };
        say!("  unmatched queue: {}", count(queued.len(), "open item"));
        say!("    #{} {} from {} (trace {})", item.id, item.claim_ref, item.payer, item.trace_number);
        say!("    reason: {}", item.reason);
        say!("    needed: {}", item.needed);
        let support = demo.as_person(BILLER);
        let summary = import::write(support, &demo.held_back).await?;
        say!("  {BILLER} (support) imports the missing claim ({}) on her own login and re-feeds the item:", count(summary.claims, "claim"));
        match unmatched::refeed_or_ask(support, Some(item.id), None, super::READY_TIMEOUT).await? {
            Asked::Done { request, tried } if tried.iter().all(|t| t.posted) => {
                if let Some(r) = request {
                    say!("    she cannot post remittances, so she asks the daemon: refeed request #{r}, answered:");
                }
                for t in tried {
                    say!("    #{}: {}", t.id, t.message);
                }
            }
            other => bail!("re-feeding #{} did not post: {other:?}", item.id),
        }
        say!("  unmatched queue: {}", count(unmatched::list(&demo.pool, false).await?.len(), "open item"));
        show::claims(&demo.pool, &[HELD_BACK]).await?;
        Ok(())
    })
}

/// The denial of [`DENIED`] the story follows.
async fn followed_denial(pool: &PgPool) -> anyhow::Result<denials::Denial> {
    denials::list(pool, Some(DENIED), None).await?.into_iter().next().with_context(|| format!("{DENIED} has no denial"))
}

fn denial_written_off(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  A remittance pays CLM-3001 and denies {DENIED} (CO-50, not medically necessary).");
        let file = deliver_archived(demo, "payer-2024-01-05.835", samples::BEFORE_REVERSAL).await?;
        let claims = remittances_of(&demo.pool, file.id).await?;
        let d = followed_denial(&demo.pool).await?;
        say!("  denial #{} on {}: {}, {} denied [{}]", d.id, d.claim_id, d.status, money(d.amount), d.reason_codes.join(", "));
        say!("  the denied amount stays in the insurance balance until it is written off, appealed or paid:");
        let ids: Vec<&str> = claims.iter().map(String::as_str).collect();
        show::claims(&demo.pool, &ids).await?;

        let request =
            |actor| writeoff::Request { denial_id: d.id, reason: "non-covered", note: Some("payer upheld medical necessity denial"), amount: None, actor };
        match writeoff::write_off(demo.as_person(SUPERVISOR), request(SUPERVISOR)).await {
            Err(e) => say!("  {SUPERVISOR} tries to write it off: refused: {e}"),
            Ok(o) => bail!("{SUPERVISOR} wrote off denial #{} without the scope: {o:?}", d.id),
        }
        if let Some(own) = demo.logins.as_ref().and_then(|l| l.pool(SUPERVISOR)) {
            let direct = sqlx::query(
                "INSERT INTO ledger_entries (claim_id, kind, amount, actor) SELECT claim_id, 'write_off', amount, session_user FROM denials WHERE id = $1",
            )
            .bind(d.id)
            .execute(own)
            .await;
            match direct {
                Err(e) => say!(
                    "  {SUPERVISOR} tries it in psql on her own login: the database refuses: {}",
                    e.as_database_error().map_or(e.to_string(), |d| d.message().to_string())
                ),
                Ok(_) => bail!("the database let {SUPERVISOR} write a ledger entry without the scope"),
            }
        }
        let out = writeoff::write_off(demo.as_person(BILLER), request(BILLER)).await?;
        say!(
            "  {BILLER} writes it off as non-covered: write-off #{}, receipt #{}, {} {}; denial is {}",
            out.writeoff_id,
            out.receipt,
            money(out.amount),
            out.status,
            out.denial_status.map_or("-", |s| s.as_str())
        );
        show::claims(&demo.pool, &[DENIED]).await?;
        Ok(())
    })
}

fn reversal_reopens(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  A month later the payer reverses both claims of that payment (CLP02 = 22) and sends");
        say!("  corrected claims: {DENIED} is paid after all.");
        let file = deliver_archived(demo, "payer-2024-02-05.835", samples::REVERSAL).await?;
        let claims = remittances_of(&demo.pool, file.id).await?;
        let events = sqlx::query(
            "SELECT a.actor, a.action, a.amount, a.reason, a.detail->>'trace_number' FROM audit_log a JOIN claims c ON c.id = a.claim_id
             WHERE c.claim_id = $1 AND a.action IN ('payer_reversal', 'denial_reopened', 'denial_resolved') ORDER BY a.id",
        )
        .bind(DENIED)
        .fetch_all(&demo.pool)
        .await?;
        say!("  what remitd did for {DENIED}, from the audit log:");
        for e in &events {
            let (actor, action, amount, reason, trace): (String, String, Option<Decimal>, Option<String>, Option<String>) =
                (e.get(0), e.get(1), e.get(2), e.get(3), e.get(4));
            let amount = amount.map(|a| format!(" {}", money(a))).unwrap_or_default();
            let why = reason.or(trace.map(|t| format!("trace {t}"))).map(|r| format!(" ({r})")).unwrap_or_default();
            say!("    {actor:<6} {action:<16}{amount}{why}");
        }
        let d = followed_denial(&demo.pool).await?;
        say!("  denial #{} is now {}", d.id, d.status);
        let ids: Vec<&str> = claims.iter().map(String::as_str).collect();
        let views = show::claims(&demo.pool, &ids).await?;
        if let Some(v) = views.iter().find(|v| v.claim_id == DENIED) {
            say!("  {DENIED} ledger (append-only: the write-off stays, a reversing entry undoes it):");
            for e in &v.entries {
                say!("    {}", show::entry(e));
            }
        }
        Ok(())
    })
}

/// The sweep's parameters: payments entered today, claims billed at least
/// 90 days before and at least once, balances of at most 50.00.
fn sweep_params() -> crate::sweep::Params {
    let today = chrono::Utc::now().date_naive();
    crate::sweep::Params { min_times_billed: 1, ..crate::sweep::Params::for_day(today, 90, Some(Decimal::new(5000, 2))) }
}

fn small_balance_sweep(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        use crate::sweep::{report, Section};
        let p = sweep_params();
        say!("  This practice calls a balance small up to {}; the sweep's reason, small-balance, is seeded", money(Decimal::new(5000, 2)));
        say!("  with a cap of {}, so the billing manager (an admin here) raises it first:", money(Decimal::new(1000, 2)));
        say!("  $ remitd reason cap small-balance 50.00 --actor {MANAGER}");
        crate::writeoff::reasons::set_cap(demo.as_person(MANAGER), MANAGER, crate::sweep::write::REASON, Some(Decimal::new(5000, 2))).await?;
        say!("  Small patient balances nobody will collect: the billing manager previews a sweep of balances");
        say!("  up to {} on claims paid today and billed at least 90 days ago:", money(Decimal::new(5000, 2)));
        say!("  $ remitd sweep --preview --from {0} --to {0} --days-since-billed 90 --min-times-billed 1 \\", p.from);
        say!("        --insurance-code w --patient-code W --max-amount 50.00");
        let preview = crate::sweep::preview(&demo.pool, &p).await?;
        for l in report::text(&preview).lines() {
            say!("    {l}");
        }
        if preview.count(Section::WrittenOff) == 0 {
            bail!("the sweep preview found no small balance");
        }
        say!("  $ remitd sweep --post ... --actor {MANAGER}");
        let posted = crate::sweep::post(demo.as_person(MANAGER), &p, MANAGER).await?;
        say!(
            "    run #{}, receipt #{}: {} written off, TOTALS {}; {} left on the out-of-range report",
            posted.run.unwrap_or_default(),
            posted.receipt.unwrap_or_default(),
            count(posted.count(Section::WrittenOff), "balance"),
            report::dollars(posted.total(Section::WrittenOff)),
            count(posted.count(Section::OutOfRange), "balance")
        );
        let again = crate::sweep::post(demo.as_person(MANAGER), &p, MANAGER).await?;
        say!("  posted again with the same parameters: {} written off, nothing recorded", again.count(Section::WrittenOff));
        let first = posted.section(Section::WrittenOff).next().map(|l| l.claim_id.clone()).unwrap_or_default();
        show::claims(&demo.pool, &[first.as_str()]).await?;
        Ok(())
    })
}

/// Source document 001's "Mass Write Off for insurances that do not
/// balance bill the patient", on the payer whose patients still owe the
/// most after the sweep.
fn medicaid_mass_write_off(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        use crate::writeoff::patient_balances::{self, Filter};
        let payer: Option<String> = sqlx::query_scalar(
            "SELECT p.payer_code FROM claims c JOIN claim_owed o ON o.claim_id = c.id JOIN payers p ON p.id = c.payer_id
             WHERE o.patient_balance > 0 GROUP BY p.payer_code ORDER BY sum(o.patient_balance) DESC, p.payer_code LIMIT 1",
        )
        .fetch_optional(&demo.pool)
        .await?;
        let Some(payer) = payer else { bail!("no patient balance is left to write off") };
        say!("  Payer {payer} is a state Medicaid plan: its members may not be billed what it did not pay.");
        say!("  The biller previews writing off every patient balance left on its claims:");
        say!("  $ remitd patient-balance writeoff --payer {payer} --reason no-balance-billing --preview --actor {BILLER}");
        let filter = Filter { payer: Some(payer.clone()), ..Filter::default() };
        let preview = patient_balances::write_off(demo.as_person(BILLER), &filter, "no-balance-billing", None, BILLER, true).await?;
        for l in patient_balances::text(&preview).lines() {
            say!("    {l}");
        }
        say!("  $ remitd patient-balance writeoff --payer {payer} --reason no-balance-billing --actor {BILLER}");
        let posted = patient_balances::write_off(demo.as_person(BILLER), &filter, "no-balance-billing", None, BILLER, false).await?;
        let Some(receipt) = posted.receipt else { bail!("the mass write-off wrote nothing off") };
        say!(
            "    receipt #{receipt}: {} written off, {}; {} waiting for approval",
            count(posted.count(patient_balances::RowOutcome::WrittenOff), "patient balance"),
            money(posted.written_off),
            money(posted.pending_approval)
        );
        let first = posted.rows.first().map(|r| r.claim_id.clone()).unwrap_or_default();
        show::claims(&demo.pool, &[first.as_str()]).await?;
        Ok(())
    })
}

fn deposits_explained(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        say!("  The bank's daily ACH file arrives in the bank drop folder (demo-bank): the money side of the 835s.");
        match demo.daemon.deliver_bank_file("daily.ach", samples::BANK_DAILY).await? {
            Fate::Archived(_) => {}
            Fate::Refused { reason, .. } => bail!("the daemon refused the bank file: {reason}"),
        }
        let today = chrono::Local::now().date_naive();
        let rows = reconcile::report(&demo.pool, today, reconcile::Filter::default()).await?;
        say!("  remitd reconcile: each deposit, and each remittance still waiting for its money:");
        for r in rows.iter().filter(|r| r.side == Side::Deposit || r.status == Status::Overdue) {
            let [status, side, direction, date, amount, trace, _, _, remittances, detail] = reconciliation::cells(r);
            let with = if remittances.is_empty() { String::new() } else { format!(" remittance {remittances}") };
            say!("    {status:<12} {side:<10} {direction:<6} {date} {amount:>8} {trace:<20}{with} {detail}");
        }
        for (payer, ask) in reconciliation::asks(&rows) {
            say!("  to ask {payer}: {ask}");
        }
        let explained = rows.iter().any(|r| r.side == Side::Deposit && r.status == Status::Matched && r.trace.as_deref() == Some("EFT-20240115-0001"));
        if !explained {
            bail!("the 253.40 deposit was not matched with the remittance of paid-claims.835");
        }
        if !rows.iter().any(|r| r.status == Status::Overdue) {
            bail!("no remittance is overdue, yet the 2024 835s' money never came");
        }
        say!("  daemon /metrics: remitd_deposits_matched_total {}", demo.daemon.counter("remitd_deposits_matched_total").await?);
        Ok(())
    })
}

fn history_and_audit(demo: &Demo) -> StepFuture<'_> {
    Box::pin(async move {
        let h = history::history(&demo.pool, &history::HistoryFilter::default()).await?;
        say!("  remitd writeoffs history:");
        for r in &h.rows {
            say!(
                "    write-off #{} receipt #{} {} {} {} {} requested by {}",
                r.writeoff_id,
                r.receipt,
                r.claim_id,
                r.reason,
                money(r.amount),
                r.status,
                r.requested_by
            );
        }
        let totals: Vec<String> = h.totals_by_reason.iter().map(|(reason, total)| format!("{reason} {}", money(*total))).collect();
        say!(
            "    posted total {} {}",
            money(h.total),
            if totals.is_empty() { "(nothing posted remains)".to_string() } else { format!("({})", totals.join(", ")) }
        );
        let trail = history::audit_trail(&demo.pool, &history::AuditFilter::default()).await?;
        say!("  remitd audit (who did what, for how much, why):");
        for a in &trail {
            let mut what = [a.claim_id.clone(), a.amount.map(money), a.reason.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
            if what.is_empty() {
                // Rows about no claim (scopes granted) say what in their detail.
                what = a
                    .detail
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or(&v.to_string()))).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
            }
            say!("    #{:<3} {:<6} {:<22} {what}", a.id, a.actor, a.action);
        }
        let d = &demo.daemon;
        say!(
            "  the daemon counted (/metrics): files {} ingested, {} duplicate, {} refused; claims {} posted, {} unmatched; reversals {}; denials {} opened, {} reopened",
            d.counter("remitd_files_ingested_total").await?,
            d.counter("remitd_files_duplicate_total").await?,
            d.counter("remitd_files_refused_total").await?,
            d.counter("remitd_claims_posted_total").await?,
            d.counter("remitd_claims_unmatched_total").await?,
            d.counter("remitd_reversals_total").await?,
            d.counter("remitd_denials_opened_total").await?,
            d.counter("remitd_denials_reopened_total").await?,
        );
        Ok(())
    })
}
