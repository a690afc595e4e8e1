//! `remitd carc list|set`: which CARCs post as contractual and which open a
//! denial. The lists change several times a year, so they are data.

use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, refused, ListFormat};
use crate::posting::categories::{self, Category};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The codes and their categories.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Put a group and reason code in a category (applies to remittances posted from now on; needs remitd.admin).
    Set {
        /// CO, PI or OA (PR always moves to patient responsibility).
        #[arg(value_parser = ["CO", "PI", "OA"])]
        group: String,
        /// The claim adjustment reason code, e.g. 45.
        reason: String,
        #[arg(value_enum)]
        category: Category,
        /// Who changes it (needs remitd.admin).
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { format } => {
            let rows = match categories::list(&pool).await {
                Ok(rows) => rows,
                Err(e) => return fail(e),
            };
            if format == ListFormat::Json {
                return print_json(&rows);
            }
            for r in &rows {
                println!("{}-{} {}", r.group, r.reason, r.category);
            }
            0
        }
        Command::Set { group, reason, category, actor } => {
            let shown = match category {
                Category::Contractual => "a contractual adjustment",
                Category::Denial => "a denial",
                Category::Other => "an other adjustment",
            };
            actor
                .act(&pool, async |who| categories::set(&pool, who, &group, &reason, category).await)
                .await
                .map(|()| println!("{group}-{reason} now posts as {shown} (remittances posted from now on)"))
                .map_or_else(refused, |()| 0)
        }
    }
}
