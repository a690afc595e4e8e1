//! Making what remitd prints safe to open. Names, account numbers, notes,
//! reasons and actors come from claims files, remittances and people; none
//! of them may forge a line of a report or run as a formula in the
//! spreadsheet a billing manager opens the CSV in.
//!
//! - [`shown`] escapes a value for terminal text: control characters
//!   (a newline could forge the next line of `remitd audit`) and the
//!   bidirectional overrides that make text read differently than it is
//!   stored become `\u{..}`; a backslash becomes `\\`, so an escape in the
//!   output always means an escaped character.
//! - [`csv_cell`] neutralises a CSV cell as OWASP recommends for CSV
//!   injection: a cell that starts with `=`, `+`, `-`, `@`, tab or carriage
//!   return gets a leading `'`, unless the whole cell is a plain number
//!   (a negative amount such as `-12.50` stays a number).
//! - [`CsvReport`] is a CSV writer that neutralises every cell it writes.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

/// `value` ready for a line of terminal text; formats with width and
/// alignment like a `str`.
pub fn shown(value: &str) -> Shown<'_> {
    Shown(value)
}

/// See [`shown`].
pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&escape_text(self.0))
    }
}

/// Whether `c` would change how the surrounding text reads: Unicode's
/// bidirectional embeddings, overrides and isolates, and the implicit marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The escaping of [`shown`], borrowed when there is nothing to escape.
pub fn escape_text(value: &str) -> Cow<'_, str> {
    if !value.chars().any(|c| c == '\\' || c.is_control() || is_bidi_control(c)) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || is_bidi_control(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether a spreadsheet would read `cell` as the start of a formula.
fn starts_like_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// A plain decimal number: an optional minus, digits, an optional
/// fraction. Nothing else that starts with `-` is left alone.
fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty() && !fraction.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// `cell` as it may go into a CSV report.
pub fn csv_cell(cell: &str) -> Cow<'_, str> {
    if starts_like_formula(cell) && !is_plain_number(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV writer for reports: every cell goes through [`csv_cell`].
pub struct CsvReport<W: Write>(csv::Writer<W>);

impl<W: Write> CsvReport<W> {
    pub fn new(out: W) -> Self {
        CsvReport(csv::Writer::from_writer(out))
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.0.write_record(cells.into_iter().map(|c| csv_cell(c.as_ref()).into_owned()))
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.0.into_inner().map_err(|e| e.into_error().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised() {
        for cell in ["=HYPERLINK(\"http://x\")", "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "-", "=", "-.5", "--5", "-5."] {
            assert_eq!(csv_cell(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn plain_values_and_numbers_are_kept() {
        for cell in ["", "SMITH, JOHN", "-12.50", "-5", "12.50", "0", "A-100", "x=1", "'quoted"] {
            assert_eq!(csv_cell(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn the_writer_neutralises_every_cell() {
        let mut w = CsvReport::new(Vec::new());
        w.row(["=1+1", "-3.00", "name"]).unwrap();
        let out = String::from_utf8(w.finish().unwrap()).unwrap();
        assert_eq!(out, "'=1+1,-3.00,name\n");
    }

    #[test]
    fn text_cannot_forge_a_line_or_turn_around() {
        let forged = "eve\n2026-12-02 15:42:14 system approval_policy_set (all)";
        let out = shown(forged).to_string();
        assert!(!out.contains('\n'), "{out}");
        assert_eq!(out, "eve\\u{a}2026-12-02 15:42:14 system approval_policy_set (all)");
        assert_eq!(shown("a\u{202E}b\rc\u{1b}[31m").to_string(), "a\\u{202e}b\\u{d}c\\u{1b}[31m");
        assert_eq!(shown("back\\slash").to_string(), "back\\\\slash");
    }

    #[test]
    fn text_keeps_width_and_ordinary_names() {
        assert_eq!(format!("[{:<8}]", shown("O'BRIEN")), "[O'BRIEN ]");
        assert_eq!(format!("[{:>6}]", shown("a\tb")), "[a\\u{9}b]");
        assert!(matches!(escape_text("MÜLLER, JOSÉ"), Cow::Borrowed(_)));
    }
}
