//! The three balancing rules of the 835, checked on the typed model.
//!
//! - service line: SVC02 - sum(line CAS) = SVC03
//! - claim: CLP03 - sum(claim CAS) - sum(every line's CAS) = CLP04
//! - transaction: BPR02 = sum(CLP04) - sum(PLB amounts)
//!
//! A file that breaks any of them is refused: posting it would put money on
//! the ledger that the payer's own numbers do not support. CLP05 against the
//! PR adjustments is not a balancing rule; a mismatch is only a warning.

use rust_decimal::Decimal;

use super::builder::Positions;
use crate::model::{Adjustment, Claim, Transaction};
use crate::x12::Problem;

/// Where a rule broke: segment ordinal, tag and element, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub segment: u64,
    pub tag: &'static str,
    pub element: &'static str,
    pub problem: Problem,
}

fn sum(adjustments: &[Adjustment]) -> Decimal {
    adjustments.iter().map(|a| a.amount).sum()
}

/// Whether a claim and its service lines keep their rules: what [`check`]
/// finds in it, without the message. The builder asks as each claim ends.
pub fn claim_balances(claim: &Claim) -> bool {
    let mut line_adjustments = Decimal::ZERO;
    for svc in &claim.services {
        let line = sum(&svc.adjustments);
        line_adjustments += line;
        if svc.charge - line != svc.paid {
            return false;
        }
    }
    claim.charge - sum(&claim.adjustments) - line_adjustments == claim.paid
}

/// The transaction rule, once every claim is in (`paid` is the sum of
/// CLP04), after the first claim that broke a rule, if any.
///
/// The builder has already balanced each claim as it ended and added up
/// CLP04 (see `Builder::close_claim`), so the claims are not walked again:
/// a set read in parts is checked without holding it.
pub fn check(tx: &Transaction, pos: &Positions) -> Result<(), Finding> {
    if let Some(f) = &pos.unbalanced {
        return Err(f.clone());
    }
    let paid = pos.paid;
    let provider: Decimal = tx.provider_adjustments.iter().map(|p| p.amount).sum();
    // BPR02 is never negative: when the claims and adjustments add up to
    // money the payer takes back, BPR03 is D and BPR02 is how much.
    let expected = match tx.payment.credit_debit.as_str() {
        "D" => provider - paid,
        _ => paid - provider,
    };
    if expected != tx.payment.amount {
        return Err(Finding {
            segment: pos.bpr,
            tag: "BPR",
            element: "BPR02",
            problem: Problem::Imbalance {
                rule: match tx.payment.credit_debit.as_str() {
                    "D" => "transaction (BPR02 = provider adjustments - claim payments, a debit)",
                    _ => "transaction (BPR02 = claim payments - provider adjustments)",
                },
                expected: match tx.payment.credit_debit.as_str() {
                    "D" => format!("{} = {expected}", difference(provider, &[paid])),
                    _ => format!("{} = {expected}", difference(paid, &[provider])),
                },
                found: tx.payment.amount.to_string(),
            },
        });
    }
    Ok(())
}

/// The first rule a claim breaks, service lines first: `clp` is its CLP
/// ordinal and `services` its SVC ordinals, in order.
pub fn claim_finding(claim: &Claim, clp: u64, services: &[u64]) -> Option<Finding> {
    let mut line_adjustments = Decimal::ZERO;
    for (svc, &at) in claim.services.iter().zip(services) {
        let line = sum(&svc.adjustments);
        line_adjustments += line;
        let expected = svc.charge - line;
        if expected != svc.paid {
            return Some(Finding {
                segment: at,
                tag: "SVC",
                element: "SVC03",
                problem: Problem::Imbalance {
                    rule: "service line (SVC02 - adjustments = SVC03)",
                    expected: format!("{} = {expected}", difference(svc.charge, &[line])),
                    found: svc.paid.to_string(),
                },
            });
        }
    }
    let claim_level = sum(&claim.adjustments);
    let expected = claim.charge - claim_level - line_adjustments;
    (expected != claim.paid).then(|| Finding {
        segment: clp,
        tag: "CLP",
        element: "CLP04",
        problem: Problem::Imbalance {
            rule: "claim (CLP03 - claim and line adjustments = CLP04)",
            expected: format!("{} = {expected}", difference(claim.charge, &[claim_level, line_adjustments])),
            found: claim.paid.to_string(),
        },
    })
}

/// `first - a - b ...` as a person writes it: a negative term is added
/// (`5.75 + 1.27`, not `5.75 - -1.27`).
fn difference(first: Decimal, terms: &[Decimal]) -> String {
    let mut out = first.to_string();
    for t in terms {
        let (sign, magnitude) = if t.is_sign_negative() && !t.is_zero() { ('+', -*t) } else { ('-', *t) };
        out.push_str(&format!(" {sign} {magnitude}"));
    }
    out
}

/// CLP05 that differs from the PR adjustments of the claim and its lines:
/// the warning, for the CLP at segment `clp`.
pub fn patient_responsibility_warning(claim: &Claim, clp: u64) -> Option<(u64, String)> {
    let stated = claim.patient_responsibility?;
    let pr: Decimal = claim.adjustments.iter().chain(claim.services.iter().flat_map(|s| &s.adjustments)).filter(|a| a.group == "PR").map(|a| a.amount).sum();
    (stated != pr).then(|| (clp, format!("CLP05 patient responsibility is {stated} but the PR adjustments add up to {pr}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_as_written() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(difference(d("5.75"), &[d("-1.27")]), "5.75 + 1.27");
        assert_eq!(difference(d("200.00"), &[d("0"), d("88.00")]), "200.00 - 0 - 88.00");
        assert_eq!(difference(d("-400.00"), &[d("-240.00"), d("10.00")]), "-400.00 + 240.00 - 10.00");
    }
}
