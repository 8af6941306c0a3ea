//! A small lexical pass that never fails: it finds comments, strings and brackets, and
//! splits the harness body into *chunks* (runs of whole items) at safe boundaries.
//!
//! Why: pest stops at the first error. Parsing each chunk on its own lets one run report
//! the errors of several items, and lets a missing `}` be reported where it belongs
//! instead of at the end of the file.

use crate::ast::Span;
use crate::error::{SyntaxError, SyntaxErrorKind};

/// A `# ...` comment: its span (from `#` to the end of the line, newline excluded) and
/// its text without the `#` and without trailing whitespace.
#[derive(Debug, Clone, PartialEq)]
pub struct RawComment {
    pub span: Span,
    pub text: String,
}

/// A run of whole items. `poisoned` chunks already have a lexical error reported
/// (unterminated string, unclosed bracket) and are not handed to pest, so one mistake
/// is reported once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunk {
    pub span: Span,
    pub poisoned: bool,
}

/// What the lexical pass found.
#[derive(Debug, Default)]
pub struct Layout {
    pub comments: Vec<RawComment>,
    /// `harness NAME "desc"? {` — from the first non-trivia byte to just after the `{`.
    pub header: Option<Span>,
    /// Item chunks inside the harness body, in order.
    pub chunks: Vec<Chunk>,
    /// The harness's closing `}`.
    pub close: Option<Span>,
    pub errors: Vec<SyntaxError>,
}

/// Does `text` hold nothing but annotations (`@frozen`, `@evolve(..)`) and trivia? Such a
/// chunk is glued to the item that follows it.
///
/// Token-based rather than line-based: an annotation argument may be a triple-quoted
/// string whose lines do not start with `@` (`@evolve(x = """` … `""")`), and a `#` or a
/// bracket inside a string is not a comment or a bracket.
fn annotations_only(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut any = false;
    while let Some(&b) = bytes.get(at) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => at = line_end(text, at),
            b'@' => {
                any = true;
                at += 1;
                at += bytes[at..]
                    .iter()
                    .take_while(|b| is_ident_char(**b))
                    .count();
                at += bytes[at..]
                    .iter()
                    .take_while(|b| matches!(b, b' ' | b'\t'))
                    .count();
                if bytes.get(at) == Some(&b'(') {
                    at = parens_end(text, at);
                }
            }
            _ => return false,
        }
    }
    any
}

/// The offset of the `\n` ending the line holding `at` (or the end of `text`).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |n| at + n)
}

/// The offset just after the `)` matching the `(` at `at`, skipping strings and comments;
/// the end of `text` if it is never closed.
fn parens_end(text: &str, mut at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    while let Some(&b) = bytes.get(at) {
        match b {
            b'"' => at = string_end(text, at),
            b'#' => at = line_end(text, at),
            b'(' => {
                depth += 1;
                at += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                at += 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => at += 1,
        }
    }
    text.len()
}

/// The offset just after the string literal starting at `at` (a `"`): after the closing
/// `"""` of a triple-quoted string, after the closing `"` of a plain one. An unterminated
/// plain string ends at its line's end, an unterminated triple one at the end of `text`.
pub(crate) fn string_end(text: &str, at: usize) -> usize {
    if text[at..].starts_with("\"\"\"") {
        return text[at + 3..]
            .find("\"\"\"")
            .map_or(text.len(), |n| at + 3 + n + 3);
    }
    let mut chars = text[at + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return at + 1 + i + 1,
            '\n' => return at + 1 + i,
            '\\' => {
                if let Some((j, '\n')) = chars.next() {
                    return at + 1 + j;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// Words that start a top-level item when they begin a line.
const ITEM_KEYWORDS: [&str; 3] = ["prompt", "tool", "on"];

/// How deeply one item may nest: its open brackets (`{`, `(`, `[`) plus, at each bracket
/// level, the `not`s in a row before an operand. The parser, checker, printer, lowering and
/// code generator all recurse over nesting, so without a bound a file of a few thousand
/// `(` (or `not`s) overflows the stack; deeper nesting is error `E0009`, reported here
/// so the item never reaches pest. Real harnesses nest a handful of levels; 64 is far
/// beyond any of them and well within a 2 MiB thread stack in a debug build
/// (`tests/tests/stress.rs`).
pub const MAX_NESTING: usize = 64;

struct Scanner<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    layout: Layout,
    /// Set when the current chunk had a lexical error.
    poisoned: bool,
    /// The `not`s in a row at each bracket level of the current chunk: one entry for the
    /// chunk's top level and one per open bracket (see [`MAX_NESTING`]).
    nots: Vec<usize>,
    /// Set when the current chunk has been reported as nesting too deeply.
    too_deep: bool,
}

pub fn scan(src: &str) -> Layout {
    let mut s = Scanner {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        layout: Layout::default(),
        poisoned: false,
        nots: vec![0],
        too_deep: false,
    };
    s.run();
    let mut layout = s.layout;
    // An unterminated string swallows the brackets after it, so "the harness is never
    // closed" would only repeat the same mistake: keep the root cause alone.
    let has_unterminated = layout
        .errors
        .iter()
        .any(|e| e.kind == SyntaxErrorKind::UnterminatedString);
    if let (true, Some(header)) = (has_unterminated, layout.header) {
        layout
            .errors
            .retain(|e| !(e.kind == SyntaxErrorKind::Unclosed && e.span.end == header.end));
    }
    for e in &mut layout.errors {
        e.label = Some(label_for(e.kind).to_string());
    }
    layout
}

/// The short text under the caret; the message above it says the rest.
fn label_for(kind: SyntaxErrorKind) -> &'static str {
    match kind {
        SyntaxErrorKind::UnterminatedString => "the string starts here",
        SyntaxErrorKind::Unclosed => "opened here",
        SyntaxErrorKind::Unmatched => "nothing to close here",
        SyntaxErrorKind::TrailingText => "outside the harness",
        SyntaxErrorKind::TooDeep => "too deep",
        SyntaxErrorKind::MissingHeader => "expected `harness NAME {`",
        SyntaxErrorKind::InvalidEscape => "unknown escape",
        SyntaxErrorKind::NumberOutOfRange => "does not fit",
        SyntaxErrorKind::Unexpected => "unexpected here",
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}
fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at(&self, s: &str) -> bool {
        self.src[self.pos..].starts_with(s)
    }

    /// Skips spaces, newlines and comments (recording comments).
    fn skip_trivia(&mut self) {
        while let Some(b) = self.peek() {
            if b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' {
                self.pos += 1;
            } else if b == b'#' {
                self.comment();
            } else {
                break;
            }
        }
    }

    fn comment(&mut self) {
        let start = self.pos;
        let end = self.src[start..]
            .find('\n')
            .map(|i| start + i)
            .unwrap_or(self.src.len());
        let text = self.src[start + 1..end].trim_end().to_string();
        self.layout.comments.push(RawComment {
            span: Span::new(start, end),
            text,
        });
        self.pos = end;
    }

    /// Skips a string literal starting at `pos` (which is at `"`). Reports an
    /// unterminated string and returns false in that case.
    fn string(&mut self) -> bool {
        let start = self.pos;
        if self.at("\"\"\"") {
            match self.src[start + 3..].find("\"\"\"") {
                Some(i) => {
                    self.pos = start + 3 + i + 3;
                    true
                }
                None => {
                    self.pos = self.src.len();
                    self.error(
                        SyntaxErrorKind::UnterminatedString,
                        Span::new(start, start + 3),
                        "unterminated triple-quoted string".into(),
                        Some("close it with `\"\"\"`".into()),
                    );
                    false
                }
            }
        } else {
            self.pos += 1;
            while let Some(b) = self.peek() {
                match b {
                    b'"' => {
                        self.pos += 1;
                        return true;
                    }
                    b'\\' => {
                        self.pos += 1;
                        if self.peek().is_some_and(|c| c != b'\n') {
                            self.advance_char();
                        }
                    }
                    b'\n' => break,
                    _ => self.advance_char(),
                }
            }
            self.error(
                SyntaxErrorKind::UnterminatedString,
                Span::new(start, start + 1),
                "unterminated string".into(),
                Some("a `\"...\"` string ends on its own line; use `\"\"\"` for text over several lines".into()),
            );
            false
        }
    }

    fn advance_char(&mut self) {
        let ch = self.src[self.pos..].chars().next();
        self.pos += ch.map(char::len_utf8).unwrap_or(1);
    }

    fn error(&mut self, kind: SyntaxErrorKind, span: Span, message: String, help: Option<String>) {
        self.layout.errors.push(SyntaxError {
            kind,
            span,
            message,
            label: None,
            help,
        });
    }

    fn ident_at(&self, pos: usize) -> &'a str {
        let rest = &self.src[pos..];
        let len = rest.bytes().take_while(|b| is_ident_char(*b)).count();
        &rest[..len]
    }

    /// Is `pos` the first non-blank byte of its line?
    fn line_start(&self, pos: usize) -> bool {
        self.src[..pos]
            .bytes()
            .rev()
            .take_while(|b| *b != b'\n')
            .all(|b| b == b' ' || b == b'\t' || b == b'\r')
    }

    /// Could an item begin at `pos` (first token of a line, at bracket depth 0)?
    fn item_start_here(&self, pos: usize) -> bool {
        let b = self.bytes[pos];
        if b == b'@' {
            return true;
        }
        if !is_ident_start(b) {
            return false;
        }
        let word = self.ident_at(pos);
        if ITEM_KEYWORDS.contains(&word) {
            return true;
        }
        // A section: `name {`.
        let after = self.src[pos + word.len()..].trim_start_matches([' ', '\t']);
        after.starts_with('{')
    }

    /// A line beginning with `tool x`, `prompt x` or `on x` inside brackets almost surely
    /// means a closer is missing above it: recover there.
    fn looks_like_item_inside_block(&self, pos: usize) -> bool {
        let b = self.bytes[pos];
        if !is_ident_start(b) {
            return false;
        }
        let word = self.ident_at(pos);
        if !ITEM_KEYWORDS.contains(&word) {
            return false;
        }
        let rest = &self.src[pos + word.len()..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        trimmed.len() < rest.len() && trimmed.bytes().next().is_some_and(is_ident_start)
    }

    /// The offset of the next non-trivia byte after `pos`, if any.
    fn next_token_after(&self, pos: usize) -> Option<usize> {
        let mut at = pos;
        loop {
            let rest = &self.src[at..];
            let trimmed = rest.trim_start();
            at += rest.len() - trimmed.len();
            if trimmed.is_empty() {
                return None;
            }
            if trimmed.starts_with('#') {
                at += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return Some(at);
            }
        }
    }

    fn run(&mut self) {
        self.skip_trivia();
        if self.pos >= self.src.len() {
            self.error(
                SyntaxErrorKind::MissingHeader,
                Span::new(self.pos, self.pos),
                "this file declares no harness".into(),
                Some("a harness file holds one `harness NAME { ... }` block".into()),
            );
            return;
        }
        let header_start = self.pos;
        if self.ident_at(header_start) != "harness" {
            // Without the header nothing below can be placed; one error says it all.
            let word = self.ident_at(header_start);
            let width = match word.len() {
                0 => self.src[header_start..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8),
                n => n,
            };
            let end = header_start + width;
            self.error(
                SyntaxErrorKind::MissingHeader,
                Span::new(header_start, end),
                "expected `harness NAME { ... }` at the start of the file".into(),
                Some("wrap the items in `harness NAME { ... }`".into()),
            );
            return;
        }
        // The header runs to the first `{` outside strings and comments.
        let mut header_end = None;
        while let Some(b) = self.peek() {
            match b {
                b'{' => {
                    self.pos += 1;
                    header_end = Some(self.pos);
                    break;
                }
                b'"' => {
                    self.string();
                }
                b'#' => self.comment(),
                _ => self.advance_char(),
            }
        }
        let Some(header_end) = header_end else {
            self.error(
                SyntaxErrorKind::MissingHeader,
                Span::new(header_start, self.src.len()),
                "expected `harness NAME { ... }`".into(),
                Some("a harness file holds one `harness NAME { ... }` block".into()),
            );
            return;
        };
        self.layout.header = Some(Span::new(header_start, header_end));
        self.body(header_end);
    }

    fn body(&mut self, body_start: usize) {
        let mut depth: usize = 0;
        let mut chunk_start: Option<usize> = None;
        // Opening brackets of the current chunk, for "unclosed" reports.
        let mut open: Vec<(u8, usize)> = Vec::new();
        self.pos = body_start;
        loop {
            self.skip_trivia();
            let Some(b) = self.peek() else {
                // End of file inside the body.
                if !open.is_empty() {
                    // The harness's own `}` closed an item: report the item's bracket.
                    self.poisoned = true;
                    let (ch, at) = open[0];
                    self.unclosed(ch, at);
                    if let Some(start) = chunk_start {
                        self.finish_chunk(start, self.pos);
                    }
                    return;
                }
                if let Some(start) = chunk_start {
                    self.finish_chunk(start, self.pos);
                }
                let header = self.layout.header.unwrap_or_default();
                self.error(
                    SyntaxErrorKind::Unclosed,
                    Span::new(header.end.saturating_sub(1), header.end),
                    "this `{` of the harness is never closed".into(),
                    Some("add `}` at the end of the file".into()),
                );
                return;
            };
            let pos = self.pos;
            if depth == 0 && self.line_start(pos) && b != b'}' && self.item_start_here(pos) {
                if let Some(start) = chunk_start {
                    // `@frozen` on its own line belongs to the item below it.
                    if !annotations_only(&self.src[start..pos]) {
                        self.finish_chunk(start, pos);
                        chunk_start = Some(pos);
                    }
                } else {
                    chunk_start = Some(pos);
                }
            } else if depth > 0 && self.line_start(pos) && self.looks_like_item_inside_block(pos) {
                for (ch, at) in open.drain(..) {
                    self.unclosed(ch, at);
                }
                depth = 0;
                if let Some(start) = chunk_start {
                    self.skip_chunk(start, pos);
                }
                chunk_start = Some(pos);
            } else if chunk_start.is_none() && b != b'}' {
                chunk_start = Some(pos);
            }
            match b {
                b'"' => {
                    self.operand();
                    if !self.string() {
                        self.poisoned = true;
                    }
                }
                b'{' | b'(' | b'[' => {
                    depth += 1;
                    open.push((b, pos));
                    self.nots.resize(open.len() + 1, 0);
                    self.check_nesting(open.len(), pos, 1);
                    self.pos += 1;
                }
                b'}' | b')' | b']' => {
                    if depth == 0 {
                        let next = self.next_token_after(pos + 1);
                        let closes = b == b'}' && next.is_none_or(|n| !self.item_start_here(n));
                        if closes {
                            if let Some(n) = next {
                                let end = n + self.src[n..].trim_end().len();
                                self.error(
                                    SyntaxErrorKind::TrailingText,
                                    Span::new(n, end),
                                    "text after the end of the harness".into(),
                                    Some("a file holds one harness; everything belongs inside its `{ ... }`".into()),
                                );
                            }
                            if let Some(start) = chunk_start {
                                self.finish_chunk(start, pos);
                            }
                            self.layout.close = Some(Span::new(pos, pos + 1));
                            self.pos = pos + 1;
                            self.skip_trivia();
                            return;
                        }
                        self.error(
                            SyntaxErrorKind::Unmatched,
                            Span::new(pos, pos + 1),
                            format!("unmatched `{}`", b as char),
                            Some("remove it, or add the opening bracket it closes".into()),
                        );
                        if let Some(start) = chunk_start.take() {
                            self.skip_chunk(start, pos);
                        }
                        self.pos = pos + 1;
                        continue;
                    }
                    let opener = match b {
                        b'}' => b'{',
                        b')' => b'(',
                        _ => b'[',
                    };
                    if open.last().is_some_and(|(ch, _)| *ch != opener) {
                        // `retry(max = 2` then `}`: the `(` is what is missing. Report the
                        // openers above the matching one; an opener of this kind further
                        // down is what the closer really closes.
                        match open.iter().rposition(|(ch, _)| *ch == opener) {
                            Some(k) => {
                                let dangling: Vec<_> = open.drain(k + 1..).collect();
                                for (ch, at) in dangling {
                                    self.unclosed(ch, at);
                                }
                                self.poisoned = true;
                            }
                            None => {
                                self.error(
                                    SyntaxErrorKind::Unmatched,
                                    Span::new(pos, pos + 1),
                                    format!("unmatched `{}`", b as char),
                                    Some("remove it, or add the opening bracket it closes".into()),
                                );
                                self.poisoned = true;
                                self.pos = pos + 1;
                                continue;
                            }
                        }
                    }
                    open.pop();
                    depth = open.len();
                    self.nots.resize(open.len() + 1, 0);
                    self.pos = pos + 1;
                }
                _ if is_ident_start(b) && !self.after_ident_char(pos) => {
                    let word = self.ident_at(pos);
                    if word == "not" {
                        if let Some(n) = self.nots.last_mut() {
                            *n += 1;
                        }
                        self.check_nesting(open.len(), pos, word.len());
                    } else {
                        self.operand();
                    }
                    self.pos = pos + word.len();
                }
                _ => {
                    self.operand();
                    self.advance_char();
                }
            }
            // Brackets dropped by error recovery above leave their levels too.
            self.nots.resize(open.len() + 1, 0);
        }
    }

    /// Is the byte before `pos` part of an identifier (so `pos` is inside a word)?
    fn after_ident_char(&self, pos: usize) -> bool {
        pos > 0 && is_ident_char(self.bytes[pos - 1])
    }

    /// Any token but `not` or a bracket ends the run of `not`s at its level.
    fn operand(&mut self) {
        if let Some(n) = self.nots.last_mut() {
            *n = 0;
        }
    }

    /// Reports `E0009` once per chunk when the nesting at `pos` (`brackets` open ones plus
    /// the runs of `not`s) exceeds [`MAX_NESTING`], and keeps the chunk from pest.
    fn check_nesting(&mut self, brackets: usize, pos: usize, width: usize) {
        if self.too_deep {
            return;
        }
        let nesting = brackets + self.nots.iter().sum::<usize>();
        if nesting > MAX_NESTING {
            self.too_deep = true;
            self.poisoned = true;
            self.error(
                SyntaxErrorKind::TooDeep,
                Span::new(pos, pos + width),
                format!("brackets and `not`s nest more than {MAX_NESTING} deep here"),
                Some("split the condition or value into simpler ones".into()),
            );
        }
    }

    fn unclosed(&mut self, ch: u8, at: usize) {
        let close = match ch {
            b'{' => '}',
            b'(' => ')',
            _ => ']',
        };
        self.error(
            SyntaxErrorKind::Unclosed,
            Span::new(at, at + 1),
            format!("this `{}` is never closed", ch as char),
            Some(format!("add `{close}` where the block ends")),
        );
    }

    fn finish_chunk(&mut self, start: usize, end: usize) {
        let end = start + self.src[start..end].trim_end().len();
        if end > start {
            self.layout.chunks.push(Chunk {
                span: Span::new(start, end),
                poisoned: self.poisoned,
            });
        }
        self.poisoned = false;
        self.too_deep = false;
    }

    /// A chunk already reported as broken by the lexical pass: not handed to pest.
    fn skip_chunk(&mut self, start: usize, end: usize) {
        self.poisoned = true;
        self.finish_chunk(start, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_deep(body: &str) -> bool {
        let src = format!("harness h {{\n  {body}\n}}\n");
        scan(&src)
            .errors
            .iter()
            .any(|e| e.kind == SyntaxErrorKind::TooDeep)
    }

    #[test]
    fn nesting_counts_brackets_and_runs_of_not() {
        let parens = |n: usize| format!("on x when {}a{} {{}}", "(".repeat(n), ")".repeat(n));
        assert!(!too_deep(&parens(MAX_NESTING)));
        assert!(too_deep(&parens(MAX_NESTING + 1)));
        let nots = |n: usize| format!("on x when {}a {{}}", "not ".repeat(n));
        assert!(!too_deep(&nots(MAX_NESTING)));
        assert!(too_deep(&nots(MAX_NESTING + 1)));
        // Half brackets, half `not`s: the levels add up.
        let mixed = |n: usize| format!("on x when {}a{} {{}}", "not (".repeat(n), ")".repeat(n));
        assert!(!too_deep(&mixed(MAX_NESTING / 2)));
        assert!(too_deep(&mixed(MAX_NESTING / 2 + 1)));
    }

    #[test]
    fn what_is_not_nesting_does_not_count() {
        // `not`s that each apply to their own operand, words that contain `not`, and
        // brackets inside strings and comments.
        let many = "not a and ".repeat(200);
        assert!(!too_deep(&format!("on x when {many}b {{}}")));
        let words = "nothing knot not_a ".repeat(100);
        assert!(!too_deep(&format!("on x when {words} {{}}")));
        let text = "(".repeat(200);
        assert!(!too_deep(&format!("prompt p \"{text}\" # {text}")));
    }
}
