//! Bank files: the money side of a payment, to match against the
//! remittances that explain it (reassociation, CAQH CORE rule 370).
//!
//! - [`nacha`]: ACH files, CCD+ (and CTX) entries whose addenda carry the
//!   835's `TRN` segment.
//! - [`bai2`]: bank statements, whose transaction details carry it in
//!   their text.
//! - [`store`]: a bank file's deposits into the database, exactly once.
//! - [`reconcile`]: deposits matched with remittances, and what is left.
//! - [`sums`]: which checks add up to a bulk deposit.
//!
//! Each parser reads a whole file into typed values or refuses it with the
//! line and column of the first thing wrong ([`BankError`]). A bank file
//! holds account numbers: a refusal names the field, never its content.

pub mod bai2;
pub mod nacha;
pub mod reconcile;
pub mod store;
pub mod sums;

use rust_decimal::Decimal;
use serde::Serialize;

/// A bank file of either kind, told apart by how it starts: a BAI2 file
/// with its `01,` header, an ACH file with its `1` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BankFile {
    Ach(nacha::AchFile),
    Statement(bai2::Statement),
}

impl BankFile {
    /// An X12 interchange (an 835 dropped in the wrong folder) is named as
    /// such rather than refused as a malformed ACH record.
    pub fn read(bytes: &[u8]) -> Result<BankFile, BankError> {
        if bytes.trim_ascii_start().starts_with(b"ISA") {
            return Err(BankError::at(
                1,
                1,
                "this is an X12 interchange (an 835?), not an ACH file or a BAI2 statement: it belongs in a remittances drop folder",
            ));
        }
        match bytes.starts_with(b"01,") {
            true => bai2::read(bytes).map(BankFile::Statement),
            false => nacha::read(bytes).map(BankFile::Ach),
        }
    }

    pub fn deposits(&self) -> Vec<Deposit> {
        match self {
            BankFile::Ach(f) => f.deposits(),
            BankFile::Statement(s) => s.deposits(),
        }
    }

    /// What the file is, for a person: its kind, date and sender.
    pub fn describe(&self) -> String {
        match self {
            BankFile::Ach(f) => format!("ACH file of {}, from {}: {} batches", f.created, f.origin_name, f.batches.len()),
            BankFile::Statement(s) => format!("BAI2 statement of {}, from {}: {} groups", s.created, s.sender, s.groups.len()),
        }
    }
}

/// Where a bank file is wrong and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {problem}")]
pub struct BankError {
    /// 1-based line (record) number.
    pub line: usize,
    /// 1-based column of the field that is wrong (1 for the whole record).
    pub column: usize,
    pub problem: String,
}

impl BankError {
    pub fn at(line: usize, column: usize, problem: impl Into<String>) -> BankError {
        BankError { line, column, problem: problem.into() }
    }
}

/// The 835's `TRN` segment as a bank file carries it: what ties a deposit
/// to its remittance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trn {
    /// TRN02: the EFT trace (or check) number.
    pub trace: String,
    /// TRN03: the payer's identifier (`1` and its EIN).
    pub payer_id: String,
    /// TRN04, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originating: Option<String>,
}

impl Trn {
    /// The first `TRN*1*...` in `text`, ending at a `\` or `~` segment
    /// terminator or at the end of the text (banks cut it anywhere).
    pub fn find(text: &str) -> Option<Trn> {
        let start = text.find("TRN*1*")? + "TRN*1*".len();
        let rest = &text[start..];
        let end = rest.find(['\\', '~']).unwrap_or(rest.len());
        let mut parts = rest[..end].split('*').map(str::trim);
        let trace = parts.next().filter(|t| !t.is_empty())?.to_string();
        let payer_id = parts.next().filter(|p| !p.is_empty())?.to_string();
        let originating = parts.next().filter(|o| !o.is_empty()).map(str::to_string);
        Some(Trn { trace, payer_id, originating })
    }
}

/// One movement of money a bank file reports, ready to match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deposit {
    /// Credit (money in) or debit (a payer taking money back).
    pub credit: bool,
    pub amount: Decimal,
    /// The day the money moved (ACH effective entry date).
    pub date: Option<chrono::NaiveDate>,
    /// Who paid, as the bank names them.
    pub payer_name: String,
    /// The reassociation trace, when the bank file carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trn: Option<Trn>,
    /// The bank's own reference (the ACH trace number).
    pub bank_reference: String,
    /// The depositor's reference a statement carries: for a check
    /// deposit, the check number (an 835 paid by check has it as TRN02).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Trn;

    #[test]
    fn a_trn_is_found_where_the_bank_put_it() {
        let t = Trn::find("TRN*1*12345678*1512345678\\").unwrap();
        assert_eq!((t.trace.as_str(), t.payer_id.as_str(), t.originating), ("12345678", "1512345678", None));
        let t = Trn::find("PAYMENT TRN*1*EFT-1*1999999901*ORIG~ trailing").unwrap();
        assert_eq!(t.originating.as_deref(), Some("ORIG"));
        assert_eq!(Trn::find("TRN*1*1234").map(|t| t.trace), None, "no payer id: no trace to match on");
        assert_eq!(Trn::find("no reassociation here"), None);
    }
}
