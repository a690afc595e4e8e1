//! The `remitd` command line: argument definitions and dispatch. Each
//! subcommand lives in its own module and returns the process exit code.

mod actors;
mod carc;
mod claims;
mod codes;
mod conflicts;
mod demo;
mod deposits;
mod generate;
mod history;
mod ingest;
mod parse;
mod patient_balances;
mod reasons;
mod remittances;
mod responsibility;
mod sweep;
mod unmatched;
mod writeoffs;

use std::future::Future;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use sqlx::PgPool;

/// Exit code when some input was refused or an item could not be done.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code for a usage or environment error (the same code clap uses).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "remitd", version, about = "Ingests X12 835 remittance advice and reconciles it against claims")]
pub struct Cli {
    /// PostgreSQL URL; the database is created by `remitd migrate` if missing.
    #[arg(long, global = true, env = "DATABASE_URL", default_value = crate::db::DEFAULT_URL, hide_env_values = true)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: watch the drop folders and post what arrives.
    Run {
        /// TOML configuration (see systemd/remitd.toml); REMITD_* variables override it.
        #[arg(long, default_value = "/etc/remitd/remitd.toml")]
        config: std::path::PathBuf,
    },
    /// Parse and validate 835 files; exit 0 only when every file is valid.
    Parse(parse::Args),
    /// Write a synthetic, balanced 835 file (for benchmarks and load tests).
    Generate(generate::Args),
    /// Create the database if needed and apply the schema; with --daemon, set up its roles (superuser).
    Migrate {
        /// The daemon's login: creates the owner, staff and daemon roles and
        /// hands the database to the owner (see systemd/README.md). Later runs
        /// keep the roles up to date on their own.
        #[arg(long)]
        daemon: Option<String>,
    },
    /// Import claims from the practice-management system.
    Claims {
        #[command(subcommand)]
        command: claims::ClaimsCommand,
    },
    /// Show one claim with its balances, denials and ledger.
    Claim {
        #[command(subcommand)]
        command: claims::ClaimCommand,
    },
    /// Post 835 files (idempotent: re-feeding a file posts nothing twice).
    Ingest(ingest::Args),
    /// People who act on denials and write-offs, and their scopes (an admin's work).
    Actor {
        #[command(subcommand)]
        command: actors::ActorCommand,
    },
    /// Name the first admin of a database (its owner only, once).
    Admin {
        #[command(subcommand)]
        command: actors::AdminCommand,
    },
    /// Denials: list, appeal, write off (with a reason), approve or reject.
    Denial {
        #[command(subcommand)]
        command: writeoffs::DenialCommand,
    },
    /// Write-offs: undo one; the approval policy.
    Writeoff {
        #[command(subcommand)]
        command: writeoffs::WriteoffCommand,
    },
    /// The write-off history, with receipts and totals by reason.
    Writeoffs {
        #[command(subcommand)]
        command: history::WriteoffsCommand,
    },
    /// The audit trail: who did what, when, why, for how much.
    Audit(history::AuditArgs),
    /// Write off patient responsibility on a service line (net-zero move to other adjustments).
    PrWriteoff(writeoffs::PrArgs),
    /// Correct what the patient owes on a claim or line, more or less than the payer said (after an undo).
    PrCorrect(responsibility::Args),
    /// Which claim adjustment reason codes are contractual and which are denials.
    Carc {
        #[command(subcommand)]
        command: carc::Command,
    },
    /// Patient balances: the mass write-off, e.g. for payers that forbid balance billing.
    PatientBalance {
        #[command(subcommand)]
        command: patient_balances::Command,
    },
    /// Write-off reasons: list, add, cap, retire.
    Reason {
        #[command(subcommand)]
        command: reasons::Command,
    },
    /// The small-balance sweep: preview, post or confirm one by one; show a run's report.
    Sweep(sweep::Args),
    /// Transaction codes (a sweep writes off under an adjustment code).
    Txcode {
        #[command(subcommand)]
        command: sweep::TxCommand,
    },
    /// Payments held because their payer and trace number were posted before with other content.
    Conflicts {
        #[command(subcommand)]
        command: conflicts::Command,
    },
    /// Posted remittances, and one as people read it (text, JSON or PDF).
    Remittance {
        #[command(subcommand)]
        command: remittances::Command,
    },
    /// Descriptions of the CARC, RARC, group and PLB codes remittances carry.
    Codes {
        #[command(subcommand)]
        command: codes::Command,
    },
    /// Bank files: read and check an ACH file, list its deposits and traces.
    Deposits {
        #[command(subcommand)]
        command: deposits::Command,
    },
    /// Reassociation: deposits matched with remittances, remittances awaiting their money, deposits unexplained.
    Reconcile(deposits::ReconcileArgs),
    /// Work the queue of remittance claims that matched no claim.
    Unmatched {
        #[command(subcommand)]
        command: unmatched::Command,
    },
    /// Show the whole product on a throwaway database: post, refuse, re-feed, write off, reverse.
    Demo(demo::Args),
}

/// Runs the command line and returns the exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    // The demo must tell a URL the user gave from the built-in default.
    let url_given = matches.value_source("database_url").is_some_and(|s| s != ValueSource::DefaultValue);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let url = cli.database_url;
    let code = match cli.command {
        Command::Run { config } => run_daemon(&config),
        Command::Parse(args) => parse::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Migrate { daemon } => block_on(migrate(&url, daemon)),
        Command::Claims { command } => with_db(&url, |pool| claims::run_claims(pool, command)),
        Command::Claim { command } => with_db(&url, |pool| claims::run_claim(pool, command)),
        Command::Ingest(args) => with_db(&url, |pool| ingest::run(pool, args)),
        Command::Unmatched { command } => with_db(&url, |pool| unmatched::run(pool, command)),
        Command::Remittance { command } => with_db(&url, |pool| remittances::run(pool, command)),
        Command::Codes { command } => with_db(&url, |pool| codes::run(pool, command)),
        Command::Deposits { command } => deposits::run(&url, command),
        Command::Reconcile(args) => with_db(&url, |pool| deposits::reconcile(pool, args)),
        Command::Conflicts { command } => with_db(&url, |pool| conflicts::run(pool, command)),
        Command::Carc { command } => with_db(&url, |pool| carc::run(pool, command)),
        Command::PatientBalance { command } => with_db(&url, |pool| patient_balances::run(pool, command)),
        Command::Reason { command } => with_db(&url, |pool| reasons::run(pool, command)),
        Command::Actor { command } => with_db(&url, |pool| actors::run_actor(pool, command)),
        Command::Admin { command } => with_db(&url, |pool| actors::run_admin(pool, command)),
        Command::Denial { command } => with_db(&url, |pool| writeoffs::run_denial(pool, command)),
        Command::Writeoff { command } => with_db(&url, |pool| writeoffs::run_writeoff(pool, command)),
        Command::Writeoffs { command } => with_db(&url, |pool| history::run_writeoffs(pool, command)),
        Command::Audit(args) => with_db(&url, |pool| history::run_audit(pool, args)),
        Command::PrWriteoff(args) => with_db(&url, |pool| writeoffs::run_pr(pool, args)),
        Command::PrCorrect(args) => with_db(&url, |pool| responsibility::run(pool, args)),
        Command::Sweep(args) => with_db(&url, |pool| sweep::run(pool, args)),
        Command::Txcode { command } => with_db(&url, |pool| sweep::run_txcode(pool, command)),
        Command::Demo(args) => demo::run(&args, url_given.then_some(url)),
    };
    ExitCode::from(code)
}

/// What `remitd migrate` did to the schema, in a line.
fn migrated(m: &crate::db::Migrated) -> String {
    match (m.created, m.applied) {
        (true, n) => format!("created the database and applied the schema ({n} migrations)"),
        (false, 0) => format!("database is up to date ({} migrations)", m.total),
        (false, n) => format!("applied {n} new migration{} (now {} in all)", if n == 1 { "" } else { "s" }, m.total),
    }
}

/// `remitd migrate`: the schema, then the roles when asked for or set up
/// before (new migrations create objects the owner must take over).
async fn migrate(url: &str, daemon: Option<String>) -> u8 {
    let pool = match crate::db::migrate_reporting(url).await {
        Ok((pool, done)) => {
            println!("{}", migrated(&done));
            pool
        }
        Err(e) => return fail(e),
    };
    let daemon = match daemon {
        Some(d) => Some(d),
        None => match crate::db::roles::recorded_daemon(&pool).await {
            Ok(d) => d,
            Err(e) => return fail(e),
        },
    };
    let Some(daemon) = daemon else { return 0 };
    match crate::db::roles::setup(&pool, &daemon).await {
        Ok(report) if report.is_empty() => {
            println!("roles are up to date");
            0
        }
        Ok(report) => {
            report.iter().for_each(|line| println!("{line}"));
            0
        }
        Err(e) => fail(e),
    }
}

fn run_daemon(path: &std::path::Path) -> u8 {
    crate::daemon::telemetry::init();
    let config = match crate::daemon::config::Config::load(path) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    block_on(async {
        match crate::daemon::run(config, path).await {
            Ok(()) => 0,
            Err(e) => {
                tracing::error!(error = %e, "daemon failed");
                EXIT_REFUSED
            }
        }
    })
}

fn block_on<F: Future<Output = u8>>(f: F) -> u8 {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => fail(e),
    }
}

/// Connects (as the owner, applying any pending migration; see
/// [`crate::db::open`]) and runs `f`.
fn with_db<F, Fut>(url: &str, f: F) -> u8
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = u8>,
{
    block_on(async {
        match crate::db::open(url).await {
            Ok(pool) => f(pool).await,
            Err(e) => fail(e),
        }
    })
}

/// Reports an environment error (database unreachable, ...) and returns its code.
fn fail(e: impl std::fmt::Display) -> u8 {
    eprintln!("remitd: {e}");
    EXIT_USAGE
}

/// Reports a refused action (or, for a database error, an environment
/// error) and returns its exit code.
pub(super) fn refused(e: crate::ledger::ActionError) -> u8 {
    match e {
        crate::ledger::ActionError::Db(e) => fail(e),
        other => {
            eprintln!("refused: {other}");
            EXIT_REFUSED
        }
    }
}

/// `--from` and `--to`: a range of days, both inclusive.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Days {
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// The last day, inclusive.
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
}

/// `--payer`, `--account`, `--claim`: whose claims a mass workflow takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClaimsOf {
    /// Only claims of this payer (claims CSV payer_id).
    #[arg(long)]
    pub payer: Option<String>,
    /// Only claims of this account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only this claim.
    #[arg(long)]
    pub claim: Option<String>,
}

/// `--service-from` and `--service-to`: claims by service date, inclusive.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ServiceDays {
    /// Only claims with a service date on or after this day.
    #[arg(long)]
    pub service_from: Option<chrono::NaiveDate>,
    /// Only claims with a service date on or before this day.
    #[arg(long)]
    pub service_to: Option<chrono::NaiveDate>,
}

/// Output format of listing commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// Writes a PDF on standard output, unless that is a terminal.
pub(super) fn pdf_out(pdf: impl FnOnce() -> Vec<u8>) -> u8 {
    use std::io::{IsTerminal, Write};
    if std::io::stdout().is_terminal() {
        eprintln!("remitd: a PDF is not for a terminal: redirect standard output to a file");
        return EXIT_USAGE;
    }
    std::io::stdout().lock().write_all(&pdf()).map_or_else(fail, |()| 0)
}

/// Writes a header and rows as CSV on standard output.
pub(super) fn csv_out<const N: usize>(header: [&str; N], rows: impl Iterator<Item = [String; N]>) -> u8 {
    let mut w = crate::output::CsvReport::new(std::io::stdout().lock());
    let write = || -> Result<(), csv::Error> {
        w.row(header)?;
        for r in rows {
            w.row(r)?;
        }
        Ok(())
    };
    match write().and_then(|()| w.finish().map(drop)) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

/// Prints `value` as pretty JSON on standard output.
fn print_json(value: &impl serde::Serialize) -> u8 {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            println!("{s}");
            0
        }
        Err(e) => fail(e),
    }
}
