//! `remitd carc list|set`: which CARCs post as contractual and which open a
//! denial. The lists change several times a year, so they are data.

use sqlx::{PgPool, Row};

use super::{fail, print_json, ListFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Category {
    /// Reduces what the payer owes (CO-45, CO-253 ...).
    Contractual,
    /// Opens a denial; the amount stays owed (CO-50, CO-29 ...).
    Denial,
    /// Neither: posts as an other adjustment (removes the code from the lists).
    Other,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The codes and their categories.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Put a group and reason code in a category (applies to remittances posted from now on).
    Set {
        /// CO, PI or OA (PR always moves to patient responsibility).
        #[arg(value_parser = ["CO", "PI", "OA"])]
        group: String,
        /// The claim adjustment reason code, e.g. 45.
        reason: String,
        #[arg(value_enum)]
        category: Category,
    },
}

#[derive(Debug, serde::Serialize)]
struct CodeRow {
    group: String,
    reason: String,
    category: String,
}

pub async fn run(pool: PgPool, command: Command) -> u8 {
    match command {
        Command::List { format } => {
            let rows = match sqlx::query(
                "SELECT group_code, reason_code, category FROM carc_categories ORDER BY category, group_code, length(reason_code), reason_code",
            )
            .fetch_all(&pool)
            .await
            {
                Ok(rows) => rows.into_iter().map(|r| CodeRow { group: r.get(0), reason: r.get(1), category: r.get(2) }).collect::<Vec<_>>(),
                Err(e) => return fail(e),
            };
            if format == ListFormat::Json {
                return print_json(&rows);
            }
            for r in &rows {
                println!("{}-{} {}", r.group, r.reason, r.category);
            }
            0
        }
        Command::Set { group, reason, category } => {
            let result = match category {
                Category::Other => {
                    sqlx::query("DELETE FROM carc_categories WHERE group_code = $1 AND reason_code = $2").bind(&group).bind(&reason).execute(&pool).await
                }
                Category::Contractual | Category::Denial => {
                    let name = if category == Category::Denial { "denial" } else { "contractual" };
                    sqlx::query("INSERT INTO carc_categories (group_code, reason_code, category) VALUES ($1, $2, $3) ON CONFLICT (group_code, reason_code) DO UPDATE SET category = EXCLUDED.category")
                        .bind(&group)
                        .bind(&reason)
                        .bind(name)
                        .execute(&pool)
                        .await
                }
            };
            let shown = match category {
                Category::Contractual => "a contractual adjustment",
                Category::Denial => "a denial",
                Category::Other => "an other adjustment",
            };
            match result {
                Ok(_) => {
                    println!("{group}-{reason} now posts as {shown}");
                    0
                }
                Err(e) => fail(e),
            }
        }
    }
}
