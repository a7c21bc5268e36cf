//! Statistics a bureau reports: per day, grid cell and violation type, the cases raised,
//! dispatched and dismissed (the false-alarm rate: dismissed among decided) and the median time
//! from first seen to seen clear. Pure: case facts in, rows out; the CSV is written here too.

use std::collections::BTreeMap;

use super::case::Decision;

/// What statistics need of one case (read from the database's columns, not its payload).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    pub day: String,
    pub grid_cell: String,
    pub event_type: String,
    /// Ever dispatched (a dispatched case may be closed later).
    pub dispatched: bool,
    /// The operator's latest decision.
    pub decision: Option<Decision>,
    /// Seconds from first seen to seen clear (cases the camera saw clear).
    pub clear_s: Option<f64>,
}

/// One line of the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    pub day: String,
    pub grid_cell: String,
    pub event_type: String,
    pub raised: u64,
    pub dispatched: u64,
    pub dismissed: u64,
    /// Cases with any decision.
    pub decided: u64,
    /// Dismissed among decided; `None` before any decision.
    pub false_alarm_rate: Option<f64>,
    pub median_clear_s: Option<f64>,
}

#[derive(Default)]
struct Acc {
    raised: u64,
    dispatched: u64,
    dismissed: u64,
    decided: u64,
    clear: Vec<f64>,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Groups by `key` (day, grid cell, type; any part may be a wildcard `*` for totals).
fn group(facts: &[CaseFacts], key: impl Fn(&CaseFacts) -> [String; 3]) -> Vec<StatRow> {
    let mut groups: BTreeMap<[String; 3], Acc> = BTreeMap::new();
    for f in facts {
        let a = groups.entry(key(f)).or_default();
        a.raised += 1;
        a.dispatched += u64::from(f.dispatched);
        a.dismissed += u64::from(f.decision == Some(Decision::Dismiss));
        a.decided += u64::from(f.decision.is_some() || f.dispatched);
        if let Some(s) = f.clear_s.filter(|s| s.is_finite()) {
            a.clear.push(s);
        }
    }
    let mut rows: Vec<StatRow> = groups
        .into_iter()
        .map(|([day, grid_cell, event_type], mut a)| StatRow {
            day,
            grid_cell,
            event_type,
            raised: a.raised,
            dispatched: a.dispatched,
            dismissed: a.dismissed,
            decided: a.decided,
            false_alarm_rate: (a.decided > 0).then(|| a.dismissed as f64 / a.decided as f64),
            median_clear_s: median(&mut a.clear),
        })
        .collect();
    // The latest day first; grid cells and types in order within it.
    rows.sort_by(|a, b| {
        b.day
            .cmp(&a.day)
            .then_with(|| a.grid_cell.cmp(&b.grid_cell))
            .then_with(|| a.event_type.cmp(&b.event_type))
    });
    rows
}

/// One row per day, grid cell and type.
pub fn by_day_cell_type(facts: &[CaseFacts]) -> Vec<StatRow> {
    group(facts, |f| {
        [f.day.clone(), f.grid_cell.clone(), f.event_type.clone()]
    })
}

/// One row per type over the whole period (day and grid cell `*`).
pub fn by_type(facts: &[CaseFacts]) -> Vec<StatRow> {
    group(facts, |f| ["*".into(), "*".into(), f.event_type.clone()])
}

/// A spreadsheet cell that starts like a formula is prefixed with `'` (CSV injection).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The rows as CSV (header first), for a spreadsheet.
pub fn to_csv(rows: &[StatRow]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fmt =
        |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_default();
    w.write_record([
        "day",
        "grid_cell",
        "type",
        "raised",
        "dispatched",
        "dismissed",
        "decided",
        "false_alarm_rate",
        "median_clear_s",
    ])
    .map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record([
            cell(&r.day),
            cell(&r.grid_cell),
            cell(&r.event_type),
            r.raised.to_string(),
            r.dispatched.to_string(),
            r.dismissed.to_string(),
            r.decided.to_string(),
            fmt(r.false_alarm_rate, 3),
            fmt(r.median_clear_s, 1),
        ])
        .map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(
        day: &str,
        cell: &str,
        t: &str,
        dispatched: bool,
        d: Option<Decision>,
        clear: Option<f64>,
    ) -> CaseFacts {
        CaseFacts {
            day: day.into(),
            grid_cell: cell.into(),
            event_type: t.into(),
            dispatched,
            decision: d,
            clear_s: clear,
        }
    }

    #[test]
    fn cases_are_counted_per_day_cell_and_type() {
        use Decision::*;
        let facts = vec![
            f("2026-11-27", "A", "vending", true, Some(Close), Some(100.0)),
            f(
                "2026-11-27",
                "A",
                "vending",
                false,
                Some(Dismiss),
                Some(40.0),
            ),
            f("2026-11-27", "A", "vending", false, None, Some(60.0)),
            f("2026-11-27", "A", "vending", false, None, None),
            f("2026-11-27", "B", "vending", true, Some(Dispatch), None),
            f(
                "2026-11-28",
                "A",
                "smoke",
                false,
                Some(Dismiss),
                Some(f64::NAN),
            ),
        ];
        let rows = by_day_cell_type(&facts);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].day, "2026-11-28", "latest day first");
        let a = &rows[1];
        assert_eq!(
            (a.grid_cell.as_str(), a.event_type.as_str()),
            ("A", "vending")
        );
        assert_eq!(
            (a.raised, a.dispatched, a.dismissed, a.decided),
            (4, 1, 1, 2)
        );
        assert_eq!(a.false_alarm_rate, Some(0.5));
        assert_eq!(a.median_clear_s, Some(60.0), "median of 40, 60, 100");
        assert_eq!(rows[2].median_clear_s, None);
        assert_eq!(
            rows[0].median_clear_s, None,
            "a non-finite time is not counted"
        );
        assert_eq!(rows[0].false_alarm_rate, Some(1.0));
        let t = by_type(&facts);
        assert_eq!(t.len(), 2);
        let v = t.iter().find(|r| r.event_type == "vending").unwrap();
        assert_eq!((v.raised, v.dispatched, v.decided), (5, 2, 3));
        assert_eq!(v.median_clear_s, Some(60.0));
        let undecided = by_type(&[
            f("d", "A", "parking", false, None, Some(1.0)),
            f("d", "A", "parking", false, None, Some(2.0)),
        ]);
        assert_eq!(
            undecided[0].false_alarm_rate, None,
            "no rate before a decision"
        );
        assert_eq!(
            undecided[0].median_clear_s,
            Some(1.5),
            "an even count averages the middle two"
        );
    }

    #[test]
    fn the_csv_quotes_and_defuses_hostile_cells() {
        let rows = by_day_cell_type(&[
            f(
                "2026-11-27",
                "=HYPERLINK(\"x\")",
                "vending",
                false,
                None,
                None,
            ),
            f(
                "2026-11-27",
                "A,\"B\"\nC",
                "vending",
                true,
                Some(Decision::Dismiss),
                Some(12.0),
            ),
        ]);
        let text = to_csv(&rows).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let recs: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            &recs[0][1], "'=HYPERLINK(\"x\")",
            "a formula is not a formula"
        );
        assert_eq!(
            &recs[1][1], "A,\"B\"\nC",
            "commas, quotes and newlines survive"
        );
        assert_eq!((&recs[1][7], &recs[1][8]), ("1.000", "12.0"));
        assert_eq!(&recs[0][7], "", "no rate is an empty cell");
    }
}
