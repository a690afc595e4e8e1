//! `remitd unmatched list|show|refeed`.

use std::time::Duration;

use sqlx::PgPool;

use super::{fail, print_json, ListFormat, EXIT_REFUSED};
use crate::output::shown;
use crate::posting::unmatched::{self, Asked};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Open items, oldest first.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        /// Include items already re-fed.
        #[arg(long)]
        all: bool,
    },
    /// One item, with the claim as the remittance had it.
    Show {
        id: i64,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Post queued items whose claim can now be matched. On a person's
    /// login this asks the daemon, which posts, and waits for its answer.
    Refeed {
        /// Item to re-feed.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every open item.
        #[arg(long)]
        all: bool,
        /// Post the item against this claim (ours), whatever claim id the payer sent: a match by hand.
        #[arg(long, requires = "id")]
        claim: Option<String>,
        /// Seconds to wait for the daemon's answer to a person's request.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        wait: u64,
    },
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { format, all } => match unmatched::list(&pool, all).await {
            Ok(items) if format == ListFormat::Json => print_json(&items),
            Ok(items) => {
                for i in &items {
                    println!(
                        "#{:<6} {} {:<20} trace {} ({}): {}",
                        i.id,
                        i.created_at.format("%Y-%m-%d"),
                        shown(&i.claim_ref),
                        shown(&i.trace_number),
                        i.state,
                        shown(&i.reason)
                    );
                }
                println!("{} item{}", items.len(), if items.len() == 1 { "" } else { "s" });
                0
            }
            Err(e) => fail(e),
        },
        Command::Show { id, format } => match unmatched::show(&pool, id).await {
            Ok(Some(item)) if format == ListFormat::Json => print_json(&item),
            Ok(Some(i)) => {
                println!("unmatched #{} ({})", i.id, i.state);
                println!("  claim {} from {} (trace {})", shown(&i.claim_ref), shown(&i.payer), shown(&i.trace_number));
                let get = |k: &str| i.claim.get(k).and_then(|v| v.as_str()).unwrap_or("-").to_string();
                println!("  status {} charge {} paid {}", shown(&get("status_code")), shown(&get("charge")), shown(&get("paid")));
                println!("  reason: {}", shown(&i.reason));
                println!("  needed: {}", shown(&i.needed));
                0
            }
            Ok(None) => {
                eprintln!("no unmatched item #{id}");
                EXIT_REFUSED
            }
            Err(e) => fail(e),
        },
        Command::Refeed { id, all: _, claim, wait } => refeed(&pool, id, claim.as_deref(), wait).await,
    }
}

/// Re-feeds as the daemon's or the owner's login, or asks the daemon to.
async fn refeed(pool: &PgPool, id: Option<i64>, against: Option<&str>, wait: u64) -> u8 {
    let tried = match unmatched::refeed_or_ask(pool, id, against, Duration::from_secs(wait)).await {
        Ok(Asked::Done { request, tried }) => {
            if let Some(r) = request {
                println!("refeed request #{r}, answered by the daemon (it posts remittances):");
            }
            tried
        }
        Ok(Asked::Queued(r)) => {
            println!("refeed request #{r}: no answer from the daemon within {wait} s; it stays queued and the daemon answers it when it runs");
            return 0;
        }
        Err(e) => return super::refused(e),
    };
    for t in &tried {
        println!("#{}: {}", t.id, shown(&t.message));
    }
    println!("{} of {} re-fed", tried.iter().filter(|t| t.posted).count(), tried.len());
    if id.is_some() && tried.iter().any(|t| t.waiting) {
        EXIT_REFUSED
    } else {
        0
    }
}
