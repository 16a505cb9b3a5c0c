//! The tables and JSON lines of the offline tools (`oversight rate`, `oversight score`).

pub mod rate;
pub mod score;

/// An aligned table: the header row then the rows, columns two spaces apart, left-aligned up to
/// column `right_from` and right-aligned from it, trailing spaces trimmed.
pub(crate) fn table(headers: &[&str], right_from: usize, rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut write_row = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if i >= right_from {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    write_row(&mut headers.iter().copied());
    for row in rows {
        write_row(&mut row.iter().map(String::as_str));
    }
    out
}
