//! Wall-clock time for the configuration layer: a camera's time zone, RFC 3339 times in and out,
//! and the local weekday and minute that zone schedules are written in. Built on `jiff` with its
//! time zone database bundled, so named zones (`Asia/Shanghai`) work on a box without
//! /usr/share/zoneinfo. Pure: no I/O.

pub use jiff::tz::TimeZone;

/// A point in local time: weekday (0 = Monday) and minute of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u8,
    pub minute: u32,
}

impl LocalTime {
    /// The local time in `tz` at Unix seconds `unix` (times outside jiff's range, ±9999 years,
    /// are clamped to it).
    pub fn from_unix(unix: f64, tz: &TimeZone) -> LocalTime {
        let z = timestamp(unix).to_zoned_datetime(tz.clone());
        LocalTime {
            weekday: z.weekday().to_monday_zero_offset() as u8,
            minute: z.hour() as u32 * 60 + z.minute() as u32,
        }
    }

    /// Minutes since Monday 00:00.
    pub fn week_minute(&self) -> u32 {
        self.weekday as u32 * 1440 + self.minute
    }
}

fn timestamp(unix: f64) -> jiff::Timestamp {
    let ms = (unix * 1000.0).round();
    let ms = if ms.is_finite() { ms as i64 } else { 0 };
    jiff::Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// A time zone as written in a calibration: `Z` or `UTC`, a fixed offset (`+08:00`, `-05:30`)
/// or a name from the time zone database (`Asia/Shanghai`).
pub fn parse_zone(s: &str) -> Result<TimeZone, String> {
    let s = s.trim();
    if s == "Z" || s.eq_ignore_ascii_case("UTC") {
        return Ok(TimeZone::UTC);
    }
    if s.starts_with(['+', '-']) {
        let tz = jiff::fmt::temporal::DateTimeParser::new()
            .parse_time_zone(s)
            .map_err(|_| format!("'{s}' is not a UTC offset like +08:00"))?;
        // Real offsets lie within -12:00..+14:00; jiff accepts up to ±25:59.
        return match tz.to_fixed_offset() {
            Ok(o) if o.seconds().abs() <= 14 * 3600 => Ok(tz),
            _ => Err(format!("'{s}' is beyond ±14:00")),
        };
    }
    TimeZone::get(s).map_err(|_| {
        format!("'{s}' is neither a UTC offset like +08:00 nor a time zone name like Asia/Shanghai")
    })
}

/// Parses an RFC 3339 time with its offset (`2026-11-27T18:00:00+08:00`, `…Z`) into Unix
/// seconds. Dates and clock times are checked (no 31 February, no hour 99).
pub fn parse_rfc3339(s: &str) -> Result<f64, String> {
    let bad = || format!("'{s}' is not an RFC 3339 time like 2026-11-27T18:00:00+08:00");
    // RFC 3339 proper: a full date, 'T' (or 't', or a space), a full time, an offset; jiff's
    // parser takes a little more (a bracketed zone name, ISO 8601 week dates), which is refused.
    if s.contains('[') || s.len() < 20 {
        return Err(bad());
    }
    let ts: jiff::Timestamp = s.parse().map_err(|_| bad())?;
    Ok(ts.as_second() as f64 + ts.subsec_nanosecond() as f64 * 1e-9)
}

/// Formats Unix seconds as RFC 3339 local time in `tz`, to the millisecond
/// (`2026-11-27T18:30:00.250+08:00`).
pub fn format_rfc3339(unix: f64, tz: &TimeZone) -> String {
    timestamp(unix)
        .to_zoned_datetime(tz.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai() -> TimeZone {
        parse_zone("Asia/Shanghai").unwrap()
    }

    #[test]
    fn offsets_and_named_zones() {
        let unix = parse_rfc3339("2026-11-27T18:30:00+08:00").unwrap();
        assert_eq!(unix, parse_rfc3339("2026-11-27T10:30:00Z").unwrap());
        for tz in [parse_zone("+08:00").unwrap(), shanghai()] {
            // 2026-11-27 is a Friday.
            let lt = LocalTime::from_unix(unix, &tz);
            assert_eq!((lt.weekday, lt.minute), (4, 18 * 60 + 30));
            assert_eq!(
                format_rfc3339(unix + 0.25, &tz),
                "2026-11-27T18:30:00.250+08:00"
            );
        }
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0.0);
        assert_eq!(
            format_rfc3339(0.0, &parse_zone("-05:30").unwrap()),
            "1969-12-31T18:30:00.000-05:30"
        );
        assert_eq!(
            format_rfc3339(0.0, &parse_zone("UTC").unwrap()),
            "1970-01-01T00:00:00.000+00:00"
        );
    }

    #[test]
    fn a_named_zone_follows_daylight_saving_time() {
        let berlin = parse_zone("Europe/Berlin").unwrap();
        let winter = parse_rfc3339("2026-01-15T12:00:00Z").unwrap();
        let summer = parse_rfc3339("2026-07-15T12:00:00Z").unwrap();
        assert_eq!(LocalTime::from_unix(winter, &berlin).minute, 13 * 60);
        assert_eq!(LocalTime::from_unix(summer, &berlin).minute, 14 * 60);
        assert!(format_rfc3339(summer, &berlin).ends_with("+02:00"));
    }

    #[test]
    fn invalid_times_and_zones_are_refused_with_the_text() {
        for s in [
            "yesterday",
            "2026-02-31T10:00:00+08:00",
            "2026-11-27T99:00:00+08:00",
            "2026-11-27T18:00:00",
            "2026-11-27T18:00:00+08:00[Asia/Shanghai]",
            "2026-11-2€T18:00:00+08:00",
            "",
        ] {
            let e = parse_rfc3339(s).unwrap_err();
            assert!(e.contains(s), "{e}");
        }
        for s in ["Mars/Olympus", "+25:00", "08:00", ""] {
            assert!(parse_zone(s).is_err(), "{s}");
        }
    }

    /// No input makes these panic: every valid example cut at every byte, with every byte
    /// replaced by a set of troublesome characters, and pseudo-random strings.
    #[test]
    fn no_input_panics() {
        let seeds = [
            "2026-11-27T18:00:00+08:00",
            "2026-11-27T18:00:00.123456789Z",
            "+08:00",
            "Asia/Shanghai",
            "9999-12-31T23:59:59-23:59",
        ];
        let odd = [
            "€", "\0", "-", "+", ":", "T", "Z", "9", "[", "\u{202e}", " ",
        ];
        let mut tried = 0;
        for seed in seeds {
            for cut in 0..=seed.len() {
                for o in odd {
                    let mut s = String::from(&seed[..cut]);
                    s.push_str(o);
                    if cut < seed.len() {
                        s.push_str(&seed[cut + 1..]);
                    }
                    let _ = parse_rfc3339(&s);
                    let _ = parse_zone(&s);
                    tried += 1;
                }
            }
        }
        // xorshift over characters of RFC 3339 and a few others.
        let alphabet: Vec<char> = "0123456789-+:TZtz .[]/€\0ASia".chars().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(x % 32) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let _ = parse_rfc3339(&s);
            let _ = parse_zone(&s);
            tried += 1;
        }
        for unix in [f64::NAN, f64::INFINITY, -f64::INFINITY, 1e300, -1e300] {
            let _ = format_rfc3339(unix, &shanghai());
            let _ = LocalTime::from_unix(unix, &shanghai());
        }
        assert!(tried > 20_000);
    }
}
