//! The report's charts as SVG strings, drawn with `plotters` (SVG backend, no fonts needed:
//! text is `<text>` the browser lays out; plotters' size estimate places the labels).
//!
//! Each chart has a title, labelled axes with units, and its legend in a panel right of the
//! plot (never over the data). Long series are decimated with M4 to the plot's pixel
//! columns before drawing ([`super::decimate`]).

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::decimate::m4;
use super::{PageError, Result};

/// Width of every chart, in pixels.
pub(super) const WIDTH: u32 = 1040;
/// Width of the legend panel right of the plot.
const LEGEND: u32 = 210;
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(40, 44, 52);
const GRID: RGBColor = RGBColor(226, 229, 234);

/// One line of a line chart (x non-decreasing).
pub(super) struct Line {
    pub name: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub color: RGBColor,
    pub width: u32,
    /// Fill between the line and zero (underwater charts).
    pub fill: bool,
}

/// A buy (up) or sell (down) marker.
pub(super) struct Marker {
    pub x: f64,
    pub y: f64,
    pub buy: bool,
}

/// Title, axis labels and tick formats of a chart.
pub(super) struct Axes<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x_fmt: &'a dyn Fn(f64) -> String,
    pub y_fmt: &'a dyn Fn(f64) -> String,
    pub height: u32,
}

fn chart_err(e: impl std::fmt::Debug) -> PageError {
    PageError::Chart(format!("{e:?}"))
}

/// Text of `size` CSS pixels (plotters writes 1/1.24 of the size it is given).
fn font(size: u32) -> TextStyle<'static> {
    (FONT, f64::from(size) * 1.24).into_font().color(&INK)
}

/// The finite range of `values`, padded by 5% (a flat series gets a small band).
pub(super) fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { (lo.abs() * 0.01).max(1e-4) };
    (lo - pad, hi + pad)
}

/// Draws `entries` (name, colour, a filled swatch or a line) top-down in `area`.
fn legend(area: &DrawingArea<SVGBackend<'_>, Shift>, entries: &[(String, RGBColor, bool)]) -> Result<()> {
    for (i, (name, color, filled)) in entries.iter().enumerate() {
        let y = 34 + 20 * i as i32;
        let swatch = if *filled {
            Rectangle::new([(8, y - 5), (22, y + 5)], color.filled())
        } else {
            Rectangle::new([(8, y - 1), (22, y + 1)], color.filled())
        };
        area.draw(&swatch).map_err(chart_err)?;
        let text: String =
            if name.chars().count() > 26 { name.chars().take(25).chain(['…']).collect() } else { name.clone() };
        area.draw(&Text::new(text, (28, y), font(12).pos(Pos::new(HPos::Left, VPos::Center)))).map_err(chart_err)?;
    }
    Ok(())
}

fn svg_root(svg: &mut String, height: u32) -> DrawingArea<SVGBackend<'_>, Shift> {
    SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area()
}

/// A line chart of `lines` (the first on top, and first in the legend) with optional
/// buy/sell `markers`.
pub(super) fn lines(axes: &Axes<'_>, lines: &[Line], markers: &[Marker]) -> Result<String> {
    let (x0, x1) = lines
        .iter()
        .flat_map(|l| l.x.first().into_iter().chain(l.x.last()))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
    let ys = lines.iter().flat_map(|l| l.y.iter().copied()).chain(markers.iter().map(|m| m.y));
    let (y0, y1) = padded_range(ys.chain(lines.iter().filter(|l| l.fill).map(|_| 0.0)));
    let mut svg = String::new();
    {
        let root = svg_root(&mut svg, axes.height);
        root.fill(&WHITE).map_err(chart_err)?;
        let (plot, side) = root.split_horizontally(WIDTH - LEGEND);
        let mut chart = cartesian(&plot, axes, x0..x1, y0..y1)?;
        let columns = chart.plotting_area().dim_in_pixel().0 as usize;
        // The first line is drawn last, on top.
        for l in lines.iter().rev() {
            let keep = m4(&l.x, &l.y, x0, x1, columns);
            let pts: Vec<(f64, f64)> = keep.iter().map(|&i| (l.x[i], l.y[i])).collect();
            if l.fill {
                let series = AreaSeries::new(pts, 0.0, l.color.mix(0.22)).border_style(l.color.stroke_width(l.width));
                chart.draw_series(series).map_err(chart_err)?;
            } else {
                chart.draw_series(LineSeries::new(pts, l.color.stroke_width(l.width))).map_err(chart_err)?;
            }
        }
        draw_markers(&mut chart, markers, x0, x1, columns)?;
        let mut entries: Vec<(String, RGBColor, bool)> =
            lines.iter().map(|l| (l.name.clone(), l.color, l.fill)).collect();
        if markers.iter().any(|m| m.buy) {
            entries.push(("buy fill".into(), BUY, true));
        }
        if markers.iter().any(|m| !m.buy) {
            entries.push(("sell fill".into(), SELL, true));
        }
        legend(&side, &entries)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// A chart on `plot` with the title, axes and grid of `axes`.
fn cartesian<'a, 'b>(
    plot: &'a DrawingArea<SVGBackend<'b>, Shift>,
    axes: &Axes<'_>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, 'b>> {
    let mut chart = ChartBuilder::on(plot)
        .caption(axes.title, font(16))
        .margin(8)
        .x_label_area_size(44)
        .y_label_area_size(78)
        .build_cartesian_2d(x, y)
        .map_err(chart_err)?;
    chart
        .configure_mesh()
        .x_labels(7)
        .y_labels(6)
        .x_label_formatter(&|x| (axes.x_fmt)(*x))
        .y_label_formatter(&|y| (axes.y_fmt)(*y))
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .label_style(font(12))
        .axis_desc_style(font(13))
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .draw()
        .map_err(chart_err)?;
    Ok(chart)
}

/// Colour of buy markers.
pub(super) const BUY: RGBColor = RGBColor(0, 140, 70);
/// Colour of sell markers.
pub(super) const SELL: RGBColor = RGBColor(200, 30, 40);

type Chart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Buy markers (up triangles) and sell markers (down triangles); at most one of each side
/// per pixel column and 2-pixel price band, so ten thousand fills stay a small page.
fn draw_markers(chart: &mut Chart<'_, '_>, markers: &[Marker], x0: f64, x1: f64, columns: usize) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let (y0, y1) = {
        let r = chart.y_range();
        (r.start, r.end)
    };
    let rows = chart.plotting_area().dim_in_pixel().1.max(1) as f64;
    for m in markers {
        let col = ((m.x - x0) / span * columns as f64) as i64;
        let row = ((m.y - y0) / (y1 - y0).max(f64::MIN_POSITIVE) * rows / 2.0) as i64;
        if !seen.insert((col, row, m.buy)) {
            continue;
        }
        let shape: Vec<(i32, i32)> =
            if m.buy { vec![(0, -1), (-5, 8), (5, 8)] } else { vec![(0, 1), (-5, -8), (5, -8)] };
        let color = if m.buy { BUY } else { SELL };
        chart
            .draw_series(std::iter::once(EmptyElement::at((m.x, m.y)) + Polygon::new(shape, color.filled())))
            .map_err(chart_err)?;
    }
    Ok(())
}

/// One group of bars: a name, a colour and one value per category.
pub(super) struct BarGroup {
    pub name: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
}

/// Vertical bars, the groups side by side in each category (e.g. daily returns of two
/// strategies); `x_fmt` labels a category index.
pub(super) fn bars(axes: &Axes<'_>, categories: usize, groups: &[BarGroup]) -> Result<String> {
    let (y0, y1) = padded_range(groups.iter().flat_map(|g| g.values.iter().copied()).chain([0.0]));
    let mut svg = String::new();
    {
        let root = svg_root(&mut svg, axes.height);
        root.fill(&WHITE).map_err(chart_err)?;
        let (plot, side) = root.split_horizontally(WIDTH - LEGEND);
        let mut chart = cartesian(&plot, axes, 0f64..categories.max(1) as f64, y0..y1)?;
        let n = groups.len().max(1) as f64;
        let slot = 0.8 / n;
        for (k, g) in groups.iter().enumerate() {
            let rects = g.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| {
                let left = i as f64 + 0.1 + slot * k as f64;
                Rectangle::new([(left, 0.0), (left + slot, v)], g.color.filled())
            });
            chart.draw_series(rects).map_err(chart_err)?;
        }
        let entries: Vec<_> = groups.iter().map(|g| (g.name.clone(), g.color, true)).collect();
        legend(&side, &entries)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// Horizontal bars, one panel per group (e.g. Shapley value | leave-one-out), one bar per
/// label; positive bars in the group's colour, negative ones in red.
pub(super) fn hbars(
    title: &str,
    labels: &[String],
    groups: &[BarGroup],
    fmt: &dyn Fn(f64) -> String,
) -> Result<String> {
    let height = 70 + 34 * labels.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = svg_root(&mut svg, height);
        root.fill(&WHITE).map_err(chart_err)?;
        let root = root.titled(title, font(16)).map_err(chart_err)?;
        let panels = root.split_evenly((1, groups.len().max(1)));
        for (g, panel) in groups.iter().zip(&panels) {
            let (lo, hi) = padded_range(g.values.iter().copied().chain([0.0]));
            let n = labels.len().max(1) as i32;
            let mut chart = ChartBuilder::on(panel)
                .caption(&g.name, font(13))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(90)
                .build_cartesian_2d(lo..hi, (0..n - 1).into_segmented())
                .map_err(chart_err)?;
            chart
                .configure_mesh()
                .x_labels(5)
                .y_labels(labels.len())
                .x_label_formatter(&|x| fmt(*x))
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) => labels.get((n - 1 - *i) as usize).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .label_style(font(12))
                .bold_line_style(GRID)
                .light_line_style(WHITE)
                .draw()
                .map_err(chart_err)?;
            let rects = g.values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, &v)| {
                let color = if v >= 0.0 { g.color } else { SELL };
                let i = n - 1 - i as i32;
                let mut r =
                    Rectangle::new([(0.0, SegmentValue::Exact(i)), (v, SegmentValue::Exact(i + 1))], color.filled());
                r.set_margin(5, 5, 0, 0);
                r
            });
            chart.draw_series(rects).map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// One analyst's reliability curve: (mean confidence, hit rate, votes) per bucket.
pub(super) struct Reliability {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64, u64)>,
}

/// Reliability diagram: mean confidence against realised hit rate per confidence bucket,
/// with the diagonal of perfect calibration; a point's area grows with its votes.
pub(super) fn calibration(curves: &[Reliability]) -> Result<String> {
    let most = curves.iter().flat_map(|c| c.points.iter().map(|p| p.2)).max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = svg_root(&mut svg, 420);
        root.fill(&WHITE).map_err(chart_err)?;
        let (plot, side) = root.split_horizontally(WIDTH - LEGEND - 200);
        let mut chart = ChartBuilder::on(&plot)
            .caption("Reliability: confidence of the votes against their realised hit rate", font(16))
            .margin(8)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{:.0}%", x * 100.0))
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_desc("mean confidence of the bucket's votes")
            .y_desc("realised hit rate")
            .label_style(font(12))
            .axis_desc_style(font(13))
            .bold_line_style(GRID)
            .light_line_style(WHITE)
            .draw()
            .map_err(chart_err)?;
        chart
            .draw_series(DashedLineSeries::new([(0.0, 0.0), (1.0, 1.0)], 6, 4, RGBColor(150, 150, 150).stroke_width(1)))
            .map_err(chart_err)?;
        for c in curves {
            chart
                .draw_series(LineSeries::new(c.points.iter().map(|p| (p.0, p.1)), c.color.stroke_width(2)))
                .map_err(chart_err)?;
            let dots = c.points.iter().map(|&(x, y, n)| {
                let r = 3.0 + 9.0 * (n as f64 / most).sqrt();
                Circle::new((x, y), r as i32, c.color.mix(0.55).filled())
            });
            chart.draw_series(dots).map_err(chart_err)?;
        }
        let mut entries: Vec<_> = curves.iter().map(|c| (c.name.clone(), c.color, true)).collect();
        entries.push(("perfect calibration".into(), RGBColor(150, 150, 150), false));
        legend(&side, &entries)?;
        side.draw(&Text::new("dot area ∝ votes in the bucket", (8, 50 + 20 * entries.len() as i32), font(11)))
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// The heatmap's colour of a hit rate: white at 50%, blue above (full at 65%), red below
/// (full at 35%), grey when nothing was judged (NaN).
pub(super) fn hit_colour(h: f64) -> RGBColor {
    if !h.is_finite() {
        return RGBColor(225, 225, 225);
    }
    let t = ((h - 0.5) / 0.15).clamp(-1.0, 1.0);
    let (full, t) = if t >= 0.0 { ((33u8, 102u8, 172u8), t) } else { ((178u8, 24u8, 43u8), -t) };
    let mix = |c: u8| (255.0 + (c as f64 - 255.0) * t).round() as u8;
    RGBColor(mix(full.0), mix(full.1), mix(full.2))
}

/// A label split at the space or `/` nearest its middle (the whole label when it has none).
fn split_label(label: &str) -> (&str, &str) {
    let mid = label.len() / 2;
    let cut = label
        .char_indices()
        .filter(|(_, ch)| *ch == ' ' || *ch == '/')
        .map(|(i, _)| i)
        .min_by_key(|&i| i.abs_diff(mid));
    match cut {
        Some(i) if label[i..].starts_with('/') => (&label[..=i], &label[i + 1..]),
        Some(i) => (&label[..i], &label[i + 1..]),
        None => (label, ""),
    }
}

/// A heatmap: one row per `rows` entry, one column per `columns` entry; `cell(r, c)` gives
/// (hit rate, judged). Colour = hit rate ([`hit_colour`]), text = votes judged.
pub(super) fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    cell: &dyn Fn(usize, usize) -> (f64, u64),
) -> Result<String> {
    let (left, row_h) = (110i32, 30i32);
    let width = (WIDTH - LEGEND) as i32 - left - 10;
    let col_w = (width / columns.len().max(1) as i32).max(1);
    // A label wider than its column (about 7 px a character) goes on two lines.
    let two_lines = columns.iter().any(|c| c.chars().count() as i32 * 7 > col_w - 6);
    let top = if two_lines { 74 } else { 58 };
    // Room for the rows, or for the colour scale and its two captions if taller.
    let height = (top + row_h * rows.len() as i32 + 30).max(top + 12 * 11 + 36) as u32;
    let mut svg = String::new();
    {
        let root = svg_root(&mut svg, height);
        root.fill(&WHITE).map_err(chart_err)?;
        let centred = |size| font(size).pos(Pos::new(HPos::Center, VPos::Center));
        root.draw(&Text::new(title, ((WIDTH - LEGEND) as i32 / 2, 16), centred(16))).map_err(chart_err)?;
        for (c, name) in columns.iter().enumerate() {
            let x = left + col_w * c as i32 + col_w / 2;
            let (first, second) = if two_lines { split_label(name) } else { (name.as_str(), "") };
            let y = if second.is_empty() { top - 10 } else { top - 26 };
            root.draw(&Text::new(first.to_string(), (x, y), centred(12))).map_err(chart_err)?;
            if !second.is_empty() {
                root.draw(&Text::new(second.to_string(), (x, top - 11), centred(12))).map_err(chart_err)?;
            }
        }
        for (r, name) in rows.iter().enumerate() {
            let y = top + row_h * r as i32;
            root.draw(&Text::new(
                name.clone(),
                (left - 8, y + row_h / 2),
                font(12).pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(chart_err)?;
            for c in 0..columns.len() {
                let (h, judged) = cell(r, c);
                let x = left + col_w * c as i32;
                let fill = hit_colour(h);
                root.draw(&Rectangle::new([(x, y), (x + col_w - 1, y + row_h - 1)], fill.filled()))
                    .map_err(chart_err)?;
                let dark = h.is_finite() && (h - 0.5).abs() > 0.09;
                let ink = if dark { WHITE } else { INK };
                let label = if judged == 0 { "–".to_string() } else { judged.to_string() };
                root.draw(&Text::new(
                    label,
                    (x + col_w / 2, y + row_h / 2),
                    (FONT, 11.0 * 1.24).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(chart_err)?;
            }
        }
        let (side_x, _) = (WIDTH - LEGEND + 8, 0);
        let scale_y = top;
        for k in 0..=10 {
            let h = 0.35 + 0.03 * k as f64;
            let y = scale_y + 12 * (10 - k);
            root.draw(&Rectangle::new([(side_x as i32, y), (side_x as i32 + 16, y + 12)], hit_colour(h).filled()))
                .map_err(chart_err)?;
            if k % 5 == 0 {
                root.draw(&Text::new(
                    format!("{:.0}%", h * 100.0),
                    (side_x as i32 + 22, y + 6),
                    font(11).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(chart_err)?;
            }
        }
        root.draw(&Text::new("hit rate (colour)", (side_x as i32, scale_y - 14), font(11))).map_err(chart_err)?;
        root.draw(&Text::new("cell text: votes judged", (side_x as i32, scale_y + 12 * 11 + 14), font(11)))
            .map_err(chart_err)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}
