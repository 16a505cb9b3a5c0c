//! Server-rendered SVG charts for the report. Each chart is one `<svg role="img">` with a `<title>`
//! and a `<desc>` (named by `aria-labelledby`), drawn in NHS.UK colours; the pages put a table of
//! the same numbers beside every chart, so nothing is only in a picture. Series differ by shape and
//! line pattern as well as colour.

use maud::{Markup, html};

use crate::listing::RatingBand;

const WIDTH: usize = 760;
const LABEL_WIDTH: usize = 230;
const BAR_WIDTH: usize = 460;
const ROW: usize = 22;
const GAP: usize = 6;
const LEGEND: usize = 34;

/// Fill and text colour of a rating band (NHS.UK palette: aqua green, green, warm yellow, red,
/// grey), text chosen for contrast on the fill.
pub fn band_colours(band: RatingBand) -> (&'static str, &'static str) {
    match band {
        RatingBand::Outstanding => ("#00a499", "#212b32"),
        RatingBand::Good => ("#007f3b", "#ffffff"),
        RatingBand::RequiresImprovement => ("#ffb81c", "#212b32"),
        RatingBand::Inadequate => ("#d5281b", "#ffffff"),
        RatingBand::NoRating => ("#4c6272", "#ffffff"),
    }
}

/// One bar: a label and the trusts in each band ([`RatingBand::ALL`] order).
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub counts: [usize; 5],
}

/// Bars under an optional heading (a region, a trust type).
#[derive(Debug, Clone)]
pub struct BarGroup {
    pub heading: Option<String>,
    pub bars: Vec<Bar>,
}

/// How long a bar is.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Every bar full width, split in proportion (shares of a group).
    Share,
    /// Lengths in proportion to this many trusts.
    Of(usize),
}

fn legend() -> Markup {
    // Each entry as wide as its words (about 7 px a character at 13 px).
    let mut x = LABEL_WIDTH;
    let entries: Vec<(usize, RatingBand)> = RatingBand::ALL
        .into_iter()
        .map(|band| {
            let at = x;
            x += 19 + band.words().len() * 7 + 14;
            (at, band)
        })
        .collect();
    html! {
        g class="legend" {
            @for (x, band) in entries {
                rect x=(x) y="6" width="14" height="14" fill=(band_colours(band).0) {}
                text x=(x + 19) y="18" font-size="13" fill="#212b32" { (band.words()) }
            }
        }
    }
}

/// Horizontal stacked bars, one segment per rating band, counts written on segments wide enough.
pub fn stacked_bars(
    id: &str,
    title: &str,
    desc: &str,
    groups: &[BarGroup],
    scale: Scale,
) -> Markup {
    let rows: usize = groups
        .iter()
        .map(|g| g.bars.len() + usize::from(g.heading.is_some()))
        .sum();
    let height = LEGEND + rows * (ROW + GAP) + GAP;
    let mut y = LEGEND;
    let mut placed: Vec<(usize, Option<&str>, Option<&Bar>)> = Vec::new();
    for g in groups {
        if let Some(h) = &g.heading {
            placed.push((y, Some(h.as_str()), None));
            y += ROW + GAP;
        }
        for b in &g.bars {
            placed.push((y, None, Some(b)));
            y += ROW + GAP;
        }
    }
    figure(
        id,
        title,
        desc,
        height,
        html! {
            (legend())
            @for (y, heading, bar) in &placed {
                @if let Some(h) = heading {
                    text x="0" y=(y + 16) font-size="14" font-weight="bold" fill="#212b32" { (h) }
                }
                @if let Some(bar) = bar {
                    (bar_row(*y, bar, scale))
                }
            }
        },
    )
}

/// The `<svg role="img">` every chart is: `title` and `desc` name it, `body` draws it.
fn figure(id: &str, title: &str, desc: &str, height: usize, body: Markup) -> Markup {
    html! {
        svg id=(id) class="report-chart" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox=(format!("0 0 {WIDTH} {height}")) width=(WIDTH) height=(height)
            aria-labelledby=(format!("{id}-title {id}-desc")) {
            title id=(format!("{id}-title")) { (title) }
            desc id=(format!("{id}-desc")) { (desc) }
            (body)
        }
    }
}

fn bar_row(y: usize, bar: &Bar, scale: Scale) -> Markup {
    let total: usize = bar.counts.iter().sum();
    let of = match scale {
        Scale::Share => total,
        Scale::Of(n) => n,
    }
    .max(1);
    let mut x = LABEL_WIDTH;
    let mut segments = Vec::new();
    for (band, count) in RatingBand::ALL.into_iter().zip(bar.counts) {
        if count == 0 {
            continue;
        }
        let w = (count * BAR_WIDTH).div_ceil(of).max(2);
        segments.push((x, w, band, count));
        x += w;
    }
    html! {
        g class="bar" {
            text x=(LABEL_WIDTH - 8) y=(y + 16) font-size="13" text-anchor="end" fill="#212b32" { (bar.label) }
            @for (x, w, band, count) in &segments {
                @let (fill, ink) = band_colours(*band);
                rect x=(x) y=(y) width=(w) height=(ROW) fill=(fill) {}
                @if *w >= 22 {
                    text x=(x + w / 2) y=(y + 16) font-size="12" text-anchor="middle" fill=(ink) { (count) }
                }
            }
            text x=(x + 6) y=(y + 16) font-size="12" fill="#4c6272" { (total) }
        }
    }
}

/// One version on a timeline: its date label and the band of each series.
#[derive(Debug, Clone)]
pub struct TimelinePoint {
    pub label: String,
    pub bands: Vec<RatingBand>,
}

/// How a timeline series is drawn: name, colour, dash pattern, marker.
const SERIES: [(&str, &str, &str, Marker); 3] = [
    ("Overall quality", "#005eb8", "", Marker::Circle),
    ("Combined", "#212b32", "", Marker::Diamond),
    ("Use of resources", "#330072", "6 4", Marker::Square),
];

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Diamond,
    Square,
}

fn marker(m: Marker, x: usize, y: usize, colour: &str) -> Markup {
    html! {
        @match m {
            Marker::Circle => circle cx=(x) cy=(y) r="5" fill=(colour) {},
            Marker::Square => rect x=(x - 5) y=(y - 5) width="10" height="10" fill=(colour) {},
            Marker::Diamond => path d=(format!("M{x} {} l6 6 l-6 6 l-6 -6 z", y - 6)) fill=(colour) {},
        }
    }
}

/// A step chart of a trust's ratings over its versions: one line per series in
/// `Measure::ALL` order (overall quality, combined, use of resources), best rating at the top,
/// "no rating" at the bottom.
pub fn timeline(id: &str, title: &str, desc: &str, points: &[TimelinePoint]) -> Markup {
    const TOP: usize = 40;
    const LEVEL: usize = 34;
    const LEFT: usize = 170;
    let plot_width = WIDTH - LEFT - 30;
    let height = TOP + LEVEL * 5 + 40;
    let step = if points.len() > 1 {
        plot_width / (points.len() - 1)
    } else {
        0
    };
    let x_of = |i: usize| LEFT + 10 + i * step;
    // Series apart by a few pixels so equal ratings stay visible side by side.
    let y_of = |band: RatingBand, series: usize| TOP + band as usize * LEVEL + 6 + series * 9;
    // At most about 8 date labels.
    let label_every = points.len().div_ceil(8).max(1);
    figure(
        id,
        title,
        desc,
        height,
        html! {
                g class="legend" {
                    @for (i, (name, colour, dash, m)) in SERIES.iter().enumerate() {
                        @let x = LEFT + i * 180;
                        line x1=(x) y1="14" x2=(x + 30) y2="14" stroke=(colour) stroke-width="3" stroke-dasharray=(dash) {}
                        (marker(*m, x + 15, 14, colour))
                        text x=(x + 38) y="19" font-size="13" fill="#212b32" { (name) }
                    }
                }
                @for band in RatingBand::ALL {
                    @let y = TOP + band as usize * LEVEL + 15;
                    line x1=(LEFT) y1=(y) x2=(WIDTH - 10) y2=(y) stroke="#d8dde0" stroke-width="1" {}
                    text x=(LEFT - 8) y=(y + 4) font-size="13" text-anchor="end" fill="#212b32" { (band.words()) }
                }
                @for (s, (_, colour, dash, m)) in SERIES.iter().enumerate() {
                    @let path = points.iter().enumerate().filter_map(|(i, p)| {
                        p.bands.get(s).map(|b| (x_of(i), y_of(*b, s)))
                    }).enumerate().map(|(k, (x, y))| {
                        if k == 0 { format!("M{x} {y}") } else { format!("H{x} V{y}") }
                    }).collect::<Vec<_>>().join(" ");
                    path d=(path) fill="none" stroke=(colour) stroke-width="2.5" stroke-dasharray=(dash) {}
                    @for (i, p) in points.iter().enumerate() {
                        @if let Some(b) = p.bands.get(s) {
                            (marker(*m, x_of(i), y_of(*b, s), colour))
                        }
                    }
                }
                @for (i, p) in points.iter().enumerate() {
                    @if i % label_every == 0 || i + 1 == points.len() {
                        text x=(x_of(i)) y=(height - 12) font-size="12" text-anchor="middle" fill="#212b32" { (p.label) }
                    }
                }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_labelled_images_with_escaped_text() {
        let svg = stacked_bars(
            "c",
            "Ratings <by> region",
            "desc & more",
            &[BarGroup {
                heading: Some("London & <the> South".into()),
                bars: vec![Bar {
                    label: "Combined".into(),
                    counts: [1, 2, 0, 0, 3],
                }],
            }],
            Scale::Share,
        )
        .into_string();
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-labelledby=\"c-title c-desc\""));
        assert!(svg.contains("<title id=\"c-title\">Ratings &lt;by&gt; region</title>"));
        assert!(svg.contains("London &amp; &lt;the&gt; South"));
        // Two segments drawn with counts, one empty band skipped.
        assert_eq!(svg.matches("<rect").count(), 5 + 3);
    }

    #[test]
    fn a_timeline_has_a_marker_per_version_and_series() {
        let points: Vec<TimelinePoint> = (0..3)
            .map(|i| TimelinePoint {
                label: format!("2018-0{}-01", i + 1),
                bands: vec![
                    RatingBand::Good,
                    RatingBand::NoRating,
                    RatingBand::Inadequate,
                ],
            })
            .collect();
        let svg = timeline("t", "Ratings over time", "d", &points).into_string();
        // Legend markers (one per series) plus one per version and series.
        assert_eq!(svg.matches("<circle").count(), 1 + 3);
        assert_eq!(svg.matches("<rect").count(), 1 + 3);
        assert!(svg.contains("2018-03-01"));
    }
}
