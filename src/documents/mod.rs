//! Documents people print or hand to auditors: the readable remittance, a
//! write-off history with its receipts, the sweep report. Each is built
//! from the same data the command line and the console show, then laid out
//! as PDF by [`pdf::Layout`].

pub mod codes;
pub mod pdf;
pub mod reconciliation;
pub mod remittance;
pub mod reports;
