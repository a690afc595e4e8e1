//! `remitd demo`: the whole product on one screen (see [`crate::demo`]).

use std::io::Write;

use super::EXIT_REFUSED;
use crate::demo::database::Choice;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Start a throwaway PostgreSQL cluster from the machine's binaries even
    /// when DATABASE_URL is set or a server answers on 127.0.0.1:5432.
    #[arg(long)]
    throwaway: bool,
    /// After the last step, keep the demo's data and the console up until Ctrl-C.
    #[arg(long)]
    stay: bool,
}

/// `database_url` is `Some` only when the user set it (flag or `DATABASE_URL`):
/// the built-in default names no server the demo should assume.
pub fn run(args: &Args, database_url: Option<String>) -> u8 {
    let choice = if args.throwaway { Choice::Throwaway } else { Choice::Search(database_url) };
    super::block_on(async move {
        match crate::demo::run(choice, args.stay).await {
            Ok(()) => {
                // As in the narration: a reader that went away is not a failure.
                let _ = writeln!(std::io::stdout(), "\nDone: the demo's database, folders and any cluster it started are gone.");
                0
            }
            Err(e) => {
                eprintln!("remitd demo: {e:#}");
                EXIT_REFUSED
            }
        }
    })
}
