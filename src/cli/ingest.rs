//! `remitd ingest`: support's path to (re-)feed whole files.

use std::path::PathBuf;

use sqlx::PgPool;

use super::{fail, EXIT_REFUSED};
use crate::ingest::{ingest_file, FileOutcome};
use crate::output::escape_text;
use crate::posting::load_categories;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// 835 files to post.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub async fn run(pool: PgPool, args: Args) -> u8 {
    // Posting is the daemon's: a person's login is told where files go
    // before anything is read (the database would refuse the posting).
    match crate::actors::posts_remittances(&pool).await {
        Ok(true) => {}
        Ok(false) => {
            eprintln!(
                "refused: posting remittances is the daemon's, and this login is a person's: put the files in a drop folder's inbox \
                 (the daemon posts them; refused files land in its error folder with the reason), or run remitd on the daemon's login"
            );
            return EXIT_REFUSED;
        }
        Err(e) => return fail(e),
    }
    let cats = match load_categories(&pool).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut code = 0;
    for path in &args.files {
        let name = escape_text(&path.display().to_string()).into_owned();
        match ingest_file(&pool, path, &cats).await {
            Ok(FileOutcome::Posted { transactions, already_posted, claims, .. }) => {
                let again = if already_posted > 0 { format!(", {already_posted} already posted before") } else { String::new() };
                println!(
                    "{name}: posted {transactions} transaction sets{again}: {} claims posted, {} unmatched, {} reversals, {} denials opened",
                    claims.posted, claims.unmatched, claims.reversals, claims.denials_opened
                );
                if claims.denials_reopened + claims.denials_flagged + claims.denials_resolved > 0 {
                    println!(
                        "{name}: {} written-off denials reopened by reversals, {} resolved by corrected claims, {} flagged for a person (remitd denial flagged)",
                        claims.denials_reopened, claims.denials_resolved, claims.denials_flagged
                    );
                }
            }
            Ok(FileOutcome::Test { transactions, .. }) => println!("{name}: test data (ISA15 = T), {transactions} transaction sets recorded, nothing posted"),
            Ok(FileOutcome::Duplicate { file_id, state }) => println!("{name}: already ingested as file #{file_id} ({state}); nothing posted again"),
            Ok(FileOutcome::Busy { file_id }) => {
                println!("{name}: file #{file_id} is being ingested by another process right now");
                code = EXIT_REFUSED;
            }
            Ok(FileOutcome::Interrupted { .. }) => {
                println!("{name}: interrupted; feed it again to finish");
                code = EXIT_REFUSED;
            }
            Ok(FileOutcome::NotTaken { reason }) => {
                eprintln!("{name}: refused: {reason}");
                code = EXIT_REFUSED;
            }
            Ok(FileOutcome::Partial { file_id, reason, .. }) => {
                eprintln!("{name}: file #{file_id} posted in part: {}", escape_text(&reason));
                code = EXIT_REFUSED;
            }
            Ok(FileOutcome::Refused { error, .. }) => {
                eprintln!("{name}: refused: {error}");
                code = EXIT_REFUSED;
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                code = EXIT_REFUSED;
            }
        }
    }
    code
}
