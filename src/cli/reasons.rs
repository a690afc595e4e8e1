//! `remitd reason list|add|cap|retire`: the write-off reasons a billing team
//! chooses from, with the scope each takes and its cap.

use rust_decimal::Decimal;
use sqlx::PgPool;

use super::writeoffs::ActorArg;
use super::{fail, print_json, refused, ListFormat};
use crate::actors::Scope;
use crate::writeoff::reasons::{self, NewReason, Reason};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The reasons in use, with scope and cap (`--retired`: the retired ones too).
    List {
        #[arg(long)]
        retired: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Add a reason (needs remitd.admin).
    Add {
        /// Lowercase letters, digits and '-', e.g. charity-care.
        code: String,
        /// What reports print, e.g. "Charity care".
        #[arg(long)]
        label: String,
        /// The scope writing off with it takes.
        #[arg(long, value_enum, default_value = "billing.denial.write")]
        scope: Scope,
        /// The most one write-off with it may take.
        #[arg(long)]
        max_amount: Option<Decimal>,
        /// Every write-off with it needs a note.
        #[arg(long)]
        requires_note: bool,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Set the most one write-off with a reason may take, or `none` (needs remitd.admin).
    Cap {
        code: String,
        /// An amount, e.g. 5.00, or `none`.
        #[arg(value_parser = parse_cap)]
        cap: Cap,
        #[command(flatten)]
        actor: ActorArg,
    },
    /// Retire a reason: old write-offs keep it, new ones cannot use it (needs remitd.admin).
    Retire {
        code: String,
        #[command(flatten)]
        actor: ActorArg,
    },
}

/// A cap given on the command line: an amount, or `none`.
#[derive(Debug, Clone, Copy)]
pub struct Cap(Option<Decimal>);

fn parse_cap(s: &str) -> Result<Cap, String> {
    match s {
        "none" => Ok(Cap(None)),
        _ => s.parse::<Decimal>().map(|d| Cap(Some(d))).map_err(|_| format!("expected an amount such as 5.00, or none; found {s:?}")),
    }
}

fn cap_text(r: &Reason) -> String {
    r.max_amount.map_or_else(|| "no cap".into(), |c| format!("cap {c:.2}"))
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { retired, format } => {
            let rows = match reasons::list(&pool, retired).await {
                Ok(rows) => rows,
                Err(e) => return fail(e),
            };
            if format == ListFormat::Json {
                return print_json(&rows);
            }
            println!("{:<24} {:<24} {:>12} {:<36} STATE", "CODE", "SCOPE", "CAP", "LABEL");
            for r in &rows {
                let cap = r.max_amount.map_or_else(|| "-".into(), |c| format!("{c:.2}"));
                let state = match (r.retired_at, r.requires_note) {
                    (Some(at), _) => format!("retired {}", at.date_naive()),
                    (None, true) => "in use, note required".into(),
                    (None, false) => "in use".into(),
                };
                println!("{:<24} {:<24} {:>12} {:<36} {state}", r.code, r.scope.as_str(), cap, r.label);
            }
            0
        }
        Command::Add { code, label, scope, max_amount, requires_note, actor } => {
            let new = NewReason { code: &code, label: &label, requires_note, scope, max_amount };
            actor
                .act(&pool, async |who| reasons::add(&pool, who, &new).await)
                .await
                .map(|()| println!("reason {code} added: {} takes {}", max_amount.map_or_else(|| "no cap".into(), |c| format!("cap {c:.2}")), scope.as_str()))
                .map_or_else(refused, |()| 0)
        }
        Command::Cap { code, cap, actor } => actor
            .act(&pool, async |who| reasons::set_cap(&pool, who, &code, cap.0).await)
            .await
            .map(|r| println!("reason {}: {} (write-offs from now on)", r.code, cap_text(&r)))
            .map_or_else(refused, |()| 0),
        Command::Retire { code, actor } => actor
            .act(&pool, async |who| reasons::retire(&pool, who, &code).await)
            .await
            .map(|r| {
                println!(
                    "reason {} retired on {}: old write-offs keep it, new ones cannot use it",
                    r.code,
                    r.retired_at.map(|a| a.date_naive().to_string()).unwrap_or_default()
                )
            })
            .map_or_else(refused, |()| 0),
    }
}
