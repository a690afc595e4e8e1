//! `remitd unmatched list|show|refeed`.

use sqlx::PgPool;

use super::{fail, print_json, ListFormat, EXIT_REFUSED};
use crate::output::shown;
use crate::posting::load_categories;
use crate::posting::unmatched::{self, Refeed};

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
    /// Post queued items whose claim can now be matched.
    Refeed {
        /// Item to re-feed.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every open item.
        #[arg(long)]
        all: bool,
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
        Command::Refeed { id, all } => {
            let cats = match load_categories(&pool).await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let ids = match (id, all) {
                (Some(id), _) => vec![id],
                (None, _) => match unmatched::open_ids(&pool).await {
                    Ok(ids) => ids,
                    Err(e) => return fail(e),
                },
            };
            let (mut posted, mut waiting) = (0, 0);
            for id in &ids {
                match unmatched::refeed(&pool, *id, &cats).await {
                    Ok(Refeed::Posted(o)) => {
                        posted += 1;
                        println!("#{id}: posted ({} reversals, {} denials opened)", o.reversals, o.denials_opened);
                    }
                    Ok(Refeed::StillUnmatched { reason, needed }) => {
                        waiting += 1;
                        println!("#{id}: still unmatched: {reason}; {needed}");
                    }
                    Ok(Refeed::NotOpen { state }) => println!("#{id}: nothing to do, item is {state}"),
                    Ok(Refeed::NotFound) => {
                        waiting += 1;
                        eprintln!("#{id}: no such item");
                    }
                    Err(e) => {
                        waiting += 1;
                        eprintln!("#{id}: {e}");
                    }
                }
            }
            println!("{posted} of {} re-fed", ids.len());
            if waiting > 0 && id.is_some() {
                EXIT_REFUSED
            } else {
                0
            }
        }
    }
}
