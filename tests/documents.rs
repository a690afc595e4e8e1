//! Printable documents, checked the way a person would: the PDF's text read
//! back with `pdftotext`, its first page rendered with `pdftoppm` (saved
//! under the target directory to be looked at), and the code table that
//! feeds the glossary loaded from a code list's CSV.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{pdf_text, sample, TestDb, ADMIN};
use remitd::actors::Scope;
use remitd::documents::remittance;

fn remitd(db: &TestDb, actor: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remitd"));
    cmd.env("DATABASE_URL", &db.url).env_remove("REMITD_ACTOR").args(args);
    if let Some(a) = actor {
        cmd.env("REMITD_ACTOR", a);
    }
    cmd.output().unwrap()
}

/// Renders the PDF's first page as `name.png` under the target directory.
fn render_first_page(pdf: &Path, name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pdf-pages");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = dir.join(name);
    let out =
        Command::new("pdftoppm").args(["-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile"]).arg(pdf).arg(&stem).output().expect("pdftoppm is installed");
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    stem.with_extension("png")
}

fn transaction(file: &str) -> remitd::model::Transaction {
    let doc = remitd::parse::FileDocument::read(file, std::fs::File::open(sample(file)).unwrap()).unwrap();
    doc.interchanges.into_iter().next().unwrap().groups.into_iter().next().unwrap().transactions.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_remittance_prints_with_its_lines_adjustments_totals_and_glossary() {
    let db = TestDb::new().await;
    let mut r = remittance::build(&transaction("valid/provider-adjustments.835"));
    assert!(r.totals.balances, "{:?}", r.totals);
    remittance::describe(&db.pool, &mut r).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("remittance.pdf");
    std::fs::write(&pdf, remittance::pdf(&r)).unwrap();
    let text = pdf_text(&pdf);
    for expected in [
        "Remittance EFT-20240212-0004",
        "Payment",
        "627.50 credit (ACH) on 2024-02-12",
        "Claim CLM-4001",
        "HC:27447-RT",
        "2000.00",
        "600.00",
        "CO-45 1400.00",
        "Claim CLM-4002",
        "WO",
        "CLM-0999",
        "-12.50",
        "Overpayment Recovery",
        "Interest Owed",
        "Deductible Amount",
        "Charge exceeds fee schedule",
        "yes: claims paid less provider adjustments equal the payment",
        "· page 1 of 2",
        "· page 2 of 2",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    // The deductible of CLM-4001's line sits in its own column, not among the other adjustments.
    let line = text.lines().find(|l| l.contains("HC:27447-RT")).unwrap();
    assert!(line.contains("100.00") && !line.contains("PR-1"), "{line}");
    let png = render_first_page(&pdf, "remittance");
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "the page renders to an image with content");
}

#[tokio::test]
async fn a_long_remittance_breaks_across_pages_with_its_table_header_repeated() {
    let db = TestDb::new().await;
    let mut t = transaction("valid/provider-adjustments.835");
    let claim = t.claims[0].clone();
    t.claims = (0..60).map(|_| claim.clone()).collect();
    let mut r = remittance::build(&t);
    remittance::describe(&db.pool, &mut r).await.unwrap();
    assert!(!r.totals.balances, "sixty copies of a claim no longer add up to the payment");
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("long.pdf");
    std::fs::write(&pdf, remittance::pdf(&r)).unwrap();
    let text = pdf_text(&pdf);
    let pages = text.matches("· page ").count();
    assert!(text.contains("page 1 of ") && pages >= 5, "{pages} page footers");
    assert!(text.contains("NO: claims paid less provider adjustments differ from the payment"));
    assert_eq!(text.matches("Claim CLM-4001").count(), 60);
}

#[tokio::test]
async fn code_lists_load_from_csv_by_an_admin_and_feed_the_glossary() {
    let db = TestDb::new().await;
    db.people(&[("ann", &[Scope::DenialWrite])]).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("carc.csv");
    std::fs::write(&csv, "Code,Description,Start Date\nB7,\"This provider was not certified/eligible to be paid for this procedure/service on this date of service.\",01/01/1997\n45,Charge exceeds fee schedule/maximum allowable.,\n").unwrap();
    let path = csv.display().to_string();

    let out = remitd(&db, Some("ann"), &["codes", "import", &path, "--list", "carc"]);
    assert_eq!(out.status.code(), Some(1), "ann is no admin");
    assert!(String::from_utf8_lossy(&out.stderr).contains("remitd.admin"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = remitd(&db, Some(ADMIN), &["codes", "import", &path, "--list", "carc"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 codes read, 2 new or changed"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = remitd(&db, None, &["codes", "list", "--list", "carc"]);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listed.contains("CARC  B7     This provider was not certified"), "{listed}");
    assert!(listed.contains("CARC  45     Charge exceeds fee schedule/maximum allowable."), "{listed}");

    // A row that is no code is refused with its line, and nothing of the file is loaded.
    std::fs::write(&csv, "Code,Description\nZZ9,Fine\nnot a code,Bad\n").unwrap();
    let out = remitd(&db, Some(ADMIN), &["codes", "import", &path, "--list", "carc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3: \"NOT A CODE\" is not a code"), "{}", String::from_utf8_lossy(&out.stderr));
    let known = remitd::documents::codes::describe(&db.pool, &[(remitd::documents::codes::List::Carc, "ZZ9".into())]).await.unwrap();
    assert!(known.is_empty());

    // In the database too, only an admin changes the table.
    let clerk = db.login_role("clerk").await;
    let pool = clerk.pool().await;
    let e = sqlx::query("UPDATE adjustment_codes SET description = 'forged' WHERE code = '45'").execute(&pool).await.unwrap_err();
    assert!(e.to_string().contains("remitd.admin"), "{e}");
    pool.close().await;
}

/// Claim-level remark codes (MOA, MIA) are read, written back, printed
/// with the claim and explained in the glossary.
#[tokio::test]
async fn claim_remarks_from_moa_and_mia_print_with_the_claim_and_in_the_glossary() {
    let db = TestDb::new().await;
    let mut t = transaction("valid/provider-adjustments.835");
    t.claims[0].remarks = vec!["MA02".into(), "N381".into()];
    let mut w = remitd::generate::X12Writer::new(Vec::new());
    w.open_interchange(7, false, "005010X221A1").unwrap();
    w.transaction(&t).unwrap();
    w.close_interchange(7, 1).unwrap();
    let x12 = w.into_inner();
    assert!(String::from_utf8_lossy(&x12).contains("MOA***MA02*N381~"), "written as an MOA");
    let doc = remitd::parse::FileDocument::read("moa.835", &x12[..]).unwrap();
    let read = &doc.interchanges[0].groups[0].transactions[0];
    assert_eq!(read.claims[0].remarks, t.claims[0].remarks, "read back");

    // MIA carries remarks in MIA05 and MIA20 to MIA23.
    let with_mia = String::from_utf8_lossy(&x12).replace("MOA***MA02*N381~", "MIA*0****MA01***************MA03~");
    let doc = remitd::parse::FileDocument::read("mia.835", with_mia.as_bytes()).unwrap();
    let remarks: Vec<String> = doc.interchanges[0].groups[0].transactions[0].claims[0].remarks.iter().map(|r| r.to_string()).collect();
    assert_eq!(remarks, ["MA01", "MA03"]);

    let mut r = remittance::build(read);
    remittance::describe(&db.pool, &mut r).await.unwrap();
    assert_eq!(r.claims[0].remarks, ["MA02", "N381"]);
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("remarks.pdf");
    std::fs::write(&pdf, remittance::pdf(&r)).unwrap();
    let text = pdf_text(&pdf);
    assert!(text.contains("Claim remarks") && text.contains("MA02 N381"), "{text}");
    let glossary = &text[text.find("Glossary of the codes used").expect("a glossary")..];
    assert!(glossary.contains("MA02") && glossary.contains("N381"), "both codes explained or listed: {glossary}");
}
