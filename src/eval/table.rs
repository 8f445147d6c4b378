//! The evaluation as a table for people.

use super::{EvalReport, ScoreStatus};

impl EvalReport {
    /// A table for people: one row per image, then the overall figures.
    pub fn to_table(&self) -> String {
        let fmt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        let mut out = format!(
            "{:<48} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9}\n",
            "image", "status", "truth", "count", "error", "F1", "live/dead"
        );
        for s in &self.images {
            let status = match s.status {
                ScoreStatus::Scored => "ok",
                ScoreStatus::Failed => "failed",
                ScoreStatus::NoTruth => "no-truth",
            };
            let chars = s.path.chars().count();
            let name: String = if chars > 48 {
                // Keep the end of long paths: the file name tells images apart.
                format!("...{}", s.path.chars().skip(chars - 45).collect::<String>())
            } else {
                s.path.clone()
            };
            if s.status == ScoreStatus::NoTruth {
                out.push_str(&format!(
                    "{name:<48} {status:>7} {:>6} {:>6} {:>6} {:>6} {:>9}\n",
                    "-", "-", "-", "-", "-"
                ));
                continue;
            }
            out.push_str(&format!(
                "{name:<48} {status:>7} {:>6} {:>6} {:>+6} {:>6.3} {:>9}\n",
                s.tally.truth_cells,
                s.tally.counted_cells,
                s.count_error,
                s.tally.f1(),
                fmt(s.tally.label_accuracy())
            ));
        }
        let o = &self.overall;
        out.push_str(&format!(
            "\nimages scored {}, failed {}, without truth {}\n\
             precision {}  recall {}  F1 {:.3}\n\
             count MAE per image {}  total count error {}%\n\
             live/dead accuracy on matched cells {}  viability error {} points\n",
            o.images_scored,
            o.images_failed,
            o.images_without_truth,
            fmt(o.precision),
            fmt(o.recall),
            o.f1,
            fmt(o.count_mae_per_image),
            o.total_count_error_pct
                .map_or_else(|| "-".into(), |v| format!("{v:+.2}")),
            fmt(o.live_dead_accuracy),
            o.viability_error_points
                .map_or_else(|| "-".into(), |v| format!("{v:+.2}")),
        ));
        out
    }
}
