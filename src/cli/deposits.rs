//! `remitd deposits read`: a bank file (ACH or BAI2) read and checked, its
//! deposits listed with the trace that ties each to its remittance.

use std::path::PathBuf;

use sqlx::PgPool;

use super::{fail, print_json, ListFormat, EXIT_REFUSED};
use crate::bank::reconcile::{self, Status};
use crate::bank::store::{self, Imported};
use crate::bank::{BankFile, Deposit};
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
}

/// `remitd reconcile`: where each deposit and each paid remittance stands.
#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Match what can be matched first (the daemon's login).
    #[arg(long = "match")]
    match_first: bool,
    /// Only rows in this state.
    #[arg(long, value_enum)]
    status: Option<Status>,
    #[arg(long, value_enum, default_value = "text")]
    format: ListFormat,
}

pub async fn reconcile(pool: PgPool, args: ReconcileArgs) -> u8 {
    if args.match_first {
        match reconcile::match_all(&pool).await {
            Ok(n) => eprintln!("{n} deposits matched with their remittances"),
            Err(e) => return fail(e),
        }
    }
    if let Err(e) = crate::actors::require_read(&pool).await {
        return super::refused(e);
    }
    let today = chrono::Local::now().date_naive();
    let rows = match reconcile::report(&pool, today).await {
        Ok(rows) => rows.into_iter().filter(|r| args.status.is_none_or(|s| s == r.status)).collect::<Vec<_>>(),
        Err(e) => return fail(e),
    };
    if args.format == ListFormat::Json {
        return print_json(&rows);
    }
    for r in &rows {
        let status = serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let date = r.date.map(|d| d.to_string()).unwrap_or_else(|| "no date   ".into());
        let ids = match (r.deposit_id, r.remittance_id) {
            (Some(d), Some(m)) => format!("deposit #{d} = remittance #{m}"),
            (Some(d), None) => format!("deposit #{d}"),
            (None, Some(m)) => format!("remittance #{m}"),
            (None, None) => String::new(),
        };
        println!("{status:<12} {date} {:>12.2} {:<20} {:<24} {ids}", r.amount, shown(r.trace.as_deref().unwrap_or("-")), shown(&r.payer));
    }
    0
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
        Ok(n) => println!("{n} deposits matched with their remittances"),
        Err(e) => return fail(e),
    }
    code
}

pub fn run(url: &str, command: Command) -> u8 {
    match command {
        Command::Read { file, format } => read(&file, format),
        Command::Import { files } => super::with_db(url, |pool| async move { import(pool, &files).await }),
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
