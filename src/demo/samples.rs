//! The sample data the demo uses, built into the binary so `remitd demo`
//! runs from any folder and needs no file from the checkout.
//! `samples/README.md` says what each file holds.

/// The claims remittances are matched against.
pub const CLAIMS_CSV: &str = include_str!("../../samples/claims.csv");
/// Three paid claims with contractual and patient-responsibility adjustments.
pub const PAID_CLAIMS: &[u8] = include_bytes!("../../samples/valid/paid-claims.835");
/// A claim that does not balance by one cent.
pub const IMBALANCED: &[u8] = include_bytes!("../../samples/refused/imbalanced-claim.835");
/// CLM-6001, with unusual delimiters; the demo imports its claim late.
pub const UNMATCHED: &[u8] = include_bytes!("../../samples/valid/unusual-delimiters.835");
/// The payment that `REVERSAL` reverses: CLM-3001 paid, CLM-3002 denied.
pub const BEFORE_REVERSAL: &[u8] = include_bytes!("../../samples/demo/before-reversal.835");
/// Reversals of CLM-3001 and CLM-3002, each followed by its corrected claim.
pub const REVERSAL: &[u8] = include_bytes!("../../samples/valid/reversal-and-correction.835");
/// The bank's ACH file paying paid-claims.835 (and a payment whose 835
/// never comes, and a takeback).
pub const BANK_DAILY: &[u8] = include_bytes!("../../samples/bank/daily.ach");
