//! When a zone's rules are enforced: weekly time windows in the camera's local time.
//!
//! A window is written `DAYS HH:MM-HH:MM`, DAYS being `daily`, `weekdays`, `weekends`, a day
//! (`mon` … `sun`), a range (`mon-fri`) or a list (`sat,sun`). A window whose end is before its
//! start runs past midnight (`fri 22:00-02:00` ends Saturday 02:00). A zone is enforced when it
//! has no `active` windows or the time is inside one, and the time is inside no `exempt` window
//! (e.g. an approved evening market).

use serde::Serialize;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A point in local time: weekday (0 = Monday) and minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u8,
    pub minute: u32,
}

impl LocalTime {
    /// From Unix seconds and a UTC offset in minutes.
    pub fn from_unix(unix: f64, offset_min: i32) -> LocalTime {
        let local = unix.floor() as i64 + offset_min as i64 * 60;
        let days = local.div_euclid(86_400);
        // 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
        LocalTime {
            weekday: (days + 3).rem_euclid(7) as u8,
            minute: (local.rem_euclid(86_400) / 60) as u32,
        }
    }

    /// Minutes since Monday 00:00.
    fn week_minute(&self) -> u32 {
        self.weekday as u32 * 1440 + self.minute
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub text: String,
    /// Bit d set: the window starts on weekday d.
    days: u8,
    from: u32,
    to: u32,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let (days_s, span) = text
            .trim()
            .split_once(' ')
            .ok_or_else(|| format!("'{text}' is not 'DAYS HH:MM-HH:MM'"))?;
        let days = parse_days(days_s.trim())?;
        let (a, b) = span
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("'{span}' is not 'HH:MM-HH:MM'"))?;
        let (from, to) = (parse_hm(a)?, parse_hm(b)?);
        if from == to {
            return Err(format!("'{text}' is empty (start equals end)"));
        }
        Ok(Window {
            text: text.trim().to_string(),
            days,
            from,
            to,
        })
    }

    /// Intervals in minutes of the week [start, end), split at the week's end.
    fn intervals(&self) -> Vec<(u32, u32)> {
        let week = 7 * 1440;
        let mut out = Vec::new();
        for d in 0..7u32 {
            if self.days & (1 << d) == 0 {
                continue;
            }
            let start = d * 1440 + self.from;
            let len = if self.to > self.from {
                self.to - self.from
            } else {
                1440 - self.from + self.to
            };
            let end = start + len;
            if end <= week {
                out.push((start, end));
            } else {
                out.push((start, week));
                out.push((0, end - week));
            }
        }
        out
    }

    pub fn contains(&self, t: LocalTime) -> bool {
        let m = t.week_minute();
        self.intervals().iter().any(|&(a, b)| a <= m && m < b)
    }

    pub fn overlaps(&self, other: &Window) -> bool {
        self.intervals()
            .iter()
            .any(|&(a, b)| other.intervals().iter().any(|&(c, d)| a < d && c < b))
    }
}

fn parse_hm(s: &str) -> Result<u32, String> {
    let (h, m) = s
        .trim()
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| format!("'{s}' is not HH:MM"))?;
    let m: u32 = m.parse().map_err(|_| format!("'{s}' is not HH:MM"))?;
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(format!("'{s}' is not a time of day"));
    }
    Ok(h * 60 + m)
}

fn day_index(s: &str) -> Result<u32, String> {
    DAYS.iter()
        .position(|d| *d == s)
        .map(|i| i as u32)
        .ok_or_else(|| format!("'{s}' is not a day (mon … sun)"))
}

fn parse_days(s: &str) -> Result<u8, String> {
    match s {
        "daily" => return Ok(0x7f),
        "weekdays" => return Ok(0x1f),
        "weekends" => return Ok(0x60),
        _ => {}
    }
    let mut bits = 0u8;
    for part in s.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << day_index(part)?,
        }
    }
    Ok(bits)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Schedule {
    pub active: Vec<Window>,
    pub exempt: Vec<Window>,
}

impl Schedule {
    /// Whether the zone is enforced at `t`; `None` (no wall clock known) means enforced.
    pub fn enforced(&self, t: Option<LocalTime>) -> bool {
        let Some(t) = t else { return true };
        (self.active.is_empty() || self.active.iter().any(|w| w.contains(t)))
            && !self.exempt.iter().any(|w| w.contains(t))
    }

    /// First pair of overlapping windows within one list, as an error message.
    pub fn overlap_error(&self) -> Option<String> {
        for (name, list) in [("active", &self.active), ("exempt", &self.exempt)] {
            for (i, a) in list.iter().enumerate() {
                for b in &list[i + 1..] {
                    if a.overlaps(b) {
                        return Some(format!(
                            "{name} windows '{}' and '{}' overlap",
                            a.text, b.text
                        ));
                    }
                }
            }
        }
        None
    }
}

/// Parses a UTC offset such as `+08:00`, `-05:30` or `Z` into minutes.
pub fn parse_offset(s: &str) -> Result<i32, String> {
    if s == "Z" || s == "UTC" {
        return Ok(0);
    }
    let sign = match s.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(format!("'{s}' is not a UTC offset like +08:00")),
    };
    let m = parse_hm(&s[1..]).map_err(|_| format!("'{s}' is not a UTC offset like +08:00"))?;
    if m > 14 * 60 {
        return Err(format!("'{s}' is beyond ±14:00"));
    }
    Ok(sign * m as i32)
}

/// Parses an RFC 3339 time (`2026-11-27T18:00:00+08:00`) into Unix seconds.
pub fn parse_rfc3339(s: &str) -> Result<f64, String> {
    let bad = || format!("'{s}' is not an RFC 3339 time like 2026-11-27T18:00:00+08:00");
    if s.len() < 20 {
        return Err(bad());
    }
    let (date, rest) = s.split_at(10);
    let mut it = date.split('-');
    let (y, mo, d): (i64, i64, i64) = (
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
    );
    if !rest.starts_with(['T', 't', ' ']) || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let rest = &rest[1..];
    let tz_at = rest.find(['Z', '+', '-']).ok_or_else(bad)?;
    let (clock, tz) = rest.split_at(tz_at);
    let mut c = clock.split(':');
    let h: i64 = c.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let mi: i64 = c.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let sec: f64 = c.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let off = parse_offset(tz).map_err(|_| bad())?;
    // Days from civil (proleptic Gregorian), 1970-01-01 = 0.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok((days * 86_400 + h * 3600 + mi * 60) as f64 + sec - off as f64 * 60.0)
}

/// Formats Unix seconds as RFC 3339 local time with the given UTC offset (millisecond precision).
pub fn format_rfc3339(unix: f64, offset_min: i32) -> String {
    let ms_total = (unix * 1000.0).round() as i64 + offset_min as i64 * 60_000;
    let (days, ms) = (
        ms_total.div_euclid(86_400_000),
        ms_total.rem_euclid(86_400_000),
    );
    // Civil from days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let (sign, off) = if offset_min < 0 {
        ('-', -offset_min)
    } else {
        ('+', offset_min)
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
        off / 60,
        off % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(weekday: u8, h: u32, m: u32) -> Option<LocalTime> {
        Some(LocalTime {
            weekday,
            minute: h * 60 + m,
        })
    }

    #[test]
    fn weekday_rule_and_evening_market_exemption() {
        let s = Schedule {
            active: vec![Window::parse("mon-fri 07:00-23:00").unwrap()],
            exempt: vec![Window::parse("daily 18:00-22:00").unwrap()],
        };
        assert!(s.enforced(at(0, 9, 0)));
        assert!(!s.enforced(at(0, 19, 30)), "approved market hours");
        assert!(s.enforced(at(4, 22, 30)));
        assert!(!s.enforced(at(5, 9, 0)), "weekend");
        assert!(s.enforced(None));
    }

    #[test]
    fn windows_past_midnight_and_over_the_week_end() {
        let w = Window::parse("sun 22:00-02:00").unwrap();
        assert!(w.contains(at(6, 23, 0).unwrap()));
        assert!(
            w.contains(at(0, 1, 59).unwrap()),
            "Monday 01:59 belongs to Sunday's night"
        );
        assert!(!w.contains(at(0, 2, 0).unwrap()));
    }

    #[test]
    fn overlap_and_parse_errors() {
        let s = Schedule {
            active: vec![
                Window::parse("weekdays 08:00-12:00").unwrap(),
                Window::parse("fri 11:00-13:00").unwrap(),
            ],
            exempt: vec![],
        };
        assert!(s.overlap_error().unwrap().contains("overlap"));
        assert!(Window::parse("mon 25:00-26:00").is_err());
        assert!(Window::parse("funday 08:00-09:00")
            .unwrap_err()
            .contains("funday"));
        assert!(Window::parse("mon 08:00").is_err());
    }

    #[test]
    fn local_time_and_rfc3339() {
        // 2026-11-27 is a Friday; 18:30 in Beijing.
        let unix = parse_rfc3339("2026-11-27T18:30:00+08:00").unwrap();
        assert_eq!(unix, parse_rfc3339("2026-11-27T10:30:00Z").unwrap());
        let lt = LocalTime::from_unix(unix, 480);
        assert_eq!((lt.weekday, lt.minute), (4, 18 * 60 + 30));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0.0);
        assert!(parse_rfc3339("yesterday").is_err());
        assert_eq!(parse_offset("-05:30").unwrap(), -330);
        assert_eq!(
            format_rfc3339(unix + 0.25, 480),
            "2026-11-27T18:30:00.250+08:00"
        );
        assert_eq!(format_rfc3339(0.0, -330), "1969-12-31T18:30:00.000-05:30");
    }
}
