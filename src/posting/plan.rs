//! What one claim of a remittance posts, decided without the database.
//!
//! The rules (`docs`: README, "Posting"):
//! - payment from each line's SVC03; when CLP04 differs from the lines' sum
//!   (claim-level adjustments), the difference is a claim-level payment;
//! - CO/PI/OA adjustments are contractual or denial by CARC (a data list),
//!   anything else an other adjustment;
//! - PR moves the amount to patient responsibility, reason kept
//!   (1 deductible, 2 coinsurance, 3 copay);
//! - AMT*I is interest;
//! - a line whose adjustments carry denial CARCs opens a denial for that
//!   line; claim-level denial CARCs, or CLP02 = 4 with no line denial, open
//!   one for the claim.
//!
//! Keeping this pure makes every rule testable without PostgreSQL.

use std::collections::HashSet;

use rust_decimal::Decimal;

pub use crate::ledger::EntryKind as Kind;
use crate::model::{Adjustment, Claim, Service};

/// Which CARCs are contractual and which are denials (table `carc_categories`).
#[derive(Debug, Default, Clone)]
pub struct CarcCategories {
    pub contractual: HashSet<(String, String)>,
    pub denial: HashSet<(String, String)>,
}

impl CarcCategories {
    fn kind(&self, a: &Adjustment) -> Kind {
        if a.group == "PR" {
            return Kind::PatientResponsibility;
        }
        let key = (a.group.to_string(), a.reason.to_string());
        if self.denial.contains(&key) {
            Kind::Denial
        } else if self.contractual.contains(&key) {
            Kind::Contractual
        } else {
            Kind::OtherAdjustment
        }
    }
}

/// One ledger entry to write. `line` indexes the claim's services; the
/// caller maps it to a service line row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEntry {
    pub line: Option<usize>,
    pub kind: Kind,
    pub group_code: Option<String>,
    pub reason_code: Option<String>,
    pub amount: Decimal,
}

/// A denial to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDenial {
    pub line: Option<usize>,
    pub amount: Decimal,
    pub reason_codes: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClaimPlan {
    pub entries: Vec<PlannedEntry>,
    pub denials: Vec<PlannedDenial>,
}

fn adjustment_entries(adjustments: &[Adjustment], line: Option<usize>, cats: &CarcCategories, plan: &mut ClaimPlan) -> PlannedDenial {
    let mut denied = PlannedDenial { line, amount: Decimal::ZERO, reason_codes: Vec::new() };
    for a in adjustments {
        let kind = cats.kind(a);
        if kind == Kind::Denial {
            denied.amount += a.amount;
            let code = format!("{}-{}", a.group, a.reason);
            if !denied.reason_codes.contains(&code) {
                denied.reason_codes.push(code);
            }
        }
        plan.entries.push(PlannedEntry { line, kind, group_code: Some(a.group.to_string()), reason_code: Some(a.reason.to_string()), amount: a.amount });
    }
    denied
}

fn payment(line: Option<usize>, amount: Decimal) -> Option<PlannedEntry> {
    (!amount.is_zero()).then_some(PlannedEntry { line, kind: Kind::Payment, group_code: None, reason_code: None, amount })
}

/// Plans the entries and denials of one (non-reversal) claim.
pub fn plan_claim(claim: &Claim, cats: &CarcCategories) -> ClaimPlan {
    let mut plan = ClaimPlan::default();
    let lines_paid: Decimal = claim.services.iter().map(|s: &Service| s.paid).sum();
    for (i, svc) in claim.services.iter().enumerate() {
        plan.entries.extend(payment(Some(i), svc.paid));
        let denied = adjustment_entries(&svc.adjustments, Some(i), cats, &mut plan);
        if !denied.reason_codes.is_empty() {
            plan.denials.push(denied);
        }
    }
    plan.entries.extend(payment(None, claim.paid - lines_paid));
    let mut claim_denial = adjustment_entries(&claim.adjustments, None, cats, &mut plan);
    if let Some(interest) = claim.interest.filter(|i| !i.is_zero()) {
        plan.entries.push(PlannedEntry { line: None, kind: Kind::Interest, group_code: None, reason_code: None, amount: interest });
    }
    let denied_status = claim.status_code == "4";
    if denied_status && plan.denials.is_empty() && claim_denial.reason_codes.is_empty() {
        // Denied without a denial CARC we know: what the payer left unpaid
        // and did not move to the patient stays owed and is the denial.
        let pr: Decimal = plan.entries.iter().filter(|e| e.kind == Kind::PatientResponsibility).map(|e| e.amount).sum();
        claim_denial.amount = claim.charge - claim.paid - pr;
        claim_denial.reason_codes =
            claim.adjustments.iter().chain(claim.services.iter().flat_map(|s| &s.adjustments)).map(|a| format!("{}-{}", a.group, a.reason)).collect();
    }
    if !claim_denial.reason_codes.is_empty() || (denied_status && plan.denials.is_empty()) {
        plan.denials.push(claim_denial);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn adj(group: &str, reason: &str, amount: &str) -> Adjustment {
        Adjustment { group: group.into(), reason: reason.into(), amount: d(amount), quantity: None }
    }

    fn cats() -> CarcCategories {
        let mut c = CarcCategories::default();
        c.contractual.insert(("CO".into(), "45".into()));
        c.denial.insert(("CO".into(), "50".into()));
        c.denial.insert(("CO".into(), "29".into()));
        c
    }

    fn service(charge: &str, paid: &str, adjustments: Vec<Adjustment>) -> Service {
        Service { procedure_qualifier: "HC".into(), procedure: "99213".into(), charge: d(charge), paid: d(paid), adjustments, ..Service::default() }
    }

    fn claim(status: &str, charge: &str, paid: &str, adjustments: Vec<Adjustment>, services: Vec<Service>) -> Claim {
        Claim {
            patient_control_number: "C1".into(),
            status_code: status.into(),
            charge: d(charge),
            paid: d(paid),
            filing_indicator: "MC".into(),
            adjustments,
            services,
            ..Claim::default()
        }
    }

    fn total(plan: &ClaimPlan, kind: Kind) -> Decimal {
        plan.entries.iter().filter(|e| e.kind == kind).map(|e| e.amount).sum()
    }

    #[test]
    fn paid_lines_with_contractual_and_patient_responsibility() {
        let c = claim(
            "1",
            "200",
            "120",
            vec![],
            vec![service("150", "95", vec![adj("CO", "45", "30"), adj("PR", "3", "25")]), service("50", "25", vec![adj("PR", "2", "25")])],
        );
        let plan = plan_claim(&c, &cats());
        assert_eq!(total(&plan, Kind::Payment), d("120"));
        assert_eq!(total(&plan, Kind::Contractual), d("30"));
        assert_eq!(total(&plan, Kind::PatientResponsibility), d("50"));
        assert!(plan.denials.is_empty());
        assert!(plan.entries.iter().any(|e| e.kind == Kind::PatientResponsibility && e.reason_code.as_deref() == Some("3") && e.line == Some(0)));
    }

    #[test]
    fn claim_level_adjustments_make_a_claim_level_payment_difference() {
        let c = claim("1", "100", "60", vec![adj("CO", "45", "20")], vec![service("100", "80", vec![adj("CO", "45", "20")])]);
        let plan = plan_claim(&c, &cats());
        assert_eq!(total(&plan, Kind::Payment), d("60"));
        assert!(plan.entries.iter().any(|e| e.kind == Kind::Payment && e.line.is_none() && e.amount == d("-20")));
    }

    #[test]
    fn denied_claim_opens_a_denial_with_its_carcs() {
        let c = claim("4", "300", "0", vec![adj("CO", "50", "300")], vec![]);
        let plan = plan_claim(&c, &cats());
        assert_eq!(plan.denials, vec![PlannedDenial { line: None, amount: d("300"), reason_codes: vec!["CO-50".into()] }]);
        assert_eq!(total(&plan, Kind::Payment), Decimal::ZERO);
    }

    #[test]
    fn line_denial_on_a_paid_claim() {
        let c = claim("1", "200", "80", vec![], vec![service("100", "80", vec![adj("CO", "45", "20")]), service("100", "0", vec![adj("CO", "29", "100")])]);
        let plan = plan_claim(&c, &cats());
        assert_eq!(plan.denials, vec![PlannedDenial { line: Some(1), amount: d("100"), reason_codes: vec!["CO-29".into()] }]);
    }

    #[test]
    fn status_4_without_a_known_denial_carc_still_opens_one() {
        let c = claim("4", "120", "0", vec![adj("OA", "999", "120")], vec![]);
        let plan = plan_claim(&c, &cats());
        assert_eq!(plan.denials.len(), 1);
        assert_eq!(plan.denials[0].amount, d("120"));
        assert_eq!(total(&plan, Kind::OtherAdjustment), d("120"));
    }

    #[test]
    fn zero_paid_claim_is_not_a_denial_by_itself() {
        let c = claim("1", "100", "0", vec![], vec![service("100", "0", vec![adj("PR", "1", "100")])]);
        let plan = plan_claim(&c, &cats());
        assert!(plan.denials.is_empty());
        assert_eq!(total(&plan, Kind::PatientResponsibility), d("100"));
    }

    /// Whatever the CARC categories, a claim the parser accepts (every
    /// amount storable, `parse::limits::claim_figures` passed) plans only
    /// entries and denials the ledger's columns hold.
    #[test]
    fn what_the_parser_accepts_plans_only_storable_amounts() {
        use crate::parse::limits::{claim_figures, storable};
        let mut rng = fastrand::Rng::with_seed(11);
        let amount = |rng: &mut fastrand::Rng| Decimal::new(rng.i64(-100_000_000_000_000..100_000_000_000_000), 2);
        let groups = ["CO", "PI", "OA", "PR"];
        let (mut planned, mut refused) = (0, 0);
        for _ in 0..20_000 {
            let mut cats = CarcCategories::default();
            for g in groups {
                let set = if rng.bool() { &mut cats.denial } else { &mut cats.contractual };
                set.insert((g.to_string(), "1".to_string()));
            }
            let adjustments = |rng: &mut fastrand::Rng| -> Vec<Adjustment> {
                (0..rng.usize(0..4))
                    .map(|_| Adjustment { group: groups[rng.usize(..4)].into(), reason: "1".into(), amount: amount(rng), quantity: None })
                    .collect()
            };
            let services: Vec<Service> = (0..rng.usize(0..4))
                .map(|_| {
                    let adjustments = adjustments(&mut rng);
                    let charge = amount(&mut rng);
                    let paid = charge - adjustments.iter().map(|a| a.amount).sum::<Decimal>();
                    Service { charge, paid, adjustments, ..Service::default() }
                })
                .collect();
            let claim_adjustments = adjustments(&mut rng);
            let charge = amount(&mut rng);
            let all: Decimal = claim_adjustments.iter().chain(services.iter().flat_map(|s| &s.adjustments)).map(|a| a.amount).sum();
            let status = if rng.bool() { "4" } else { "1" };
            let c = Claim { status_code: status.into(), charge, paid: charge - all, adjustments: claim_adjustments, services, ..Claim::default() };
            let elements = [c.charge, c.paid].into_iter().chain(c.services.iter().flat_map(|s| [s.charge, s.paid]));
            if elements.into_iter().any(|a| storable(a).is_err()) || claim_figures(&c).is_err() {
                refused += 1;
                continue;
            }
            planned += 1;
            let plan = plan_claim(&c, &cats);
            for a in plan.entries.iter().map(|e| e.amount).chain(plan.denials.iter().map(|d| d.amount)) {
                assert!(storable(a).is_ok(), "{a} planned from {c:?}");
            }
        }
        assert!(planned > 1_000 && refused > 1_000, "both kinds drawn: {planned} planned, {refused} refused");
    }

    #[test]
    fn interest_is_its_own_entry() {
        let mut c = claim("1", "100", "100", vec![], vec![]);
        c.interest = Some(d("1.27"));
        let plan = plan_claim(&c, &cats());
        assert_eq!(total(&plan, Kind::Interest), d("1.27"));
    }
}
