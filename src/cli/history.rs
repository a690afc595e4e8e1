//! `remitd writeoffs history|causes` and `remitd audit`: looking back at
//! write-offs, their causes, and everything anyone did.

use sqlx::PgPool;

use super::writeoffs::HistoryFormat;
use super::{csv_out, pdf_out, print_json, refused, Days};
use crate::documents::reports::{self, span};
use crate::output::shown;
use crate::writeoff::history::{self, AuditRow, Causes, History};

#[derive(Debug, clap::Subcommand)]
pub enum WriteoffsCommand {
    /// Write-offs by receipt, date or reason, with totals by reason.
    History {
        #[arg(long)]
        receipt: Option<i64>,
        #[command(flatten)]
        days: Days,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
    },
    /// Write-off causes: totals by reason and bucket (insurance, patient) over a date range.
    Causes {
        #[command(flatten)]
        days: Days,
        #[arg(long, value_enum, default_value = "text")]
        format: HistoryFormat,
    },
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[arg(long)]
    claim: Option<String>,
    #[arg(long)]
    actor: Option<String>,
    #[command(flatten)]
    days: Days,
    #[arg(long, value_enum, default_value = "text")]
    format: HistoryFormat,
}

pub async fn run_writeoffs(pool: PgPool, command: WriteoffsCommand) -> u8 {
    match command {
        WriteoffsCommand::History { receipt, days, reason, format } => {
            let filter = history::HistoryFilter { receipt, from: days.from, to: days.to, reason: reason.as_deref() };
            match history::history(&pool, &filter).await {
                Ok(h) => print_history(&h, &filter, format),
                Err(e) => refused(e),
            }
        }
        WriteoffsCommand::Causes { days, format } => match history::causes(&pool, days.from, days.to).await {
            Ok(c) => print_causes(&c, format),
            Err(e) => refused(e),
        },
    }
}

fn print_history(h: &History, filter: &history::HistoryFilter<'_>, format: HistoryFormat) -> u8 {
    match format {
        HistoryFormat::Pdf => pdf_out(|| reports::history(h, filter).pdf()),
        HistoryFormat::Json => print_json(h),
        HistoryFormat::Csv => csv_out(
            ["writeoff_id", "receipt", "kind", "at", "claim_id", "denial_id", "bucket", "reason", "note", "amount", "status", "requested_by", "decided_by"],
            h.rows.iter().map(|r| {
                [
                    r.writeoff_id.to_string(),
                    r.receipt.to_string(),
                    r.receipt_kind.as_str().to_string(),
                    r.at.to_rfc3339(),
                    r.claim_id.clone(),
                    r.denial_id.map(|d| d.to_string()).unwrap_or_default(),
                    r.bucket.as_str().to_string(),
                    r.reason.clone(),
                    r.note.clone().unwrap_or_default(),
                    r.amount.to_string(),
                    r.status.as_str().to_string(),
                    r.requested_by.clone(),
                    r.decided_by.clone().unwrap_or_default(),
                ]
            }),
        ),
        HistoryFormat::Text => {
            for r in &h.rows {
                let decided = match &r.decided_by {
                    Some(d) if *d != r.requested_by => format!(", approved by {}", shown(d)),
                    _ => String::new(),
                };
                println!(
                    "receipt {:<6} #{:<6} {} {:<20} {:<9} {:<24} {:>12.2} {:<16} by {}{decided}",
                    r.receipt,
                    r.writeoff_id,
                    r.at.format("%Y-%m-%d"),
                    shown(&r.claim_id),
                    r.bucket.as_str(),
                    shown(&r.reason),
                    r.amount,
                    r.status.as_str(),
                    shown(&r.requested_by)
                );
            }
            for (reason, total) in &h.totals_by_reason {
                println!("TOTAL {:<24} {total:>12.2}", shown(reason));
            }
            println!("TOTAL {:<24} {:>12.2}", "(all reasons)", h.total);
            0
        }
    }
}

fn print_causes(c: &Causes, format: HistoryFormat) -> u8 {
    match format {
        HistoryFormat::Pdf => pdf_out(|| reports::causes(c).pdf()),
        HistoryFormat::Json => print_json(c),
        HistoryFormat::Csv => {
            csv_out(["bucket", "reason", "label", "count", "amount", "pending_count", "pending_amount"], c.rows.iter().map(reports::cause_cells))
        }
        HistoryFormat::Text => {
            println!("WRITE-OFF CAUSES {}", span(c.from, c.to));
            println!("{:<10} {:<24} {:>6} {:>12} {:>8} {:>12}", "BUCKET", "REASON", "COUNT", "AMOUNT", "WAITING", "WAITING AMT");
            for r in &c.rows {
                println!(
                    "{:<10} {:<24} {:>6} {:>12.2} {:>8} {:>12.2}",
                    r.bucket.as_str(),
                    shown(&r.reason),
                    r.count,
                    r.amount,
                    r.pending_count,
                    r.pending_amount
                );
            }
            println!("TOTAL insurance {:>12.2}", c.insurance);
            println!("TOTAL patient   {:>12.2}", c.patient);
            println!("TOTAL           {:>12.2}", c.total);
            0
        }
    }
}

pub async fn run_audit(pool: PgPool, args: AuditArgs) -> u8 {
    let filter = history::AuditFilter { claim: args.claim.as_deref(), actor: args.actor.as_deref(), from: args.days.from, to: args.days.to, newest: None };
    let rows = match history::audit_trail(&pool, &filter).await {
        Ok(rows) => rows,
        Err(e) => return refused(e),
    };
    match args.format {
        HistoryFormat::Pdf => pdf_out(|| reports::audit(&rows, &filter).pdf()),
        HistoryFormat::Json => print_json(&rows),
        HistoryFormat::Csv => csv_out(
            ["id", "at", "actor", "action", "claim_id", "denial_id", "writeoff_id", "receipt", "reason", "amount", "detail"],
            rows.iter().map(audit_cells),
        ),
        HistoryFormat::Text => {
            for r in &rows {
                let amount = r.amount.map(|a| format!(" {a:.2}")).unwrap_or_default();
                let reason = r.reason.as_ref().map(|a| format!(" ({})", shown(a))).unwrap_or_default();
                let claim = r.claim_id.as_ref().map(|c| format!(" claim {}", shown(c))).unwrap_or_default();
                println!("{} {} {}{claim}{amount}{reason}", r.at.format("%Y-%m-%d %H:%M:%S"), shown(&r.actor), shown(&r.action));
            }
            0
        }
    }
}

fn audit_cells(r: &AuditRow) -> [String; 11] {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    [
        r.id.to_string(),
        r.at.to_rfc3339(),
        r.actor.clone(),
        r.action.clone(),
        r.claim_id.clone().unwrap_or_default(),
        opt(r.denial_id),
        opt(r.writeoff_id),
        opt(r.receipt),
        r.reason.clone().unwrap_or_default(),
        r.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
        r.detail.to_string(),
    ]
}
