//! `remitd deposits read`: a bank file (ACH or BAI2) read and checked, its
//! deposits listed with the trace that ties each to its remittance.

use std::path::PathBuf;

use super::{print_json, ListFormat, EXIT_REFUSED};
use crate::bank::{BankFile, Deposit};
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Read and check a bank file (ACH or BAI2); list its deposits and their traces.
    Read {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
}

pub fn run(command: &Command) -> u8 {
    let Command::Read { file, format } = command;
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
    if *format == ListFormat::Json {
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
