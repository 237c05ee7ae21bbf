//! Small SVG charts for the benchmark report: lines or points over two linear or logarithmic axes,
//! with a legend. No dependencies, no scripts: the files open in any browser and diff as text.

use std::fmt::Write as _;

/// One line of a chart.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Dashed (for floors).
    pub dashed: bool,
}

/// A chart.
pub struct Chart {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// The lines.
    pub series: Vec<Series>,
}

const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#555555"];

impl Chart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        let (w, h, left, right, top, bottom) = (720.0, 420.0, 70.0, 190.0, 40.0, 50.0);
        let all: Vec<(f64, f64)> = self.series.iter().flat_map(|s| s.points.iter().copied()).collect();
        let fx = |x: f64| if self.log_x { x.max(1e-9).log10() } else { x };
        let (mut x0, mut x1) =
            all.iter().map(|p| fx(p.0)).fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
        let y1 = all.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1;
        if x0 >= x1 {
            (x0, x1) = (x0 - 1.0, x0 + 1.0);
        }
        let y1 = if y1 <= 0.0 { 1.0 } else { y1 };
        let px = |x: f64| left + (fx(x) - x0) / (x1 - x0) * (w - left - right);
        let py = |y: f64| h - bottom - y / y1 * (h - top - bottom);
        let mut s = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
             <text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>",
            (w - right + left) / 2.0,
            esc(&self.title)
        );
        // Axes and ticks.
        let _ = write!(
            s,
            "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"black\"/><line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{0}\" stroke=\"black\"/>",
            h - bottom,
            w - right
        );
        for i in 0..=5 {
            let y = y1 * f64::from(i) / 5.0;
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><line x1=\"{left}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" stroke=\"#ddd\"/>",
                left - 6.0,
                py(y) + 4.0,
                num(y),
                py(y),
                w - right,
                py(y)
            );
        }
        let mut xs: Vec<f64> = all.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let step = (xs.len() / 8).max(1);
        for x in xs.iter().step_by(step) {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                px(*x),
                h - bottom + 16.0,
                num(*x)
            );
        }
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text><text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>",
            (w - right + left) / 2.0,
            h - 12.0,
            esc(&self.x_label),
            (h - bottom + top) / 2.0,
            (h - bottom + top) / 2.0,
            esc(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dash = if series.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
            let path: Vec<String> =
                series.points.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y))).collect();
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                path.join(" ")
            );
            if series.points.len() <= 40 {
                for (x, y) in &series.points {
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
                        px(*x),
                        py(*y)
                    );
                }
            }
            let ly = top + 10.0 + 18.0 * i as f64;
            let _ = write!(
                s,
                "<line x1=\"{0}\" y1=\"{ly}\" x2=\"{1}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/><text x=\"{2}\" y=\"{3}\">{4}</text>",
                w - right + 10.0,
                w - right + 34.0,
                w - right + 40.0,
                ly + 4.0,
                esc(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn num(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}
