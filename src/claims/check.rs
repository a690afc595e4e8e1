//! One row of the claims CSV checked whole, and the refusals a file
//! collects: each names its CSV line and, for a value, its column.
//!
//! Every value of a row is checked, not only the first bad one, and every
//! row of the file, so one pass over a refused file shows what to fix
//! (the first [`Refusals::SHOWN`] of them, with their count).

use std::fmt;

use chrono::NaiveDate;
use csv::ByteRecord;
use rust_decimal::Decimal;

use super::fields::{self, Problem, AMOUNT_MAX, CLAIM_ID_MAX, CODE_MAX, LINE_CONTROL_NUMBER_MAX, PATIENT_NAME_MAX};
use super::import::{HEADER, OPTIONAL};

/// Most service lines of one claim: an 835 pays at most 999 per claim (loop
/// 2110), so a claim with more could never be paid line by line.
pub const LINES_PER_CLAIM_MAX: usize = 999;

/// A row whose every value is well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'r> {
    pub claim_id: &'r str,
    pub account_number: &'r str,
    pub patient_name: &'r str,
    pub payer_code: &'r str,
    pub service_date: NaiveDate,
    pub procedure: String,
    pub modifiers: Vec<String>,
    pub charge: Decimal,
    pub last_billed_date: Option<NaiveDate>,
    pub times_billed: i32,
    pub line_control_number: Option<&'r str>,
}

/// Collects the problems of one row's values, each with its column.
struct Values<'r> {
    record: &'r ByteRecord,
    problems: Vec<RowProblem>,
}

impl<'r> Values<'r> {
    /// The value of column `i` as `check` reads it, once it is text without
    /// control characters; `None` (and the problem noted) otherwise.
    fn get<T>(&mut self, i: usize, check: impl FnOnce(&'r str) -> Result<T, Problem>) -> Option<T> {
        let raw = self.record.get(i).unwrap_or_default();
        match fields::plain(raw).and_then(check) {
            Ok(v) => Some(v),
            Err(problem) => {
                self.problems.push(RowProblem::Value { column: column(i), problem });
                None
            }
        }
    }
}

/// The name of column `i`.
fn column(i: usize) -> &'static str {
    HEADER.get(i).copied().unwrap_or(OPTIONAL)
}

impl<'r> Row<'r> {
    /// Checks every value of `record`, a row of a file whose header has
    /// `columns` columns (9, or 10 with `line_control_number`).
    pub fn check(record: &'r ByteRecord, columns: usize) -> Result<Row<'r>, Vec<RowProblem>> {
        if record.len() != columns {
            return Err(vec![RowProblem::Columns { found: record.len(), expected: columns }]);
        }
        let mut v = Values { record, problems: Vec::new() };
        let claim_id = v.get(0, |s| fields::required(s, CLAIM_ID_MAX));
        let account_number = v.get(1, |s| fields::required(s, CODE_MAX));
        let patient_name = v.get(2, |s| fields::required(s, PATIENT_NAME_MAX));
        let payer_code = v.get(3, |s| fields::required(s, CODE_MAX));
        let service_date = v.get(4, fields::date);
        let procedure = v.get(5, fields::procedure);
        let charge = v.get(6, fields::amount);
        let last_billed_date = v.get(7, fields::optional_date);
        let times_billed = v.get(8, fields::count);
        let line_control_number = if columns > HEADER.len() { v.get(9, |s| fields::text(s, LINE_CONTROL_NUMBER_MAX)) } else { Some(None) };
        let (
            Some(claim_id),
            Some(account_number),
            Some(patient_name),
            Some(payer_code),
            Some(service_date),
            Some((procedure, modifiers)),
            Some(charge),
            Some(last_billed_date),
            Some(times_billed),
            Some(line_control_number),
        ) = (claim_id, account_number, patient_name, payer_code, service_date, procedure, charge, last_billed_date, times_billed, line_control_number)
        else {
            return Err(v.problems);
        };
        Ok(Row {
            claim_id,
            account_number,
            patient_name,
            payer_code,
            service_date,
            procedure,
            modifiers,
            charge,
            last_billed_date,
            // An empty count is a claim not billed yet.
            times_billed: times_billed.unwrap_or(0),
            line_control_number,
        })
    }
}

/// Why a row is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowProblem {
    #[error("{column} {problem}")]
    Value { column: &'static str, problem: Problem },
    #[error("has {found} columns, the header {expected}")]
    Columns { found: usize, expected: usize },
    #[error("claim {claim_id} differs from line {first_line} in {}: rows of one claim agree on its claim-level columns", columns.join(", "))]
    ClaimDiffers { claim_id: String, columns: Vec<&'static str>, first_line: u64 },
    #[error("account {account} has another patient name than on line {first_line}")]
    AccountName { account: String, first_line: u64 },
    #[error("claim {claim_id} has more than {LINES_PER_CLAIM_MAX} service lines, the most an 835 pays on one claim")]
    TooManyLines { claim_id: String },
    #[error("line_charge brings the charge of claim {claim_id} beyond {AMOUNT_MAX}, the most a NUMERIC(14,2) column holds")]
    ClaimTooLarge { claim_id: String },
}

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct Refusal {
    /// The CSV line the row starts on.
    pub line: u64,
    pub problem: RowProblem,
}

/// The refusals of a file: the first [`Refusals::SHOWN`], and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    shown: Vec<Refusal>,
    total: usize,
}

impl Refusals {
    /// Refusals kept to show; the rest are counted.
    pub const SHOWN: usize = 20;

    pub fn push(&mut self, line: u64, problem: RowProblem) {
        self.total += 1;
        if self.shown.len() < Refusals::SHOWN {
            self.shown.push(Refusal { line, problem });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The first refusals, in line order.
    pub fn shown(&self) -> &[Refusal] {
        &self.shown
    }

    pub fn total(&self) -> usize {
        self.total
    }
}

/// One refusal as itself; several one to a line under their count.
impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.shown.as_slice() {
            if self.total == 1 {
                return write!(f, "{one}");
            }
        }
        write!(f, "{} problems:", self.total)?;
        for r in &self.shown {
            write!(f, "\n  {r}")?;
        }
        match self.total - self.shown.len() {
            0 => Ok(()),
            more => write!(f, "\n  and {more} more"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> ByteRecord {
        ByteRecord::from(fields.to_vec())
    }

    const GOOD: [&str; 9] = ["C1", "A1", "DOE, JANE", "P1", "2024-01-02", "99213:25", "100.00", "", ""];

    #[test]
    fn a_good_row_reads_whole() {
        let r = record(&GOOD);
        let row = Row::check(&r, 9).unwrap();
        assert_eq!((row.claim_id, row.times_billed, row.last_billed_date, row.modifiers.as_slice()), ("C1", 0, None, &["25".to_string()][..]));
    }

    #[test]
    fn every_bad_value_of_a_row_is_named() {
        let mut bad = GOOD;
        bad[4] = "2024-2-3";
        bad[6] = "1e3";
        bad[2] = "DOE,\tJANE";
        let r = record(&bad);
        let columns: Vec<&str> = Row::check(&r, 9)
            .unwrap_err()
            .into_iter()
            .map(|p| match p {
                RowProblem::Value { column, .. } => column,
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(columns, ["patient_name", "service_date", "line_charge"]);
    }

    #[test]
    fn a_row_with_another_number_of_columns_is_refused_as_such() {
        let r = record(&GOOD[..8]);
        assert_eq!(Row::check(&r, 9).unwrap_err(), vec![RowProblem::Columns { found: 8, expected: 9 }]);
    }

    #[test]
    fn many_refusals_show_the_first_and_count_the_rest() {
        let mut r = Refusals::default();
        r.push(2, RowProblem::TooManyLines { claim_id: "C1".into() });
        assert_eq!(r.to_string(), "line 2: claim C1 has more than 999 service lines, the most an 835 pays on one claim");
        for line in 3..30 {
            r.push(line, RowProblem::Columns { found: 3, expected: 9 });
        }
        let text = r.to_string();
        assert!(text.starts_with("28 problems:\n  line 2: claim C1"), "{text}");
        assert!(text.ends_with("\n  line 21: has 3 columns, the header 9\n  and 8 more"), "{text}");
    }
}
