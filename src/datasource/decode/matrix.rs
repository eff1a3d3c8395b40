//! A range answer (a matrix) read by hand, in one pass: the replay's hot path.
//!
//! serde_json's work per `[seconds, "value"]` point — a sequence visitor, an element
//! call, an integer parse and a string visitor for each, 2.2 million times in a week's
//! replay of 200 series — was about a fifth of the replay's CPU. This reader walks the
//! bytes itself and does per point only what the point needs.
//!
//! It is a fast path, not a second decoder: it reads the answers servers send when a
//! query succeeds, and gives up (`None`) on anything else — an error answer, another
//! result type, `result` before `resultType`, a repeated envelope field, invalid JSON —
//! and the caller then decodes the body with the serde decoder, which gives the result or
//! the error it always gave. So it must never accept what that decoder rejects, and what
//! it accepts it must decode to the same series: the rare forms (escaped strings,
//! timestamps that are not whole seconds, fields it skips) are handed to serde_json piece
//! by piece, so that they are read by the same code as before.

use std::borrow::Cow;

use serde::de::IgnoredAny;

use super::values::{Millis, parse_value};
use super::{Pairs, RangeSeries, Stats, labels_of};

/// The series of a successful matrix answer, or `None` when the serde decoder must read
/// this body (see the module's comment).
pub(super) fn decode(text: &str) -> Option<Vec<RangeSeries>> {
    let mut c = Cursor {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let series = c.envelope()?;
    c.skip_space();
    (c.at == c.bytes.len()).then_some(series)
}

/// Where the reader is in the body. Every reading method skips the whitespace before its
/// token and returns `None` when the bytes are not what it expects.
struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    fn next_byte(&mut self) -> Option<u8> {
        self.skip_space();
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next_byte()? == byte).then_some(())
    }

    /// Consumes `byte` if it comes next.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_space();
        let found = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    /// A JSON string, borrowed from the body unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Borrowed(&self.text[start..self.at - 1]));
                }
                b'\\' => return self.escaped(start - 1),
                // JSON forbids raw control characters in strings.
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    /// The rest of a string with escapes that opened at `quote`: its end is found here,
    /// and serde_json unescapes (and checks) it.
    fn escaped(&mut self, quote: usize) -> Option<Cow<'a, str>> {
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => break,
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        // `get`, not indexing: a backslash before a multi-byte character (invalid JSON)
        // leaves `at` inside it.
        let quoted = self.text.get(quote..self.at)?;
        serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
    }

    /// Skips a value this reader does not use, and returns its text, checked by
    /// serde_json (as the serde decoder checks what it skips).
    fn skip_value(&mut self) -> Option<&'a str> {
        self.skip_space();
        let start = self.at;
        let mut depth = 0_u32;
        // The value ends before the `,` or the closing bracket of its parent.
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => break,
                b'}' | b']' => depth -= 1,
                b',' if depth == 0 => break,
                _ => {}
            }
            // Far below serde_json's nesting limit, counting the levels above the value.
            if depth > 64 {
                return None;
            }
            self.at += 1;
        }
        let value = &self.text[start..self.at];
        serde_json::from_str::<IgnoredAny>(value).ok()?;
        Some(value)
    }

    /// `{"status":"success","data":{...}}`, other fields checked as the serde decoder
    /// checks them: each known one at most once and of its type.
    fn envelope(&mut self) -> Option<Vec<RangeSeries>> {
        let mut seen = [false; 6];
        let mut series = None;
        self.object(|c, key| {
            const FIELDS: [&str; 6] =
                ["status", "data", "errorType", "error", "stats", "isPartial"];
            // The serde decoder rejects a repeated field.
            if let Some(i) = FIELDS.iter().position(|f| *f == key)
                && std::mem::replace(&mut seen[i], true)
            {
                return None;
            }
            match &*key {
                "status" => (c.string()? == "success").then_some(()),
                "data" => {
                    series = Some(c.data()?);
                    Some(())
                }
                "errorType" | "error" => c.skip_as::<Option<Cow<str>>>(),
                "stats" => c.skip_as::<Option<Stats>>(),
                "isPartial" => c.skip_as::<Option<bool>>(),
                _ => c.skip_value().map(drop),
            }
        })?;
        // A missing `status` is an error the serde decoder words.
        seen[0].then_some(())?;
        series
    }

    /// Skips a value that must decode as `T`.
    fn skip_as<T: serde::Deserialize<'a>>(&mut self) -> Option<()> {
        serde_json::from_str::<T>(self.skip_value()?).ok().map(drop)
    }

    /// `data`: `resultType` (`matrix`) before `result`; its `stats` are skipped.
    fn data(&mut self) -> Option<Vec<RangeSeries>> {
        let mut matrix = false;
        let mut result = None;
        self.object(|c, key| match &*key {
            "resultType" if !matrix => {
                matrix = c.string()? == "matrix";
                matrix.then_some(())
            }
            "result" if matrix && result.is_none() => {
                result = Some(c.series_list()?);
                Some(())
            }
            "resultType" | "result" => None,
            _ => c.skip_value().map(drop),
        })?;
        result
    }

    /// `[{"metric":{...},"values":[...]}, ...]`. Label pairs are gathered in one buffer
    /// for all series; a series' points are given room for as many as the previous one
    /// had (a matrix' series usually all have as many).
    fn series_list(&mut self) -> Option<Vec<RangeSeries>> {
        let mut out = Vec::new();
        let mut pairs = Pairs::new();
        let mut hint = 0;
        self.array(|c| {
            let (labels, points) = c.series(&mut pairs, hint)?;
            hint = points.len();
            out.push((labels, points));
            Some(())
        })?;
        Some(out)
    }

    /// One series; of repeated fields the last counts, as in the serde decoder.
    fn series(&mut self, pairs: &mut Pairs<'a>, hint: usize) -> Option<RangeSeries> {
        let mut labels = None;
        let mut points = None;
        self.object(|c, key| {
            match &*key {
                "metric" => labels = Some(c.metric(pairs)?),
                "values" => points = Some(c.points(hint)?),
                _ => {
                    c.skip_value()?;
                }
            }
            Some(())
        })?;
        Some((labels.unwrap_or_default(), points?))
    }

    /// A label map, as the serde decoder builds it (`labels_of`).
    fn metric(&mut self, pairs: &mut Pairs<'a>) -> Option<crate::labels::Labels> {
        pairs.clear();
        self.object(|c, name| {
            let value = c.string()?;
            pairs.push((name, value));
            Some(())
        })?;
        Some(labels_of(pairs))
    }

    /// `values`: `[[seconds, "value"], ...]`.
    fn points(&mut self, hint: usize) -> Option<Vec<(i64, f64)>> {
        let mut out = Vec::with_capacity(hint);
        self.array(|c| {
            c.expect(b'[')?;
            let ms = c.timestamp()?;
            c.expect(b',')?;
            let value = c.value()?;
            c.expect(b']')?;
            out.push((ms, value));
            Some(())
        })?;
        Some(out)
    }

    /// A sample value: `"0.25"`, `"NaN"`, `"+Inf"`, …
    fn value(&mut self) -> Option<f64> {
        self.skip_space();
        let start = self.at;
        if let Some(value) = self.decimal() {
            return Some(value);
        }
        self.at = start;
        parse_value(&self.string()?)
    }

    /// A value string of the form `-?digits.digits` (what servers send for a number:
    /// `"0.7703"`, `"0.7782399999999999"`), read in one scan, or `None` (and `at`
    /// anywhere) for any other. Up to 15 digits, its digits as an integer `m` (< 2^53)
    /// and `10^k` (k ≤ 15) are exact doubles, so `m / 10^k`, rounded once by the
    /// division, is the correctly rounded value that `str::parse` also returns (it
    /// computes it so too: Clinger's fast path). Longer ones are given to `str::parse`
    /// as they are, which is what [`parse_value`] would do with them.
    fn decimal(&mut self) -> Option<f64> {
        const POW10: [f64; 16] = [
            1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        ];
        (*self.bytes.get(self.at)? == b'"').then_some(())?;
        self.at += 1;
        let start = self.at;
        let negative = self.bytes.get(self.at) == Some(&b'-');
        self.at += usize::from(negative);
        let (mut digits, mut mantissa, mut point) = (0_usize, 0_u64, None);
        loop {
            match *self.bytes.get(self.at)? {
                d @ b'0'..=b'9' => {
                    if digits < 15 {
                        mantissa = mantissa * 10 + u64::from(d - b'0');
                    }
                    digits += 1;
                }
                b'.' if point.is_none() => point = Some(digits),
                b'"' if digits > 0 => break,
                _ => return None,
            }
            self.at += 1;
        }
        let text = &self.text[start..self.at];
        self.at += 1;
        if digits > 15 {
            return text.parse().ok();
        }
        let value = mantissa as f64 / POW10[digits - point.unwrap_or(digits)];
        Some(if negative { -value } else { value })
    }

    /// A timestamp in seconds, as milliseconds. Whole seconds of up to 12 digits (what
    /// servers send at whole-second steps) are read here; any other number is read by
    /// serde_json and [`Millis`], as before.
    fn timestamp(&mut self) -> Option<i64> {
        self.skip_space();
        let start = self.at;
        let mut seconds: i64 = 0;
        while let Some(&d @ b'0'..=b'9') = self.bytes.get(self.at) {
            seconds = seconds.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
            self.at += 1;
        }
        let digits = self.at - start;
        // JSON forbids leading zeros; a fraction or an exponent makes another number.
        let whole = (digits == 1 || (2..=12).contains(&digits) && self.bytes[start] != b'0')
            && !matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E'));
        if whole {
            return Some(seconds * 1000);
        }
        self.at = start;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
        }
        let number = &self.text[start..self.at];
        serde_json::from_str::<Millis>(number).ok().map(|m| m.0)
    }

    /// An object's members, each value read by `member` after its key.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.take(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            match self.next_byte()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    /// An array's elements, each read by `element`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.take(b']') {
            return Some(());
        }
        loop {
            element(self)?;
            match self.next_byte()? {
                b',' => {}
                b']' => return Some(()),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
#[path = "matrix_tests.rs"]
mod tests;
