//! Claims as the practice-management system sends them: the CSV import and
//! the claim view with balances derived from the ledger.

pub mod amend;
pub mod check;
pub mod export;
pub mod fields;
pub mod import;
pub mod view;
