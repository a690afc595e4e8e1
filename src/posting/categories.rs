//! Which CARCs post as contractual and which open a denial: data, because
//! the lists change several times a year. Reading them for posting, and
//! changing them, which only an admin may do: a category decides how every
//! later remittance's money posts (what is already posted stays as it is).

use sqlx::PgPool;

use super::plan::CarcCategories;
use crate::actors::{require, Scope};
use crate::ledger::{audit, ActionError, Audit};

/// What a group and reason code posts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Reduces what the payer owes (CO-45, CO-253 ...).
    Contractual,
    /// Opens a denial; the amount stays owed (CO-50, CO-29 ...).
    Denial,
    /// Neither: posts as an other adjustment (removes the code from the lists).
    Other,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Contractual => "contractual",
            Category::Denial => "denial",
            Category::Other => "other",
        }
    }
}

/// Reads the CARC categories (contractual, denial) from the database.
pub async fn load(pool: &PgPool) -> Result<CarcCategories, sqlx::Error> {
    let rows = sqlx::query!("SELECT group_code, reason_code, category FROM carc_categories").fetch_all(pool).await?;
    let mut cats = CarcCategories::default();
    for r in rows {
        let key = (r.group_code, r.reason_code);
        match r.category.as_str() {
            "denial" => cats.denial.insert(key),
            _ => cats.contractual.insert(key),
        };
    }
    Ok(cats)
}

/// One listed code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    pub group: String,
    pub reason: String,
    pub category: String,
}

/// Every listed code, by category, group and code.
pub async fn list(pool: &PgPool) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as!(
        Listed,
        r#"SELECT group_code AS "group", reason_code AS reason, category FROM carc_categories
           ORDER BY category, group_code, length(reason_code), reason_code"#
    )
    .fetch_all(pool)
    .await
}

/// Puts `group`-`reason` in `category`, as `actor` (who needs
/// `remitd.admin`); audited with the category it had before.
pub async fn set(pool: &PgPool, actor: &str, group: &str, reason: &str, category: Category) -> Result<(), ActionError> {
    let mut db = pool.begin().await?;
    require(&mut db, actor, Scope::Admin).await?;
    let before = sqlx::query_scalar!("SELECT category FROM carc_categories WHERE group_code = $1 AND reason_code = $2 FOR UPDATE", group, reason)
        .fetch_optional(&mut *db)
        .await?
        .unwrap_or_else(|| Category::Other.as_str().to_string());
    match category {
        Category::Other => {
            sqlx::query!("DELETE FROM carc_categories WHERE group_code = $1 AND reason_code = $2", group, reason).execute(&mut *db).await?;
        }
        Category::Contractual | Category::Denial => {
            sqlx::query!(
                "INSERT INTO carc_categories (group_code, reason_code, category) VALUES ($1, $2, $3)
                 ON CONFLICT (group_code, reason_code) DO UPDATE SET category = EXCLUDED.category",
                group,
                reason,
                category.as_str(),
            )
            .execute(&mut *db)
            .await?;
        }
    }
    let detail = serde_json::json!({ "group": group, "reason_code": reason, "from": before, "to": category });
    audit(&mut db, actor, "carc_category_set", Audit { reason: Some(category.as_str()), detail: Some(detail), ..Audit::default() }).await?;
    db.commit().await?;
    Ok(())
}
