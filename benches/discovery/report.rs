//! Statistics over rounds and the Markdown table rows of the report.

use std::time::Duration;

use super::measure::Sample;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) wall: Duration,
    pub(crate) wall_min: Duration,
    pub(crate) wall_max: Duration,
    pub(crate) cpu: Duration,
    pub(crate) max_rss_kib: u64,
    pub(crate) tree_rss_kib: u64,
}

impl Summary {
    pub(crate) fn of(samples: &[Sample]) -> Summary {
        let walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
        Summary {
            wall: median(&walls),
            wall_min: walls.iter().min().copied().unwrap_or_default(),
            wall_max: walls.iter().max().copied().unwrap_or_default(),
            cpu: median(&samples.iter().map(|s| s.cpu).collect::<Vec<_>>()),
            max_rss_kib: median(&samples.iter().map(|s| s.max_rss_kib).collect::<Vec<_>>()),
            tree_rss_kib: median(&samples.iter().map(|s| s.tree_rss_kib).collect::<Vec<_>>()),
        }
    }
}

/// Median (the upper one of an even count); zero for no samples.
pub(crate) fn median<T: Copy + Ord + Default>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(crate) fn ratio(value: f64, base: f64) -> String {
    if base <= 0.0 {
        return "-".into();
    }
    format!("{:.1}x", value / base)
}

/// One table row; `full` is false for the in-process row, which has only a wall time.
pub(crate) fn row(name: &str, s: &Summary, base: &Summary, full: bool) -> String {
    let wall = format!("{} ({}-{})", ms(s.wall), ms(s.wall_min), ms(s.wall_max));
    let wall_ratio = ratio(s.wall.as_secs_f64(), base.wall.as_secs_f64());
    if !full {
        return format!("| {name} | {wall} | {wall_ratio} | - | - | - | - | - |\n");
    }
    format!(
        "| {name} | {wall} | {wall_ratio} | {} | {} | {} | {} | {} |\n",
        ms(s.cpu),
        ratio(s.cpu.as_secs_f64(), base.cpu.as_secs_f64()),
        mib(s.max_rss_kib),
        mib(s.tree_rss_kib),
        ratio(s.tree_rss_kib as f64, base.tree_rss_kib as f64),
    )
}
