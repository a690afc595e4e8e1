//! `remitd generate`: a synthetic, balanced 835 for benchmarks and load tests.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use crate::claims::export;
use crate::generate::{write_synthetic, Synthetic};
use crate::parse::Reader;

/// Reads the written 835 back, streaming, and writes the claims it expects.
fn write_claims(x12: &PathBuf, csv: &PathBuf) -> io::Result<()> {
    let mut transactions = Vec::new();
    for parsed in Reader::new(File::open(x12)?) {
        let parsed = parsed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        transactions.push(parsed.transaction);
    }
    export::write_csv(File::create(csv)?, &transactions)
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of transaction sets (ST ... SE) in the file.
    #[arg(long, default_value_t = 10)]
    transactions: usize,
    /// Claims in each transaction set.
    #[arg(long, default_value_t = 100)]
    claims_per_transaction: usize,
    /// Seed: the same arguments always give the same file.
    #[arg(long, default_value_t = 835)]
    seed: u64,
    /// Where to write; standard output when absent.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Also write the claims CSV the file's claims match (needs --output).
    #[arg(long, requires = "output")]
    claims_csv: Option<PathBuf>,
}

pub fn run(args: &Args) -> u8 {
    let spec = Synthetic { transactions: args.transactions, claims_per_transaction: args.claims_per_transaction, seed: args.seed };
    let result = match &args.output {
        Some(path) => File::create(path).and_then(|f| write_synthetic(f, spec)),
        None => write_synthetic(io::stdout().lock(), spec),
    };
    let result = result.and_then(|()| match (&args.claims_csv, &args.output) {
        (Some(csv), Some(x12)) => write_claims(x12, csv),
        _ => Ok(()),
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write the synthetic file: {e}");
            super::EXIT_USAGE
        }
    }
}
