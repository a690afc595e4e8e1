//! `remitd claims import` and `remitd claim show`.

use std::fs::File;
use std::path::PathBuf;

use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, ListFormat, EXIT_REFUSED};
use crate::claims::{import, view};
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum ClaimsCommand {
    /// Import (or update) claims from a CSV file; a bad row refuses the whole file.
    Import {
        /// CSV with header claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed
        file: PathBuf,
        /// Change the money of claims that have postings (each change a charge correction) or rename accounts.
        #[arg(long, requires = "reason")]
        amend: bool,
        /// Who amends (needs billing.payment.write).
        #[command(flatten)]
        actor: ActorArg,
        /// Why, recorded with every correction.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum ClaimCommand {
    /// A claim's balances, denials and ledger entries.
    Show {
        claim_id: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
}

pub async fn run_claims(pool: PgPool, command: ClaimsCommand) -> u8 {
    let ClaimsCommand::Import { file, amend, actor, reason } = command;
    let name = file.display().to_string();
    let claims = match File::open(&file).map_err(|e| e.to_string()).and_then(|f| import::read(f).map_err(|e| e.to_string())) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: refused: {e}");
            return EXIT_REFUSED;
        }
    };
    let written = match (amend, reason.as_deref()) {
        (true, Some(reason)) => match actor.resolve(&pool).await {
            Ok(actor) => import::write_amending(&pool, &claims, import::Amend { actor: &actor, reason }).await,
            Err(e) => Err(import::ImportError::Refused(e.to_string())),
        },
        _ => import::write(&pool, &claims).await,
    };
    match written {
        Ok(s) => {
            println!("{name}: imported {} claims, {} service lines", s.claims, s.lines);
            0
        }
        Err(import::ImportError::Db(e)) => fail(e),
        Err(e) => {
            eprintln!("{name}: refused: {e}");
            EXIT_REFUSED
        }
    }
}

pub async fn run_claim(pool: PgPool, command: ClaimCommand) -> u8 {
    let ClaimCommand::Show { claim_id, format } = command;
    let claim = match view::show(&pool, &claim_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            eprintln!("no claim with id {claim_id:?}");
            return EXIT_REFUSED;
        }
        Err(e) => return fail(e),
    };
    if format == ListFormat::Json {
        return print_json(&claim);
    }
    let payer = match &claim.payer_name {
        Some(name) => format!("{} {}", claim.payer, name),
        None => claim.payer.clone(),
    };
    println!("claim {} (account {}, payer {}, service {})", shown(&claim.claim_id), shown(&claim.account_number), shown(&payer), claim.service_date);
    println!("  status {}", claim.status);
    let rows = [
        ("charge", claim.charge),
        ("paid", claim.paid),
        ("contractual", claim.contractual),
        ("other adjustments", claim.other_adjustments),
        ("patient responsibility", claim.patient_responsibility),
        ("insurance written off", claim.insurance_written_off),
        ("patient written off", claim.patient_written_off),
        ("insurance balance", claim.insurance_balance),
        ("patient balance", claim.patient_balance),
    ];
    for (label, amount) in rows {
        println!("  {label:<24}{amount:>12.2}");
    }
    for d in &claim.denials {
        println!("  denial #{} {} {:.2} [{}]", d.id, d.status, d.amount, shown(&d.reason_codes.join(", ")));
    }
    println!("  ledger:");
    for e in &claim.entries {
        println!("    #{:<6} {} {:<40} {:>12.2} by {}", e.id, e.posted_at.format("%Y-%m-%d %H:%M"), shown(&e.describe()), e.amount, shown(&e.actor));
    }
    0
}
