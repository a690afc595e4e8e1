//! Bank files into the database, exactly once: a file's bytes are hashed,
//! its row is taken (or found) and locked in one transaction, and its
//! deposits are written with it or not at all. The same bytes again are a
//! duplicate; a refused file is refused with its reason kept, and may be
//! tried again. A deposit another kind of file reported already (the ACH
//! credit a statement shows landed) is stored as that money, reported again.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{BankError, BankFile};

/// The advisory lock bank file imports queue on (one key: no other part
/// of remitd takes a one-key lock with a negative key).
const IMPORT_LOCK: i64 = -0x62616e6b;

/// What became of one bank file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Read now: its deposits are stored.
    Read { file_id: i64, deposits: usize },
    /// Its bytes were read before; nothing is written.
    Duplicate { file_id: i64 },
    /// Refused, with the reason kept on its row.
    Refused { file_id: i64, error: BankError },
}

/// Reads `bytes` (a file named `name`) and stores its deposits. Two imports
/// of the same bytes at once queue on the file's row: one reads it, the
/// other finds it read.
pub async fn import(pool: &PgPool, name: &str, bytes: &[u8]) -> Result<Imported, sqlx::Error> {
    let hash = Sha256::digest(bytes).to_vec();
    let mut tx = pool.begin().await?;
    // One import at a time: whether a deposit is money another file
    // reported already is only known once that file is stored.
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", IMPORT_LOCK).execute(&mut *tx).await?;
    // Inserted, or the existing row locked for this transaction.
    let row = sqlx::query!(
        r#"INSERT INTO bank_files (content_hash, file_name, state) VALUES ($1, $2, 'reading')
           ON CONFLICT (content_hash) DO UPDATE SET content_hash = EXCLUDED.content_hash
           RETURNING id, state"#,
        hash,
        name
    )
    .fetch_one(&mut *tx)
    .await?;
    if row.state == "read" {
        tx.rollback().await?;
        return Ok(Imported::Duplicate { file_id: row.id });
    }
    let file = match BankFile::read(bytes) {
        Ok(f) => f,
        Err(error) => {
            sqlx::query!("UPDATE bank_files SET state = 'refused', refusal_reason = $2, file_name = $3 WHERE id = $1", row.id, error.to_string(), name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Imported::Refused { file_id: row.id, error });
        }
    };
    let kind = match file {
        BankFile::Ach(_) => "ach",
        BankFile::Statement(_) => "bai2",
    };
    let deposits = file.deposits();
    let trn = |f: fn(&super::Trn) -> &str| deposits.iter().map(|d| d.trn.as_ref().map(|t| f(t).to_string())).collect::<Vec<_>>();
    // The same credit may come in an ACH file and in the statement that
    // shows it landed: a deposit with the direction, amount, trace and
    // payer of one from the other kind of file (and dates a business day
    // apart at most) is that money reported again. The n-th such report
    // pairs with the n-th earlier deposit, so each is paired once.
    sqlx::query!(
        r#"WITH new AS (
               SELECT n.*, row_number() OVER (PARTITION BY n.credit, n.amount, n.trace_number, n.payer_id ORDER BY n.ord) AS nth
               FROM UNNEST($2::bool[], $3::numeric[], $4::date[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                    WITH ORDINALITY AS n(credit, amount, deposit_date, payer_name, trace_number, payer_id, bank_reference, customer_reference, ord)
           ), earlier AS (
               SELECT d.id, d.credit, d.amount, d.trace_number, d.payer_id, d.deposit_date,
                      row_number() OVER (PARTITION BY d.credit, d.amount, d.trace_number, d.payer_id ORDER BY d.id) AS nth
               FROM deposits d JOIN bank_files f ON f.id = d.bank_file_id
               WHERE f.kind <> $10 AND d.same_money_as IS NULL AND d.trace_number = ANY($6::text[])
                 AND NOT EXISTS (SELECT 1 FROM deposits a WHERE a.same_money_as = d.id)
           )
           INSERT INTO deposits (bank_file_id, credit, amount, deposit_date, payer_name, trace_number, payer_id, bank_reference, customer_reference, same_money_as)
           SELECT $1, n.credit, n.amount, n.deposit_date, n.payer_name, n.trace_number, n.payer_id, n.bank_reference, n.customer_reference, e.id
           FROM new n
           LEFT JOIN earlier e ON (e.credit, e.amount, e.trace_number, e.payer_id, e.nth) = (n.credit, n.amount, n.trace_number, n.payer_id, n.nth)
                AND (e.deposit_date IS NOT DISTINCT FROM n.deposit_date
                     OR (e.deposit_date IS NOT NULL AND n.deposit_date IS NOT NULL AND remitd_business_days(e.deposit_date, n.deposit_date) <= 1))
           ORDER BY n.ord"#,
        row.id,
        &deposits.iter().map(|d| d.credit).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.amount).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.date).collect::<Vec<_>>() as &[Option<chrono::NaiveDate>],
        &deposits.iter().map(|d| d.payer_name.clone()).collect::<Vec<_>>(),
        &trn(|t| &t.trace) as &[Option<String>],
        &trn(|t| &t.payer_id) as &[Option<String>],
        &deposits.iter().map(|d| d.bank_reference.clone()).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.customer_reference.clone()).collect::<Vec<_>>() as &[Option<String>],
        kind,
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("UPDATE bank_files SET state = 'read', kind = $2, refusal_reason = NULL, file_name = $3 WHERE id = $1", row.id, kind, name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Imported::Read { file_id: row.id, deposits: deposits.len() })
}
