//! `remitd conflicts list|show|resolve`: payments held because their payer
//! and trace number were posted before with other content.

use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, refused, ListFormat, EXIT_REFUSED};
use crate::output::shown;
use crate::posting::conflicts::{self, Conflict};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Open conflicts, oldest first.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        /// Include resolved conflicts.
        #[arg(long)]
        all: bool,
    },
    /// One conflict: the payment held and the one posted before.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        /// Also print the held transaction set as parsed (JSON; it names patients). Of a set of more
        /// than 1,000 claims only the header is kept: its claims are in the file kept in `error/`.
        #[arg(long)]
        transaction: bool,
    },
    /// Close a conflict once both payments are looked at (billing.payment.write).
    Resolve {
        id: i64,
        /// What was decided, for the audit trail.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

fn line(c: &Conflict) -> String {
    let state = match (&c.resolved_by, c.resolved_at) {
        (Some(by), Some(at)) => format!("resolved by {} {}", shown(by), at.format("%Y-%m-%d")),
        _ => "open".to_string(),
    };
    format!(
        "#{:<5} {} trace {} payer {}: held {} (set {}, file #{} {}), posted before {} (remittance #{}); {state}",
        c.id,
        c.created_at.format("%Y-%m-%d"),
        shown(&c.trace_number),
        shown(&c.payer_key),
        c.payment_amount,
        shown(&c.transaction_control),
        c.file_id,
        shown(&c.file_name),
        c.posted_amount,
        c.remittance_id,
    )
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { format, all } => match conflicts::list(&pool, all).await {
            Ok(items) if format == ListFormat::Json => print_json(&items),
            Ok(items) => {
                items.iter().for_each(|c| println!("{}", line(c)));
                println!("{} conflict{}", items.len(), if items.len() == 1 { "" } else { "s" });
                0
            }
            Err(e) => fail(e),
        },
        Command::Show { id, format, transaction } => {
            let conflict = match conflicts::show(&pool, id).await {
                Ok(Some(c)) => c,
                Ok(None) => {
                    eprintln!("no conflict #{id}");
                    return EXIT_REFUSED;
                }
                Err(e) => return fail(e),
            };
            let held = match transaction {
                true => match conflicts::held_transaction(&pool, id).await {
                    Ok(t) => t,
                    Err(e) => return fail(e),
                },
                false => None,
            };
            if format == ListFormat::Json {
                return print_json(&serde_json::json!({ "conflict": conflict, "transaction": held }));
            }
            println!("{}", line(&conflict));
            if let Some(r) = &conflict.resolution {
                println!("  resolution: {}", shown(r));
            }
            println!("  the payment posted before: remitd audit and the remittance #{} stay as they are", conflict.remittance_id);
            if let Some(t) = held {
                println!("{}", serde_json::to_string_pretty(&t).unwrap_or_default());
            }
            0
        }
        Command::Resolve { id, reason, actor } => match actor.act(&pool, async |who| conflicts::resolve(&pool, id, who, &reason).await).await {
            Ok(()) => {
                println!("conflict #{id} resolved");
                0
            }
            Err(e) => refused(e),
        },
    }
}
