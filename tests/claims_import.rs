//! `remitd claims import` checks every value before the database sees it,
//! tried through the command line on a fresh database: each rule refuses
//! the file (exit 1) with the CSV line and the column, never quotes the
//! patient's name, and leaves the database as it was.

mod common;

use std::process::Output;

use common::{TestDb, CSV_HEADER};
use remitd::claims::import::{HEADER, OPTIONAL};

/// The patient every row names; no refusal may show any part of it.
const PATIENT: &str = "\"ZEBEDEE, QUENTIN\"";
const PATIENT_PARTS: [&str; 2] = ["ZEBEDEE", "QUENTIN"];

/// A good row of claim `id`, with `charge` (and no line control number).
fn row(id: &str, charge: &str) -> String {
    format!("{id},A1,{PATIENT},P1,2024-01-02,99213:25,{charge},2024-01-10,1,\n")
}

/// The values of a good row, in header order (`line_control_number` last).
const GOOD: [&str; 10] = ["C2", "A1", PATIENT, "P1", "2024-01-02", "99213:25", "100.00", "2024-01-10", "1", "LCN-1"];

/// [`GOOD`] with column `i` (0-based, in header order) set to `value`.
fn row_with(i: usize, value: &str) -> String {
    let mut columns = GOOD;
    columns[i] = value;
    format!("{}\n", columns.join(","))
}

/// The command line against one test database.
struct Cli {
    db: TestDb,
    dir: tempfile::TempDir,
}

impl Cli {
    async fn new() -> Cli {
        Cli { db: TestDb::new().await, dir: tempfile::tempdir().unwrap() }
    }

    /// `remitd claims import claims.csv`, the file holding `bytes`.
    fn import(&self, bytes: &[u8]) -> Output {
        std::fs::write(self.dir.path().join("claims.csv"), bytes).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_remitd"))
            .current_dir(self.dir.path())
            .env("DATABASE_URL", &self.db.url)
            .env_remove("REMITD_ACTOR")
            .args(["claims", "import", "claims.csv"])
            .output()
            .unwrap()
    }

    /// Imports the header (with `line_control_number`) and `rows`; the
    /// import must be refused: exit status 1, no patient name in what it
    /// says, nothing in the database. Returns standard error.
    async fn refused(&self, rows: &[u8]) -> String {
        let mut csv = format!("{CSV_HEADER},line_control_number\n").into_bytes();
        csv.extend_from_slice(rows);
        let out = self.import(&csv);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "not refused: {}{err}", String::from_utf8_lossy(&out.stdout));
        assert!(err.starts_with("claims.csv: refused: "), "{err}");
        for part in PATIENT_PARTS {
            assert!(!err.contains(part), "the patient's name in the refusal: {err}");
        }
        self.assert_empty().await;
        err
    }

    /// [`Cli::refused`] for a good row (CSV line 2) and `bad` (line 3): the
    /// refusal is exactly `expected`, on line 3.
    async fn refuses_line_3(&self, bad: &str, expected: &str) {
        let err = self.refused(format!("{}{bad}", row_with(0, "C1")).as_bytes()).await;
        assert_eq!(err.trim_end(), format!("claims.csv: refused: line 3: {expected}"), "for the row {bad:?}");
    }

    /// Imports `rows` (after the header with `line_control_number`), which must succeed.
    fn imports(&self, rows: &str) {
        let out = self.import(format!("{CSV_HEADER},line_control_number\n{rows}").as_bytes());
        assert!(out.status.success(), "refused: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Nothing of any import is in the database.
    async fn assert_empty(&self) {
        for table in ["claims", "service_lines", "accounts", "payers"] {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&self.db.pool).await.unwrap();
            assert_eq!(n, 0, "{table} has rows after a refused import");
        }
        let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'claims_imported'").fetch_one(&self.db.pool).await.unwrap();
        assert_eq!(audited, 0, "a refused import was audited as imported");
    }

    async fn scalar<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin,
        (T,): for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        sqlx::query_scalar(sql).fetch_one(&self.db.pool).await.unwrap()
    }
}

#[tokio::test]
async fn dates_are_refused_unless_yyyy_mm_dd_and_a_real_day() {
    let cli = Cli::new().await;
    for (column, bad) in [
        (4, "2024-2-3"),
        (4, "+2024-01-01"),
        (4, "2024-02-30"),
        (4, "\" 2024-01-02\""),
        (4, "20240102"),
        (4, "0000-01-01"),
        (4, ""),
        (7, "2024-01-10T00:00"),
        (7, "10/01/2024"),
    ] {
        let name = ["service_date", "last_billed_date"][usize::from(column == 7)];
        let shown = bad.trim_matches('"');
        cli.refuses_line_3(&row_with(column, bad), &format!("{name} must be a date YYYY-MM-DD, found {shown:?}")).await;
    }
    // An empty last_billed_date is a claim not billed yet.
    cli.imports(&row_with(7, ""));
    assert_eq!(cli.scalar::<Option<chrono::NaiveDate>>("SELECT last_billed_date FROM claims").await, None);
}

#[tokio::test]
async fn charges_are_refused_unless_plain_non_negative_decimals_numeric_14_2_holds() {
    let cli = Cli::new().await;
    let plain = "line_charge must be an amount: digits with at most two decimals (123, 123.4, 123.45)";
    for bad in ["1e3", "+5", "\"1,000.00\"", "\"1 000\"", ".5", "5.", "", "0x10", "NaN", "\" 100.00\""] {
        cli.refuses_line_3(&row_with(6, bad), &format!("{plain}, found {:?}", bad.trim_matches('"'))).await;
    }
    cli.refuses_line_3(&row_with(6, "-5.00"), "line_charge must not be negative, found \"-5.00\"").await;
    cli.refuses_line_3(&row_with(6, "10.005"), "line_charge has more than two decimals, found \"10.005\"").await;
    cli.refuses_line_3(
        &row_with(6, "1000000000000.00"),
        "line_charge is beyond 999999999999.99, the most a NUMERIC(14,2) column holds, found \"1000000000000.00\"",
    )
    .await;
    // Each line fits, the claim does not: a write-off of it would be one amount.
    let err = cli.refused(format!("{}{}", row("C1", "999999999999.99"), row("C1", "0.01")).as_bytes()).await;
    assert_eq!(
        err.trim_end(),
        "claims.csv: refused: line 3: line_charge brings the charge of claim C1 beyond 999999999999.99, the most a NUMERIC(14,2) column holds"
    );

    cli.imports(&format!("{}{}", row("C1", "999999999999.99"), row("C2", "007.5")));
    let charges: Vec<rust_decimal::Decimal> = sqlx::query_scalar("SELECT charge FROM service_lines ORDER BY charge").fetch_all(&cli.db.pool).await.unwrap();
    assert_eq!(charges, [common::dec("7.50"), common::dec("999999999999.99")]);
}

#[tokio::test]
async fn times_billed_is_refused_unless_a_whole_number_an_integer_holds() {
    let cli = Cli::new().await;
    for bad in ["2147483648", "99999999999999999999", "-1", "+1", "1.0", "1e2", "\" 1\"", "one"] {
        cli.refuses_line_3(&row_with(8, bad), &format!("times_billed must be a whole number from 0 to 2147483647, found {:?}", bad.trim_matches('"'))).await;
    }
    cli.imports(&row_with(8, "2147483647"));
    assert_eq!(cli.scalar::<i32>("SELECT times_billed FROM claims").await, i32::MAX);
}

#[tokio::test]
async fn control_characters_are_refused_in_every_column() {
    let cli = Cli::new().await;
    let columns: Vec<&str> = HEADER.iter().copied().chain([OPTIONAL]).collect();
    // NUL and tab in every column; the other C0 controls, DEL and C1 in one.
    let every = (0..columns.len()).flat_map(|i| [('\0', "0000", i), ('\t', "0009", i)]);
    for (control, code, i) in every.chain([('\r', "000D", 0), ('\u{1b}', "001B", 0), ('\u{7f}', "007F", 0), ('\u{85}', "0085", 0)]) {
        // Quoted, as a CSV writer would write it; the control character second.
        let mut value: Vec<char> = GOOD[i].trim_matches('"').chars().collect();
        value.insert(1, control);
        let value: String = value.into_iter().collect();
        cli.refuses_line_3(&row_with(i, &format!("\"{value}\"")), &format!("{} contains the control character U+{code} at character 2", columns[i])).await;
    }
    // A quoted field spanning lines: refused on the line its row starts on.
    cli.refuses_line_3(&row_with(2, "\"ZEBEDEE,\nQUENTIN\""), "patient_name contains the control character U+000A at character 9").await;
    // Bytes that are not UTF-8 are refused the same way.
    let mut bytes = row_with(0, "C1").into_bytes();
    bytes.extend_from_slice(b"C2,A1,\"ZEBEDEE, QU\xffENTIN\",P1,2024-01-02,99213:25,100.00,2024-01-10,1,LCN-1\n");
    let err = cli.refused(&bytes).await;
    assert_eq!(err.trim_end(), "claims.csv: refused: line 3: patient_name is not valid UTF-8");
}

#[tokio::test]
async fn values_longer_than_x12_carries_or_a_sane_bound_are_refused_with_their_length() {
    let cli = Cli::new().await;
    let long = |n: usize| "X".repeat(n);
    for (i, n, expected) in [
        (0, 39, "claim_id is 39 characters long, at most 38".to_string()),
        (1, 81, "account_number is 81 characters long, at most 80".to_string()),
        (2, 151, "patient_name is 151 characters long, at most 150".to_string()),
        (3, 81, "payer_id is 81 characters long, at most 80".to_string()),
        (9, 51, "line_control_number is 51 characters long, at most 50".to_string()),
        (5, 49, "procedure has a procedure code of 49 characters, at most 48".to_string()),
    ] {
        cli.refuses_line_3(&row_with(i, &long(n)), &expected).await;
    }
    cli.refuses_line_3(&row_with(5, "99213:255"), "procedure has the modifier \"255\": a modifier is 2 characters").await;
    cli.refuses_line_3(&row_with(5, "99213:A1:A2:A3:A4:A5"), "procedure carries more than 4 modifiers").await;
    cli.refuses_line_3(&row_with(5, ":25"), "procedure has no procedure code before its modifiers").await;
    for (i, column) in [(0, "claim_id"), (1, "account_number"), (2, "patient_name"), (3, "payer_id"), (5, "procedure")] {
        cli.refuses_line_3(&row_with(i, "\"   \""), &format!("{column} is empty")).await;
    }
    // At the bounds, and in characters, not bytes.
    let mut at_bounds = row_with(0, &"É".repeat(38)).replace(",A1,", &format!(",{},", long(80)));
    at_bounds = at_bounds.replace(",LCN-1", &format!(",{}", long(50)));
    cli.imports(&at_bounds);
    assert_eq!(cli.scalar::<String>("SELECT claim_id FROM claims").await, "É".repeat(38));
}

#[tokio::test]
async fn spaces_around_ids_are_dropped_as_matching_ignores_them() {
    let cli = Cli::new().await;
    cli.imports(&format!("{}{}", row_with(0, " C1 "), row_with(0, "C1").replace(",A1,", ",  A1,").replace(",P1,", ", P1 ,")));
    let (claim_id, account, payer): (String, String, String) = sqlx::query_as(
        "SELECT c.claim_id, a.account_number, p.payer_code FROM claims c JOIN accounts a ON a.id = c.account_id JOIN payers p ON p.id = c.payer_id",
    )
    .fetch_one(&cli.db.pool)
    .await
    .unwrap();
    assert_eq!((claim_id.as_str(), account.as_str(), payer.as_str()), ("C1", "A1", "P1"), "one claim, stored without the spaces");
    assert_eq!(cli.scalar::<i64>("SELECT count(*) FROM service_lines").await, 2);
}

#[tokio::test]
async fn every_refusal_of_a_file_is_reported_each_with_its_line_and_nothing_is_written() {
    let cli = Cli::new().await;
    // One row with three bad values, a row short of a column, a claim whose
    // rows disagree, an account with two names.
    let mut rows = row("C1", "100.00");
    rows.push_str(&row_with(0, "C2").replace("2024-01-02", "2024-2-3").replace("100.00", "1e3").replace(",1,", ",-1,"));
    rows.push_str(&format!("C3,A3,{PATIENT},P1,2024-01-02,99213,100.00,2024-01-10,1\n"));
    rows.push_str(&row("C1", "20.00").replace(",1,\n", ",2,\n"));
    rows.push_str(&row("C4", "20.00").replace(PATIENT, "\"ZEBEDEE, Q\""));
    let err = cli.refused(rows.as_bytes()).await;
    assert_eq!(
        err.trim_end(),
        "claims.csv: refused: 6 problems:
  line 3: service_date must be a date YYYY-MM-DD, found \"2024-2-3\"
  line 3: line_charge must be an amount: digits with at most two decimals (123, 123.4, 123.45), found \"1e3\"
  line 3: times_billed must be a whole number from 0 to 2147483647, found \"-1\"
  line 4: has 9 columns, the header 10
  line 5: claim C1 differs from line 2 in times_billed: rows of one claim agree on its claim-level columns
  line 6: account A1 has another patient name than on line 2"
    );

    // Many bad rows: the first twenty, and how many more.
    let many: String = (0..25).map(|i| row(&format!("C{i}"), "1e3")).collect();
    let err = cli.refused(many.as_bytes()).await;
    assert!(err.starts_with("claims.csv: refused: 25 problems:\n  line 2: line_charge"), "{err}");
    assert!(
        err.trim_end()
            .ends_with("\n  line 21: line_charge must be an amount: digits with at most two decimals (123, 123.4, 123.45), found \"1e3\"\n  and 5 more"),
        "{err}"
    );
}

#[tokio::test]
async fn a_claim_with_more_lines_than_an_835_pays_is_refused() {
    let cli = Cli::new().await;
    let rows: String = (0..1000).map(|_| row("C1", "1.00")).collect();
    let err = cli.refused(rows.as_bytes()).await;
    assert_eq!(err.trim_end(), "claims.csv: refused: line 1001: claim C1 has more than 999 service lines, the most an 835 pays on one claim");
}

#[tokio::test]
async fn a_file_without_its_header_is_refused_without_quoting_its_first_row() {
    let cli = Cli::new().await;
    let out = cli.import(row("C1", "100.00").as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("header must be claim_id,account_number,") && err.contains(": column 1 is not claim_id"), "{err}");
    assert!(!PATIENT_PARTS.iter().any(|p| err.contains(p)), "{err}");
    let out = cli.import(format!("{CSV_HEADER},line_control_number,notes\n").as_bytes());
    assert!(String::from_utf8_lossy(&out.stderr).contains(": it has 11 columns"), "{}", String::from_utf8_lossy(&out.stderr));
    cli.assert_empty().await;
}
