//! `remitd pr-correct`: record what a patient truly owes on a claim, more
//! or less than the payer said (after an undo, or an EOB the payer got
//! wrong).

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{print_json, refused, ListFormat};
use crate::writeoff::responsibility::{self, Correction};

#[derive(Debug, clap::Args)]
pub struct Args {
    claim_id: String,
    /// Service line number (as imported); the claim as a whole when absent.
    #[arg(long)]
    line: Option<i32>,
    /// What the patient owes more (e.g. 20.00) or less (e.g. -20.00).
    #[arg(long, allow_negative_numbers = true)]
    amount: Decimal,
    /// PR reason code: 1 deductible, 2 coinsurance, 3 copay.
    #[arg(long)]
    carc: Option<String>,
    #[arg(long)]
    reason: String,
    #[arg(long, value_enum, default_value = "text")]
    format: ListFormat,
    #[command(flatten)]
    actor: ActorArg,
}

pub async fn run(pool: PgPool, a: Args) -> u8 {
    let done = a
        .actor
        .act(&pool, async |who| {
            let c = Correction { claim_id: &a.claim_id, line: a.line, amount: a.amount, carc: a.carc.as_deref(), reason: &a.reason, actor: who };
            responsibility::correct(&pool, &c).await
        })
        .await;
    match done {
        Err(e) => refused(e),
        Ok(c) if a.format == ListFormat::Json => print_json(&c),
        Ok(c) => {
            println!("claim {}: patient responsibility corrected by {:.2} (correction #{})", a.claim_id, a.amount, c.correction_id);
            println!("  patient balance    {:>10.2} -> {:>10.2}", c.patient_balance_before, c.patient_balance_after);
            println!("  insurance balance  {:>10.2} -> {:>10.2}", c.insurance_balance_before, c.insurance_balance_after);
            if c.writeoffs_reversed > 0 {
                println!("  {} write-off(s) given back: the balance they wrote off changed", c.writeoffs_reversed);
            }
            0
        }
    }
}
