//! Charts drawn on the server as inline SVG: the pages need no chart library and no script to
//! show them, and a chart is as fast to render as the text around it.

use std::fmt::Write;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// One line of a line chart: a value per x position, `None` where there is no data.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Option<f64>>,
}

/// Escapes text for SVG/HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The smallest "nice" step (1, 2 or 5 times a power of ten) that splits `max` into at most
/// four intervals, so axis labels read as round numbers.
fn nice_step(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|step| *step >= raw).unwrap_or(10.0 * magnitude)
}

/// A number as an axis label: short, without trailing zeros.
pub fn short_number(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e9 {
        format!("{:.1}G", value / 1e9).replace(".0G", "G")
    } else if abs >= 1e6 {
        format!("{:.1}M", value / 1e6).replace(".0M", "M")
    } else if abs >= 1e4 {
        format!("{:.1}k", value / 1e3).replace(".0k", "k")
    } else if abs >= 100.0 || abs == 0.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if abs >= 1.0 {
        format!("{value:.2}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else if abs >= 0.001 {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        // Costs of single calls: a millionth of a dollar must not read as 0.
        format!("{value:.1e}").replace(".0e", "e")
    }
}

struct Frame {
    max: f64,
    step: f64,
    slots: usize,
}

impl Frame {
    fn new(max: f64, slots: usize) -> Self {
        let step = nice_step(max);
        let max = (max / step).ceil().max(1.0) * step;
        Self { max, step, slots: slots.max(1) }
    }

    fn y(&self, value: f64) -> f64 {
        TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (value / self.max).clamp(0.0, 1.0))
    }

    /// The centre of slot `i` along the x axis.
    fn x(&self, i: usize) -> f64 {
        let plot = WIDTH - LEFT - RIGHT;
        LEFT + plot * (i as f64 + 0.5) / self.slots as f64
    }

    fn slot_width(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.slots as f64
    }

    fn grid(&self, out: &mut String, unit: &str) {
        let mut tick = 0.0;
        while tick <= self.max + self.step / 2.0 {
            let y = self.y(tick);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}{}</text>"#,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                short_number(tick),
                escape(unit)
            );
            tick += self.step;
        }
    }

    /// Up to five x labels, evenly spaced.
    fn x_labels(&self, out: &mut String, labels: &[String]) {
        if labels.is_empty() {
            return;
        }
        let every = labels.len().div_ceil(5).max(1);
        for (i, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
            let _ = write!(
                out,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                self.x(i),
                HEIGHT - 6.0,
                escape(label)
            );
        }
    }
}

fn open_svg(out: &mut String, title: &str, kind: &str, points: usize) {
    let _ = write!(
        out,
        r#"<svg class="chart" data-kind="{kind}" data-points="{points}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(title)
    );
}

/// A line chart of `series` over the x positions named by `labels`, with a legend.
pub fn line_chart(title: &str, labels: &[String], series: &[Series<'_>], unit: &str) -> String {
    let slots = labels.len().max(series.iter().map(|s| s.values.len()).max().unwrap_or(0));
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0_f64, |m, v| m.max(*v));
    let frame = Frame::new(max, slots);
    let points: usize = series.iter().map(|s| s.values.iter().flatten().count()).sum();
    let mut out = String::with_capacity(4096);
    open_svg(&mut out, title, "line", points);
    frame.grid(&mut out, unit);
    frame.x_labels(&mut out, labels);
    for (index, s) in series.iter().enumerate() {
        // A gap in the data breaks the line instead of drawing through it.
        let mut path = String::new();
        let mut pen_down = false;
        for (i, value) in s.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let _ = write!(path, "{}{:.1},{:.1}", if pen_down { " L" } else { " M" }, frame.x(i), frame.y(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                r#"<path class="line s{index}" d="{}"><title>{}</title></path>"#,
                path.trim(),
                escape(s.name)
            );
        }
        // Lone points (no neighbour to draw a line to) still show.
        for (i, value) in s.values.iter().enumerate() {
            let lone = value.is_some()
                && (i == 0 || s.values[i - 1].is_none())
                && s.values.get(i + 1).is_none_or(|next| next.is_none());
            if let (true, Some(v)) = (lone, value) {
                let _ = write!(
                    out,
                    r#"<circle class="dot s{index}" cx="{:.1}" cy="{:.1}" r="2.5"><title>{}: {}</title></circle>"#,
                    frame.x(i),
                    frame.y(*v),
                    escape(s.name),
                    short_number(*v)
                );
            }
        }
    }
    out.push_str("</svg>");
    if series.len() > 1 {
        out.push_str(r#"<div class="legend">"#);
        for (index, s) in series.iter().enumerate() {
            let _ = write!(out, r#"<span class="key s{index}">{}</span>"#, escape(s.name));
        }
        out.push_str("</div>");
    }
    out
}

/// A bar chart: one bar per `(label, value)`, its value in the bar's tooltip.
pub fn bar_chart(title: &str, bars: &[(String, f64)], unit: &str) -> String {
    let max = bars.iter().fold(0.0_f64, |m, (_, v)| m.max(*v));
    let frame = Frame::new(max, bars.len());
    let mut out = String::with_capacity(2048);
    open_svg(&mut out, title, "bar", bars.len());
    frame.grid(&mut out, unit);
    let labels: Vec<String> = bars.iter().map(|(l, _)| l.clone()).collect();
    frame.x_labels(&mut out, &labels);
    let width = (frame.slot_width() * 0.8).max(1.0);
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = frame.y(*value);
        let _ = write!(
            out,
            r#"<rect class="bar s0" x="{:.1}" y="{y:.1}" width="{width:.1}" height="{:.1}"><title>{}: {}{}</title></rect>"#,
            frame.x(i) - width / 2.0,
            (frame.y(0.0) - y).max(0.0),
            escape(label),
            short_number(*value),
            escape(unit)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(100.0), 50.0);
        assert_eq!(nice_step(7.0), 2.0);
        assert_eq!(nice_step(0.03), 0.01);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(1500.0), "1500");
        assert_eq!(short_number(25_000.0), "25k");
        assert_eq!(short_number(2_500_000.0), "2.5M");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1.5), "1.5");
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.000_005), "5e-6");
        assert_eq!(short_number(0.000_025), "2.5e-5");
    }

    #[test]
    fn a_gap_breaks_the_line_and_lone_points_are_dots() {
        let labels: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let series = [Series { name: "p95 <ms>", values: vec![Some(1.0), Some(2.0), None, Some(4.0), None] }];
        let svg = line_chart("latency", &labels, &series, "ms");
        assert!(svg.contains(r#"data-points="3""#), "{svg}");
        let path = svg.split(r#" d=""#).nth(1).unwrap_or_default();
        let path = &path[..path.find('"').unwrap_or(0)];
        assert_eq!(path.matches('M').count(), 2, "{path}");
        assert_eq!(path.matches('L').count(), 1, "{path}");
        assert_eq!(svg.matches("<circle").count(), 1);
        assert!(svg.contains("p95 &lt;ms&gt;"), "names are escaped");
    }

    #[test]
    fn bars_scale_to_the_largest() {
        let svg = bar_chart("sizes", &[("a".into(), 10.0), ("b".into(), 5.0)], "");
        assert_eq!(svg.matches("<rect").count(), 2);
        // The axis tops out at 10 (step 5): the first bar is full height, the second half.
        let heights: Vec<f64> =
            svg.split(r#"height=""#).skip(1).filter_map(|s| s[..s.find('"').unwrap_or(0)].parse().ok()).collect();
        assert_eq!(heights.len(), 2);
        assert!((heights[0] - 2.0 * heights[1]).abs() < 0.2, "{heights:?}");
    }
}
