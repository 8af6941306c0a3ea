//! Parsing a model reply into a [`ToolCall`].
//!
//! # When a reply is well-formed
//!
//! After trimming surrounding whitespace, the whole reply must be exactly one of:
//!
//! 1. **Call syntax**: `name(arg, ..., key=value, ...)`. `name` is an identifier
//!    (`[A-Za-z_][A-Za-z0-9_]*`); positional arguments come first and fill parameters in
//!    declaration order, then keyword arguments; a trailing comma is allowed. Values are
//!    `"double"` or `'single'` quoted strings (escapes `\" \' \\ \n \t \r \/ \uXXXX`),
//!    numbers (`-12`, `3.5`, `1e3`), `true`/`false`/`null` (also Python's
//!    `True`/`False`/`None`), and lists `[v, ...]`. Bare words are *not* values:
//!    `go(desk 1)` is malformed.
//! 2. **JSON**: an object with a string `"tool"` and, optionally, an object `"args"` — no
//!    other keys: `{"tool": "go", "args": {"target": "desk 1"}}`.
//!
//! and it must fit a declared tool: the name is declared; there are no more positional
//! arguments than parameters; every keyword names a parameter not already given; every
//! non-optional parameter is given; every value has the parameter's type (`string`: a
//! string; `int`/`tokens`: an integer; `float`: any number; `bool`; `duration`: a string
//! such as `"100ms"`/`"2s"`/`"1m"` or an integer of milliseconds; `enum(..)`: one of its
//! strings; `[T]`: a list of `T`; `T?`: `null` or a `T`, and may be left out).
//!
//! Anything else is a *malformed call*; the [`ParseError`] says why. The repair strategies
//! in [`crate::repair`] reuse these pieces on less strict inputs.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::call::{type_name, CallArg, ToolCall, ToolSpec};
use crate::ir::TypeIr;

/// Why a reply is not a well-formed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "error")]
pub enum ParseError {
    Empty,
    /// The text is not a call at all (or has text around the call).
    Syntax {
        message: String,
    },
    UnknownTool {
        tool: String,
    },
    TooManyArgs {
        tool: String,
        max: usize,
        got: usize,
    },
    UnknownParam {
        tool: String,
        param: String,
    },
    DuplicateParam {
        tool: String,
        param: String,
    },
    MissingParam {
        tool: String,
        param: String,
    },
    TypeMismatch {
        tool: String,
        param: String,
        expected: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "empty reply"),
            ParseError::Syntax { message } => write!(f, "not a single call: {message}"),
            ParseError::UnknownTool { tool } => write!(f, "unknown tool `{tool}`"),
            ParseError::TooManyArgs { tool, max, got } => {
                write!(f, "`{tool}` takes at most {max} arguments, got {got}")
            }
            ParseError::UnknownParam { tool, param } => {
                write!(f, "`{tool}` has no parameter `{param}`")
            }
            ParseError::DuplicateParam { tool, param } => {
                write!(f, "`{tool}`: parameter `{param}` given twice")
            }
            ParseError::MissingParam { tool, param } => {
                write!(f, "`{tool}`: missing argument `{param}`")
            }
            ParseError::TypeMismatch {
                tool,
                param,
                expected,
            } => write!(f, "`{tool}`: `{param}` must be {expected}"),
        }
    }
}

/// Parse a whole reply strictly (see the module docs).
pub fn parse_call(text: &str, tools: &[ToolSpec]) -> Result<ToolCall, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    let raw = if text.starts_with('{') {
        let v: Value = serde_json::from_str(text).map_err(|e| ParseError::Syntax {
            message: format!("invalid JSON: {e}"),
        })?;
        json_to_raw(&v).ok_or_else(|| ParseError::Syntax {
            message: "JSON must be {\"tool\": NAME, \"args\": {...}}".into(),
        })?
    } else {
        let (raw, used) =
            parse_raw_prefix(text).map_err(|message| ParseError::Syntax { message })?;
        if used != text.len() {
            return Err(ParseError::Syntax {
                message: "text after the call".into(),
            });
        }
        raw
    };
    validate(raw, tools)
}

/// A call as written, before it is matched against a tool.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawCall {
    pub name: String,
    pub positional: Vec<Value>,
    pub keyword: Vec<(String, Value)>,
}

/// The strict JSON form: `{"tool": NAME, "args": {..}?}` and nothing else.
pub(crate) fn json_to_raw(v: &Value) -> Option<RawCall> {
    let obj = v.as_object()?;
    if obj.keys().any(|k| k != "tool" && k != "args") {
        return None;
    }
    let name = obj.get("tool")?.as_str()?.to_string();
    let keyword = match obj.get("args") {
        None => Vec::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) => return None,
    };
    Some(RawCall {
        name,
        positional: Vec::new(),
        keyword,
    })
}

/// Match a raw call against the declared tools and normalize it.
pub(crate) fn validate(raw: RawCall, tools: &[ToolSpec]) -> Result<ToolCall, ParseError> {
    let Some(spec) = tools.iter().find(|t| t.name == raw.name) else {
        return Err(ParseError::UnknownTool { tool: raw.name });
    };
    let tool = spec.name.clone();
    if raw.positional.len() > spec.params.len() {
        return Err(ParseError::TooManyArgs {
            tool,
            max: spec.params.len(),
            got: raw.positional.len(),
        });
    }
    let mut slots: Vec<Option<Value>> = vec![None; spec.params.len()];
    for (slot, v) in slots.iter_mut().zip(raw.positional) {
        *slot = Some(v);
    }
    for (key, v) in raw.keyword {
        let Some(i) = spec.params.iter().position(|p| p.name == key) else {
            return Err(ParseError::UnknownParam { tool, param: key });
        };
        if slots[i].is_some() {
            return Err(ParseError::DuplicateParam { tool, param: key });
        }
        slots[i] = Some(v);
    }
    let mut args = Vec::new();
    for (param, slot) in spec.params.iter().zip(slots) {
        match slot {
            None | Some(Value::Null) if param.is_optional() => {}
            None => {
                return Err(ParseError::MissingParam {
                    tool,
                    param: param.name.clone(),
                })
            }
            Some(v) => {
                if !fits(&param.ty, &v) {
                    return Err(ParseError::TypeMismatch {
                        tool,
                        param: param.name.clone(),
                        expected: type_name(&param.ty),
                    });
                }
                args.push(CallArg {
                    name: param.name.clone(),
                    value: v,
                });
            }
        }
    }
    Ok(ToolCall { tool, args })
}

/// Whether `v` is a value of type `ty` (see the module docs).
pub fn fits(ty: &TypeIr, v: &Value) -> bool {
    match ty {
        TypeIr::String => v.is_string(),
        TypeIr::Int | TypeIr::Tokens => v.is_i64() || v.is_u64(),
        TypeIr::Float => v.is_number(),
        TypeIr::Bool => v.is_boolean(),
        TypeIr::Duration => v.is_u64() || v.as_str().is_some_and(is_duration),
        TypeIr::Enum(vs) => v.as_str().is_some_and(|s| vs.iter().any(|x| x == s)),
        TypeIr::List(t) => v.as_array().is_some_and(|xs| xs.iter().all(|x| fits(t, x))),
        TypeIr::Optional(t) => v.is_null() || fits(t, v),
    }
}

fn is_duration(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&s[digits..], "ms" | "s" | "m")
}

/// Parse `name(args)` at the start of `s`; returns the call and the bytes consumed.
/// Leading whitespace is not skipped: the caller decides where a call may start.
pub(crate) fn parse_raw_prefix(s: &str) -> Result<(RawCall, usize), String> {
    let mut c = Cursor { s, pos: 0 };
    let name = c.ident().ok_or("expected a tool name")?;
    c.ws();
    if !c.eat('(') {
        return Err(format!("expected `(` after `{name}`"));
    }
    let mut raw = RawCall {
        name,
        positional: Vec::new(),
        keyword: Vec::new(),
    };
    loop {
        c.ws();
        if c.eat(')') {
            break;
        }
        let save = c.pos;
        let key = c.ident().and_then(|k| {
            c.ws();
            // `==` is not a keyword argument.
            if c.peek() == Some('=') && c.peek_at(1) != Some('=') {
                c.pos += 1;
                Some(k)
            } else {
                None
            }
        });
        if key.is_none() {
            c.pos = save;
        }
        c.ws();
        let v = c.value(0)?;
        match key {
            Some(k) => raw.keyword.push((k, v)),
            None if raw.keyword.is_empty() => raw.positional.push(v),
            None => return Err("positional argument after a keyword argument".into()),
        }
        c.ws();
        if c.eat(',') {
            continue;
        }
        if c.eat(')') {
            break;
        }
        return Err("expected `,` or `)`".into());
    }
    Ok((raw, c.pos))
}

/// Deeply nested lists are rejected rather than recursed into without bound.
const MAX_DEPTH: usize = 32;

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.s[self.pos..].chars().nth(n)
    }
    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.pos += ch.len_utf8();
        Some(ch)
    }
    fn eat(&mut self, ch: char) -> bool {
        if self.peek() == Some(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }
    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        match self.peek() {
            Some(ch) if ch.is_ascii_alphabetic() || ch == '_' => {}
            _ => return None,
        }
        while self
            .peek()
            .is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            self.bump();
        }
        Some(self.s[start..self.pos].to_string())
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("lists nested too deeply".into());
        }
        match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.bump();
                self.string(q).map(Value::String)
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat(']') {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(',') {
                        continue;
                    }
                    if self.eat(']') {
                        break;
                    }
                    return Err("expected `,` or `]` in a list".into());
                }
                Ok(Value::Array(items))
            }
            Some(ch) if ch.is_ascii_digit() || ch == '-' || ch == '+' => self.number(),
            Some(_) => match self.ident().as_deref() {
                Some("true" | "True") => Ok(Value::Bool(true)),
                Some("false" | "False") => Ok(Value::Bool(false)),
                Some("null" | "None") => Ok(Value::Null),
                Some(w) => Err(format!("bare word `{w}` is not a value (quote strings)")),
                None => Err("expected a value".into()),
            },
            None => Err("unexpected end of text".into()),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err("unterminated string".into()),
                Some(ch) if ch == quote => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('u') => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or("invalid \\u escape")?;
                        out.push(ch);
                    }
                    Some(other) => out.push(other),
                    None => return Err("unterminated string".into()),
                },
                Some(ch) => out.push(ch),
            }
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('-' | '+')) {
            self.bump();
        }
        let mut is_float = false;
        while let Some(ch) = self.peek() {
            match ch {
                '0'..='9' => {}
                '.' | 'e' | 'E' => is_float = true,
                '-' | '+' if matches!(self.s[..self.pos].chars().last(), Some('e' | 'E')) => {}
                _ => break,
            }
            self.bump();
        }
        let text = self.s[start..self.pos].trim_start_matches('+');
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::from(i));
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("invalid number `{text}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ParamIr;

    fn tools() -> Vec<ToolSpec> {
        let p = |n: &str, t: TypeIr| ParamIr::new(n, t);
        let opt = |t: TypeIr| TypeIr::Optional(Box::new(t));
        vec![
            ToolSpec {
                name: "go".into(),
                description: String::new(),
                params: vec![p("target", TypeIr::String)],
            },
            ToolSpec {
                name: "take".into(),
                description: String::new(),
                params: vec![p("object", TypeIr::String), p("source", TypeIr::String)],
            },
            ToolSpec {
                name: "search".into(),
                description: String::new(),
                params: vec![
                    p("query", TypeIr::String),
                    p("limit", opt(TypeIr::Int)),
                    p("tags", opt(TypeIr::List(Box::new(TypeIr::String)))),
                ],
            },
            ToolSpec {
                name: "finish".into(),
                description: String::new(),
                params: vec![p("answer", opt(TypeIr::String))],
            },
            ToolSpec {
                name: "wait".into(),
                description: String::new(),
                params: vec![
                    p("d", TypeIr::Duration),
                    p("mode", TypeIr::Enum(vec!["a".into(), "b".into()])),
                    p("x", opt(TypeIr::Float)),
                    p("f", opt(TypeIr::Bool)),
                ],
            },
        ]
    }

    fn ok(text: &str) -> String {
        match parse_call(text, &tools()) {
            Ok(c) => c.render(None),
            Err(e) => panic!("{text}: {e}"),
        }
    }

    fn err(text: &str) -> ParseError {
        match parse_call(text, &tools()) {
            Ok(c) => panic!("{text} parsed as {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn well_formed_calls() {
        assert_eq!(ok(r#"go("desk 1")"#), r#"go("desk 1")"#);
        assert_eq!(ok(r#"  go ( 'desk 1' , )  "#), r#"go("desk 1")"#);
        assert_eq!(
            ok(r#"take("mug", source="table")"#),
            r#"take("mug", "table")"#
        );
        assert_eq!(
            ok(r#"take(source="table", object="mug")"#),
            r#"take("mug", "table")"#
        );
        assert_eq!(
            ok(r#"search("q", tags=["a", 'b'])"#),
            r#"search("q", ["a", "b"])"#
        );
        assert_eq!(ok(r#"search("q", None)"#), r#"search("q")"#);
        assert_eq!(ok("finish()"), "finish()");
        assert_eq!(
            ok(r#"wait("100ms", "a", 1e3, True)"#),
            r#"wait("100ms", "a", 1000.0, true)"#
        );
        assert_eq!(ok(r#"wait(250, mode="b")"#), r#"wait(250, "b")"#);
        assert_eq!(ok(r#"go("q\"uote\u00e9")"#), r#"go("q\"uoteé")"#);
    }

    #[test]
    fn json_form() {
        assert_eq!(
            ok(r#"{"tool": "go", "args": {"target": "x"}}"#),
            r#"go("x")"#
        );
        assert_eq!(ok(r#"{"tool": "finish"}"#), "finish()");
        assert!(matches!(
            err(r#"{"tool": "go", "args": {"target": "x"}, "why": 1}"#),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            err(r#"{"name": "go"}"#),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            err(r#"{"tool": "go", "#),
            ParseError::Syntax { .. }
        ));
    }

    #[test]
    fn malformed_calls() {
        assert_eq!(err("   "), ParseError::Empty);
        assert!(matches!(
            err("I will go to the desk"),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            err(r#"go("a") go("b")"#),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            err(r#"Action: go("a")"#),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(err("go(desk 1)"), ParseError::Syntax { .. }));
        assert!(matches!(
            err(r#"go("unterminated)"#),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            err(r#"take(object="a", "b")"#),
            ParseError::Syntax { .. }
        ));
        assert_eq!(
            err(r#"fly("x")"#),
            ParseError::UnknownTool { tool: "fly".into() }
        );
        assert!(matches!(
            err(r#"go("a", "b")"#),
            ParseError::TooManyArgs { max: 1, got: 2, .. }
        ));
        assert!(matches!(
            err(r#"go(where="a")"#),
            ParseError::UnknownParam { .. }
        ));
        assert!(matches!(
            err(r#"go("a", target="b")"#),
            ParseError::DuplicateParam { .. }
        ));
        assert!(matches!(
            err(r#"take("a")"#),
            ParseError::MissingParam { .. }
        ));
        assert!(matches!(err("go(1)"), ParseError::TypeMismatch { .. }));
        assert!(matches!(
            err(r#"wait("1h", "a")"#),
            ParseError::TypeMismatch { .. }
        ));
        assert!(matches!(
            err(r#"wait(1, "c")"#),
            ParseError::TypeMismatch { .. }
        ));
        assert!(matches!(
            err(r#"search("q", 1.5)"#),
            ParseError::TypeMismatch { .. }
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!(
            "search(\"q\", tags={}{})",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(matches!(err(&text), ParseError::Syntax { .. }));
    }

    #[test]
    fn rendered_calls_parse_back() {
        let specs = tools();
        for text in [
            r#"search("q", tags=["x"])"#,
            r#"take("a", "b")"#,
            r#"wait("2s", "b", f=false)"#,
        ] {
            let c = parse_call(text, &specs).expect("parses");
            let spec = specs
                .iter()
                .find(|s| s.name == c.tool)
                .map(|s| s.params.as_slice());
            let again = parse_call(&c.render(spec), &specs).expect("round trip");
            assert_eq!(c, again);
        }
    }
}
