//! Which checks make up a bulk deposit: the subsets of candidate amounts
//! that add up to a total, found by meeting in the middle (two halves of at
//! most 2^12 sums each), and counted only as far as telling one answer from
//! several. A deposit is matched to a set of remittances only when exactly
//! one set adds up; two sets that do are a question for a person.

use std::collections::HashMap;

/// The most candidates a total is split among. Past this the search would
/// take too long to be worth it, and so many checks adding up to one
/// deposit by chance is too likely for an answer to be believed anyway.
pub const MOST_CANDIDATES: usize = 24;

/// How many ways `amounts` (in cents) add up to a total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ways {
    /// No subset adds up.
    None,
    /// Exactly one does: the indexes of its amounts, ascending.
    One(Vec<usize>),
    /// More than one does.
    Several,
    /// More than [`MOST_CANDIDATES`] amounts: not searched.
    TooMany,
}

/// The subsets of at least `least` amounts adding up to `total`.
pub fn ways(amounts: &[i64], total: i64, least: usize) -> Ways {
    if amounts.len() > MOST_CANDIDATES {
        return Ways::TooMany;
    }
    let (left, right) = amounts.split_at(amounts.len() / 2);
    // Every sum of the right half: how many subsets make it, and one of them.
    let mut right_sums: HashMap<i64, Vec<u32>> = HashMap::new();
    for mask in 0u32..(1 << right.len()) {
        right_sums.entry(sum(right, mask)).or_default().push(mask);
    }
    let mut found: Option<Vec<usize>> = None;
    for left_mask in 0u32..(1 << left.len()) {
        let Some(masks) = right_sums.get(&(total - sum(left, left_mask))) else { continue };
        for &right_mask in masks {
            let picked: Vec<usize> = (0..left.len())
                .filter(|i| left_mask & (1 << i) != 0)
                .chain((0..right.len()).filter(|i| right_mask & (1 << i) != 0).map(|i| i + left.len()))
                .collect();
            if picked.len() < least.max(1) {
                continue;
            }
            if found.is_some() {
                return Ways::Several;
            }
            found = Some(picked);
        }
    }
    found.map_or(Ways::None, Ways::One)
}

fn sum(amounts: &[i64], mask: u32) -> i64 {
    amounts.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, a)| a).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_set_several_or_none() {
        assert_eq!(ways(&[15000, 16800, 9999], 31800, 2), Ways::One(vec![0, 1]));
        assert_eq!(ways(&[100, 200, 300], 300, 2), Ways::One(vec![0, 1]), "300 alone is one check, not a bulk deposit");
        assert_eq!(ways(&[100, 200, 300], 300, 1), Ways::Several);
        assert_eq!(ways(&[100, 100, 250], 350, 2), Ways::Several, "either 100 with the 250");
        assert_eq!(ways(&[100, 200], 1000, 2), Ways::None);
        assert_eq!(ways(&[], 100, 2), Ways::None);
        assert_eq!(ways(&[1; 25], 2, 2), Ways::TooMany);
    }

    proptest! {
        /// A set of distinct powers of two has one way to make any of its
        /// sums: the search finds exactly that set, whatever the order.
        #[test]
        fn a_sum_with_one_way_is_found(picks in proptest::collection::vec(any::<bool>(), 2..=MOST_CANDIDATES), seed in any::<u64>()) {
            let mut amounts: Vec<i64> = (0..picks.len()).map(|i| 1i64 << i).collect();
            let shift = (seed as usize) % amounts.len();
            amounts.rotate_left(shift);
            let chosen: Vec<usize> = (0..amounts.len()).filter(|&i| picks[(i + shift) % picks.len()]).collect();
            prop_assume!(chosen.len() >= 2);
            let total = chosen.iter().map(|&i| amounts[i]).sum();
            prop_assert_eq!(ways(&amounts, total, 2), Ways::One(chosen));
        }

        /// Whatever is answered adds up: one way is a subset with the total.
        #[test]
        fn an_answer_adds_up(amounts in proptest::collection::vec(1i64..5000, 0..16), total in 1i64..20000) {
            if let Ways::One(picked) = ways(&amounts, total, 2) {
                prop_assert!(picked.len() >= 2);
                prop_assert_eq!(picked.iter().map(|&i| amounts[i]).sum::<i64>(), total);
            }
        }
    }
}
