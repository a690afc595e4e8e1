//! `remitd sweep ...` and `remitd txcode ...`: the small-balance sweep from
//! the command line.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, EXIT_REFUSED, EXIT_USAGE};
use crate::output::{escape_text, shown, CsvReport};
use crate::sweep::run::RunSummary;
use crate::sweep::schedule::Window;
use crate::sweep::{report, txcodes, Answer, Line, Params, Report, SweepConfig, SweepError};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Show a posted run's report again, by its run number or its receipt's.
    Show {
        #[arg(required_unless_present = "receipt")]
        run: Option<i64>,
        /// The run's receipt number (as `writeoffs history` lists it) instead.
        #[arg(long, conflicts_with = "run")]
        receipt: Option<i64>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Every posted run, newest first.
    Runs {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Csv,
    Json,
    /// The report printable, on standard output (redirect it to a file).
    Pdf,
}

/// Exactly one of these.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct ModeArgs {
    /// Report what would be written off; write nothing.
    #[arg(long)]
    preview: bool,
    /// Write off every selected balance (one receipt for the run).
    #[arg(long)]
    post: bool,
    /// Ask before each write-off: Yes, No, All (the rest without asking), Quit.
    #[arg(long)]
    interactive: bool,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    mode: ModeArgs,
    /// Defaults for every parameter below from this file's [sweep] section.
    #[arg(long)]
    config: Option<PathBuf>,
    /// First day of the payment-entry range (ERA payments count on the day they were ingested).
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// Last day of the payment-entry range.
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// Instead of --from/--to: previous-day, previous-week, previous-month or days:N before --as-of.
    #[arg(long, conflicts_with = "from")]
    window: Option<Window>,
    /// Only claims last billed at least this many days ago (30 to 365).
    #[arg(long)]
    days_since_billed: Option<u32>,
    /// Only claims billed (statements sent) at least this many times.
    #[arg(long)]
    min_times_billed: Option<u32>,
    /// Adjustment code for insurance write-offs (no code: insurance balances are left alone).
    #[arg(long)]
    insurance_code: Option<String>,
    /// Adjustment code for patient write-offs (no code: patient balances are left alone).
    #[arg(long)]
    patient_code: Option<String>,
    /// Largest balance written off; larger ones go on the out-of-range report (absent: any amount).
    #[arg(long)]
    max_amount: Option<Decimal>,
    /// Also write off insurance credit balances.
    #[arg(long)]
    include_insurance_credits: bool,
    /// Also write off patient credit balances.
    #[arg(long)]
    include_patient_credits: bool,
    /// The day ages are counted from (default: today in the time zone).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// IANA time zone of payment-entry days (default: [sweep] time_zone, else UTC).
    #[arg(long)]
    time_zone: Option<String>,
    #[command(flatten)]
    of: super::ClaimsOf,
    #[command(flatten)]
    service: super::ServiceDays,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Who runs the sweep (needs billing.denial.write and billing.writeoff.approve); not needed for --preview.
    #[command(flatten)]
    actor: ActorArg,
}

impl RunArgs {
    /// Flags over the config file's [sweep] section.
    fn params(&self) -> Result<Params, String> {
        let config = match &self.config {
            Some(path) => crate::daemon::config::Config::load_sweep(path).map_err(|e| e.to_string())?,
            None => SweepConfig::default(),
        };
        let time_zone = self.time_zone.clone().unwrap_or_else(|| config.time_zone().to_string());
        let tz: chrono_tz::Tz = time_zone.parse().map_err(|_| format!("unknown time zone {time_zone:?}"))?;
        let as_of = self.as_of.unwrap_or_else(|| chrono::Utc::now().with_timezone(&tz).date_naive());
        let (from, to) = match (self.from, self.to, self.window.or(config.window)) {
            (Some(from), Some(to), _) => (from, to),
            (_, _, Some(window)) => window.range(as_of),
            _ => return Err("give the payment-entry range: --from DATE --to DATE, or --window".into()),
        };
        let days_since_billed = self.days_since_billed.or(config.days_since_billed).ok_or("give --days-since-billed N (30 to 365)")?;
        Ok(Params {
            from,
            to,
            days_since_billed,
            min_times_billed: self.min_times_billed.or(config.min_times_billed).unwrap_or(0),
            insurance_code: self.insurance_code.clone().or(config.insurance_code),
            patient_code: self.patient_code.clone().or(config.patient_code),
            max_amount: self.max_amount.or(config.max_amount),
            include_insurance_credits: self.include_insurance_credits || config.include_insurance_credits,
            include_patient_credits: self.include_patient_credits || config.include_patient_credits,
            as_of,
            time_zone,
            payer: self.of.payer.clone(),
            account: self.of.account.clone(),
            claim: self.of.claim.clone(),
            service_from: self.service.service_from,
            service_to: self.service.service_to,
        })
    }
}

pub async fn run(pool: PgPool, args: Args) -> u8 {
    match args.command {
        Some(Command::Show { run, receipt, format }) => {
            let run = match (run, receipt) {
                (Some(run), _) => Ok(run),
                (None, Some(receipt)) => crate::sweep::run_of_receipt(&pool, receipt).await,
                (None, None) => Err(crate::sweep::SweepError::Invalid("give a run number or --receipt N".into())),
            };
            match run {
                Ok(run) => match crate::sweep::show(&pool, run).await {
                    Ok(r) => print(&r, format),
                    Err(e) => refused(e),
                },
                Err(e) => refused(e),
            }
        }
        Some(Command::Runs { format }) => runs(&pool, format).await,
        None => sweep(&pool, &args.run).await,
    }
}

async fn sweep(pool: &PgPool, args: &RunArgs) -> u8 {
    let params = match args.params() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("remitd sweep: {e}");
            return EXIT_USAGE;
        }
    };
    let result = if args.mode.preview {
        crate::sweep::preview(pool, &params).await
    } else {
        match args.actor.resolve(pool).await {
            Ok(actor) if args.mode.post => crate::sweep::post(pool, &params, &actor).await,
            Ok(actor) => crate::sweep::interactive(pool, &params, &actor, ask_on_terminal).await,
            Err(e) => Err(e.into()),
        }
    };
    match result {
        Ok(r) => print(&r, args.format),
        Err(e) => refused(e),
    }
}

/// Asks on standard error, reads the answer from standard input; the end of
/// input is Quit.
fn ask_on_terminal(line: &Line) -> Answer {
    let stdin = std::io::stdin();
    let mut err = std::io::stderr().lock();
    loop {
        let order = match line.policy_order {
            1 => "Primary",
            2 => "Secondary",
            _ => "Tertiary",
        };
        let _ = write!(
            err,
            "{} {} INS: {} P/S: {} = {order}\nWrite off this {} balance? [y]es [n]o [a]ll [q]uit: ",
            report::line(line, line.account_number.len()),
            line.claim_id,
            line.payer_code,
            line.policy_order,
            line.bucket.as_str()
        );
        let _ = err.flush();
        let mut answer = String::new();
        match stdin.lock().read_line(&mut answer) {
            Ok(0) | Err(_) => return Answer::Quit,
            Ok(_) => {}
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Answer::Yes,
            "n" | "no" => return Answer::No,
            "a" | "all" | "yes to all" => return Answer::All,
            "q" | "quit" => return Answer::Quit,
            other => {
                let _ = writeln!(err, "answer y, n, a or q (not {other:?})");
            }
        }
    }
}

fn print(r: &Report, format: Format) -> u8 {
    match format {
        Format::Text => {
            print!("{}", report::text(r));
            0
        }
        Format::Json => print_json(r),
        Format::Pdf => super::pdf_out(|| report::pdf(r)),
        Format::Csv => match report::csv(r) {
            Ok(s) => {
                print!("{s}");
                0
            }
            Err(e) => fail(e),
        },
    }
}

async fn runs(pool: &PgPool, format: Format) -> u8 {
    let runs = match crate::sweep::run::runs(pool).await {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    let fields = |r: &RunSummary| {
        [
            r.run.to_string(),
            r.receipt.map(|s| s.to_string()).unwrap_or_default(),
            r.mode.clone(),
            r.slot.map(|s| s.to_rfc3339()).unwrap_or_default(),
            escape_text(&r.actor).into_owned(),
            r.started_at.to_rfc3339(),
            r.written_off.to_string(),
            r.total.to_string(),
            r.out_of_range.to_string(),
        ]
    };
    match format {
        Format::Json => print_json(&runs),
        Format::Pdf => super::pdf_out(|| {
            use crate::documents::{pdf::Column, reports::Report};
            Report {
                title: "Small-balance sweep runs".into(),
                facts: Vec::new(),
                columns: vec![
                    Column::right("Run", 0.6),
                    Column::right("Receipt", 0.8),
                    Column::left("Mode", 1.0),
                    Column::left("Slot", 2.2),
                    Column::left("Actor", 1.2),
                    Column::left("Started", 2.2),
                    Column::right("Claims", 0.8),
                    Column::right("Total", 1.1),
                    Column::right("Over max", 0.8),
                ],
                rows: runs.iter().map(|r| fields(r).to_vec()).collect(),
                totals: Vec::new(),
            }
            .pdf()
        }),
        Format::Csv => {
            let mut w = CsvReport::new(std::io::stdout().lock());
            let write = || -> Result<(), csv::Error> {
                w.row(["run", "receipt", "mode", "slot", "actor", "started_at", "written_off", "total", "out_of_range"])?;
                for r in &runs {
                    w.row(fields(r))?;
                }
                w.finish().map(drop)
            };
            match write() {
                Ok(()) => 0,
                Err(e) => fail(e),
            }
        }
        Format::Text => {
            let head = ["RUN", "RECEIPT", "MODE", "SLOT", "ACTOR", "STARTED", "CLAIMS", "TOTAL", "OVER MAX"];
            let row = |f: &[String; 9]| {
                let f = f.clone().map(|v| if v.is_empty() { "-".to_string() } else { v });
                format!("{:>5}  {:>7}  {:<11}  {:<25}  {:<12}  {:<25}  {:>6}  {:>12}  {:>8}", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8])
            };
            println!("{}", row(&head.map(String::from)).trim_end());
            for r in &runs {
                println!("{}", row(&fields(r)).trim_end());
            }
            0
        }
    }
}

fn refused(e: SweepError) -> u8 {
    match e {
        SweepError::Db(e) => fail(e),
        other => {
            eprintln!("refused: {other}");
            EXIT_REFUSED
        }
    }
}

/// `remitd txcode ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TxCommand {
    /// Every transaction code.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: super::ListFormat,
    },
    /// Add a code (a sweep writes off under an adjustment code).
    Add {
        code: String,
        /// adjustment, payment or charge.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        description: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

pub async fn run_txcode(pool: PgPool, command: TxCommand) -> u8 {
    match command {
        TxCommand::List { format } => match txcodes::list(&pool).await {
            Ok(codes) if format == super::ListFormat::Json => print_json(&codes),
            Ok(codes) => {
                for c in codes {
                    println!("{:<8} {:<11} {}", shown(&c.code), c.kind, shown(&c.description));
                }
                0
            }
            Err(e) => refused(e),
        },
        TxCommand::Add { code, kind, description, actor } => {
            let added = match actor.resolve(&pool).await {
                Ok(who) => txcodes::add(&pool, &code, &kind, &description, &who).await,
                Err(e) => Err(e.into()),
            };
            match added {
                Ok(()) => {
                    println!("transaction code {code} ({kind}) added");
                    0
                }
                Err(e) => refused(e),
            }
        }
    }
}
