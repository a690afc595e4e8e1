//! `remitd parse`: validate files and show what they hold.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use crate::model::{Adjustment, Party, Transaction};
use crate::parse::{FileDocument, Summary};
use crate::x12::{ParseError, Warning};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per file: interchanges, transactions, claims, total paid.
    Summary,
    /// Readable listing of payments, claims and lines (no patient names).
    Text,
    /// The typed model, one JSON document per file (see README).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "summary")]
    format: Format,
    /// 835 files to read.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: &Args) -> u8 {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut refused = 0usize;
    for path in &args.files {
        let name = path.display().to_string();
        let result = match File::open(path) {
            Ok(f) => show(&name, f, args.format, &mut out),
            Err(e) => Err(Refusal::Io(e.to_string())),
        };
        match result {
            Ok(()) => {}
            Err(Refusal::Parse(e)) => {
                refused += 1;
                eprintln!("{name}: refused: {e}");
            }
            Err(Refusal::Io(e)) => {
                refused += 1;
                eprintln!("{name}: cannot read: {e}");
            }
        }
    }
    if let Err(e) = out.flush() {
        eprintln!("cannot write output: {e}");
        return super::EXIT_USAGE;
    }
    if refused > 0 {
        eprintln!("{refused} of {} files refused", args.files.len());
        return super::EXIT_REFUSED;
    }
    0
}

enum Refusal {
    Parse(ParseError),
    Io(String),
}

impl From<ParseError> for Refusal {
    fn from(e: ParseError) -> Self {
        Refusal::Parse(e)
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Self {
        Refusal::Io(e.to_string())
    }
}

fn report_warnings(name: &str, warnings: &[Warning], dropped: u64) {
    for w in warnings {
        eprintln!("{name}: warning: {w}");
    }
    if dropped > 0 {
        eprintln!("{name}: {dropped} more warnings not shown");
    }
}

fn show(name: &str, file: File, format: Format, out: &mut impl Write) -> Result<(), Refusal> {
    // The lexer reads in large chunks of its own; no BufReader needed.
    let src = file;
    match format {
        Format::Summary => {
            let s = Summary::read(src)?;
            report_warnings(name, &s.warnings, s.warnings_dropped);
            writeln!(
                out,
                "{name}: valid, {} interchange{}, {} transaction{}, {} claim{}, paid {}",
                s.interchanges,
                plural(s.interchanges),
                s.transactions,
                plural(s.transactions),
                s.claims,
                plural(s.claims),
                s.paid
            )?;
        }
        Format::Json => {
            let doc = FileDocument::read(name, src)?;
            report_warnings(name, &doc.warnings, doc.warnings_dropped);
            serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
            writeln!(out)?;
        }
        Format::Text => {
            let doc = FileDocument::read(name, src)?;
            report_warnings(name, &doc.warnings, doc.warnings_dropped);
            write_text(&doc, out)?;
        }
    }
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn party(p: &Party) -> String {
    match (&p.id_qualifier, &p.id) {
        (Some(q), Some(id)) => format!("{} ({q} {id})", p.name),
        _ => p.name.to_string(),
    }
}

fn adjustments(out: &mut impl Write, indent: &str, adjustments: &[Adjustment]) -> io::Result<()> {
    for a in adjustments {
        writeln!(out, "{indent}{}-{} {}", a.group, a.reason, a.amount)?;
    }
    Ok(())
}

/// The text listing. Patient names and member ids are left out on purpose:
/// this output ends up in tickets and chat.
fn write_text(doc: &FileDocument, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", doc.file)?;
    for ic in &doc.interchanges {
        let h = &ic.header;
        let usage = match h.usage {
            crate::model::Usage::Production => "production",
            crate::model::Usage::Test => "test data",
        };
        writeln!(
            out,
            "  interchange {} ({usage}) from {} {} to {} {}, {}",
            h.control_number, h.sender_qualifier, h.sender_id, h.receiver_qualifier, h.receiver_id, h.date
        )?;
        for g in &ic.groups {
            writeln!(out, "    group {} {} {}", g.header.control_number, g.header.functional_id, g.header.version)?;
            for tx in &g.transactions {
                write_transaction(out, tx)?;
            }
        }
    }
    Ok(())
}

fn write_transaction(out: &mut impl Write, tx: &Transaction) -> io::Result<()> {
    let p = &tx.payment;
    let date = p.date.map(|d| format!(" on {d}")).unwrap_or_default();
    writeln!(out, "      transaction {}: {} {} {}{date}, trace {}", tx.control_number, p.handling_code, p.amount, p.method, tx.trace_number)?;
    writeln!(out, "        payer {}; payee {}", party(&tx.payer), party(&tx.payee))?;
    for c in &tx.claims {
        let pr = c.patient_responsibility.map(|a| format!(" patient {a}")).unwrap_or_default();
        writeln!(out, "        claim {} status {}: charge {} paid {}{pr}", c.patient_control_number, c.status_code, c.charge, c.paid)?;
        adjustments(out, "          ", &c.adjustments)?;
        for s in &c.services {
            let mods = if s.modifiers.is_empty() { String::new() } else { format!(":{}", s.modifiers.join(":")) };
            let lcn = s.line_control_number.as_ref().map(|l| format!(" (line {l})")).unwrap_or_default();
            writeln!(out, "          line {} {}{mods} charge {} paid {}{lcn}", s.procedure_qualifier, s.procedure, s.charge, s.paid)?;
            adjustments(out, "            ", &s.adjustments)?;
        }
    }
    for a in &tx.provider_adjustments {
        let r = a.reference.as_ref().map(|r| format!(" {r}")).unwrap_or_default();
        writeln!(out, "        provider adjustment {}{r} {}", a.reason, a.amount)?;
    }
    Ok(())
}
