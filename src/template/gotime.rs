//! Go's time layouts (`time.Time.Format`), for vmalert's `formatTime` and the `.Format`
//! method: the layout is the reference time `Mon Jan 2 15:04:05 MST 2006` written the
//! way the output should look. Template times are UTC, so zones print as `UTC`, `Z` or
//! `+00:00`.

use chrono::{Datelike, Timelike};

use super::value::utc_date;

/// One element of a layout, as Go's `nextStdChunk` splits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    Pm,
    LowerPm,
    ZoneName,
    /// A numeric zone: the text to print for UTC.
    Zone(&'static str),
    /// Fractional seconds: separator, digits, and whether trailing zeros are trimmed.
    Frac(char, usize, bool),
}

/// Numeric zone spellings, longest first as Go tries them, with their UTC text; the
/// `Z` forms print `Z` for UTC.
const ZONES: &[(&str, &str)] = &[
    ("-07:00:00", "+00:00:00"),
    ("-070000", "+000000"),
    ("-07:00", "+00:00"),
    ("-0700", "+0000"),
    ("-07", "+00"),
    ("Z07:00:00", "Z"),
    ("Z070000", "Z"),
    ("Z07:00", "Z"),
    ("Z0700", "Z"),
    ("Z07", "Z"),
];

/// The chunk at the start of `s`, and its length.
fn chunk_at(s: &str) -> Option<(Chunk, usize)> {
    use Chunk::*;
    const WORDS: &[(&str, Chunk)] = &[
        ("January", LongMonth),
        ("Jan", Month),
        ("Monday", LongWeekDay),
        ("Mon", WeekDay),
        ("MST", ZoneName),
        ("2006", LongYear),
        ("002", ZeroYearDay),
        ("__2", UnderYearDay),
        ("01", ZeroMonth),
        ("02", ZeroDay),
        ("03", ZeroHour12),
        ("04", ZeroMinute),
        ("05", ZeroSecond),
        ("06", Year),
        ("15", Hour),
        ("_2", UnderDay),
        ("PM", Pm),
        ("pm", LowerPm),
        ("1", NumMonth),
        ("2", Day),
        ("3", Hour12),
        ("4", Minute),
        ("5", Second),
    ];
    // "_2006" is a literal underscore followed by the year.
    if s.starts_with("_2006") {
        return None;
    }
    if let Some((z, utc)) = ZONES.iter().find(|(z, _)| s.starts_with(z)) {
        return Some((Zone(utc), z.len()));
    }
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'.' | b',')) && matches!(b.get(1), Some(b'0' | b'9')) {
        let digit = b[1];
        let n = b[1..].iter().take_while(|&&c| c == digit).count();
        if !b.get(1 + n).is_some_and(u8::is_ascii_digit) {
            return Some((Frac(b[0] as char, n, digit == b'9'), 1 + n));
        }
    }
    WORDS
        .iter()
        .find(|(w, _)| s.starts_with(w))
        .map(|(w, c)| (*c, w.len()))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Formats a UTC time (nanoseconds since the epoch) with a Go layout.
pub fn format(ns: i128, layout: &str) -> String {
    let t = match utc_date(ns) {
        Ok(t) => t,
        Err(text) => return text,
    };
    let mut out = String::with_capacity(layout.len() + 8);
    let mut rest = layout;
    while let Some(c) = rest.chars().next() {
        match chunk_at(rest) {
            Some((chunk, len)) => {
                write_chunk(&mut out, chunk, &t);
                rest = &rest[len..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

fn write_chunk(out: &mut String, chunk: Chunk, t: &chrono::DateTime<chrono::Utc>) {
    use Chunk::*;
    let month = t.month0() as usize;
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let s = match chunk {
        LongMonth => MONTHS[month].to_string(),
        Month => MONTHS[month][..3].to_string(),
        NumMonth => (month + 1).to_string(),
        ZeroMonth => format!("{:02}", month + 1),
        LongWeekDay => DAYS[t.weekday().num_days_from_sunday() as usize].to_string(),
        WeekDay => DAYS[t.weekday().num_days_from_sunday() as usize][..3].to_string(),
        Day => t.day().to_string(),
        UnderDay => format!("{:>2}", t.day()),
        ZeroDay => format!("{:02}", t.day()),
        UnderYearDay => format!("{:>3}", t.ordinal()),
        ZeroYearDay => format!("{:03}", t.ordinal()),
        Hour => format!("{:02}", t.hour()),
        Hour12 => hour12.to_string(),
        ZeroHour12 => format!("{hour12:02}"),
        Minute => t.minute().to_string(),
        ZeroMinute => format!("{:02}", t.minute()),
        Second => t.second().to_string(),
        ZeroSecond => format!("{:02}", t.second()),
        LongYear => format!("{:04}", t.year()),
        Year => format!("{:02}", t.year().rem_euclid(100)),
        Pm => if t.hour() >= 12 { "PM" } else { "AM" }.to_string(),
        LowerPm => if t.hour() >= 12 { "pm" } else { "am" }.to_string(),
        ZoneName => "UTC".to_string(),
        Zone(utc) => utc.to_string(),
        Frac(sep, n, trim) => {
            let digits = format!("{:09}", t.nanosecond());
            let mut d = &digits[..n.min(9)];
            if trim {
                d = d.trim_end_matches('0');
                if d.is_empty() {
                    return;
                }
            }
            format!("{sep}{d}")
        }
    };
    out.push_str(&s);
}

#[cfg(test)]
mod tests {
    use super::format;

    /// 2023-11-14 22:13:20.123456789 UTC, a Tuesday, day 318 of the year.
    const T: i128 = 1_700_000_000_123_456_789;

    #[test]
    fn go_reference_layouts() {
        assert_eq!(
            format(T, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            format(T, "Mon Jan _2 15:04:05 MST 2006"),
            "Tue Nov 14 22:13:20 UTC 2023"
        );
        assert_eq!(format(T, "02 Jan 06 15:04 -0700"), "14 Nov 23 22:13 +0000");
        assert_eq!(
            format(T, "Monday, 02-Jan-06 15:04:05 MST"),
            "Tuesday, 14-Nov-23 22:13:20 UTC"
        );
        assert_eq!(format(T, "3:04PM"), "10:13PM");
        assert_eq!(
            format(T, "Jan _2 15:04:05.000000"),
            "Nov 14 22:13:20.123456"
        );
        assert_eq!(format(T, "15:04:05.999999999"), "22:13:20.123456789");
    }

    #[test]
    fn fractions_days_and_literals() {
        assert_eq!(format(0, "05.999"), "00");
        assert_eq!(format(0, "05,000"), "00,000");
        assert_eq!(format(T, "002 __2 January pm"), "318 318 November pm");
        assert_eq!(format(T, "_2006"), "_2023");
        // A `.0` followed by another digit is no fraction: `.` is literal, `01` the month.
        assert_eq!(format(T, ".01"), ".11");
        assert_eq!(format(T, "day 2, hour 15"), "day 14, hour 22");
    }
}
