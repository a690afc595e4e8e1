//! How the demo prints what it reads back: amounts with cents, claims as one
//! table row each. Plain text, no colours, and only claim ids, account
//! numbers and amounts (never patient names).

use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::claims::view::{self, ClaimView, EntryView};

/// An amount with exactly two decimals.
pub fn money(d: Decimal) -> String {
    format!("{:.2}", d)
}

/// `n thing` or `n things`.
pub fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Reads claims by id (through `remitd claim show`'s view) and prints their balances.
pub async fn claims(pool: &PgPool, ids: &[&str]) -> anyhow::Result<Vec<ClaimView>> {
    let mut views = Vec::new();
    for id in ids {
        match view::show(pool, id).await? {
            Some(v) => views.push(v),
            None => anyhow::bail!("claim {id} is missing from the demo database"),
        }
    }
    claim_table(&views);
    Ok(views)
}

pub fn claim_table(views: &[ClaimView]) {
    say!(
        "    {:<9} {:<8} {:>8} {:>8} {:>11} {:>9} {:>8} {:>8} {:>9} {:>9}  status",
        "claim",
        "account",
        "charge",
        "paid",
        "contractual",
        "pat.resp.",
        "ins.w/o",
        "pat.w/o",
        "ins.bal.",
        "pat.bal."
    );
    for c in views {
        say!(
            "    {:<9} {:<8} {:>8} {:>8} {:>11} {:>9} {:>8} {:>8} {:>9} {:>9}  {}",
            c.claim_id,
            c.account_number,
            money(c.charge),
            money(c.paid),
            money(c.contractual),
            money(c.patient_responsibility),
            money(c.insurance_written_off),
            money(c.patient_written_off),
            money(c.insurance_balance),
            money(c.patient_balance),
            c.status
        );
    }
}

/// One ledger entry as `remitd claim show` lists it.
pub fn entry(e: &EntryView) -> String {
    format!("#{:<4} {:<40} {:>9}  by {}", e.id, e.describe(), money(e.amount), e.actor)
}
