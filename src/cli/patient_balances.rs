//! `remitd patient-balance writeoff`: the mass write-off of patient
//! balances, e.g. for payers that forbid balance billing.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::writeoffs::{ActorArg, HistoryFormat};
use super::{csv_out, print_json, refused, ClaimsOf, ServiceDays};
use crate::writeoff::patient_balances::{self, Filter, Outcome};

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
            HistoryFormat::Csv => csv(&out),
            HistoryFormat::Text => {
                print!("{}", patient_balances::text(&out));
                0
            }
        },
    }
}

fn csv(out: &Outcome) -> u8 {
    let receipt = out.receipt.map(|r| r.to_string()).unwrap_or_default();
    csv_out(
        ["claim_id", "account", "payer", "payer_name", "service_date", "balance", "outcome", "writeoff_id", "receipt", "reason", "why"],
        out.rows.iter().map(|r| {
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
        }),
    )
}
