//! What the ledger can hold, refused while a file is read rather than found
//! out inside the database.
//!
//! Every amount remitd posts lands in a `NUMERIC(14,2)` column: the
//! payment (`remittances`), a claim's charge and payment
//! (`claim_postings`), ledger entries, denials and audit rows
//! (`migrations/0001_ledger.sql`). PostgreSQL refuses a larger value
//! ("numeric field overflow"): a database error, which leaves the file in
//! the daemon's inbox to be tried again and again. A value with more
//! decimals it rounds to cents without a word, after the file balanced
//! exactly as sent, and the ledger no longer adds up to what the payer
//! said. X12's type `R` allows both (18 digits, any number of decimals).
//!
//! So every amount the model holds is checked as it is read: at most
//! [`MAX_AMOUNT`] either side of zero, in whole cents (trailing zeros, as
//! in `10.500`, are fine). Quantities (service units, CAS quantities) are
//! not stored and not bounded here; nor is any count from a file stored.
//! Posting also stores two figures it derives from a claim rather than
//! reads; [`claim_figures`] bounds those as each claim ends.

use rust_decimal::Decimal;

use crate::model::Claim;
use crate::x12::Problem;

/// The largest amount a `NUMERIC(14,2)` column holds.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0x107A_3FFF, 0x5AF3, 0, false, 2);

/// [`MAX_AMOUNT`] as refusals show it.
pub const MAX_AMOUNT_SHOWN: &str = "999,999,999,999.99";

/// One more than [`MAX_AMOUNT`], in cents.
const CENTS_BEYOND: u128 = 100_000_000_000_000;

/// `amount`, if the ledger stores it exactly; else why not.
///
/// Works on the mantissa and scale as integers: nearly every amount has
/// two decimals or none, and comparing `Decimal`s of different scales
/// would rescale one for each amount of every file.
#[inline(always)]
pub fn storable(amount: Decimal) -> Result<Decimal, Problem> {
    match cents(amount) {
        None => Err(Problem::FractionOfCent { amount }),
        Some(c) if c.unsigned_abs() >= CENTS_BEYOND => Err(Problem::AmountTooLarge { amount, max: MAX_AMOUNT_SHOWN }),
        Some(_) => Ok(amount),
    }
}

/// Whether the ledger stores `amount` exactly: [`storable`] as a test.
#[inline(always)]
pub fn fits(amount: Decimal) -> bool {
    cents(amount).is_some_and(|c| c.unsigned_abs() < CENTS_BEYOND)
}

/// `amount` in cents, when it is a whole number of them. The mantissa has
/// at most 96 bits, so a hundred times it fits an `i128`.
#[inline(always)]
fn cents(amount: Decimal) -> Option<i128> {
    let mantissa = amount.mantissa();
    match amount.scale() {
        0 => Some(mantissa * 100),
        1 => Some(mantissa * 10),
        2 => Some(mantissa),
        // At most 28: the unit fits an i128.
        scale => {
            let unit = 10i128.pow(scale - 2);
            (mantissa % unit == 0).then(|| mantissa / unit)
        }
    }
}

/// A figure posting derives from a claim: which one, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// CLP04 less what the lines paid: the claim-level payment entry.
    ClaimPayment,
    /// The claim's adjustments other than PR, in absolute value: no denial
    /// of the claim or of one of its lines can be more.
    Adjustments,
}

impl Figure {
    /// The element a refusal points at, if the figure has one.
    pub fn element(self) -> Option<&'static str> {
        match self {
            Figure::ClaimPayment => Some("CLP04"),
            Figure::Adjustments => None,
        }
    }
}

/// Checks the figures posting derives from `claim` (see [`Figure`]); each
/// of its amounts was accepted by [`storable`]. A denial is a sum of some
/// of the claim's adjustments other than patient responsibility (which
/// ones, the CARC categories in the database decide), or for a denied claim
/// without a known denial reason CLP03 - CLP04 - PR, which balancing makes
/// the sum of all of them: so the sum of their sizes bounds every denial.
/// In cents as integers: this runs for every claim.
pub fn claim_figures(claim: &Claim) -> Result<(), (Figure, Problem)> {
    let c = |amount: Decimal| cents(amount).unwrap_or_default();
    let lines_paid: i128 = claim.services.iter().map(|s| c(s.paid)).sum();
    let payment = c(claim.paid) - lines_paid;
    let adjustments = claim.adjustments.iter().chain(claim.services.iter().flat_map(|s| &s.adjustments));
    let adjusted: i128 = adjustments.filter(|a| a.group != "PR").map(|a| c(a.amount).abs()).sum();
    for (figure, value, what) in [
        (Figure::ClaimPayment, payment, "the claim-level payment (CLP04 less the lines' SVC03)"),
        (Figure::Adjustments, adjusted, "the claim's adjustments other than patient responsibility, which its denials add up,"),
    ] {
        if value.unsigned_abs() >= CENTS_BEYOND {
            let amount = Decimal::try_from_i128_with_scale(value, 2).unwrap_or(Decimal::MAX);
            return Err((figure, Problem::FigureTooLarge { figure: what, amount, max: MAX_AMOUNT_SHOWN }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn fits_is_storable_as_a_test() {
        let mut rng = fastrand::Rng::with_seed(14);
        for _ in 0..50_000 {
            let amount = Decimal::from_i128_with_scale(rng.i128(-(10i128.pow(20))..10i128.pow(20)) >> rng.u32(0..64), rng.u32(0..6));
            assert_eq!(fits(amount), storable(amount).is_ok(), "{amount}");
        }
    }

    #[test]
    fn the_bound_is_numeric_14_2() {
        assert_eq!(MAX_AMOUNT.to_string(), "999999999999.99");
        assert_eq!(MAX_AMOUNT_SHOWN.replace(',', ""), MAX_AMOUNT.to_string());
    }

    #[test]
    fn amounts_up_to_the_bound_in_whole_cents_are_stored() {
        for ok in
            ["0", "-0", "0.01", "150", "150.5", "138018.40", "10.500", "-12.5000", "999999999999.99", "-999999999999.99", "999999999999", "999999999999.9"]
        {
            assert_eq!(storable(d(ok)), Ok(d(ok)), "{ok}");
            assert!(fits(d(ok)), "{ok}");
        }
    }

    #[test]
    fn larger_amounts_are_refused() {
        for big in ["1000000000000", "1000000000000.00", "-1000000000000.00", "999999999999.995", "123456789012345678", "1000000000000.000"] {
            let refused = storable(d(big));
            assert!(matches!(refused, Err(Problem::AmountTooLarge { .. }) | Err(Problem::FractionOfCent { .. })), "{big}: {refused:?}");
            assert!(!fits(d(big)), "{big}");
        }
        assert_eq!(
            storable(d("1000000000000.00")).unwrap_err().to_string(),
            "amount 1000000000000.00 is beyond what remitd stores (at most 999,999,999,999.99)"
        );
    }

    fn adjustment(group: &str, amount: &str) -> crate::model::Adjustment {
        crate::model::Adjustment { group: group.into(), reason: "1".into(), amount: d(amount), quantity: None }
    }

    fn line(charge: &str, paid: &str, adjustments: Vec<crate::model::Adjustment>) -> crate::model::Service {
        crate::model::Service { charge: d(charge), paid: d(paid), adjustments, ..Default::default() }
    }

    #[test]
    fn derived_figures_must_fit_too() {
        let big = "600000000000.00";
        // Two lines paying 600 billion each, the claim paying nothing: the
        // claim-level payment would be -1.2 trillion.
        let claim = Claim {
            charge: d(big),
            paid: d("0"),
            adjustments: vec![adjustment("CO", big)],
            services: vec![line(big, big, vec![]), line(big, big, vec![])],
            ..Claim::default()
        };
        let (figure, problem) = claim_figures(&claim).unwrap_err();
        assert_eq!(figure, Figure::ClaimPayment);
        assert_eq!(
            problem.to_string(),
            "the claim-level payment (CLP04 less the lines' SVC03) comes to -1200000000000.00, beyond what remitd stores (at most 999,999,999,999.99)"
        );
        // Two denials of 600 billion on one line: a denial of 1.2 trillion.
        let claim = Claim {
            charge: d(big),
            paid: d("-600000000000.00"),
            services: vec![line(big, "-600000000000.00", vec![adjustment("CO", big), adjustment("CO", big)])],
            ..Claim::default()
        };
        assert_eq!(claim_figures(&claim).unwrap_err().0, Figure::Adjustments);
        // Patient responsibility is never a denial; sizes count, not signs.
        let claim = Claim { services: vec![line("0", "0", vec![adjustment("PR", big), adjustment("PR", big)])], ..Claim::default() };
        assert!(claim_figures(&claim).is_ok());
        let claim = Claim { adjustments: vec![adjustment("CO", big), adjustment("CO", "-600000000000.00")], ..Claim::default() };
        assert_eq!(claim_figures(&claim).unwrap_err().0, Figure::Adjustments);
        let at_the_bound = Claim { paid: MAX_AMOUNT, adjustments: vec![adjustment("OA", "999999999999.99")], ..Claim::default() };
        assert!(claim_figures(&at_the_bound).is_ok());
    }

    #[test]
    fn fractions_of_a_cent_are_refused_not_rounded() {
        for odd in ["10.005", "0.001", "-0.125", "1.0000000000000000000000000001"] {
            assert!(matches!(storable(d(odd)), Err(Problem::FractionOfCent { .. })), "{odd}");
        }
        assert_eq!(
            storable(d("10.005")).unwrap_err().to_string(),
            "amount 10.005 has a fraction of a cent: remitd stores amounts in whole cents and does not round them"
        );
    }
}
