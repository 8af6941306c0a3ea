//! Hand-written SVG charts for reports: a line chart (values per round) and a grouped bar
//! chart (counts per category). Plain text, deterministic, no plotting crate.

use std::fmt::Write as _;

const W: f64 = 560.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 48.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#7f7f7f", "#8c564b", "#17becf",
];
/// At most this many x values get a label; with more, every n-th does (first and last
/// always).
const MAX_X_LABELS: usize = 12;

/// Text content, escaped for XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn open(title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="13">{}</text>"#,
        W / 2.0,
        esc(title)
    );
    s
}

/// Axes with `ticks` labelled y values from 0 to `ymax`, and an x label.
fn axes(s: &mut String, ymax: f64, xlabel: &str, ylabel: &str) {
    let (x0, y0, x1) = (LEFT, H - BOTTOM, W - RIGHT);
    let _ = writeln!(
        s,
        r#"<path d="M{x0} {TOP} V{y0} H{x1}" stroke="black" fill="none"/>"#
    );
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = y0 - (y0 - TOP) * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 4.0,
            y + 4.0,
            fmt_num(v)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 10.0,
        esc(xlabel)
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        (TOP + y0) / 2.0,
        (TOP + y0) / 2.0,
        esc(ylabel)
    );
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn legend(s: &mut String, names: &[&str]) {
    for (i, n) in names.iter().enumerate() {
        let y = TOP + 14.0 * i as f64;
        let x = W - RIGHT + 12.0;
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            y,
            COLORS[i % COLORS.len()],
            x + 14.0,
            y + 9.0,
            esc(n)
        );
    }
}

fn nice_max(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    v * 1.1
}

/// A line chart: each series is a name and (x, y) points; x values are labelled as given
/// (at most [`MAX_X_LABELS`] of them). `ymax` fixes the top of the y axis (e.g. 1 for
/// rates); without it the axis fits the data.
pub fn line_chart(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    ymax: Option<f64>,
) -> String {
    let mut s = open(title);
    let all: Vec<(f64, f64)> = series.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    let ymax = ymax.unwrap_or_else(|| nice_max(all.iter().map(|p| p.1).fold(0.0, f64::max)));
    let (xmin, xmax) = all
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let span = if xmax > xmin { xmax - xmin } else { 1.0 };
    let px = |x: f64| LEFT + 10.0 + (W - RIGHT - LEFT - 20.0) * (x - xmin) / span;
    let py = |y: f64| H - BOTTOM - (H - BOTTOM - TOP) * (y / ymax).clamp(0.0, 1.0);
    axes(&mut s, ymax, xlabel, ylabel);
    if !all.is_empty() {
        let mut xs: Vec<f64> = all.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let every = xs.len().div_ceil(MAX_X_LABELS).max(1);
        let last = xs.len() - 1;
        for (i, &x) in xs.iter().enumerate() {
            // The last label always; a regular one too close before it is left out.
            let regular = i % every == 0 && (i == last || last - i >= every.div_ceil(2));
            if !regular && i != last {
                continue;
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                px(x),
                H - BOTTOM + 14.0,
                x
            );
        }
    }
    for (i, (_, pts)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(x, y) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#,
                px(x),
                py(y)
            );
        }
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
    legend(&mut s, &names);
    s.push_str("</svg>\n");
    s
}

/// A grouped bar chart: one group of bars per category, one bar per series.
pub fn bar_chart(
    title: &str,
    ylabel: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
) -> String {
    let mut s = open(title);
    let ymax = nice_max(
        series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max),
    );
    axes(&mut s, ymax, "", ylabel);
    let n = categories.len().max(1) as f64;
    let group = (W - RIGHT - LEFT - 10.0) / n;
    let bw = (group * 0.8) / series.len().max(1) as f64;
    for (ci, cat) in categories.iter().enumerate() {
        let gx = LEFT + 5.0 + group * ci as f64;
        for (si, (_, vals)) in series.iter().enumerate() {
            let v = vals.get(ci).copied().unwrap_or(0.0);
            let h = (H - BOTTOM - TOP) * (v / ymax).clamp(0.0, 1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
                gx + group * 0.1 + bw * si as f64,
                H - BOTTOM - h,
                bw,
                h,
                COLORS[si % COLORS.len()]
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="end" font-size="9" transform="rotate(-25 {:.1} {})">{}</text>"#,
            gx + group / 2.0,
            H - BOTTOM + 12.0,
            gx + group / 2.0,
            H - BOTTOM + 12.0,
            esc(cat)
        );
    }
    let names: Vec<&str> = series.iter().map(|(n, _)| *n).collect();
    legend(&mut s, &names);
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_gives_five_series_five_colors_and_thins_x_labels() {
        let series: Vec<(&str, Vec<(f64, f64)>)> = (0..5)
            .map(|i| {
                let pts = (0..=30)
                    .map(|x| (f64::from(x) * 50.0, 0.1 * f64::from(i)))
                    .collect();
                (["a", "b", "c", "d", "e"][i as usize], pts)
            })
            .collect();
        let svg = line_chart("t", "x", "y", &series, Some(1.0));
        for c in &COLORS[..5] {
            assert!(svg.contains(&format!(r#"stroke="{c}""#)), "{c}");
        }
        let labels = svg.matches(r#"text-anchor="middle">"#).count();
        // 31 x values: at most MAX_X_LABELS (plus the last) of them labelled, plus the
        // title, the x axis label and the y axis label.
        assert!(labels <= MAX_X_LABELS + 1 + 3, "{labels}");
        assert!(svg.contains(">0</text>") && svg.contains(">1500</text>"));
    }
}
