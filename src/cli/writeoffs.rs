//! `remitd denial ...`, `remitd writeoff ...`, `remitd writeoffs ...`, `remitd audit`.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{csv_out, pdf_out, print_json, refused, ListFormat};
use crate::actors;
use crate::denials::{self, DenialStatus};
use crate::documents::pdf::Column;
use crate::documents::reports::Report;
use crate::ledger::ActionError;
use crate::output::shown;
use crate::writeoff::{self, patient, reopen, Approval, Outcome, Request};

/// Who is acting: the PostgreSQL login, unless the login owns the
/// database and names another actor.
#[derive(Debug, Clone, clap::Args)]
pub struct ActorArg {
    /// The person acting; by default the login. Only the database's owner
    /// may name another (see remitd actor).
    #[arg(long, env = "REMITD_ACTOR")]
    actor: Option<String>,
}

impl ActorArg {
    /// The actor named, or else the session's login.
    pub async fn resolve(&self, pool: &PgPool) -> Result<String, ActionError> {
        match &self.actor {
            Some(a) => Ok(a.clone()),
            None => actors::login(pool).await,
        }
    }

    /// Runs `f` as the actor.
    pub async fn act<T>(&self, pool: &PgPool, f: impl AsyncFnOnce(&str) -> Result<T, ActionError>) -> Result<T, ActionError> {
        let who = self.resolve(pool).await?;
        f(&who).await
    }
}

/// A denial or write-off, by its number, and who acts on it.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    id: i64,
    #[command(flatten)]
    actor: ActorArg,
}

#[derive(Debug, clap::Subcommand)]
pub enum DenialCommand {
    /// Denials with what remains of each, and the write-off waiting on it (the approval queue: --status PENDING_WRITEOFF).
    List {
        #[command(flatten)]
        of: super::ClaimsOf,
        #[arg(long, value_enum)]
        status: Option<DenialStatus>,
        /// Only denials with at least this much remaining.
        #[arg(long)]
        min_remaining: Option<Decimal>,
        /// Only denials with at most this much remaining.
        #[arg(long)]
        max_remaining: Option<Decimal>,
        /// Only denials opened at least this many days ago.
        #[arg(long)]
        min_age_days: Option<i32>,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Mark a denial as under appeal (it cannot be written off meanwhile).
    Appeal(Target),
    /// Withdraw an appeal; the denial is OPEN again.
    WithdrawAppeal(Target),
    /// Write off a denial, with a reason (waits for approval when the policy says so).
    Writeoff {
        id: i64,
        /// A reason of `remitd reason list` (contractual, non-covered, small-balance, other, ...).
        #[arg(long)]
        reason: String,
        /// Free text; required for `other`.
        #[arg(long)]
        note: Option<String>,
        /// Default: everything that remains of the denial.
        #[arg(long)]
        amount: Option<Decimal>,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Approve the write-off waiting on a denial (not by its requester).
    Approve(Target),
    /// Reject the write-off waiting on a denial; the denial is OPEN again.
    Reject(Target),
    /// Write off, with one reason, every denial a filter matches (one receipt for the run).
    BulkWriteoff {
        #[arg(long)]
        reason: String,
        #[arg(long)]
        note: Option<String>,
        /// Only denials with at most this much remaining.
        #[arg(long)]
        max_balance: Option<Decimal>,
        /// Only denials opened at least this many days ago.
        #[arg(long)]
        min_age_days: Option<i64>,
        #[command(flatten)]
        of: super::ClaimsOf,
        /// Only denials with at least this much remaining.
        #[arg(long)]
        min_balance: Option<Decimal>,
        #[command(flatten)]
        service: super::ServiceDays,
        /// Count ages from this day (default today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        /// Show what would happen, row by row; write nothing.
        #[arg(long)]
        preview: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Written-off denials a payer reversal could not be tied to: a person should look.
    Flagged,
    /// Reopen a written-off denial by hand: its write-off is reversed, it is OPEN again.
    Reopen(Target),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
    Csv,
    /// A printable report on standard output (redirect it to a file).
    Pdf,
}

/// `CODE=AMOUNT` for `--carc`.
fn carc_amount(s: &str) -> Result<(String, Decimal), String> {
    let (code, amount) = s.split_once('=').ok_or_else(|| format!("expected CODE=AMOUNT (e.g. 3=25.00), found {s:?}"))?;
    let amount: Decimal = amount.parse().map_err(|_| format!("not an amount: {amount:?}"))?;
    Ok((code.to_string(), amount))
}

#[derive(Debug, clap::Args)]
pub struct PrArgs {
    claim_id: String,
    /// Service line number (as imported); needed when several lines carry PR.
    #[arg(long)]
    line: Option<i32>,
    /// PR reason code and amount to move: 1 deductible, 2 coinsurance, 3 copay (repeat).
    #[arg(long = "carc", value_parser = carc_amount, required = true)]
    carcs: Vec<(String, Decimal)>,
    /// A write-off reason code, or free text.
    #[arg(long)]
    reason: String,
    /// Show old and new balances; write nothing.
    #[arg(long)]
    preview: bool,
    #[command(flatten)]
    actor: ActorArg,
}

pub async fn run_pr(pool: PgPool, args: PrArgs) -> u8 {
    let mut amounts = std::collections::BTreeMap::new();
    for (code, amount) in args.carcs {
        *amounts.entry(code).or_insert(Decimal::ZERO) += amount;
    }
    let pr_writeoff = async |who: &str| {
        let req = patient::PrRequest { claim_id: &args.claim_id, line: args.line, amounts, reason: &args.reason, actor: who, preview: args.preview };
        patient::pr_writeoff(&pool, req).await
    };
    match args.actor.act(&pool, pr_writeoff).await {
        Ok(o) => {
            let head = match &o.writeoff {
                Some(w) => format!("{} (write-off #{}, receipt {})", w.status.as_str().to_lowercase().replace('_', " "), w.writeoff_id, w.receipt),
                None => "preview, nothing written".into(),
            };
            println!("claim {} line {}: {head}", args.claim_id, o.line_number);
            for l in &o.lines {
                println!("  PR-{:<3} {:>10} -> {:>10} (moved {})", l.carc, l.before, l.after, l.moved);
            }
            println!("  patient balance    {:>10} -> {:>10}", o.patient_balance_before, o.patient_balance_after);
            println!("  other adjustments  {:>10} -> {:>10}", o.other_adjustments_before, o.other_adjustments_after);
            0
        }
        Err(e) => refused(e),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum WriteoffCommand {
    /// Undo a posted write-off: a reversing entry restores the balance.
    Undo {
        id: i64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Approve a write-off waiting for approval, by its number (any kind, PR included; not by its requester).
    Approve(Target),
    /// Reject a write-off waiting for approval, by its number.
    Reject(Target),
    /// Show, or set, which write-offs wait for a supervisor: off, all, or above:AMOUNT.
    Policy {
        #[arg(long, value_parser = |s: &str| s.parse::<Approval>().map_err(|e| e.to_string()))]
        approval: Option<Approval>,
        /// Changing the policy takes the approve scope.
        #[command(flatten)]
        actor: ActorArg,
    },
}

/// One line per denial; a second for the write-off waiting on it.
fn print_denials(list: &[denials::Denial]) {
    for d in list {
        println!(
            "#{:<6} {:<20} {:<12} {:<14} {:<16} opened {} denied {:>10.2} remaining {:>10.2} [{}]",
            d.id,
            shown(&d.claim_id),
            shown(&d.account_number),
            shown(&d.payer),
            d.status.as_str(),
            d.opened_at.format("%Y-%m-%d"),
            d.amount,
            d.remaining,
            shown(&d.reason_codes.join(", "))
        );
        if let Some(w) = &d.waiting {
            println!(
                "        waiting: write-off #{} of {:.2}, reason {}, requested by {} on {}",
                w.writeoff_id,
                w.amount,
                shown(&w.reason),
                shown(&w.requested_by),
                w.requested_at.format("%Y-%m-%d %H:%M")
            );
        }
    }
}

/// The columns of a bulk run's CSV and PDF.
const BULK_HEADER: [&str; 7] = ["denial_id", "claim_id", "outcome", "amount", "writeoff_id", "receipt", "why"];

/// Every denial a bulk run took, then every one it skipped.
fn bulk_cells(o: &writeoff::BulkOutcome) -> impl Iterator<Item = [String; 7]> + '_ {
    let receipt = o.receipt.map(|r| r.to_string()).unwrap_or_default();
    let taken = o.taken.iter().map(move |t| {
        let id = if o.receipt.is_some() { t.writeoff_id.to_string() } else { String::new() };
        [t.denial_id.to_string(), t.claim_id.clone(), t.status.as_str().to_string(), format!("{:.2}", t.amount), id, receipt.clone(), String::new()]
    });
    let skipped =
        o.skipped.iter().map(|s| [s.denial_id.to_string(), s.claim_id.clone(), "SKIPPED".into(), String::new(), String::new(), String::new(), s.why.clone()]);
    taken.chain(skipped)
}

/// A bulk run: every denial taken, then every one skipped, with totals.
fn print_bulk(o: &writeoff::BulkOutcome, format: HistoryFormat) -> u8 {
    match format {
        HistoryFormat::Json => print_json(o),
        HistoryFormat::Csv => csv_out(BULK_HEADER, bulk_cells(o)),
        HistoryFormat::Pdf => pdf_out(|| {
            let title = match o.receipt {
                Some(r) => format!("Bulk write-off of denials, receipt {r}"),
                None => "Bulk write-off of denials (preview: nothing written)".to_string(),
            };
            let weights = [0.8, 1.4, 1.6, 1.0, 0.9, 0.8, 3.0];
            let columns = BULK_HEADER
                .iter()
                .zip(weights)
                .map(|(h, w)| if matches!(*h, "amount" | "denial_id") { Column::right(h, w) } else { Column::left(h, w) })
                .collect();
            Report {
                title,
                facts: vec![("Matched", format!("{} denials", o.matched))],
                columns,
                rows: bulk_cells(o).map(|c| c.to_vec()).collect(),
                totals: vec![
                    ("Written off".into(), format!("{} denials", o.written_off)),
                    ("Waiting for approval".into(), format!("{} denials", o.pending_approval)),
                    ("Total".into(), format!("{:.2}", o.total)),
                ],
            }
            .pdf()
        }),
        HistoryFormat::Text => {
            let head = o.receipt.map(|r| format!("receipt {r}: ")).unwrap_or_else(|| "preview, nothing written: ".into());
            let pending = if o.pending_approval > 0 { format!(", {} waiting for approval", o.pending_approval) } else { String::new() };
            println!("{head}{} of {} written off{pending}, total {:.2}", o.written_off, o.matched, o.total);
            for t in &o.taken {
                let status = t.status.as_str().to_lowercase().replace('_', " ");
                println!("  #{:<6} {:<20} {:>12.2}  {status}", t.denial_id, shown(&t.claim_id), t.amount);
            }
            for s in &o.skipped {
                println!("  skipped #{} {} ({}): {}", s.denial_id, shown(&s.claim_id), s.status.as_str(), s.why);
            }
            0
        }
    }
}

fn report(o: &Outcome) {
    let denial = o.denial_status.map(|s| format!("; denial is {s}")).unwrap_or_default();
    let status = o.status.as_str().to_lowercase().replace('_', " ");
    println!("write-off #{} of {} {status} (receipt {}){denial}", o.writeoff_id, o.amount, o.receipt);
}

pub async fn run_denial(pool: PgPool, command: DenialCommand) -> u8 {
    let result = match command {
        DenialCommand::List { of, status, min_remaining, max_remaining, min_age_days, format } => {
            let filter = denials::DenialFilter {
                claim: of.claim.as_deref(),
                status,
                payer: of.payer.as_deref(),
                account: of.account.as_deref(),
                min_remaining,
                max_remaining,
                min_age_days,
                limit: None,
            };
            match denials::list_where(&pool, &filter).await {
                Ok(list) if format == ListFormat::Json => return print_json(&list),
                Ok(list) => {
                    print_denials(&list);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        DenialCommand::Appeal(Target { id, actor }) => {
            actor.act(&pool, async |who| writeoff::appeal(&pool, id, who, true).await).await.map(|()| println!("denial #{id} is APPEAL_PENDING"))
        }
        DenialCommand::WithdrawAppeal(Target { id, actor }) => {
            actor.act(&pool, async |who| writeoff::appeal(&pool, id, who, false).await).await.map(|()| println!("denial #{id} is OPEN"))
        }
        DenialCommand::Writeoff { id, reason, note, amount, actor } => {
            let write_off =
                async |who: &str| writeoff::write_off(&pool, Request { denial_id: id, reason: &reason, note: note.as_deref(), amount, actor: who }).await;
            actor.act(&pool, write_off).await.map(|o| report(&o))
        }
        DenialCommand::Approve(Target { id, actor }) => actor.act(&pool, async |who| writeoff::decide(&pool, id, who, true).await).await.map(|o| report(&o)),
        DenialCommand::Reject(Target { id, actor }) => actor.act(&pool, async |who| writeoff::decide(&pool, id, who, false).await).await.map(|o| report(&o)),
        DenialCommand::BulkWriteoff { reason, note, max_balance, min_age_days, of, min_balance, service, as_of, preview, format, actor } => {
            let filter = writeoff::BulkFilter {
                max_balance,
                min_age_days,
                payer: of.payer,
                claim: of.claim,
                account: of.account,
                as_of,
                min_balance,
                service_from: service.service_from,
                service_to: service.service_to,
            };
            match actor.act(&pool, async |who| writeoff::bulk(&pool, &filter, &reason, note.as_deref(), who, preview).await).await {
                Ok(o) => return print_bulk(&o, format),
                Err(e) => Err(e),
            }
        }
        DenialCommand::Flagged => reopen::flagged(&pool).await.map(|list| {
            for f in &list {
                println!("#{:<6} {:<20} {:<16} {}", f.denial_id, shown(&f.claim_id), f.status.as_str(), shown(&f.reason));
            }
            println!("{} flagged", list.len());
        }),
        DenialCommand::Reopen(Target { id, actor }) => actor
            .act(&pool, async |who| reopen::reopen_by_hand(&pool, id, who).await)
            .await
            .map(|_| println!("denial #{id} reopened; its write-off was reversed")),
    };
    result.map_or_else(refused, |()| 0)
}

pub async fn run_writeoff(pool: PgPool, command: WriteoffCommand) -> u8 {
    let result = match command {
        WriteoffCommand::Undo { id, reason, actor } => actor
            .act(&pool, async |who| writeoff::undo(&pool, id, who, &reason).await)
            .await
            .map(|amount| println!("write-off #{id} undone: {amount} is owed again")),
        WriteoffCommand::Approve(Target { id, actor }) => {
            actor.act(&pool, async |who| writeoff::decide_writeoff(&pool, id, who, true).await).await.map(|o| report(&o))
        }
        WriteoffCommand::Reject(Target { id, actor }) => {
            actor.act(&pool, async |who| writeoff::decide_writeoff(&pool, id, who, false).await).await.map(|o| report(&o))
        }
        WriteoffCommand::Policy { approval: None, .. } => {
            let shown = async {
                let mut conn = pool.acquire().await?;
                writeoff::approval_policy(&mut conn).await
            };
            shown.await.map(|p| println!("approval: {}", p.as_setting()))
        }
        WriteoffCommand::Policy { approval: Some(p), actor } => {
            actor.act(&pool, async |who| writeoff::set_approval_policy(&pool, who, p).await).await.map(|()| println!("approval: {}", p.as_setting()))
        }
    };
    result.map_or_else(refused, |()| 0)
}
