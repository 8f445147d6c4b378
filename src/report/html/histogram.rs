//! The size histogram of report.html, as inline SVG.

use std::fmt::Write;

use crate::aggregate::size::{SizeHistogram, SizeUnit};

/// Bar colours of live and dead cells in the histograms.
const LIVE_FILL: &str = "#2e8b57";
const DEAD_FILL: &str = "#c0392b";

/// A stacked live/dead bar chart of a size histogram, as inline SVG.
pub(super) fn histogram_svg(h: &SizeHistogram) -> String {
    let unit = match h.unit {
        SizeUnit::Um => "µm",
        SizeUnit::Px => "px",
    };
    let bins = h.live.len().max(h.dead.len());
    let count = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
    let cells = |i: usize| count(&h.live, i) + count(&h.dead, i);
    let first = (0..bins).find(|&i| cells(i) > 0);
    let last = (0..bins).rev().find(|&i| cells(i) > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return "<p class=\"muted\">No cells to plot.</p>".into();
    };
    let peak = (first..=last).map(cells).max().unwrap_or(1).max(1);
    let (width, height, left, bottom, top) = (520.0, 200.0, 44.0, 34.0, 10.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let n = (last - first + 1) as f64;
    let bar = plot_w / n;
    let y = |c: u32| top + plot_h * (1.0 - f64::from(c) / f64::from(peak));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"cell diameter histogram\" font-size=\"11\" font-family=\"sans-serif\">"
    );
    let _ = write!(
        svg,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#1d232a\"/><line x1=\"{left}\" y1=\"{0}\" x2=\"{}\" y2=\"{0}\" stroke=\"#1d232a\"/>",
        top + plot_h,
        left + plot_w
    );
    for tick in [0, peak / 2, peak] {
        let ty = y(tick);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text><line x1=\"{}\" y1=\"{ty:.1}\" x2=\"{left}\" y2=\"{ty:.1}\" stroke=\"#1d232a\"/>",
            left - 5.0,
            ty + 4.0,
            left - 3.0
        );
    }
    let label_every = (n / 10.0).ceil().max(1.0) as usize;
    for (k, i) in (first..=last).enumerate() {
        let x = left + bar * k as f64;
        let (live, dead) = (count(&h.live, i), count(&h.dead, i));
        // Dead stacked on live.
        for (base, c, fill, class) in [
            (0, live, LIVE_FILL, "live"),
            (live, dead, DEAD_FILL, "dead"),
        ] {
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{:.0}–{:.0} {unit}: {c} {class}</title></rect>",
                x + 1.0,
                y(base + c),
                (bar - 2.0).max(1.0),
                y(base) - y(base + c),
                i as f64 * h.bin_width,
                (i + 1) as f64 * h.bin_width
            );
        }
        if k % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text>",
                top + plot_h + 14.0,
                i as f64 * h.bin_width
            );
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">equivalent diameter, {unit}</text><text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">cells</text>",
        left + plot_w / 2.0,
        height - 4.0,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    let _ = write!(
        svg,
        "<rect x=\"{0:.1}\" y=\"{top}\" width=\"10\" height=\"10\" fill=\"{LIVE_FILL}\"/><text x=\"{1:.1}\" y=\"{2}\">live</text><rect x=\"{0:.1}\" y=\"{3}\" width=\"10\" height=\"10\" fill=\"{DEAD_FILL}\"/><text x=\"{1:.1}\" y=\"{4}\">dead</text></svg>",
        width - 60.0,
        width - 46.0,
        top + 9.0,
        top + 14.0,
        top + 23.0
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_plots_only_the_occupied_bins_with_both_classes() {
        let h = SizeHistogram {
            unit: SizeUnit::Um,
            bin_width: 2.0,
            live: vec![0, 0, 3, 5, 1],
            dead: vec![0, 0, 0, 2, 0, 0],
        };
        let svg = histogram_svg(&h);
        assert_eq!(
            svg.matches("<rect").count(),
            3 * 2 + 2,
            "3 bins x 2 + legend"
        );
        assert!(svg.contains("6–8 µm: 5 live"));
        assert!(svg.contains("6–8 µm: 2 dead"));
        assert!(!svg.contains("2–4 µm"));
    }
}
