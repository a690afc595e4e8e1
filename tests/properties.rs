//! Property tests: random balanced remittances survive a write/parse round
//! trip unchanged; unbalanced or cut files are refused; arbitrary byte damage
//! never panics; reading on two threads gives what reading on one gives.

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;

use remitd::generate::X12Writer;
use remitd::model::{Address, Adjustment, Claim, Party, Payment, Person, ProviderAdjustment, Service, Trace, Transaction};
use remitd::parse::{pipeline, FileDocument, Parsed, Part, Reader};
use remitd::posting::conflicts::{fingerprint, Fingerprint};
use remitd::x12::Problem;

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

fn adjustment() -> impl Strategy<Value = Adjustment> {
    (prop::sample::select(vec!["CO", "PR", "OA", "PI"]), prop::sample::select(vec!["45", "1", "2", "3", "50", "253", "97"]), -50_000i64..200_000)
        .prop_map(|(g, r, a)| Adjustment { group: g.into(), reason: r.into(), amount: cents(a), quantity: None })
}

fn service() -> impl Strategy<Value = Service> {
    (
        "[0-9]{5}",
        prop::collection::vec("[A-Z0-9]{2}", 0..3),
        0i64..1_000_000,
        prop::collection::vec(adjustment(), 0..4),
        prop::option::of("[A-Z0-9]{1,12}"),
        0u32..365,
    )
        .prop_map(|(code, modifiers, charge, adjustments, lcn, day)| {
            let paid = cents(charge) - adjustments.iter().map(|a| a.amount).sum::<Decimal>();
            Service {
                procedure_qualifier: "HC".into(),
                procedure: code.into(),
                modifiers: modifiers.into_iter().map(Into::into).collect(),
                charge: cents(charge),
                paid,
                revenue_code: None,
                units: Some(Decimal::ONE),
                original_procedure: None,
                original_units: None,
                line_control_number: lcn.map(Into::into),
                service_date: NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.checked_add_days(chrono::Days::new(day.into()))),
                service_period_start: None,
                service_period_end: None,
                adjustments,
                allowed: None,
                remarks: Vec::new(),
            }
        })
}

fn claim() -> impl Strategy<Value = Claim> {
    (
        "[A-Z0-9][A-Z0-9-]{0,19}",
        prop::sample::select(vec!["1", "2", "3", "4", "22"]),
        0i64..5_000_000,
        prop::collection::vec(adjustment(), 0..3),
        prop::collection::vec(service(), 0..4),
        "[A-Z0-9]{4,14}",
        "[A-Z]{2,12}",
    )
        .prop_map(|(id, status, charge, adjustments, services, pccn, last)| {
            let line_adj: Decimal = services.iter().flat_map(|s| &s.adjustments).map(|a| a.amount).sum();
            let claim_adj: Decimal = adjustments.iter().map(|a| a.amount).sum();
            let pr: Decimal = adjustments.iter().chain(services.iter().flat_map(|s| &s.adjustments)).filter(|a| a.group == "PR").map(|a| a.amount).sum();
            Claim {
                patient_control_number: id.into(),
                status_code: status.into(),
                charge: cents(charge),
                paid: cents(charge) - claim_adj - line_adj,
                patient_responsibility: Some(pr),
                filing_indicator: "MC".into(),
                payer_claim_control_number: Some(pccn.into()),
                facility_type: None,
                frequency: None,
                header_number: Some("1".into()),
                patient: Some(Person {
                    last_name: Some(last.into()),
                    first_name: None,
                    middle_name: None,
                    suffix: None,
                    id_qualifier: Some("MI".into()),
                    id: Some("X1".into()),
                }),
                adjustments,
                services,
                ..Claim::default()
            }
        })
}

fn provider_adjustment() -> impl Strategy<Value = ProviderAdjustment> {
    (prop::sample::select(vec!["WO", "L6", "FB", "72", "CS"]), prop::option::of("[A-Z0-9]{3,10}"), -100_000i64..100_000).prop_map(
        |(reason, reference, amount)| ProviderAdjustment {
            provider_id: "1999999984".into(),
            fiscal_period_date: NaiveDate::from_ymd_opt(2024, 12, 31).expect("date"),
            reason: reason.into(),
            reference: reference.map(Into::into),
            amount: cents(amount),
        },
    )
}

fn transaction() -> impl Strategy<Value = Transaction> {
    ("[0-9]{4,9}", "[A-Z0-9]{1,20}", prop::collection::vec(claim(), 0..6), prop::collection::vec(provider_adjustment(), 0..8)).prop_map(
        |(control, trace, claims, plb)| {
            let paid: Decimal = claims.iter().map(|c| c.paid).sum::<Decimal>() - plb.iter().map(|p| p.amount).sum::<Decimal>();
            let party = |name: &str, q: &str, id: &str| Party {
                name: name.into(),
                id_qualifier: Some(q.into()),
                id: Some(id.into()),
                address: None,
                references: Vec::new(),
            };
            Transaction {
                control_number: control.into(),
                implementation_guide: "005010X221A1".into(),
                trace_number: trace.clone().into(),
                trace: Trace { type_code: "1".into(), number: trace.into(), originator_id: "1999999999".into(), originator_supplemental_id: None },
                payment: Payment {
                    handling_code: "I".into(),
                    amount: paid,
                    credit_debit: "C".into(),
                    method: "ACH".into(),
                    format: None,
                    date: NaiveDate::from_ymd_opt(2024, 2, 1),
                },
                production_date: None,
                payer: Party {
                    address: Some(Address {
                        lines: vec!["1 PLAN WAY".into()],
                        city: Some("SPRINGFIELD".into()),
                        state: Some("IL".into()),
                        postal_code: Some("62701".into()),
                    }),
                    ..party("PAYER", "XV", "P1")
                },
                payee: party("CLINIC", "XX", "1999999984"),
                claims,
                provider_adjustments: plb,
            }
        },
    )
}

fn render(tx: &Transaction) -> Vec<u8> {
    let mut w = X12Writer::new(Vec::new());
    w.open_interchange(7, false, "005010X221A1").expect("write");
    w.transaction(tx).expect("write");
    w.close_interchange(7, 1).expect("write");
    w.into_inner()
}

proptest! {
    // Failures print their minimal case; no regression files are written into the tree.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn balanced_transactions_round_trip(tx in transaction()) {
        let bytes = render(&tx);
        let doc = FileDocument::read("generated", &bytes[..]).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        let parsed: Vec<&Transaction> = doc.transactions().collect();
        prop_assert_eq!(parsed.len(), 1);
        prop_assert_eq!(parsed[0], &tx);
    }

    #[test]
    fn a_set_read_in_parts_is_the_set_read_whole(tx in transaction(), size in 1usize..4) {
        let bytes = render(&tx);
        let parts: Vec<Parsed> = Reader::in_parts(&bytes[..], size).collect::<Result<_, _>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!parts.is_empty());
        let mut claims = Vec::new();
        let mut print = Fingerprint::begin(&parts[0].transaction);
        for (i, p) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            prop_assert_eq!((p.part.index as usize, p.part.last), (i, last));
            prop_assert_eq!(p.transaction.head(), tx.head());
            prop_assert!(p.transaction.claims.len() <= size.max(1) && (last || p.transaction.claims.len() == size));
            prop_assert!(last || p.transaction.provider_adjustments.is_empty());
            print.claims(&p.transaction.claims);
            claims.extend(p.transaction.claims.iter().cloned());
        }
        prop_assert_eq!(&claims, &tx.claims);
        prop_assert_eq!(&parts[parts.len() - 1].transaction.provider_adjustments, &tx.provider_adjustments);
        prop_assert_eq!(print.finish(&tx.provider_adjustments), fingerprint(&tx));
    }

    #[test]
    fn reading_in_parts_refuses_what_reading_whole_refuses(mut tx in transaction(), which in any::<prop::sample::Index>(), cent in 1i64..1000) {
        // Unbalance one claim (or, without claims, the payment).
        match tx.claims.len() {
            0 => tx.payment.amount += cents(cent),
            n => tx.claims[which.index(n)].paid += cents(cent),
        }
        let bytes = render(&tx);
        let whole = Reader::new(&bytes[..]).find_map(Result::err).expect("refused whole");
        let parts = Reader::in_parts(&bytes[..], 1).find_map(Result::err).expect("refused in parts");
        prop_assert_eq!(whole.to_string(), parts.to_string());
    }

    #[test]
    fn an_unbalanced_line_is_refused(mut tx in transaction().prop_filter("has a line", |t| t.claims.iter().any(|c| !c.services.is_empty())), cent in 1i64..1000) {
        let Some(svc) = tx.claims.iter_mut().flat_map(|c| c.services.iter_mut()).next() else { unreachable!() };
        svc.paid += cents(cent);
        let err = FileDocument::read("generated", &render(&tx)[..]).expect_err("unbalanced line accepted");
        prop_assert!(matches!(err.problem(), Problem::Imbalance { .. }), "{}", err);
        prop_assert_eq!(err.at().tag.as_deref(), Some("SVC"));
    }

    #[test]
    fn an_unbalanced_check_is_refused(mut tx in transaction(), cent in 1i64..1000) {
        tx.payment.amount += cents(cent);
        let err = FileDocument::read("generated", &render(&tx)[..]).expect_err("unbalanced BPR accepted");
        prop_assert!(matches!(err.problem(), Problem::Imbalance { .. }), "{}", err);
        prop_assert_eq!(err.at().element.as_deref(), Some("BPR02"));
    }

    #[test]
    fn a_cut_file_is_refused(tx in transaction(), cut in 0.0f64..1.0) {
        let bytes = render(&tx);
        let iea = bytes.windows(4).rposition(|w| w == b"IEA*").expect("IEA");
        let keep = (iea as f64 * cut) as usize;
        prop_assert!(FileDocument::read("generated", &bytes[..keep]).is_err());
    }

    #[test]
    fn damaged_bytes_never_panic(tx in transaction(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)) {
        let mut bytes = render(&tx);
        damage(&mut bytes, edits);
        let _ = FileDocument::read("damaged", &bytes[..]);
    }

    #[test]
    fn two_threads_read_damaged_files_as_one_does(tx in transaction(), size in 1usize..4, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4)) {
        let mut bytes = render(&tx);
        damage(&mut bytes, edits);
        prop_assert_eq!(two_threads(&bytes, size), one_thread(&bytes, size));
    }
}

/// Replaces, removes or inserts one byte per edit.
fn damage(bytes: &mut Vec<u8>, edits: Vec<(prop::sample::Index, u8, u8)>) {
    for (at, byte, kind) in edits {
        if bytes.is_empty() {
            break;
        }
        let i = at.index(bytes.len());
        match kind {
            0 => bytes[i] = byte,
            1 => {
                bytes.remove(i);
            }
            _ => bytes.insert(i, byte),
        }
    }
}

/// What reading gives: each set or part with where it came from, the
/// warnings (when the file was read to its end) and the refusal.
type Reading = (Vec<(Transaction, Part, String, String)>, Vec<String>, Option<String>);

fn one_thread(bytes: &[u8], size: usize) -> Reading {
    let mut reader = Reader::in_parts(bytes, size);
    let mut sets = Vec::new();
    for parsed in reader.by_ref() {
        match parsed {
            Ok(p) => sets.push((p.transaction, p.part, p.interchange.control_number.to_string(), p.group.control_number.to_string())),
            Err(e) => return (sets, Vec::new(), Some(e.to_string())),
        }
    }
    (sets, reader.warnings().0.iter().map(ToString::to_string).collect(), None)
}

fn two_threads(bytes: &[u8], size: usize) -> Reading {
    pipeline_on(2, bytes, size)
}

/// What `pipeline::read_on` gives on `threads` threads (one: the fallback
/// for a process confined to one processor).
fn pipeline_on(threads: usize, bytes: &[u8], size: usize) -> Reading {
    let mut sets = Vec::new();
    let read = pipeline::read_on(threads, bytes, Some(size), |p| {
        sets.push((p.transaction, p.part, p.interchange.control_number.to_string(), p.group.control_number.to_string()))
    });
    match read {
        Ok(finished) => (sets, finished.warnings.iter().map(ToString::to_string).collect(), None),
        Err(e) => (sets, Vec::new(), Some(e.to_string())),
    }
}

/// Every sample and every corpus file reads the same on two threads as on
/// one: the same sets and parts, warnings and refusal.
#[test]
fn two_threads_read_the_samples_and_the_corpus_as_one_does() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [root.join("samples/valid"), root.join("samples/refused"), root.join("../shared/corpus/835")];
    let mut files = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir).expect("read the folder") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "md" || e == "err" || e == "json") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read the file");
            for size in [1, 1000] {
                let one = one_thread(&bytes, size);
                assert_eq!(two_threads(&bytes, size), one, "{}", path.display());
                assert_eq!(pipeline_on(1, &bytes, size), one, "{} on one thread", path.display());
            }
            files += 1;
        }
    }
    assert!(files > 40, "only {files} files were read");
}

/// Segments of every length around the lexer's 64-byte mask of separators
/// (shorter ones are taken apart from the mask, longer ones split again),
/// some with values past the guide's maximum, so that warnings stand
/// between segments: two threads read them as one does.
#[test]
fn two_threads_read_long_segments_as_one_does() {
    let mut rng = fastrand::Rng::with_seed(64);
    let mut tx = remitd::generate::synthetic_transaction(&mut rng, 1, 0, 150);
    let long = |n: usize, c: char| (n > 0).then(|| std::iter::repeat_n(c, n).collect::<String>().into());
    for (i, claim) in tx.claims.iter_mut().enumerate() {
        if let Some(patient) = claim.patient.as_mut() {
            patient.last_name = long(1 + i % 75, 'L');
            patient.first_name = long(i % 40, 'F');
        }
        claim.payer_claim_control_number = long(1 + i % 70, 'P');
    }
    let bytes = render(&tx);
    let (sets, warnings, refusal) = one_thread(&bytes, 1000);
    assert_eq!(refusal, None);
    assert_eq!(sets.iter().map(|s| s.0.claims.len()).sum::<usize>(), 150);
    assert!(warnings.iter().any(|w| w.contains("NM103")), "{warnings:?}");
    for size in [1, 7, 1000] {
        assert_eq!(two_threads(&bytes, size), one_thread(&bytes, size), "parts of {size}");
    }
}
