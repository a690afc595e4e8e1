//! Deposits and the remittances they pay, for the tests of matching and
//! of the reconciliation page: remittances posted with a chosen trace,
//! amount, date and way of paying, and the ACH files and BAI2 statements a
//! bank sends.

use std::collections::HashMap;

use chrono::NaiveDate;
use remitd::bank::bai2::{self, Account, Detail, Group, Statement};
use remitd::bank::nacha::{self, AchFile, Batch, Entry};
use remitd::bank::{reconcile, store};
use rust_decimal::Decimal;
use sqlx::PgPool;

/// A day as `YYYY-MM-DD`.
pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// How a generated remittance is paid.
#[derive(Debug, Clone)]
pub struct Paid {
    pub trace: String,
    pub amount: Decimal,
    pub date: NaiveDate,
    pub check: bool,
    pub debit: bool,
}

impl Paid {
    pub fn new(trace: &str, amount: &str, date: &str) -> Paid {
        Paid { trace: trace.into(), amount: super::dec(amount), date: day(date), check: false, debit: false }
    }

    pub fn by_check(self) -> Paid {
        Paid { check: true, ..self }
    }

    pub fn debit(self) -> Paid {
        Paid { debit: true, ..self }
    }
}

/// Posts one remittance per `Paid` (one file, a transaction set each): a
/// claim paying the amount, or for a debit the reversal of one.
pub async fn post(pool: &PgPool, paid: &[Paid]) {
    let by_trace: HashMap<String, Paid> = paid.iter().map(|p| (p.trace.clone(), p.clone())).collect();
    let sets = paid
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let claim = super::clp(&format!("RA{n}"), "1", &p.amount.to_string(), &format!("PCN-{}", p.trace), &[]);
            (p.trace.as_str(), vec![if p.debit { super::reversal_of(&claim) } else { claim }])
        })
        .collect();
    let bytes = super::remittance_sets_with(sets, |tx| {
        let p = &by_trace[tx.trace_number.as_str()];
        tx.payment.date = Some(p.date);
        tx.payment.method = if p.check { "CHK" } else { "ACH" }.into();
        if p.debit {
            tx.provider_adjustments.clear();
            tx.payment.amount = p.amount;
            tx.payment.credit_debit = "D".into();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("generated.835");
    std::fs::write(&path, bytes).unwrap();
    let outcome = super::ingest(pool, &path).await;
    assert!(format!("{outcome:?}").contains("Posted"), "{outcome:?}");
}

/// An ACH file of one batch dated `date`: (amount, TRN trace or none, credit).
pub fn ach(date: &str, entries: &[(&str, Option<&str>, bool)]) -> Vec<u8> {
    let file = AchFile {
        created: day(date),
        origin_name: "EXAMPLE HEALTH PLAN".into(),
        destination_name: "BANK".into(),
        batches: vec![Batch {
            number: 1,
            company_name: "EXAMPLE HEALTH".into(),
            company_id: "1999999901".into(),
            class: "CCD".into(),
            description: nacha::HCCLAIMPMT.into(),
            effective: Some(day(date)),
            entries: entries
                .iter()
                .enumerate()
                .map(|(i, (amount, trace, credit))| Entry {
                    transaction_code: if *credit { 22 } else { 27 },
                    amount: super::dec(amount),
                    routing: "999999992".into(),
                    account_last4: "3444".into(),
                    identification: "A00011".into(),
                    receiver_name: "EXAMPLE PROVIDER".into(),
                    trace_number: format!("0999999900{:05}", i + 1),
                    addenda: trace.map(|t| format!("TRN*1*{t}*1999999901\\")).into_iter().collect(),
                })
                .collect(),
        }],
    };
    nacha::write(&file).into_bytes()
}

/// A statement of one account on `date`: (type code, amount, customer
/// reference, text).
pub fn statement(date: &str, details: &[(u16, &str, &str, &str)]) -> Vec<u8> {
    let s = Statement {
        sender: "EXAMPLEBANK".into(),
        receiver: "EXAMPLEPROVIDER".into(),
        created: day(date),
        groups: vec![Group {
            as_of: day(date),
            accounts: vec![Account {
                account_last4: "3444".into(),
                currency: "USD".into(),
                details: details
                    .iter()
                    .enumerate()
                    .map(|(i, (code, amount, reference, text))| Detail {
                        type_code: *code,
                        amount: super::dec(amount),
                        bank_reference: format!("BR{i}"),
                        customer_reference: reference.to_string(),
                        text: text.to_string(),
                    })
                    .collect(),
            }],
        }],
    };
    bai2::write(&s).into_bytes()
}

/// Stores bank file `name` (it must read) and matches what can be matched.
pub async fn import(pool: &PgPool, name: &str, bytes: &[u8]) -> reconcile::Matched {
    let imported = store::import(pool, name, bytes).await.unwrap();
    assert!(matches!(imported, store::Imported::Read { .. }), "{name}: {imported:?}");
    reconcile::match_all(pool).await.unwrap()
}
