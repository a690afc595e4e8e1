//! Reports as PDF: a title, what the report covers, one table and its
//! totals. The write-off history with its receipts (source document 001's
//! export), write-off causes, the audit trail and the sweep report all
//! print this way, from the same rows their CSV has.

use super::pdf::{Column, Layout};

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
