//! `remitd remittance list|show`: posted remittances, and one as people
//! read it (text, JSON or PDF), from the file the daemon kept.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use sqlx::PgPool;

use super::{fail, print_json, ListFormat};
use crate::documents::remittance::{self, list, Readable};
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Posted remittances, newest first.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// One remittance as the payer sent it: claims, service lines, adjustments, totals, glossary.
    Show {
        /// Its number, as `remittance list` shows it.
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: DocFormat,
        /// Write to this file instead of standard output (a PDF needs one on a terminal).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// How a document is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DocFormat {
    Text,
    Json,
    Pdf,
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { format } => match list(&pool).await {
            Err(e) => fail(e),
            Ok(rows) if format == ListFormat::Json => print_json(&rows),
            Ok(rows) => {
                println!("{:>6}  {:<20} {:<28} {:>12}  {:<10}  kept", "id", "trace", "payer", "amount", "date");
                for r in rows {
                    let date = r.payment_date.map(|d| d.to_string()).unwrap_or_default();
                    println!(
                        "{:>6}  {:<20} {:<28} {:>12.2}  {:<10}  {}",
                        r.id,
                        shown(&r.trace_number),
                        shown(&r.payer_name),
                        r.payment_amount,
                        date,
                        if r.kept { "yes" } else { "no" }
                    );
                }
                0
            }
        },
        Command::Show { id, format, output } => match remittance::load(&pool, id).await {
            Err(e) => {
                eprintln!("refused: {e}");
                super::EXIT_REFUSED
            }
            Ok(r) => write(&r, format, output),
        },
    }
}

fn write(r: &Readable, format: DocFormat, output: Option<PathBuf>) -> u8 {
    let bytes = match format {
        DocFormat::Pdf if output.is_none() && std::io::stdout().is_terminal() => {
            eprintln!("remitd: a PDF is not for a terminal: give --output FILE or redirect standard output");
            return super::EXIT_USAGE;
        }
        DocFormat::Pdf => remittance::pdf(r),
        DocFormat::Json => match serde_json::to_vec_pretty(r) {
            Ok(mut v) => {
                v.push(b'\n');
                v
            }
            Err(e) => return fail(e),
        },
        DocFormat::Text => text(r).into_bytes(),
    };
    let written = match output {
        Some(path) => std::fs::write(&path, bytes).map(|()| eprintln!("wrote {}", path.display())),
        None => std::io::stdout().lock().write_all(&bytes),
    };
    written.map_or_else(fail, |()| 0)
}

/// The remittance as plain text, for a terminal.
fn text(r: &Readable) -> String {
    let mut out = format!(
        "remittance {} from {} to {}\npayment {:.2} {} ({}){}\n",
        shown(&r.trace),
        shown(&r.payer),
        shown(&r.payee),
        r.amount,
        if r.credit_debit == "D" { "debit" } else { "credit" },
        shown(&r.method),
        r.date.map(|d| format!(" on {d}")).unwrap_or_default()
    );
    for c in &r.claims {
        out += &format!(
            "\nclaim {} {} [{}]: charge {:.2} paid {:.2} patient {:.2}{}{}\n",
            shown(&c.claim_id),
            shown(&c.patient),
            shown(&c.status),
            c.charge,
            c.paid,
            c.patient_responsibility,
            if c.adjustments.is_empty() { String::new() } else { format!(" adjustments {}", c.adjustments.join("; ")) },
            if c.remarks.is_empty() { String::new() } else { format!(" remarks {}", shown(&c.remarks.join(" "))) }
        );
        for s in &c.lines {
            out += &format!(
                "  {} {:<14} billed {:>9.2} allowed {:>9} ded {:>7.2} coins {:>7.2} copay {:>7.2} paid {:>9.2} {}{}\n",
                s.date.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                shown(&s.procedure),
                s.billed,
                s.allowed.map(|a| format!("{a:.2}")).unwrap_or_default(),
                s.deductible,
                s.coinsurance,
                s.copay,
                s.paid,
                s.other.join("; "),
                if s.remarks.is_empty() { String::new() } else { format!(" remarks {}", s.remarks.join(" ")) }
            );
        }
    }
    for p in &r.provider_adjustments {
        out += &format!("\nprovider adjustment {} {} {:.2}\n", shown(&p.reason), shown(p.reference.as_deref().unwrap_or("")), p.amount);
    }
    let t = &r.totals;
    out += &format!(
        "\ntotals: charged {:.2}, paid on claims {:.2}, provider adjustments {:.2}, payment {:.2} ({})\n\nglossary:\n",
        t.charge,
        t.claims_paid,
        t.provider_adjustments,
        t.payment,
        if t.balances { "balances" } else { "DOES NOT BALANCE" }
    );
    for g in &r.glossary {
        out += &format!("  {} {}: {}\n", g.list.as_str(), shown(&g.code), shown(&g.description));
    }
    out
}
