//! When a zone's rules are enforced: weekly time windows in the camera's local time.
//!
//! A window is written `DAYS HH:MM-HH:MM`, DAYS being `daily`, `weekdays`, `weekends`, a day
//! (`mon` … `sun`), a range (`mon-fri`) or a list (`sat,sun`). A window whose end is before its
//! start runs past midnight (`fri 22:00-02:00` ends Saturday 02:00). A zone is enforced when it
//! has no `active` windows or the time is inside one, and the time is inside no `exempt` window
//! (e.g. an approved evening market).

use serde::Serialize;

use crate::time::LocalTime;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

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
}
