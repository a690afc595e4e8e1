//! The reconciliation report: every deposit and every open remittance with
//! where it stands, totals by state, and what to ask each payer (overdue
//! money, takebacks, amounts and dates that disagree). The CSV, the PDF and
//! the console page read the same cells.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::pdf::{Column, Layout};
use super::reports::span;
use crate::bank::reconcile::{queues, Filter, Row, Side, Status};

/// The CSV header, in the order of [`cells`].
pub const HEADER: [&str; 10] = ["status", "side", "direction", "date", "amount", "trace", "payer", "deposit", "remittances", "detail"];

/// One row as text cells.
pub fn cells(r: &Row) -> [String; 10] {
    [
        r.status.as_str().to_string(),
        match r.side {
            Side::Deposit => "deposit",
            Side::Remittance => "remittance",
        }
        .to_string(),
        direction(r).to_string(),
        r.date.map(|d| d.to_string()).unwrap_or_default(),
        format!("{:.2}", r.amount),
        r.trace.clone().unwrap_or_default(),
        r.payer.clone(),
        r.deposit_id.map(|d| format!("#{d}")).unwrap_or_default(),
        r.remittance_ids.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(" "),
        detail(r),
    ]
}

fn direction(r: &Row) -> &'static str {
    if r.credit {
        "credit"
    } else {
        "debit"
    }
}

/// What the row says beyond its state: the question, who matched it, or
/// how long it has waited.
pub fn detail(r: &Row) -> String {
    match (&r.detail, r.waiting_days) {
        (Some(d), _) => d.clone(),
        (None, Some(days)) if matches!(r.status, Status::Awaiting | Status::Overdue | Status::Unexplained | Status::Takeback) => {
            format!("{days} business days")
        }
        _ => String::new(),
    }
}

/// For each payer with something to answer for, one line of what to ask:
/// remittances whose money is overdue, takebacks, disagreeing amounts or
/// dates. Payers by name; each list names its traces (the first five).
pub fn asks(rows: &[Row]) -> Vec<(String, String)> {
    let mut by_payer: BTreeMap<&str, BTreeMap<Status, Vec<&Row>>> = BTreeMap::new();
    // A disagreement shows on both sides: asked once, of the payer its
    // remittance names. A takeback only the bank knows of.
    let asked = |r: &&Row| {
        matches!((r.status, r.side), (Status::Overdue | Status::AmountMismatch | Status::DateMismatch, Side::Remittance) | (Status::Takeback, Side::Deposit))
    };
    for r in rows.iter().filter(asked) {
        let payer = if r.payer.trim().is_empty() { "(a payer the bank does not name)" } else { r.payer.as_str() };
        by_payer.entry(payer).or_default().entry(r.status).or_default().push(r);
    }
    by_payer
        .into_iter()
        .map(|(payer, by_status)| {
            let parts: Vec<String> = by_status
                .into_iter()
                .map(|(status, rs)| {
                    let what = match status {
                        Status::Overdue => "where is the money for",
                        Status::Takeback => "which remittance explains the takeback of",
                        Status::AmountMismatch => "why the amounts differ for",
                        _ => "why the dates are apart for",
                    };
                    let total: Decimal = rs.iter().map(|r| r.amount).sum();
                    let mut named: Vec<String> = rs.iter().take(5).map(|r| format!("{} {:.2}", r.trace.as_deref().unwrap_or("(no trace)"), r.amount)).collect();
                    if rs.len() > 5 {
                        named.push(format!("and {} more", rs.len() - 5));
                    }
                    format!("{what} {} ({:.2}): {}", rs.len(), total, named.join(", "))
                })
                .collect();
            (payer.to_string(), parts.join("; "))
        })
        .collect()
}

/// The report as a PDF.
pub fn pdf(rows: &[Row], filter: &Filter, today: NaiveDate) -> Vec<u8> {
    let mut l = Layout::new("Reconciliation: deposits and remittances", true);
    let mut facts = vec![("Days", span(filter.from, filter.to)), ("As of", today.to_string())];
    facts.extend(filter.status.map(|s| ("State", s.as_str().to_string())));
    l.pairs(&facts);
    let totals: Vec<(String, String)> =
        queues(rows).iter().map(|q| (q.status.as_str().replace('_', " "), format!("{} rows, {:.2}{}", q.count, q.amount, oldest(q.oldest_days)))).collect();
    if !totals.is_empty() {
        l.heading("By state");
        l.pairs(&totals.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
    }
    let asks = asks(rows);
    if !asks.is_empty() {
        l.heading("To ask each payer");
        for (payer, ask) in &asks {
            l.text(&format!("{payer}: {ask}."));
        }
    }
    l.heading("Deposits and remittances");
    if rows.is_empty() {
        l.text("Nothing to report.");
    } else {
        let columns = [
            Column::left("State", 1.3),
            Column::left("Side", 0.9),
            Column::left("Way", 0.6),
            Column::left("Date", 0.9),
            Column::right("Amount", 0.9),
            Column::left("Trace", 1.6),
            Column::left("Payer", 1.6),
            Column::left("Deposit", 0.6),
            Column::left("Remittances", 0.9),
            Column::left("Detail", 2.6),
        ];
        let cells: Vec<Vec<String>> = rows.iter().map(|r| cells(r).to_vec()).collect();
        l.table(&columns, &cells);
    }
    l.finish()
}

fn oldest(days: Option<i32>) -> String {
    days.map(|d| format!(", oldest {d} business days")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, side: Side, payer: &str, trace: &str, cents: i64) -> Row {
        Row {
            status,
            side,
            credit: status != Status::Takeback,
            trace: Some(trace.to_string()).filter(|t| !t.is_empty()),
            payer: payer.into(),
            amount: Decimal::new(cents, 2),
            date: None,
            deposit_id: None,
            remittance_ids: Vec::new(),
            detail: None,
            waiting_days: None,
        }
    }

    #[test]
    fn each_payer_is_asked_once_what_only_it_can_answer() {
        let rows = [
            row(Status::AmountMismatch, Side::Deposit, "", "EFT-1", 25300),
            row(Status::AmountMismatch, Side::Remittance, "PLAN", "EFT-1", 25340),
            row(Status::Overdue, Side::Remittance, "PLAN", "EFT-2", 8000),
            row(Status::Awaiting, Side::Remittance, "PLAN", "EFT-3", 100),
            row(Status::Takeback, Side::Deposit, "", "", 1250),
            row(Status::Matched, Side::Deposit, "OTHER", "EFT-4", 100),
        ];
        assert_eq!(
            asks(&rows),
            [
                ("(a payer the bank does not name)".to_string(), "which remittance explains the takeback of 1 (12.50): (no trace) 12.50".to_string()),
                ("PLAN".to_string(), "why the amounts differ for 1 (253.40): EFT-1 253.40; where is the money for 1 (80.00): EFT-2 80.00".to_string()),
            ]
        );
    }
}
