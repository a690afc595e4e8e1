//! The small-balance sweep: writes off, in one batch, the small insurance
//! and patient balances nobody will collect.
//!
//! A claim's balance is eligible when a payment was entered against it in
//! the payment-entry range, it was last billed long enough ago and often
//! enough, and the balance is positive (or a credit, when asked). Balances
//! over the maximum amount go on a separate out-of-range report instead;
//! claims with a denial under appeal or waiting for approval are skipped
//! and counted. Insurance and patient balances are swept separately, each
//! under its own adjustment code; every write-off is a ledger entry plus an
//! audit row with reason `small-balance`, and each posted run gets a
//! receipt and a stored report.
//!
//! - [`params`]: the parameters and their checks.
//! - [`select`]: the one query that finds the balances.
//! - [`write`](mod@write): the set-based write: write-offs, ledger, audit, report.
//! - [`run`]: preview, post, interactive and scheduled runs.
//! - [`report`]: the report as text and CSV.
//! - [`schedule`]: cron slots, rolling windows, the clock.
//! - [`txcodes`]: the transaction code table.

pub mod params;
pub mod report;
pub mod run;
pub mod schedule;
pub mod select;
pub mod txcodes;
pub mod write;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use params::Params;
pub use run::{interactive, post, preview, run_of_receipt, scheduled, show, Answer, SlotOutcome, SweepConfig};

use crate::ledger::ActionError;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{0}")]
    Invalid(String),
    #[error("transaction code {code:?} does not exist (adjustment codes: {known}; add one with: remitd txcode add)")]
    UnknownCode { code: String, known: String },
    #[error("transaction code {code:?} is a {kind} code; a write-off needs an adjustment code")]
    NotAdjustment { code: String, kind: String },
    #[error("sweep run #{0} does not exist")]
    NoRun(i64),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

pub use crate::ledger::Bucket;

/// What became of a balance the sweep found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Written off (or, in a preview, would be).
    WrittenOff,
    /// Meets every criterion but the maximum amount: reported, not written off.
    OutOfRange,
    /// On a claim with a denial under appeal or waiting for approval.
    Protected,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::WrittenOff => "written_off",
            Section::OutOfRange => "out_of_range",
            Section::Protected => "protected",
        }
    }
}

/// One balance of one claim, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub section: Section,
    pub bucket: Bucket,
    /// The claim's row id (what write-offs reference).
    #[serde(skip)]
    pub claim_row: i64,
    pub claim_id: String,
    /// PHI: shown to billing staff on the report, never logged.
    pub patient_name: String,
    pub account_number: String,
    pub last_billed_date: NaiveDate,
    /// The balance; negative for a credit.
    pub amount: Decimal,
    /// The adjustment code it is written off under.
    pub tx_code: String,
    /// The insurance (payer) code of the claim.
    pub payer_code: String,
    /// The policy order of that insurance: 1 primary, 2 secondary, 3 tertiary.
    pub policy_order: i16,
}

/// A run's report: what it found, what it wrote off, what it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `None` for a preview (which stores nothing) or a run that found
    /// nothing to write off.
    pub run: Option<i64>,
    pub receipt: Option<i64>,
    pub preview: bool,
    pub params: Params,
    /// Written off (would be, in a preview), then out of range.
    pub lines: Vec<Line>,
    /// Balances skipped because their claim has a protected denial.
    pub skipped_protected: usize,
    /// Balances a person declined, or never reached before Quit.
    pub declined: usize,
}

impl Report {
    pub fn section(&self, s: Section) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(move |l| l.section == s)
    }

    pub fn total(&self, s: Section) -> Decimal {
        self.section(s).map(|l| l.amount).sum()
    }

    pub fn count(&self, s: Section) -> usize {
        self.section(s).count()
    }
}
