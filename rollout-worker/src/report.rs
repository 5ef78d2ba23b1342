//! Reading a run back: the training curves as one SVG image (`rollout-worker plot`) and two
//! graded evaluations of the same held-out prompts side by side, with intervals
//! (`rollout-worker compare`). Pure functions over text; the commands do the file I/O.
//!
//! SVG written by hand rather than with a plotting crate: five line charts need a few dozen
//! lines of markup, and the image is text that diffs and renders anywhere (GitHub included).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{bail, Context};
use graders::contract::{GradeResult, Status};
use serde_json::Value;

use crate::reward::{format_score, is_correct};

/// The curves `plot` draws: log field, title.
const CURVES: [(&str, &str); 5] = [
    ("mean_reward", "mean reward"),
    ("accuracy", "accuracy (sampled)"),
    ("format_rate", "format rate (sampled)"),
    ("completion_length", "completion length (tokens)"),
    ("kl", "KL to the reference"),
];

/// Steps averaged in the bold line over each curve (the thin line is every step).
const SMOOTHING: usize = 10;

/// The training curves of `log` (a `train` log.jsonl) as an SVG document.
pub fn plot_svg(log: &str, title: &str) -> anyhow::Result<String> {
    let mut rows: Vec<HashMap<String, f64>> = Vec::new();
    for (n, line) in log.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("log line {}", n + 1))?;
        let Value::Object(fields) = value else {
            bail!("log line {}: not a JSON object", n + 1);
        };
        rows.push(
            fields
                .into_iter()
                // serde_json writes a NaN as null: kept as NaN, so the chart can say so.
                .filter_map(|(key, value)| match value {
                    Value::Null => Some((key, f64::NAN)),
                    value => value.as_f64().map(|v| (key, v)),
                })
                .collect(),
        );
    }
    if rows.is_empty() {
        bail!("the log holds no steps");
    }
    let steps: Vec<f64> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| row.get("step").copied().unwrap_or(i as f64 + 1.0))
        .collect();
    let elapsed = rows.last().and_then(|row| row.get("elapsed_s")).copied();
    if !CURVES
        .iter()
        .any(|(field, _)| rows.iter().any(|row| row.contains_key(*field)))
    {
        bail!(
            "no step has any of {}: is this a `train` log?",
            CURVES.map(|c| c.0).join(", ")
        );
    }
    // Past this, spans overflow to infinity and coordinates become NaN.
    if rows
        .iter()
        .flat_map(|row| row.values())
        .chain(&steps)
        .any(|v| v.abs() > 1e100)
    {
        bail!("a value in the log is beyond ±1e100: not a value a run logs");
    }

    let (panel_w, panel_h, margin) = (420.0, 220.0, 50.0);
    let columns = 2usize;
    let panel_rows = CURVES.len().div_ceil(columns);
    let width = columns as f64 * (panel_w + margin) + margin;
    let height = panel_rows as f64 * (panel_h + margin) + margin + 30.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{margin}" y="28" font-size="16">{}</text>"#,
        escape(&match elapsed {
            Some(seconds) => format!(
                "{title}: {} steps in {:.1} min (thin: each step; bold: mean of {SMOOTHING})",
                rows.len(),
                seconds / 60.0
            ),
            None => title.to_string(),
        })
    );
    for (index, (field, label)) in CURVES.iter().enumerate() {
        let x0 = margin + (index % columns) as f64 * (panel_w + margin);
        let y0 = 30.0 + margin + (index / columns) as f64 * (panel_h + margin);
        let logged: Vec<(f64, f64)> = steps
            .iter()
            .zip(&rows)
            .filter_map(|(&step, row)| row.get(*field).map(|&v| (step, v)))
            .collect();
        let points: Vec<(f64, f64)> = logged.iter().copied().filter(|p| p.1.is_finite()).collect();
        let not_finite = logged.len() - points.len();
        let label = if not_finite == 0 {
            label.to_string()
        } else {
            format!("{label} ({not_finite} steps NaN or infinite, not drawn)")
        };
        panel(&mut svg, (x0, y0, panel_w, panel_h), &label, &points);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// One chart: axes with their ranges, every step thin, the moving mean bold.
fn panel(
    svg: &mut String,
    (x0, y0, w, h): (f64, f64, f64, f64),
    label: &str,
    points: &[(f64, f64)],
) {
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/><text x="{x0}" y="{}">{}</text>"##,
        y0 - 6.0,
        escape(label)
    );
    if points.is_empty() {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}">not in the log</text>"#,
            x0 + 10.0,
            y0 + h / 2.0
        );
        return;
    }
    let (x_min, x_max) = range(points.iter().map(|p| p.0));
    let (mut y_min, mut y_max) = range(points.iter().map(|p| p.1));
    if y_min > 0.0 && y_min < 0.5 * y_max {
        y_min = 0.0;
    }
    if y_max - y_min < 1e-12 {
        y_max = y_min + 1.0;
    }
    let x_span = (x_max - x_min).max(1.0);
    let to_xy = |(x, y): (f64, f64)| {
        (
            x0 + (x - x_min) / x_span * w,
            y0 + h - (y - y_min) / (y_max - y_min) * h,
        )
    };
    let polyline = |pts: &[(f64, f64)]| {
        pts.iter()
            .map(|&p| {
                let (x, y) = to_xy(p);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let smoothed: Vec<(f64, f64)> = (0..points.len())
        .map(|i| {
            let window = &points[i.saturating_sub(SMOOTHING - 1)..=i];
            let mean = window.iter().map(|p| p.1).sum::<f64>() / window.len() as f64;
            (points[i].0, mean)
        })
        .collect();
    let _ = writeln!(
        svg,
        r##"<polyline fill="none" stroke="#9ab" stroke-width="1" points="{}"/><polyline fill="none" stroke="#147" stroke-width="2.5" points="{}"/>"##,
        polyline(points),
        polyline(&smoothed)
    );
    for (value, y) in [(y_max, y0 + 4.0), (y_min, y0 + h)] {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{y}" text-anchor="end">{}</text>"#,
            x0 - 4.0,
            short(value)
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{x0}" y="{}">step {}</text><text x="{}" y="{}" text-anchor="end">{}</text>"#,
        y0 + h + 14.0,
        short(x_min),
        x0 + w,
        y0 + h + 14.0,
        short(x_max)
    );
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

fn short(value: f64) -> String {
    if value.abs() >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// Text as SVG character data: markup escaped, and control characters (which XML forbids, so
/// a viewer would refuse the whole image) replaced.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            c if c.is_control() => "\u{fffd}".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One sample's grading: (correct, format score).
type Graded = (bool, f64);

/// Accuracy and format rate of one graded evaluation, per sample id.
#[derive(Debug)]
pub struct Evaluation {
    /// id (its JSON text, so `1` and `"1"` differ) -> (correct, format score)
    pub by_id: HashMap<String, Graded>,
    /// Results whose grading failed (`error`, `timeout`): kept, as incorrect with format 0,
    /// but counted so a broken grading run cannot pass for a regression.
    pub failed_gradings: usize,
}

impl Evaluation {
    /// Reads `verifier grade` output (JSON lines of results).
    pub fn parse(text: &str) -> anyhow::Result<Evaluation> {
        let (mut by_id, mut failed_gradings) = (HashMap::new(), 0);
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let result: GradeResult =
                serde_json::from_str(line).with_context(|| format!("result line {}", n + 1))?;
            if !line.trim_start().starts_with('{') {
                bail!("result line {}: not a JSON object", n + 1);
            }
            if result.id.is_null() {
                bail!("result line {}: no id to pair it by", n + 1);
            }
            let id = result.id.to_string();
            let format = format_score(&result);
            if !(0.0..=1.0).contains(&format) {
                bail!(
                    "result line {}: format reward {format} is outside [0, 1]",
                    n + 1
                );
            }
            if matches!(result.status, Status::Error | Status::Timeout) {
                failed_gradings += 1;
            }
            if by_id
                .insert(id.clone(), (is_correct(&result), format))
                .is_some()
            {
                bail!("result line {}: id {id} appears twice", n + 1);
            }
        }
        if by_id.is_empty() {
            bail!("no results");
        }
        Ok(Evaluation {
            by_id,
            failed_gradings,
        })
    }
}

/// A share with its 95% Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// The 95% Wilson score interval of `successes` out of `n`.
pub fn wilson(successes: f64, n: usize) -> Share {
    let n_f = n as f64;
    let p = successes / n_f;
    let z = 1.959_963_984_540_054_f64;
    let denominator = 1.0 + z * z / n_f;
    let centre = (p + z * z / (2.0 * n_f)) / denominator;
    let half = z * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt() / denominator;
    Share {
        value: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// The mean of paired differences with its 95% normal interval (the same prompts graded
/// before and after: pairing removes the prompts' own difficulty from the noise).
pub fn paired_difference(differences: &[f64]) -> Share {
    let n = differences.len() as f64;
    let mean = differences.iter().sum::<f64>() / n;
    let variance = if differences.len() > 1 {
        differences.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    let half = 1.959_963_984_540_054 * (variance / n).sqrt();
    // Each difference lies in [-1, 1], and so does their mean.
    Share {
        value: mean,
        low: (mean - half).max(-1.0),
        high: (mean + half).min(1.0),
    }
}

/// `before` and `after` on the ids they share: each one's accuracy and format rate, and the
/// paired change of each, as text.
pub fn compare(before: &Evaluation, after: &Evaluation) -> anyhow::Result<String> {
    let mut ids: Vec<&String> = before
        .by_id
        .keys()
        .filter(|id| after.by_id.contains_key(*id))
        .collect();
    ids.sort();
    if ids.is_empty() {
        bail!("the two evaluations share no sample ids");
    }
    let n = ids.len();
    let pairs: Vec<(Graded, Graded)> = ids
        .iter()
        .map(|id| (before.by_id[*id], after.by_id[*id]))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "{n} prompts in both evaluations");
    let only = |a: &Evaluation, b: &Evaluation| {
        a.by_id
            .keys()
            .filter(|id| !b.by_id.contains_key(*id))
            .count()
    };
    let (only_before, only_after) = (only(before, after), only(after, before));
    if only_before + only_after > 0 {
        let _ = writeln!(
            out,
            "left out: {only_before} ids only before, {only_after} only after"
        );
    }
    for (name, evaluation) in [("before", before), ("after", after)] {
        if evaluation.failed_gradings > 0 {
            let _ = writeln!(
                out,
                "warning: {} results {name} are grading errors or timeouts, counted as incorrect",
                evaluation.failed_gradings
            );
        }
    }
    let _ = writeln!(
        out,
        "{:<14}{:>24}{:>24}{:>30}",
        "", "before", "after", "change (paired)"
    );
    let share = |s: Share| format!("{:.3} [{:.3}, {:.3}]", s.value, s.low, s.high);
    let change = |s: Share| format!("{:+.3} [{:+.3}, {:+.3}]", s.value, s.low, s.high);
    let accuracy = |pick: fn(&(Graded, Graded)) -> bool| {
        wilson(pairs.iter().filter(|p| pick(p)).count() as f64, n)
    };
    let accuracy_change = paired_difference(
        &pairs
            .iter()
            .map(|(b, a)| a.0 as u8 as f64 - b.0 as u8 as f64)
            .collect::<Vec<_>>(),
    );
    let _ = writeln!(
        out,
        "{:<14}{:>24}{:>24}{:>30}",
        "accuracy",
        share(accuracy(|p| p.0 .0)),
        share(accuracy(|p| p.1 .0)),
        change(accuracy_change)
    );
    // Format scores can be fractional (partial-credit styles): the interval then treats their
    // sum as a count of successes, an approximation that is exact for pass/fail styles.
    let format_before: f64 = pairs.iter().map(|p| p.0 .1).sum();
    let format_after: f64 = pairs.iter().map(|p| p.1 .1).sum();
    let format_change =
        paired_difference(&pairs.iter().map(|(b, a)| a.1 - b.1).collect::<Vec<_>>());
    let _ = writeln!(
        out,
        "{:<14}{:>24}{:>24}{:>30}",
        "format rate",
        share(wilson(format_before, n)),
        share(wilson(format_after, n)),
        change(format_change)
    );
    let _ = writeln!(
        out,
        "(95% intervals: Wilson for each rate, normal for the mean paired change)"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_textbook_figure() {
        // 48 of 300: p = 0.16, Wilson 95% [0.1229, 0.2057].
        let share = wilson(48.0, 300);
        assert!((share.value - 0.16).abs() < 1e-12);
        assert!((share.low - 0.1229).abs() < 5e-4, "{share:?}");
        assert!((share.high - 0.2057).abs() < 5e-4, "{share:?}");
        let all = wilson(10.0, 10);
        assert!((all.high - 1.0).abs() < 1e-12, "{all:?}");
        assert!(all.low > 0.69 && all.low < 0.73);
    }

    #[test]
    fn paired_difference_interval_narrows_with_agreement() {
        let same = paired_difference(&[1.0; 50]);
        assert_eq!((same.value, same.low, same.high), (1.0, 1.0, 1.0));
        let mixed: Vec<f64> = (0..100)
            .map(|i| if i % 4 == 0 { 1.0 } else { 0.0 })
            .collect();
        let share = paired_difference(&mixed);
        assert!((share.value - 0.25).abs() < 1e-12);
        // sd = sqrt(0.25 * 0.75 * 100 / 99), half-width 1.96 * sd / 10.
        assert!(
            (share.high - share.value - 0.0853).abs() < 1e-3,
            "{share:?}"
        );
    }

    fn result(id: &str, correct: bool, format: f64) -> String {
        let status = if correct { "correct" } else { "incorrect" };
        serde_json::json!({"id": id, "reward": 0.0, "status": status, "components": [
            {"name": "math", "weight": 1.0, "reward": correct as u8 as f64, "status": status},
            {"name": "format:r1", "weight": 0.5, "reward": format, "status": "correct"}
        ]})
        .to_string()
    }

    #[test]
    fn compare_pairs_results_by_id_and_reports_both_rates() {
        let before = [
            result("p1", false, 0.0),
            result("p2", true, 0.0),
            result("p3", false, 1.0),
        ];
        let after = [
            result("p3", true, 1.0),
            result("p2", true, 1.0),
            result("p1", true, 1.0),
        ];
        let before = Evaluation::parse(&before.join("\n")).unwrap();
        let after = Evaluation::parse(&after.join("\n")).unwrap();
        let text = compare(&before, &after).unwrap();
        assert!(text.starts_with("3 prompts in both"), "{text}");
        let accuracy = text.lines().find(|l| l.starts_with("accuracy")).unwrap();
        assert!(
            accuracy.contains("0.333 [")
                && accuracy.contains("1.000 [")
                && accuracy.contains("+0.667"),
            "{accuracy}"
        );
        let format = text.lines().find(|l| l.starts_with("format rate")).unwrap();
        assert!(format.contains("+0.667"), "{format}");
        let twice = [result("p1", true, 1.0), result("p1", false, 1.0)].join("\n");
        assert!(Evaluation::parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("twice"));
    }

    #[test]
    fn compare_says_what_it_left_out_and_refuses_impossible_rewards() {
        let mut failed: serde_json::Value =
            serde_json::from_str(&result("p2", false, 0.0)).unwrap();
        failed["status"] = "error".into();
        let before = [
            result("p1", true, 1.0),
            result("p2", true, 1.0),
            result("p3", true, 1.0),
        ];
        let after = [
            result("p1", true, 1.0),
            failed.to_string(),
            result("p9", true, 1.0),
        ];
        let before = Evaluation::parse(&before.join("\n")).unwrap();
        let after = Evaluation::parse(&after.join("\n")).unwrap();
        let text = compare(&before, &after).unwrap();
        assert!(
            text.contains("left out: 1 ids only before, 1 only after"),
            "{text}"
        );
        assert!(
            text.contains("1 results after are grading errors"),
            "{text}"
        );
        // `1` and `"1"` are different ids; an id-less result cannot be paired.
        let numeric = result("p1", true, 1.0).replace("\"p1\"", "1");
        let text = compare(
            &Evaluation::parse(&numeric).unwrap(),
            &Evaluation::parse(&result("1", true, 1.0)).unwrap(),
        );
        assert!(text
            .unwrap_err()
            .to_string()
            .contains("share no sample ids"));
        assert!(Evaluation::parse(&result("p1", true, 5.0))
            .unwrap_err()
            .to_string()
            .contains("outside [0, 1]"));
        let no_id = result("p1", true, 1.0).replace("\"id\":\"p1\",", "");
        assert!(Evaluation::parse(&no_id)
            .unwrap_err()
            .to_string()
            .contains("no id"));
        assert!(paired_difference(&[1.0, 1.0, -1.0]).high <= 1.0);
    }

    #[test]
    fn plot_refuses_what_it_cannot_draw_and_says_what_it_left_out() {
        assert!(plot_svg("{}\n{\"step\":1}\n", "t").is_err());
        assert!(plot_svg("{\"step\":1,\"mean_reward\":1e308}\n", "t").is_err());
        let svg = plot_svg(
            "{\"step\":1,\"mean_reward\":0.5,\"kl\":null}\n{\"step\":2,\"mean_reward\":0.7,\"kl\":0.1}\n",
            "a\u{1}b",
        )
        .unwrap();
        assert!(svg.contains("KL to the reference (1 steps NaN or infinite, not drawn)"));
        assert!(!svg.contains('\u{1}') && svg.contains("a\u{fffd}b"));
    }

    #[test]
    fn plot_draws_every_curve_of_the_log() {
        let log: String = (1..=30)
            .map(|step| {
                format!(
                    "{{\"step\":{step},\"mean_reward\":{},\"accuracy\":0.5,\"format_rate\":{},\"completion_length\":40.0,\"kl\":0.0,\"elapsed_s\":{}}}\n",
                    step as f64 / 30.0,
                    step as f64 / 60.0,
                    step * 20
                )
            })
            .collect();
        let svg = plot_svg(&log, "run <1>").unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2 * CURVES.len());
        assert!(svg.contains("30 steps in 10.0 min") && svg.contains("run &lt;1&gt;"));
        assert!(plot_svg("", "empty").is_err());
        assert!(plot_svg("[1]\n", "not objects").is_err());
    }
}
