//! `remitd codes list|import`: the descriptions of CARC, RARC, group and
//! PLB codes a readable remittance's glossary shows.

use std::fs::File;
use std::path::PathBuf;

use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, refused, ListFormat};
use crate::documents::codes::{self, List};
use crate::output::shown;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The codes and their descriptions.
    List {
        /// Only this list.
        #[arg(long, value_enum)]
        list: Option<List>,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Load a published code list's CSV (columns Code and Description; needs remitd.admin).
    Import {
        file: PathBuf,
        /// Which list the file is.
        #[arg(long, value_enum)]
        list: List,
        #[command(flatten)]
        by: ActorArg,
    },
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { list, format } => match codes::list(&pool, list).await {
            Err(e) => fail(e),
            Ok(all) if format == ListFormat::Json => print_json(&all),
            Ok(all) => {
                for c in all {
                    println!("{:<5} {:<6} {}", c.list.as_str(), shown(&c.code), shown(&c.description));
                }
                0
            }
        },
        Command::Import { file, list, by } => {
            let read =
                File::open(&file).map_err(|e| crate::ledger::ActionError::Invalid(format!("{}: {e}", file.display()))).and_then(|f| codes::read(list, f));
            let codes = match read {
                Ok(c) => c,
                Err(e) => return refused(e),
            };
            let done = by.act(&pool, async |by| codes::import(&pool, by, &codes).await).await;
            done.map(|changed| println!("{}: {} codes read, {changed} new or changed", file.display(), codes.len())).map_or_else(refused, |()| 0)
        }
    }
}
