//! `remitd patient-balance writeoff`: the mass write-off of patient
//! balances, e.g. for payers that forbid balance billing.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::writeoffs::{ActorArg, HistoryFormat};
use super::{csv_out, pdf_out, print_json, refused, ClaimsOf, ServiceDays};
use crate::documents::pdf::Column;
use crate::documents::reports::Report;
use crate::writeoff::patient_balances::{self, Filter, Outcome, RowOutcome};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write off what patients owe after insurance on every claim the filter selects (one receipt, one reason).
    Writeoff {
        /// Name the payer, an account or a claim.
        #[command(flatten)]
        of: ClaimsOf,
        #[command(flatten)]
        service: ServiceDays,
        #[arg(long)]
        min_balance: Option<Decimal>,
        #[arg(long)]
        max_balance: Option<Decimal>,
        /// A reason of `remitd reason list`, e.g. no-balance-billing.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        note: Option<String>,
        /// List every row and its totals; write nothing.
        #[arg(long)]
        preview: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    let Command::Writeoff { of, service, min_balance, max_balance, reason, note, preview, format, actor } = command;
    let filter = Filter {
        payer: of.payer,
        account: of.account,
        claim: of.claim,
        service_from: service.service_from,
        service_to: service.service_to,
        min_balance,
        max_balance,
    };
    let out = actor.act(&pool, async |who| patient_balances::write_off(&pool, &filter, &reason, note.as_deref(), who, preview).await).await;
    match out {
        Err(e) => refused(e),
        Ok(out) => match format {
            HistoryFormat::Json => print_json(&out),
            HistoryFormat::Csv => csv_out(HEADER, cells(&out)),
            HistoryFormat::Pdf => pdf_out(|| pdf(&out)),
            HistoryFormat::Text => {
                print!("{}", patient_balances::text(&out));
                0
            }
        },
    }
}

/// The columns of the CSV and the PDF.
const HEADER: [&str; 11] = ["claim_id", "account", "payer", "payer_name", "service_date", "balance", "outcome", "writeoff_id", "receipt", "reason", "why"];

/// Each row as the CSV and the PDF show it.
fn cells(out: &Outcome) -> impl Iterator<Item = [String; 11]> + '_ {
    let receipt = out.receipt.map(|r| r.to_string()).unwrap_or_default();
    out.rows.iter().map(move |r| {
        [
            r.claim_id.clone(),
            r.account_number.clone(),
            r.payer.clone(),
            r.payer_name.clone().unwrap_or_default(),
            r.service_date.to_string(),
            format!("{:.2}", r.balance),
            r.outcome.as_str().to_string(),
            r.writeoff_id.map(|w| w.to_string()).unwrap_or_default(),
            receipt.clone(),
            out.reason.clone(),
            r.why.clone().unwrap_or_default(),
        ]
    })
}

/// Source document 001's mass write-off report, printable.
fn pdf(out: &Outcome) -> Vec<u8> {
    let title = match out.receipt {
        Some(r) => format!("Patient balance write-off, receipt {r}"),
        None => "Patient balance write-off (preview: nothing written)".to_string(),
    };
    let weights = [1.3, 1.0, 1.1, 1.6, 1.1, 1.0, 1.3, 0.8, 0.8, 1.4, 2.0];
    let columns = HEADER
        .iter()
        .zip(weights)
        .map(|(h, w)| if matches!(*h, "balance" | "writeoff_id" | "receipt") { Column::right(h, w) } else { Column::left(h, w) })
        .collect();
    Report {
        title,
        facts: vec![("Reason", out.reason.clone())],
        columns,
        rows: cells(out).map(|c| c.to_vec()).collect(),
        totals: vec![
            ("Written off".into(), format!("{:.2} on {} claims", out.written_off, out.count(RowOutcome::WrittenOff))),
            ("Waiting for approval".into(), format!("{:.2} on {} claims", out.pending_approval, out.count(RowOutcome::PendingApproval))),
            ("Skipped".into(), format!("{} claims", out.count(RowOutcome::Skipped))),
        ],
    }
    .pdf()
}
