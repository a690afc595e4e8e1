//! Reports as PDF: a title, what the report covers, one table and its
//! totals. The write-off history with its receipts (source document 001's
//! export), write-off causes, the audit trail and the sweep report all
//! print this way, from the same rows their CSV has.

use chrono::NaiveDate;

use super::pdf::{Column, Layout};
use crate::writeoff::history::{AuditFilter, AuditRow, Cause, Causes, History, HistoryFilter};

/// One report, ready to lay out.
pub struct Report<'a> {
    pub title: String,
    /// What the report covers: dates, filters, who ran it.
    pub facts: Vec<(&'a str, String)>,
    pub columns: Vec<Column<'a>>,
    pub rows: Vec<Vec<String>>,
    /// Sums under the table, e.g. by reason.
    pub totals: Vec<(String, String)>,
}

impl Report<'_> {
    /// The report as a PDF (landscape: these tables are wide).
    pub fn pdf(&self) -> Vec<u8> {
        let mut l = Layout::new(&self.title, true);
        if !self.facts.is_empty() {
            l.pairs(&self.facts);
        }
        if self.rows.is_empty() {
            l.text("Nothing to report.");
        } else {
            l.table(&self.columns, &self.rows);
        }
        if !self.totals.is_empty() {
            l.heading("Totals");
            let pairs: Vec<(&str, String)> = self.totals.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            l.pairs(&pairs);
        }
        l.finish()
    }
}

/// "the beginning to today", or the days given.
pub fn span(from: Option<NaiveDate>, to: Option<NaiveDate>) -> String {
    let day = |d: Option<NaiveDate>, none: &str| d.map_or_else(|| none.to_string(), |d| d.to_string());
    format!("{} to {}", day(from, "the beginning"), day(to, "today"))
}

/// The write-off history, or one receipt (`filter.receipt`): every
/// write-off with who asked and who approved, then totals by reason.
pub fn history(h: &History, filter: &HistoryFilter<'_>) -> Report<'static> {
    let title = match filter.receipt {
        Some(n) => format!("Write-off receipt {n}"),
        None => "Write-off history".to_string(),
    };
    let mut facts = vec![("Days", span(filter.from, filter.to))];
    facts.extend(filter.reason.map(|r| ("Reason", r.to_string())));
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
}

/// One cause as its CSV and PDF show it.
pub fn cause_cells(r: &Cause) -> [String; 7] {
    [
        r.bucket.as_str().to_string(),
        r.reason.clone(),
        r.label.clone(),
        r.count.to_string(),
        format!("{:.2}", r.amount),
        r.pending_count.to_string(),
        format!("{:.2}", r.pending_amount),
    ]
}

/// Write-off causes: totals by side and reason, written off and waiting.
pub fn causes(c: &Causes) -> Report<'static> {
    let rows = c.rows.iter().map(|r| cause_cells(r).to_vec()).collect();
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
}

/// The audit trail under `filter`: who did what, when, for how much.
pub fn audit(rows: &[AuditRow], filter: &AuditFilter<'_>) -> Report<'static> {
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
    let mut facts = vec![("Days", span(filter.from, filter.to))];
    facts.extend(filter.claim.map(|c| ("Claim", c.to_string())));
    facts.extend(filter.actor.map(|a| ("Actor", a.to_string())));
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
}
