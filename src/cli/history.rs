//! `remitd writeoffs history|causes` and `remitd audit`: looking back at
//! write-offs, their causes, and everything anyone did.

use chrono::NaiveDate;
use sqlx::PgPool;

use super::writeoffs::HistoryFormat;
use super::{csv_out, pdf_out, print_json, refused, Days};
use crate::documents::pdf::Column;
use crate::documents::reports::Report;
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

/// "from the beginning to today", or the days given.
fn span(from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    let day = |d: Option<NaiveDate>, none: &str| d.map_or_else(|| none.to_string(), |d| d.to_string());
    format!("{} to {}", day(from, "the beginning"), day(to, "today"))
}

fn print_history(h: &History, filter: &history::HistoryFilter<'_>, format: HistoryFormat) -> u8 {
    match format {
        HistoryFormat::Pdf => pdf_out(|| {
            let title = match filter.receipt {
                Some(n) => format!("Write-off receipt {n}"),
                None => "Write-off history".to_string(),
            };
            let mut facts = vec![("Days", span(filter.from, filter.to))];
            if let Some(reason) = filter.reason {
                facts.push(("Reason", reason.to_string()));
            }
            let rows = h
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.receipt.to_string(),
                        r.writeoff_id.to_string(),
                        r.at.format("%Y-%m-%d").to_string(),
                        r.claim_id.clone(),
                        r.bucket.as_str().to_string(),
                        r.reason.clone(),
                        r.note.clone().unwrap_or_default(),
                        format!("{:.2}", r.amount),
                        r.status.as_str().to_string(),
                        r.requested_by.clone(),
                        r.decided_by.clone().filter(|d| *d != r.requested_by).unwrap_or_default(),
                    ]
                })
                .collect();
            let mut totals: Vec<(String, String)> = h.totals_by_reason.iter().map(|(reason, t)| (reason.clone(), format!("{t:.2}"))).collect();
            totals.push(("All reasons".into(), format!("{:.2}", h.total)));
            Report {
                title,
                facts,
                columns: vec![
                    Column::right("Receipt", 0.8),
                    Column::right("#", 0.6),
                    Column::left("Date", 1.1),
                    Column::left("Claim", 1.4),
                    Column::left("Side", 1.0),
                    Column::left("Reason", 1.6),
                    Column::left("Note", 2.0),
                    Column::right("Amount", 1.1),
                    Column::left("Status", 1.4),
                    Column::left("By", 1.2),
                    Column::left("Approved by", 1.2),
                ],
                rows,
                totals,
            }
            .pdf()
        }),
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
        HistoryFormat::Pdf => pdf_out(|| {
            let rows = c
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.bucket.as_str().to_string(),
                        r.reason.clone(),
                        r.label.clone(),
                        r.count.to_string(),
                        format!("{:.2}", r.amount),
                        r.pending_count.to_string(),
                        format!("{:.2}", r.pending_amount),
                    ]
                })
                .collect();
            Report {
                title: "Write-off causes".into(),
                facts: vec![("Days", span(c.from, c.to))],
                columns: vec![
                    Column::left("Side", 1.0),
                    Column::left("Reason", 1.6),
                    Column::left("Label", 3.0),
                    Column::right("Count", 0.8),
                    Column::right("Amount", 1.2),
                    Column::right("Waiting", 0.8),
                    Column::right("Waiting amount", 1.2),
                ],
                rows,
                totals: vec![
                    ("Insurance".into(), format!("{:.2}", c.insurance)),
                    ("Patient".into(), format!("{:.2}", c.patient)),
                    ("All".into(), format!("{:.2}", c.total)),
                ],
            }
            .pdf()
        }),
        HistoryFormat::Json => print_json(c),
        HistoryFormat::Csv => csv_out(
            ["bucket", "reason", "label", "count", "amount", "pending_count", "pending_amount"],
            c.rows.iter().map(|r| {
                [
                    r.bucket.as_str().to_string(),
                    r.reason.clone(),
                    r.label.clone(),
                    r.count.to_string(),
                    format!("{:.2}", r.amount),
                    r.pending_count.to_string(),
                    format!("{:.2}", r.pending_amount),
                ]
            }),
        ),
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
    let filter = history::AuditFilter { claim: args.claim.as_deref(), actor: args.actor.as_deref(), from: args.days.from, to: args.days.to };
    let rows = match history::audit_trail(&pool, &filter).await {
        Ok(rows) => rows,
        Err(e) => return refused(e),
    };
    match args.format {
        HistoryFormat::Pdf => pdf_out(|| {
            let cells = rows
                .iter()
                .map(|r| {
                    vec![
                        r.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        r.actor.clone(),
                        r.action.clone(),
                        r.claim_id.clone().unwrap_or_default(),
                        r.receipt.map(|n| n.to_string()).unwrap_or_default(),
                        r.amount.map(|a| format!("{a:.2}")).unwrap_or_default(),
                        r.reason.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            let mut facts = vec![("Days", span(args.days.from, args.days.to))];
            facts.extend(args.claim.clone().map(|c| ("Claim", c)));
            facts.extend(args.actor.clone().map(|a| ("Actor", a)));
            Report {
                title: "Audit trail".into(),
                facts,
                columns: vec![
                    Column::left("At", 1.6),
                    Column::left("Who", 1.2),
                    Column::left("Action", 2.0),
                    Column::left("Claim", 1.3),
                    Column::right("Receipt", 0.8),
                    Column::right("Amount", 1.0),
                    Column::left("Reason", 2.0),
                ],
                rows: cells,
                totals: Vec::new(),
            }
            .pdf()
        }),
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
