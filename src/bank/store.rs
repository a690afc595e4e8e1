//! Bank files into the database, exactly once: a file's bytes are hashed,
//! its row is taken (or found) and locked in one transaction, and its
//! deposits are written with it or not at all. The same bytes again are a
//! duplicate; a refused file is refused with its reason kept, and may be
//! tried again.

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{BankError, BankFile};

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
    sqlx::query!(
        r#"INSERT INTO deposits (bank_file_id, credit, amount, deposit_date, payer_name, trace_number, payer_id, bank_reference, customer_reference)
           SELECT $1, * FROM UNNEST($2::bool[], $3::numeric[], $4::date[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])"#,
        row.id,
        &deposits.iter().map(|d| d.credit).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.amount).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.date).collect::<Vec<_>>() as &[Option<chrono::NaiveDate>],
        &deposits.iter().map(|d| d.payer_name.clone()).collect::<Vec<_>>(),
        &trn(|t| &t.trace) as &[Option<String>],
        &trn(|t| &t.payer_id) as &[Option<String>],
        &deposits.iter().map(|d| d.bank_reference.clone()).collect::<Vec<_>>(),
        &deposits.iter().map(|d| d.customer_reference.clone()).collect::<Vec<_>>() as &[Option<String>],
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("UPDATE bank_files SET state = 'read', kind = $2, refusal_reason = NULL, file_name = $3 WHERE id = $1", row.id, kind, name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Imported::Read { file_id: row.id, deposits: deposits.len() })
}
