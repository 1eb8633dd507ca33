//! Server-rendered SVG plots: the geometry is computed here, the templates only place it. No
//! script and no inline style (the CSP forbids both); colours come from classes in roster.css.

/// One bar of a horizontal bar chart, or one segment of a stacked row.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub value: u64,
    pub y: u32,
    pub x: u32,
    pub width: u32,
    pub class: &'static str,
    /// Where a click leads: the inventory filtered to what the bar counts.
    pub href: Option<String>,
}

/// Horizontal bars, one per row, with labels on the left and values on the right.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub height: u32,
    pub bars: Vec<Bar>,
}

pub const CHART_WIDTH: u32 = 460;
pub const LABEL_WIDTH: u32 = 110;
const PLOT_WIDTH: u32 = 290;
const ROW: u32 = 24;
const BAR: u32 = 16;

fn scaled(value: u64, max: u64, width: u32) -> u32 {
    if max == 0 || value == 0 {
        return 0;
    }
    // At least one pixel so a non-zero count never looks like zero.
    ((value as f64 / max as f64) * f64::from(width))
        .round()
        .max(1.0) as u32
}

impl BarChart {
    pub fn new(title: &str, rows: impl IntoIterator<Item = BarInput>) -> Self {
        let rows: Vec<_> = rows.into_iter().collect();
        let max = rows.iter().map(|r| r.1).max().unwrap_or(0);
        let bars: Vec<Bar> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, value, class, href))| Bar {
                label,
                value,
                y: i as u32 * ROW,
                x: LABEL_WIDTH,
                width: scaled(value, max, PLOT_WIDTH),
                class,
                href,
            })
            .collect();
        Self {
            title: title.to_owned(),
            height: bars.len() as u32 * ROW,
            bars,
        }
    }

    pub fn bar_height(&self) -> u32 {
        BAR
    }

    /// Whether any bar is a link (then the chart is a group of links, not one image).
    pub fn linked(&self) -> bool {
        self.bars.iter().any(|b| b.href.is_some())
    }
}

/// A bar's input: label, value, CSS class, link.
pub type BarInput = (String, u64, &'static str, Option<String>);

/// One row of a stacked bar chart (tier by platform).
#[derive(Debug, Clone)]
pub struct StackRow {
    pub label: String,
    pub total: u64,
    pub y: u32,
    pub segments: Vec<Bar>,
}

#[derive(Debug, Clone)]
pub struct StackChart {
    pub title: String,
    pub height: u32,
    pub rows: Vec<StackRow>,
}

impl StackChart {
    /// `rows`: label, then (segment label, value, class, href) in stacking order.
    pub fn new(title: &str, rows: Vec<(String, Vec<BarInput>)>) -> Self {
        let max = rows
            .iter()
            .map(|(_, segs)| segs.iter().map(|s| s.1).sum::<u64>())
            .max()
            .unwrap_or(0);
        let rows: Vec<StackRow> = rows
            .into_iter()
            .enumerate()
            .map(|(i, (label, segs))| {
                let total = segs.iter().map(|s| s.1).sum();
                // Ends are placed from running totals, so rounding never adds up past the row.
                let mut running = 0;
                let mut x = LABEL_WIDTH;
                let segments = segs
                    .into_iter()
                    .map(|(seg, value, class, href)| {
                        running += value;
                        let end = LABEL_WIDTH + scaled(running, max, PLOT_WIDTH);
                        let bar = Bar {
                            label: seg,
                            value,
                            y: i as u32 * ROW,
                            x,
                            width: end.saturating_sub(x),
                            class,
                            href,
                        };
                        x = end;
                        bar
                    })
                    .filter(|b| b.width > 0)
                    .collect();
                StackRow {
                    label,
                    total,
                    y: i as u32 * ROW,
                    segments,
                }
            })
            .collect();
        Self {
            title: title.to_owned(),
            height: rows.len() as u32 * ROW,
            rows,
        }
    }
}

/// A point of a line chart.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: u32,
    pub y: u32,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub class: &'static str,
    /// `x,y x,y …` for a polyline.
    pub points_attr: String,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone)]
pub struct LineChart {
    pub title: String,
    pub max: u64,
    pub series: Vec<Series>,
    /// Labels under the x axis: (x, text).
    pub ticks: Vec<(u32, String)>,
}

pub const LINE_HEIGHT: u32 = 140;

impl LineChart {
    /// `labels` name the x positions (sync runs, oldest first); each series has one value per
    /// label.
    pub fn new(
        title: &str,
        labels: &[String],
        series: Vec<(&str, &'static str, Vec<u64>)>,
    ) -> Self {
        let max = series
            .iter()
            .flat_map(|s| s.2.iter().copied())
            .max()
            .unwrap_or(0);
        let n = labels.len().max(1) as u32;
        let step = if n > 1 { PLOT_WIDTH / (n - 1) } else { 0 };
        let x_of = |i: usize| LABEL_WIDTH + i as u32 * step;
        let y_of = |v: u64| {
            let h = LINE_HEIGHT - 20;
            10 + h - scaled(v, max, h).min(h)
        };
        let series = series
            .into_iter()
            .map(|(name, class, values)| {
                let points: Vec<Point> = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Point {
                        x: x_of(i),
                        y: y_of(*v),
                        label: format!(
                            "{name}: {v} ({})",
                            labels.get(i).map(String::as_str).unwrap_or("")
                        ),
                    })
                    .collect();
                Series {
                    name: name.to_owned(),
                    class,
                    points_attr: points
                        .iter()
                        .map(|p| format!("{},{}", p.x, p.y))
                        .collect::<Vec<_>>()
                        .join(" "),
                    points,
                }
            })
            .collect();
        let ticks = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (x_of(i), l.clone()))
            .collect();
        Self {
            title: title.to_owned(),
            max,
            series,
            ticks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_never_hide_a_nonzero_count() {
        let c = BarChart::new(
            "t",
            [
                ("a".to_owned(), 1000, "c", None),
                ("b".to_owned(), 1, "c", None),
                ("z".to_owned(), 0, "c", None),
            ],
        );
        assert_eq!(c.bars[0].width, PLOT_WIDTH);
        assert_eq!(c.bars[1].width, 1);
        assert_eq!(c.bars[2].width, 0);
        assert_eq!(c.height, 3 * ROW);
    }

    #[test]
    fn stacked_segments_sit_end_to_end() {
        let c = StackChart::new(
            "t",
            vec![(
                "aws".into(),
                vec![
                    ("critical".into(), 10, "a", None),
                    ("high".into(), 0, "b", None),
                    ("low".into(), 30, "c", None),
                ],
            )],
        );
        let segs = &c.rows[0].segments;
        assert_eq!(segs.len(), 2, "empty segments are left out");
        assert_eq!(segs[1].x, segs[0].x + segs[0].width);
        assert_eq!(segs[0].width + segs[1].width, PLOT_WIDTH);
    }

    #[test]
    fn line_points_rise_with_their_values() {
        let c = LineChart::new(
            "t",
            &["#1".into(), "#2".into()],
            vec![("total", "s", vec![10, 20])],
        );
        let p = &c.series[0].points;
        assert!(p[1].y < p[0].y, "higher value, higher on the page");
        assert_eq!(c.series[0].points_attr.split(' ').count(), 2);
    }
}
