//! The four ways a sweep runs: a preview that writes nothing, a post, an
//! interactive run that asks before each write-off, and the daemon's
//! scheduled run, once per slot.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use super::schedule::{Schedule, Window};
use super::write::{self, Mode};
use super::{select, txcodes, Bucket, Line, Params, Report, Section, SweepError};
use crate::actors::{require, Scope};
use crate::ledger::{self, Hold, SYSTEM_ACTOR};
use crate::writeoff::reasons;

/// The `[sweep]` section of the configuration: the parameters of the
/// scheduled run, and defaults for `remitd sweep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Cron expression (minute hour day-of-month month day-of-week); no
    /// schedule, no scheduled runs.
    pub schedule: Option<String>,
    /// IANA time zone of the schedule and of payment-entry days (default UTC).
    pub time_zone: Option<String>,
    /// Payment-entry range of a scheduled run (default previous-month).
    pub window: Option<Window>,
    pub days_since_billed: Option<u32>,
    pub min_times_billed: Option<u32>,
    pub insurance_code: Option<String>,
    pub patient_code: Option<String>,
    pub max_amount: Option<Decimal>,
    #[serde(default)]
    pub include_insurance_credits: bool,
    #[serde(default)]
    pub include_patient_credits: bool,
    /// How late a missed slot may still run (default 6 hours).
    pub max_lateness_hours: Option<u32>,
}

impl SweepConfig {
    pub fn time_zone(&self) -> &str {
        self.time_zone.as_deref().unwrap_or("UTC")
    }

    /// The parsed schedule, if there is one.
    pub fn schedule(&self) -> Result<Option<Schedule>, SweepError> {
        let Some(expr) = &self.schedule else { return Ok(None) };
        let tz = self.time_zone().parse().map_err(|_| SweepError::Invalid(format!("[sweep] unknown time zone {:?}", self.time_zone())))?;
        let lateness = chrono::Duration::hours(i64::from(self.max_lateness_hours.unwrap_or(6)));
        let schedule = Schedule::new(expr, tz, lateness)?;
        // Refuse incomplete parameters at start, not at the first slot.
        self.params_on(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()).and_then(|p| p.check())?;
        Ok(Some(schedule))
    }

    /// The parameters of a scheduled run on `day`.
    pub fn params_on(&self, day: NaiveDate) -> Result<Params, SweepError> {
        let (from, to) = self.window.unwrap_or(Window::PreviousMonth).range(day);
        let days_since_billed = self.days_since_billed.ok_or_else(|| SweepError::Invalid("[sweep] needs days_since_billed (30 to 365)".into()))?;
        Ok(Params {
            from,
            to,
            days_since_billed,
            min_times_billed: self.min_times_billed.unwrap_or(0),
            insurance_code: self.insurance_code.clone(),
            patient_code: self.patient_code.clone(),
            max_amount: self.max_amount,
            include_insurance_credits: self.include_insurance_credits,
            include_patient_credits: self.include_patient_credits,
            as_of: day,
            time_zone: self.time_zone().to_string(),
            payer: None,
            account: None,
            claim: None,
            service_from: None,
            service_to: None,
        })
    }
}

/// A sweep writes off as one who could both request and approve a write-off:
/// its parameters are the approval.
async fn authorize(conn: &mut PgConnection, actor: &str) -> Result<(), SweepError> {
    require(&mut *conn, actor, Scope::DenialWrite).await?;
    require(conn, actor, Scope::WriteoffApprove).await?;
    Ok(())
}

/// Refuses unknown or unfit adjustment codes, and a sweep while its reason
/// (`small-balance`) is retired; returns the parameters with the reason's
/// cap as their maximum when it is lower (or no maximum was given), so the
/// balances above the cap go on the out-of-range report and the run
/// records the maximum it used.
async fn within_reason(conn: &mut PgConnection, params: &Params) -> Result<Params, SweepError> {
    for code in [&params.insurance_code, &params.patient_code].into_iter().flatten() {
        txcodes::require_adjustment(&mut *conn, code).await?;
    }
    let reason = reasons::get(conn, write::REASON).await?;
    reason.allows(None, None)?;
    let max_amount = match (params.max_amount, reason.max_amount) {
        (Some(max), Some(cap)) => Some(max.min(cap)),
        (max, cap) => max.or(cap),
    };
    Ok(Params { max_amount, ..params.clone() })
}

/// Orders what the query found as the report lists it (written off, out
/// of range, then the protected balances left alone) and counts the
/// protected ones.
fn reportable(mut lines: Vec<Line>) -> (Vec<Line>, usize) {
    let skipped = lines.iter().filter(|l| l.section == Section::Protected).count();
    let rank = |s: Section| match s {
        Section::WrittenOff => 0,
        Section::OutOfRange => 1,
        Section::Protected => 2,
    };
    // Stable: within a section, the query's order stays.
    lines.sort_by_key(|l| rank(l.section));
    (lines, skipped)
}

fn writable(lines: &[Line]) -> Vec<&Line> {
    lines.iter().filter(|l| l.section == Section::WrittenOff).collect()
}

/// What the parameters would write off. Writes nothing.
pub async fn preview(pool: &PgPool, params: &Params) -> Result<Report, SweepError> {
    let tz = params.check()?;
    // A transaction that writes nothing, for the query's settings.
    let mut conn = pool.begin().await?;
    let params = &within_reason(&mut conn, params).await?;
    let (lines, skipped_protected) = reportable(select::balances(&mut conn, params, tz, None).await?);
    conn.rollback().await?;
    Ok(Report { run: None, receipt: None, preview: true, params: params.clone(), lines, skipped_protected, declined: 0 })
}

/// Writes off every balance the parameters select, in one transaction.
/// Posting the same parameters again finds nothing left and records nothing.
pub async fn post(pool: &PgPool, params: &Params, actor: &str) -> Result<Report, SweepError> {
    let tz = params.check()?;
    let mut db = ledger::begin(pool, Hold::Ledger).await?;
    authorize(&mut db, actor).await?;
    let params = &within_reason(&mut db, params).await?;
    let (lines, skipped_protected) = reportable(select::balances(&mut db, params, tz, None).await?);
    let mut report = Report { run: None, receipt: None, preview: false, params: params.clone(), lines, skipped_protected, declined: 0 };
    let todo = writable(&report.lines);
    if todo.is_empty() {
        db.rollback().await?;
        return Ok(report);
    }
    let (run, receipt) = write::start_run(&mut db, Mode::Post, actor, params, skipped_protected).await?;
    write::write_off(&mut db, run, receipt, actor, &todo).await?;
    write::store_lines(&mut db, run, &report.lines.iter().collect::<Vec<_>>()).await?;
    db.commit().await?;
    (report.run, report.receipt) = (Some(run), Some(receipt));
    Ok(report)
}

/// An answer to "write this one off?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Write it off and ask about the next.
    Yes,
    /// Leave it.
    No,
    /// Write off this one and all the rest without asking.
    All,
    /// Stop: nothing from this one on changes; what was confirmed stays.
    Quit,
}

/// Asks `ask` about each balance and writes off each one confirmed, at
/// once, in its own transaction, after checking it still stands as shown.
pub async fn interactive(pool: &PgPool, params: &Params, actor: &str, mut ask: impl FnMut(&Line) -> Answer) -> Result<Report, SweepError> {
    let tz = params.check()?;
    let (params, (shown, skipped_protected)) = {
        let mut conn = pool.begin().await?;
        authorize(&mut conn, actor).await?;
        let params = within_reason(&mut conn, params).await?;
        let shown = reportable(select::balances(&mut conn, &params, tz, None).await?);
        conn.rollback().await?;
        (params, shown)
    };
    let params = &params;
    let candidates = writable(&shown);
    // The run (and its receipt), once the first answer writes something off.
    let mut run: Option<(i64, i64)> = None;
    let mut done: Vec<Line> = Vec::new();
    let mut declined = 0;
    for (i, line) in candidates.iter().enumerate() {
        let batch = match ask(line) {
            Answer::No => {
                declined += 1;
                continue;
            }
            Answer::Quit => {
                declined += candidates.len() - i;
                break;
            }
            Answer::Yes => &candidates[i..=i],
            Answer::All => &candidates[i..],
        };
        let written = confirm(pool, params, tz, actor, &mut run, skipped_protected, batch).await?;
        declined += batch.len() - written.len();
        done.extend(written);
        if batch.len() > 1 {
            break;
        }
    }
    let out: Vec<&Line> = shown.iter().filter(|l| l.section != Section::WrittenOff).collect();
    if let Some((run, _)) = run {
        let mut db = pool.begin().await?;
        write::store_lines(&mut db, run, &out).await?;
        db.commit().await?;
    }
    done.extend(out.into_iter().cloned());
    Ok(Report {
        run: run.map(|(id, _)| id),
        receipt: run.map(|(_, receipt)| receipt),
        preview: false,
        params: params.clone(),
        lines: done,
        skipped_protected,
        declined,
    })
}

/// Writes off those of `batch` whose balance is still what was shown.
async fn confirm(
    pool: &PgPool,
    params: &Params,
    tz: chrono_tz::Tz,
    actor: &str,
    run: &mut Option<(i64, i64)>,
    skipped: usize,
    batch: &[&Line],
) -> Result<Vec<Line>, SweepError> {
    let mut db = ledger::begin(pool, Hold::Ledger).await?;
    let claims: Vec<i64> = batch.iter().map(|l| l.claim_row).collect();
    // What each balance is now, looked up by claim and bucket: an "All"
    // answer checks every remaining balance at once.
    let now: HashMap<(i64, Bucket), Decimal> = select::balances(&mut db, params, tz, Some(&claims))
        .await?
        .into_iter()
        .filter(|n| n.section == Section::WrittenOff)
        .map(|n| ((n.claim_row, n.bucket), n.amount))
        .collect();
    let still: Vec<Line> = batch.iter().filter(|l| now.get(&(l.claim_row, l.bucket)) == Some(&l.amount)).map(|l| (*l).clone()).collect();
    if still.is_empty() {
        db.rollback().await?;
        return Ok(still);
    }
    let (id, receipt) = match *run {
        Some(started) => started,
        None => write::start_run(&mut db, Mode::Interactive, actor, params, skipped).await?,
    };
    let todo: Vec<&Line> = still.iter().collect();
    write::write_off(&mut db, id, receipt, actor, &todo).await?;
    write::store_lines(&mut db, id, &todo).await?;
    db.commit().await?;
    *run = Some((id, receipt));
    Ok(still)
}

/// What a scheduled tick did.
#[derive(Debug)]
pub enum SlotOutcome {
    /// No slot is due now.
    NotDue,
    /// The due slot already ran (here, on another instance, or before a restart).
    AlreadyRan(DateTime<Utc>),
    /// This call ran the slot.
    Ran(DateTime<Utc>, Box<Report>),
}

/// Runs the slot due at `now`, unless it already ran. The slot is recorded
/// in the same transaction as its write-offs: a crash leaves it unrun (and
/// due again on restart), and a second instance waits for the first and
/// then finds it taken.
pub async fn scheduled(pool: &PgPool, config: &SweepConfig, schedule: &Schedule, now: DateTime<Utc>) -> Result<SlotOutcome, SweepError> {
    let Some(slot) = schedule.due(now) else { return Ok(SlotOutcome::NotDue) };
    let taken = sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM sweep_runs WHERE slot = $1) AS "taken!""#, slot).fetch_one(pool).await?;
    if taken {
        return Ok(SlotOutcome::AlreadyRan(slot));
    }
    let params = config.params_on(schedule.day_of(slot))?;
    let tz = params.check()?;
    let mut db = ledger::begin(pool, Hold::Ledger).await?;
    let params = within_reason(&mut db, &params).await?;
    let (lines, skipped_protected) = reportable(select::balances(&mut db, &params, tz, None).await?);
    let todo = writable(&lines);
    let Some(run) = write::claim_slot(&mut db, slot, &params, skipped_protected, !todo.is_empty()).await? else {
        db.rollback().await?;
        return Ok(SlotOutcome::AlreadyRan(slot));
    };
    if let Some(receipt) = run.receipt {
        write::write_off(&mut db, run.id, receipt, SYSTEM_ACTOR, &todo).await?;
    }
    write::store_lines(&mut db, run.id, &lines.iter().collect::<Vec<_>>()).await?;
    db.commit().await?;
    let report = Report { run: Some(run.id), receipt: run.receipt, preview: false, params, lines, skipped_protected, declined: 0 };
    Ok(SlotOutcome::Ran(slot, Box::new(report)))
}

/// The run that wrote off under receipt `receipt`: a run and its receipt
/// are numbered apart (runs that wrote nothing have no receipt), so people
/// holding a receipt number find the run by it.
pub async fn run_of_receipt(pool: &PgPool, receipt: i64) -> Result<i64, SweepError> {
    sqlx::query_scalar!("SELECT id FROM sweep_runs WHERE receipt_id = $1", receipt)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| SweepError::Invalid(format!("receipt #{receipt} is not a sweep run's (remitd writeoffs history --receipt {receipt})")))
}

/// A stored run's report, as it was when the run ended.
pub async fn show(pool: &PgPool, run: i64) -> Result<Report, SweepError> {
    let row = sqlx::query!("SELECT receipt_id, params, skipped_protected FROM sweep_runs WHERE id = $1", run)
        .fetch_optional(pool)
        .await?
        .ok_or(SweepError::NoRun(run))?;
    let params: Params = serde_json::from_value(row.params).map_err(|e| SweepError::Invalid(format!("sweep run #{run}: stored parameters unreadable: {e}")))?;
    let lines = sqlx::query_as!(
        Line,
        r#"SELECT l.section AS "section: Section", l.bucket AS "bucket: Bucket", l.claim_id AS claim_row, c.claim_id, l.patient_name, l.account_number,
                  l.last_billed_date, l.amount, l.tx_code, l.payer_code, l.policy_order
           FROM sweep_lines l JOIN claims c ON c.id = l.claim_id WHERE l.run_id = $1 ORDER BY l.line_no"#,
        run,
    )
    .fetch_all(pool)
    .await?;
    let skipped_protected = usize::try_from(row.skipped_protected).unwrap_or(0);
    Ok(Report { run: Some(run), receipt: row.receipt_id, preview: false, params, lines, skipped_protected, declined: 0 })
}

/// One stored run, for `remitd sweep runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub run: i64,
    pub receipt: Option<i64>,
    pub mode: String,
    pub slot: Option<DateTime<Utc>>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub written_off: i64,
    pub total: Decimal,
    pub out_of_range: i64,
}

/// Every stored run, newest first.
pub async fn runs(pool: &PgPool) -> Result<Vec<RunSummary>, SweepError> {
    Ok(sqlx::query_as!(
        RunSummary,
        r#"SELECT r.id AS run, r.receipt_id AS receipt, r.mode, r.slot, r.actor, r.started_at,
                  count(*) FILTER (WHERE l.section = 'written_off') AS "written_off!",
                  COALESCE(sum(l.amount) FILTER (WHERE l.section = 'written_off'), 0) AS "total!",
                  count(*) FILTER (WHERE l.section = 'out_of_range') AS "out_of_range!"
           FROM sweep_runs r LEFT JOIN sweep_lines l ON l.run_id = r.id
           GROUP BY r.id ORDER BY r.id DESC"#
    )
    .fetch_all(pool)
    .await?)
}
