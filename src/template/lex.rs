//! Splits template text into text runs and action tokens, applying `{{-`/`-}}` trimming
//! and dropping comments, so the parser sees only meaningful tokens.

use std::sync::Arc;

use super::error::{SyntaxError, syntax};

/// A token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Tok {
    pub kind: TokKind,
    pub pos: usize,
    /// Whether whitespace precedes the token inside an action (`$x .F` vs `$x.F`).
    pub spaced: bool,
}

#[derive(Clone, Debug, PartialEq)]
/// Token kinds; text runs already have trimming applied.
pub enum TokKind {
    Text(Arc<str>),
    Open,
    Close,
    Ident(String),
    Field(String),
    Dot,
    Var(String),
    Str(Arc<str>),
    Num(String),
    Char(char),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Tokenizes the whole text.
pub fn lex(src: &str) -> Result<Vec<Tok>, SyntaxError> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    while i < b.len() {
        let open = src[i..].find("{{").map(|o| o + i);
        let text_end = open.unwrap_or(b.len());
        let mut text = &src[i..text_end];
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            push_text(&mut toks, text, i);
            break;
        };
        // A left trim marker is "{{-" followed by a space.
        let trim_left =
            b.get(open + 2) == Some(&b'-') && b.get(open + 3).is_some_and(|c| is_space(*c));
        if trim_left {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        push_text(&mut toks, text, i);
        let mut j = open + 2;
        if trim_left {
            j += 2;
        }
        // Comments: `{{/* … */}}`, only directly after the delimiter (and trim marker).
        if src[j..].starts_with("/*") {
            let Some(end) = src[j + 2..].find("*/") else {
                return syntax(open, "unclosed comment");
            };
            let mut k = j + 2 + end + 2;
            let (close_at, trim) = if src[k..].starts_with("}}") {
                (k, false)
            } else if src[k..].starts_with(" -}}")
                || (k < b.len() && is_space(b[k]) && src[k + 1..].starts_with("-}}"))
            {
                k += 1;
                (k, true)
            } else {
                return syntax(open, "comment ends before closing delimiter");
            };
            trim_next = trim;
            i = close_at + if trim { 3 } else { 2 };
            continue;
        }
        toks.push(Tok {
            kind: TokKind::Open,
            pos: open,
            spaced: false,
        });
        let (next, trim) = lex_action(src, j, &mut toks)?;
        trim_next = trim;
        i = next;
    }
    Ok(toks)
}

fn push_text(toks: &mut Vec<Tok>, text: &str, pos: usize) {
    if !text.is_empty() {
        toks.push(Tok {
            kind: TokKind::Text(Arc::from(text)),
            pos,
            spaced: false,
        });
    }
}

/// Lexes inside an action from `i`; returns the offset after `}}` and whether it trims.
fn lex_action(src: &str, mut i: usize, toks: &mut Vec<Tok>) -> Result<(usize, bool), SyntaxError> {
    let b = src.as_bytes();
    let mut spaced = true;
    let mut depth = 0usize;
    loop {
        let Some(&c) = b.get(i) else {
            return syntax(src.len(), "unclosed action");
        };
        if is_space(c) {
            // Right trim marker: " -}}".
            if src[i + 1..].starts_with("-}}") {
                if depth > 0 {
                    return syntax(i, "unclosed left paren");
                }
                toks.push(Tok {
                    kind: TokKind::Close,
                    pos: i,
                    spaced: true,
                });
                return Ok((i + 4, true));
            }
            spaced = true;
            i += 1;
            continue;
        }
        if src[i..].starts_with("}}") {
            if depth > 0 {
                return syntax(i, "unclosed left paren");
            }
            toks.push(Tok {
                kind: TokKind::Close,
                pos: i,
                spaced,
            });
            return Ok((i + 2, false));
        }
        let start = i;
        let (kind, next) = lex_token(src, i, &mut depth)?;
        i = next;
        toks.push(Tok {
            kind,
            pos: start,
            spaced,
        });
        spaced = false;
    }
}

/// Lexes the one token that starts at `i` inside an action (not a space, not `}}`);
/// returns it with the offset after it. `depth` counts open parentheses.
fn lex_token(src: &str, i: usize, depth: &mut usize) -> Result<(TokKind, usize), SyntaxError> {
    let b = src.as_bytes();
    let c = b[i];
    let one = |k: TokKind| Ok((k, i + 1));
    match c {
        b'|' => one(TokKind::Pipe),
        b',' => one(TokKind::Comma),
        b'(' => {
            *depth += 1;
            one(TokKind::LParen)
        }
        b')' => {
            if *depth == 0 {
                return syntax(i, "unexpected right paren");
            }
            *depth -= 1;
            one(TokKind::RParen)
        }
        b':' => {
            if b.get(i + 1) != Some(&b'=') {
                return syntax(i, "expected :=");
            }
            Ok((TokKind::Declare, i + 2))
        }
        b'=' => one(TokKind::Assign),
        b'"' => {
            let (s, n) = lex_quoted(src, i)?;
            Ok((TokKind::Str(Arc::from(s)), n))
        }
        b'`' => {
            let Some(end) = src[i + 1..].find('`') else {
                return syntax(i, "unterminated raw quoted string");
            };
            Ok((
                TokKind::Str(Arc::from(&src[i + 1..i + 1 + end])),
                i + 2 + end,
            ))
        }
        b'\'' => {
            let (ch, n) = lex_char(src, i)?;
            Ok((TokKind::Char(ch), n))
        }
        b'$' => {
            let n = ident_end(b, i + 1);
            Ok((TokKind::Var(src[i..n].to_string()), n))
        }
        b'.' => Ok(lex_dot(src, i)),
        b'0'..=b'9' | b'+' | b'-' => {
            let n = number_end(b, i);
            if n == i || (n == i + 1 && !c.is_ascii_digit()) {
                return syntax(i, format!("bad character {:?}", c as char));
            }
            Ok((TokKind::Num(src[i..n].to_string()), n))
        }
        _ if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 => {
            let n = ident_end(b, i);
            if n == i {
                return syntax(i, "bad character in action");
            }
            Ok((TokKind::Ident(src[i..n].to_string()), n))
        }
        _ => {
            let ch = src[i..].chars().next().unwrap_or('?');
            syntax(i, format!("unexpected {ch:?} in command"))
        }
    }
}

/// A token starting with `.`: a number (`.5`), a field (`.Labels`) or the dot itself.
fn lex_dot(src: &str, i: usize) -> (TokKind, usize) {
    let b = src.as_bytes();
    if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let n = number_end(b, i);
        return (TokKind::Num(src[i..n].to_string()), n);
    }
    let n = ident_end(b, i + 1);
    if n == i + 1 {
        (TokKind::Dot, i + 1)
    } else {
        (TokKind::Field(src[i + 1..n].to_string()), n)
    }
}

fn ident_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
        i += 1;
    }
    i
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    while i < b.len() {
        let c = b[i];
        let exp_sign =
            (c == b'+' || c == b'-') && i > 0 && matches!(b[i - 1], b'e' | b'E' | b'p' | b'P');
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

fn lex_quoted(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + off + 1)),
            '\n' => return syntax(start, "unterminated quoted string"),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let mut hex = String::new();
                        for _ in 0..n {
                            match chars.next() {
                                Some((_, h)) => hex.push(h),
                                None => return syntax(start, "unterminated quoted string"),
                            }
                        }
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| SyntaxError {
                            pos: start,
                            msg: "invalid syntax in quoted string".into(),
                        })?;
                        match char::from_u32(code) {
                            Some(ch) => out.push(ch),
                            None => return syntax(start, "invalid syntax in quoted string"),
                        }
                    }
                    _ => return syntax(start, "invalid syntax in quoted string"),
                }
            }
            _ => out.push(c),
        }
    }
    syntax(start, "unterminated quoted string")
}

fn lex_char(src: &str, start: usize) -> Result<(char, usize), SyntaxError> {
    let rest = &src[start + 1..];
    let Some(end) = rest.find('\'') else {
        return syntax(start, "unterminated character constant");
    };
    let body = &rest[..end];
    let ch = if let Some(esc) = body.strip_prefix('\\') {
        match esc {
            "n" => '\n',
            "t" => '\t',
            "r" => '\r',
            "\\" => '\\',
            "0" => '\0',
            _ => return syntax(start, "invalid character constant"),
        }
    } else if end == 0 && rest.starts_with("''") {
        return syntax(start, "empty character constant");
    } else {
        let mut it = body.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => c,
            _ => return syntax(start, format!("malformed character constant: '{body}'")),
        }
    };
    Ok((ch, start + 1 + end + 1))
}
