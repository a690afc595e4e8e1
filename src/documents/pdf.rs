//! A small page layout over krilla: a title, headings, wrapped text,
//! label/value pairs and tables that break across pages (repeating their
//! header), with "page N of M" at the foot of each page. DejaVu Sans is
//! embedded (subset by krilla), so a PDF reads the same everywhere and
//! `pdftotext` gets the text back.

use std::sync::LazyLock;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::Document;

const MARGIN: f32 = 40.0;
const TITLE_SIZE: f32 = 15.0;
const HEADING_SIZE: f32 = 11.0;
const BODY_SIZE: f32 = 9.0;
const TABLE_SIZE: f32 = 7.5;
const FOOT_SIZE: f32 = 7.0;

struct Typeface {
    font: Font,
    face: ttf_parser::Face<'static>,
}

impl Typeface {
    fn load(bytes: &'static [u8]) -> Typeface {
        Typeface {
            font: Font::new(bytes.into(), 0).expect("the embedded DejaVu font loads"),
            face: ttf_parser::Face::parse(bytes, 0).expect("the embedded DejaVu font parses"),
        }
    }

    /// The width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| self.face.glyph_index(c).and_then(|g| self.face.glyph_hor_advance(g)).unwrap_or(0) as u32).sum();
        units as f32 * size / self.face.units_per_em() as f32
    }
}

static REGULAR: LazyLock<Typeface> = LazyLock::new(|| Typeface::load(dejavu::sans::regular()));
static BOLD: LazyLock<Typeface> = LazyLock::new(|| Typeface::load(dejavu::sans::bold()));

fn face(bold: bool) -> &'static Typeface {
    if bold {
        &BOLD
    } else {
        &REGULAR
    }
}

/// How a table column lines up its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table column: its title, its share of the width, its alignment.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub title: &'a str,
    pub weight: f32,
    pub align: Align,
}

impl<'a> Column<'a> {
    pub fn left(title: &'a str, weight: f32) -> Self {
        Column { title, weight, align: Align::Left }
    }

    /// For money and counts.
    pub fn right(title: &'a str, weight: f32) -> Self {
        Column { title, weight, align: Align::Right }
    }
}

enum Op {
    Text { x: f32, y: f32, size: f32, bold: bool, text: String },
    Rule { x1: f32, x2: f32, y: f32 },
}

/// A document being laid out; [`Layout::finish`] writes the PDF.
pub struct Layout {
    title: String,
    width: f32,
    height: f32,
    pages: Vec<Vec<Op>>,
    /// Distance from the top of the page to the next line's top.
    y: f32,
}

impl Layout {
    /// A document titled `title`, A4, in landscape for wide tables.
    pub fn new(title: &str, landscape: bool) -> Layout {
        let (width, height) = if landscape { (842.0, 595.0) } else { (595.0, 842.0) };
        let mut l = Layout { title: title.to_string(), width, height, pages: vec![Vec::new()], y: MARGIN };
        l.line(title, TITLE_SIZE, true, 0.0);
        l.y += 4.0;
        l
    }

    fn content_width(&self) -> f32 {
        self.width - 2.0 * MARGIN
    }

    fn bottom(&self) -> f32 {
        self.height - MARGIN - 14.0
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a layout has a page")
    }

    /// Starts a new page unless `needed` points still fit on this one.
    fn room(&mut self, needed: f32) -> bool {
        if self.y + needed > self.bottom() {
            self.pages.push(Vec::new());
            self.y = MARGIN;
            return false;
        }
        true
    }

    fn line(&mut self, text: &str, size: f32, bold: bool, indent: f32) {
        let height = size * 1.4;
        self.room(height);
        let y = self.y + size;
        self.page().push(Op::Text { x: MARGIN + indent, y, size, bold, text: text.to_string() });
        self.y += height;
    }

    pub fn heading(&mut self, text: &str) {
        self.y += 6.0;
        // A heading never ends a page: keep room for two lines under it.
        self.room(HEADING_SIZE * 1.4 + 2.0 * TABLE_SIZE * 1.6);
        self.line(text, HEADING_SIZE, true, 0.0);
    }

    /// A paragraph, wrapped at word boundaries.
    pub fn text(&mut self, text: &str) {
        for line in wrap(text, BODY_SIZE, false, self.content_width()) {
            self.line(&line, BODY_SIZE, false, 0.0);
        }
    }

    /// Label and value pairs, one per line, the values lined up.
    pub fn pairs(&mut self, pairs: &[(&str, String)]) {
        let label_width = pairs.iter().map(|(l, _)| face(true).width(l, BODY_SIZE)).fold(0.0, f32::max) + 10.0;
        for (label, value) in pairs {
            let height = BODY_SIZE * 1.4;
            self.room(height);
            let y = self.y + BODY_SIZE;
            self.page().push(Op::Text { x: MARGIN, y, size: BODY_SIZE, bold: true, text: label.to_string() });
            self.page().push(Op::Text { x: MARGIN + label_width, y, size: BODY_SIZE, bold: false, text: value.clone() });
            self.y += height;
        }
    }

    /// A table; rows whose first cell starts with `=` print bold without it
    /// (totals). Cells too wide for their column are cut with an ellipsis.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<String>]) {
        let total: f32 = columns.iter().map(|c| c.weight).sum();
        let widths: Vec<f32> = columns.iter().map(|c| c.weight / total * self.content_width()).collect();
        let row_height = TABLE_SIZE * 1.6;
        self.room(row_height * 2.0);
        self.table_header(columns, &widths);
        for row in rows {
            if !self.room(row_height) {
                self.table_header(columns, &widths);
            }
            let bold = row.first().is_some_and(|c| c.starts_with('='));
            let y = self.y + TABLE_SIZE;
            self.cells(columns, &widths, row.iter().map(|c| c.strip_prefix('=').unwrap_or(c)), y, bold);
            self.y += row_height;
        }
        self.y += 4.0;
    }

    fn table_header(&mut self, columns: &[Column], widths: &[f32]) {
        let y = self.y + TABLE_SIZE;
        self.cells(columns, widths, columns.iter().map(|c| c.title), y, true);
        self.y += TABLE_SIZE * 1.6;
        let (x1, x2, rule_y) = (MARGIN, self.width - MARGIN, self.y - TABLE_SIZE * 0.35);
        self.page().push(Op::Rule { x1, x2, y: rule_y });
    }

    fn cells<'s>(&mut self, columns: &[Column], widths: &[f32], cells: impl Iterator<Item = &'s str>, y: f32, bold: bool) {
        let mut x = MARGIN;
        for ((column, width), cell) in columns.iter().zip(widths).zip(cells) {
            let room = width - 4.0;
            let text = fit(cell, TABLE_SIZE, bold, room);
            let at = match column.align {
                Align::Left => x,
                Align::Right => x + room - face(bold).width(&text, TABLE_SIZE),
            };
            self.page().push(Op::Text { x: at, y, size: TABLE_SIZE, bold, text });
            x += width;
        }
    }

    /// The PDF's bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut document = Document::new();
        document.set_metadata(Metadata::new().title(self.title.clone()).creator("remitd".into()).language("en".into()));
        let count = self.pages.len();
        for (n, ops) in self.pages.iter().enumerate() {
            let mut page = document.start_page_with(PageSettings::from_wh(self.width, self.height).expect("A4 is a valid page"));
            let mut surface = page.surface();
            surface.set_fill(Some(Fill { paint: rgb::Color::black().into(), ..Fill::default() }));
            let foot = format!("{} · page {} of {count}", self.title, n + 1);
            let foot_op = Op::Text { x: MARGIN, y: self.height - MARGIN + 4.0, size: FOOT_SIZE, bold: false, text: foot };
            for op in ops.iter().chain(std::iter::once(&foot_op)) {
                match op {
                    Op::Text { x, y, size, bold, text } => {
                        surface.draw_text(Point::from_xy(*x, *y), face(*bold).font.clone(), *size, text, false, TextDirection::Auto)
                    }
                    Op::Rule { x1, x2, y } => {
                        let mut pb = PathBuilder::new();
                        pb.move_to(*x1, *y);
                        pb.line_to(*x2, *y);
                        if let Some(path) = pb.finish() {
                            surface.set_fill(None);
                            surface.set_stroke(Some(Stroke { paint: rgb::Color::new(120, 120, 120).into(), width: 0.5, ..Stroke::default() }));
                            surface.draw_path(&path);
                            surface.set_stroke(None);
                            surface.set_fill(Some(Fill { paint: rgb::Color::black().into(), ..Fill::default() }));
                        }
                    }
                }
            }
            surface.finish();
            page.finish();
        }
        document.finish().expect("a document of text and rules always serialises")
    }
}

/// `text` cut to fit `room` points, with an ellipsis when cut.
fn fit(text: &str, size: f32, bold: bool, room: f32) -> String {
    let f = face(bold);
    if f.width(text, size) <= room {
        return text.to_string();
    }
    let mut cut: String = text.to_string();
    while !cut.is_empty() && f.width(&format!("{cut}…"), size) > room {
        cut.pop();
    }
    format!("{cut}…")
}

/// `text` broken into lines of at most `room` points.
fn wrap(text: &str, size: f32, bold: bool, room: f32) -> Vec<String> {
    let f = face(bold);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if f.width(&candidate, size) > room && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tables_break_across_pages_and_cells_fit_their_columns() {
        let mut l = Layout::new("Test", false);
        l.pairs(&[("Trace", "T1".into())]);
        let rows: Vec<Vec<String>> = (0..200).map(|i| vec![format!("row {i}"), "a very long cell that cannot fit in a narrow column at all".into()]).collect();
        l.table(&[Column::left("Name", 1.0), Column::right("Wide", 1.0)], &rows);
        assert!(l.pages.len() >= 3, "{} pages", l.pages.len());
        let pdf = l.finish();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(fit("a very long cell", TABLE_SIZE, false, 30.0).ends_with('…'));
        assert_eq!(wrap("one two three", BODY_SIZE, false, 1000.0), vec!["one two three"]);
        assert_eq!(wrap("one two three", BODY_SIZE, false, 20.0).len(), 3);
    }
}
