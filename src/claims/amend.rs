//! What a re-import would change in the money of a claim that already has
//! postings. Such a claim's charge changes only by an explicit amendment
//! (`remitd claims import --amend --actor NAME --reason TEXT`), posted as
//! charge corrections in the ledger; without one the import is refused,
//! naming the line. Decided here without the database.

use rust_decimal::Decimal;

use super::import::ImportClaim;

/// A service line as the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLine {
    pub id: i64,
    pub line_number: i32,
    /// The charge now: as imported, plus its charge corrections.
    pub charge: Decimal,
    pub removed: bool,
}

/// One money change of a posted claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A line's charge changes.
    Charge { line_number: i32, line_id: i64, from: Decimal, to: Decimal, csv_line: u64 },
    /// A line is no longer in the file.
    Dropped { line_number: i32, line_id: i64, from: Decimal },
    /// A line is new.
    Added { line_number: i32, to: Decimal, csv_line: u64 },
}

impl Change {
    /// The claim's charge moves by this much.
    pub fn amount(&self) -> Decimal {
        match self {
            Change::Charge { from, to, .. } => to - from,
            Change::Dropped { from, .. } => -from,
            Change::Added { to, .. } => *to,
        }
    }

    /// The CSV line to name in a refusal (a dropped line has none: the
    /// claim's first row).
    pub fn csv_line(&self, claim: &ImportClaim) -> u64 {
        match self {
            Change::Charge { csv_line, .. } | Change::Added { csv_line, .. } => *csv_line,
            Change::Dropped { .. } => claim.first_line,
        }
    }

    /// What changes, as a refusal or a ledger memo says it.
    pub fn describe(&self, claim_id: &str) -> String {
        match self {
            Change::Charge { line_number, from, to, .. } => format!("the charge of claim {claim_id} line {line_number} would change from {from} to {to}"),
            Change::Dropped { line_number, from, .. } => format!("claim {claim_id} line {line_number} ({from}) would be dropped"),
            Change::Added { line_number, to, .. } => format!("claim {claim_id} would gain line {line_number} ({to})"),
        }
    }
}

/// The money changes importing `new` over `stored` (the claim's lines, in
/// line order) makes. Lines are matched by their number (file order).
pub fn changes(stored: &[StoredLine], new: &ImportClaim) -> Vec<Change> {
    let mut out = Vec::new();
    for (i, line) in new.lines.iter().enumerate() {
        let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
        match stored.iter().find(|s| s.line_number == number) {
            Some(s) if !s.removed && s.charge == line.charge => {}
            Some(s) if !s.removed => out.push(Change::Charge { line_number: number, line_id: s.id, from: s.charge, to: line.charge, csv_line: line.csv_line }),
            // A line dropped before and back now: its charge is what it regains.
            Some(s) => out.push(Change::Charge { line_number: number, line_id: s.id, from: s.charge, to: line.charge, csv_line: line.csv_line }),
            None => out.push(Change::Added { line_number: number, to: line.charge, csv_line: line.csv_line }),
        }
    }
    for s in stored.iter().filter(|s| !s.removed && usize::try_from(s.line_number).is_ok_and(|n| n > new.lines.len())) {
        out.push(Change::Dropped { line_number: s.line_number, line_id: s.id, from: s.charge });
    }
    out.retain(|c| !c.amount().is_zero() || matches!(c, Change::Dropped { .. }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::import::read;

    fn claim(charges: &[&str]) -> ImportClaim {
        let mut csv = String::from("claim_id,account_number,patient_name,payer_id,service_date,procedure,line_charge,last_billed_date,times_billed\n");
        for c in charges {
            csv.push_str(&format!("C1,A1,\"DOE, JANE\",P1,2024-01-01,99213,{c},,1\n"));
        }
        read(csv.as_bytes()).unwrap().remove(0)
    }

    fn stored(charges: &[(&str, bool)]) -> Vec<StoredLine> {
        charges
            .iter()
            .enumerate()
            .map(|(i, (c, removed))| StoredLine { id: 10 + i as i64, line_number: i as i32 + 1, charge: c.parse().unwrap(), removed: *removed })
            .collect()
    }

    #[test]
    fn the_same_charges_change_nothing() {
        assert!(changes(&stored(&[("100.00", false), ("50.00", false)]), &claim(&["100.00", "50.00"])).is_empty());
    }

    #[test]
    fn a_changed_charge_a_dropped_line_and_a_new_line_are_each_named() {
        let c = changes(&stored(&[("1800.00", false), ("50.00", false)]), &claim(&["0.00"]));
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], Change::Charge { line_number: 1, line_id: 10, from: "1800.00".parse().unwrap(), to: "0.00".parse().unwrap(), csv_line: 2 });
        assert_eq!(c[1].amount(), "-50.00".parse::<Decimal>().unwrap());
        let added = changes(&stored(&[("100.00", false)]), &claim(&["100.00", "25.00"]));
        assert_eq!(added, vec![Change::Added { line_number: 2, to: "25.00".parse().unwrap(), csv_line: 3 }]);
    }

    #[test]
    fn a_line_dropped_before_is_not_dropped_again() {
        assert!(changes(&stored(&[("100.00", false), ("0.00", true)]), &claim(&["100.00"])).is_empty());
    }
}
