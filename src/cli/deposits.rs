//! `remitd deposits read`: a bank file (ACH or BAI2) read and checked, its
//! deposits listed with the trace that ties each to its remittance;
//! `import` stores them, `match`/`unmatch` are a person's decisions, and
//! `remitd reconcile` reports where everything stands.

use std::path::PathBuf;

use sqlx::PgPool;

use chrono::NaiveDate;

use super::writeoffs::{ActorArg, HistoryFormat};
use super::{csv_out, fail, pdf_out, print_json, refused, ListFormat, EXIT_REFUSED};
use crate::bank::reconcile::{self, Filter, Status};
use crate::bank::store::{self, Imported};
use crate::bank::{BankFile, Deposit};
use crate::documents::reconciliation;
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Store bank files' deposits (the daemon's login; each file once).
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Read and check a bank file (ACH or BAI2); list its deposits and their traces.
    Read {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Match a deposit by hand with the remittances it pays, or with none to explain it by the
    /// reason alone (billing.payment.write; audited).
    Match {
        #[arg(long)]
        deposit: i64,
        /// A remittance the deposit pays (repeat for a bulk deposit; none: explained by the reason).
        #[arg(long = "remittance")]
        remittances: Vec<i64>,
        /// Why, for the audit trail (and why amounts may differ).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// End a deposit's match; it and its remittances are open again and left to people
    /// (billing.payment.write; audited).
    Unmatch {
        #[arg(long)]
        deposit: i64,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

/// `remitd reconcile`: where each deposit and each paid remittance stands.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Match what can be matched first (the daemon's login).
    #[arg(long = "match")]
    match_first: bool,
    /// Only rows dated on or after this day (YYYY-MM-DD).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Only rows dated on or before this day.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Only rows in this state.
    #[arg(long, value_enum)]
    status: Option<Status>,
    #[arg(long, value_enum, default_value = "text")]
    format: HistoryFormat,
}

pub async fn reconcile(pool: PgPool, args: ReconcileArgs) -> u8 {
    if args.match_first {
        match reconcile::match_all(&pool).await {
            Ok(m) => eprintln!("{m}"),
            Err(e) => return fail(e),
        }
    }
    if let Err(e) = crate::actors::require_read(&pool).await {
        return super::refused(e);
    }
    let today = chrono::Local::now().date_naive();
    let filter = Filter { from: args.from, to: args.to, status: args.status, open_only: false };
    let rows = match reconcile::report(&pool, today, filter).await {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    match args.format {
        HistoryFormat::Json => print_json(&rows),
        HistoryFormat::Csv => csv_out(reconciliation::HEADER, rows.iter().map(reconciliation::cells)),
        HistoryFormat::Pdf => pdf_out(|| reconciliation::pdf(&rows, &filter, today)),
        HistoryFormat::Text => {
            for r in &rows {
                let [status, side, direction, date, amount, trace, payer, deposit, remittances, detail] =
                    reconciliation::cells(r).map(|c| shown(&c).to_string());
                let date = if date.is_empty() { "no date".to_string() } else { date };
                println!("{status:<16} {side:<10} {direction:<6} {date:<10} {amount:>12} {trace:<22} {payer:<24} {deposit:<8} {remittances:<10} {detail}");
            }
            for (payer, ask) in reconciliation::asks(&rows) {
                println!("ask {}: {}", shown(&payer), shown(&ask));
            }
            0
        }
    }
}

/// `remitd deposits match`: a person's decision on the queue.
async fn match_by_hand(pool: PgPool, deposit: i64, remittances: Vec<i64>, reason: String, actor: ActorArg) -> u8 {
    match actor.act(&pool, async |who| reconcile::match_by_hand(&pool, who, deposit, &remittances, &reason).await).await {
        Ok(m) if m.remittance_ids.is_empty() => println!("deposit #{deposit} explained without a remittance"),
        Ok(m) => {
            let ids: Vec<String> = m.remittance_ids.iter().map(|id| format!("#{id}")).collect();
            let difference = m.difference.map(|d| format!(" (the deposit differs from them by {d:.2})")).unwrap_or_default();
            println!("deposit #{deposit} matched with remittance {}{difference}", ids.join(", "));
        }
        Err(e) => return refused(e),
    }
    0
}

/// `remitd deposits unmatch`.
async fn unmatch(pool: PgPool, deposit: i64, reason: String, actor: ActorArg) -> u8 {
    match actor.act(&pool, async |who| reconcile::unmatch(&pool, who, deposit, &reason).await).await {
        Ok(freed) => {
            let ids: Vec<String> = freed.iter().map(|id| format!("#{id}")).collect();
            println!("deposit #{deposit} unmatched; open again: remittance {}", if ids.is_empty() { "none".into() } else { ids.join(", ") });
            0
        }
        Err(e) => refused(e),
    }
}

/// `remitd deposits import`: each file read and stored once.
pub async fn import(pool: PgPool, files: &[PathBuf]) -> u8 {
    match crate::actors::posts_remittances(&pool).await {
        Ok(true) => {}
        Ok(false) => {
            eprintln!("refused: bank files are the daemon's to store, and this login is a person's: run remitd deposits import on the daemon's login");
            return EXIT_REFUSED;
        }
        Err(e) => return fail(e),
    }
    let mut code = 0;
    for path in files {
        let name = shown(&path.display().to_string()).to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{name}: cannot read: {e}");
                code = EXIT_REFUSED;
                continue;
            }
        };
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match store::import(&pool, &file_name, &bytes).await {
            Ok(Imported::Read { file_id, deposits }) => println!("{name}: read as bank file #{file_id}: {deposits} deposits and debits stored"),
            Ok(Imported::Duplicate { file_id }) => println!("{name}: the same bytes as bank file #{file_id}, read before: nothing stored"),
            Ok(Imported::Refused { file_id, error }) => {
                eprintln!("{name}: refused (bank file #{file_id}): {error}");
                code = EXIT_REFUSED;
            }
            Err(e) => return fail(e),
        }
    }
    match reconcile::match_all(&pool).await {
        Ok(m) => println!("{m}"),
        Err(e) => return fail(e),
    }
    code
}

pub fn run(url: &str, command: Command) -> u8 {
    match command {
        Command::Read { file, format } => read(&file, format),
        Command::Import { files } => super::with_db(url, |pool| async move { import(pool, &files).await }),
        Command::Match { deposit, remittances, reason, actor } => super::with_db(url, |pool| match_by_hand(pool, deposit, remittances, reason, actor)),
        Command::Unmatch { deposit, reason, actor } => super::with_db(url, |pool| unmatch(pool, deposit, reason, actor)),
    }
}

/// `remitd deposits read`: needs no database.
fn read(file: &std::path::Path, format: ListFormat) -> u8 {
    let name = shown(&file.display().to_string()).to_string();
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{name}: cannot read: {e}");
            return EXIT_REFUSED;
        }
    };
    let file = match BankFile::read(&bytes) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{name}: refused: {e}");
            return EXIT_REFUSED;
        }
    };
    let deposits = file.deposits();
    if format == ListFormat::Json {
        return print_json(&deposits);
    }
    println!("{name}: {}, {} deposits and debits", shown(&file.describe()), deposits.len());
    for d in &deposits {
        println!("{}", line(d));
    }
    0
}

/// One deposit on one line: direction, amount, date, payer, trace.
fn line(d: &Deposit) -> String {
    let side = if d.credit { "credit" } else { "debit " };
    let date = d.date.map(|d| d.to_string()).unwrap_or_else(|| "no date   ".into());
    let trn = match (&d.trn, &d.customer_reference) {
        (Some(t), _) => format!("TRN {} payer {}", shown(&t.trace), shown(&t.payer_id)),
        (None, Some(r)) => format!("reference {}", shown(r)),
        (None, None) => "no TRN".into(),
    };
    format!("  {side} {:>12.2} {date} {:<16} {trn}", d.amount, shown(&d.payer_name))
}
