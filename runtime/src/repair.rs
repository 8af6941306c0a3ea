//! The `repair` strategies: turning a malformed reply into a well-formed call.
//!
//! Each strategy either returns a call that passes [`crate::parse`]'s validation against the
//! declared tools, or `None` — it never invents arguments. Exact rules:
//!
//! - **`extract_action`** scans the reply left to right for every well-formed call embedded
//!   in it: call syntax starting at an identifier that is not preceded by a letter, digit or
//!   `_`, and JSON objects in the strict `{"tool", "args"}` form. Once a call matches, the
//!   scan resumes after it (so calls inside its string arguments are not counted). If all
//!   matches are the same call, that call is the repair; if there are none, or two
//!   different ones, repair fails — guessing between two actions is worse than asking again.
//! - **`fuzzy_match`** (1) if the reply is call syntax whose only problem is an unknown tool
//!   name, renames it to the declared tool at the smallest edit distance, provided that
//!   distance is at most `max(1, len/3)` of the written name (ties: the earlier declared
//!   tool); else (2) compares the reply with each admissible action that is itself a
//!   well-formed call, after normalizing both (lowercase, punctuation and quotes removed,
//!   whitespace collapsed), and takes the nearest by edit distance if it is at most a third
//!   of the longer normalized text (ties: the earlier admissible action).
//! - **`json_fix`** repairs near-JSON: takes the contents of a ```` ``` ```` fence if there is
//!   one, then the text from the first `{` to the last `}`; outside strings it turns single
//!   quotes into double quotes, quotes bare keys, maps `True/False/None` to JSON, drops
//!   trailing commas, closes an unterminated string and unclosed brackets. The object may
//!   name the tool with `tool`/`name`/`action`/`function` and the arguments with
//!   `args`/`arguments`/`parameters`/`input` (a JSON string holding an object is accepted,
//!   as OpenAI-style `arguments` are).

use serde_json::Value;

use crate::call::{ToolCall, ToolSpec};
use crate::ir::RepairStrategy;
use crate::parse::{json_to_raw, parse_call, parse_raw_prefix, validate, RawCall};

/// Apply one strategy to a reply. `admissible` is the environment's current list.
pub fn repair(
    strategy: RepairStrategy,
    text: &str,
    tools: &[ToolSpec],
    admissible: &[String],
) -> Option<ToolCall> {
    match strategy {
        RepairStrategy::ExtractAction => extract_action(text, tools),
        RepairStrategy::FuzzyMatch => fuzzy_match(text, tools, admissible),
        RepairStrategy::JsonFix => json_fix(text, tools),
    }
}

pub fn extract_action(text: &str, tools: &[ToolSpec]) -> Option<ToolCall> {
    let mut found: Option<ToolCall> = None;
    let mut pos = 0;
    while pos < text.len() {
        let rest = &text[pos..];
        let Some(ch) = rest.chars().next() else { break };
        let boundary = text[..pos]
            .chars()
            .next_back()
            .is_none_or(|p| !(p.is_ascii_alphanumeric() || p == '_'));
        let mut matched: Option<(ToolCall, usize)> = None;
        if boundary && (ch.is_ascii_alphabetic() || ch == '_') {
            if let Ok((raw, used)) = parse_raw_prefix(rest) {
                if let Ok(call) = validate(raw, tools) {
                    matched = Some((call, used));
                }
            }
        } else if ch == '{' {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            if let Some(Ok(v)) = stream.next() {
                let used = stream.byte_offset();
                if let Some(call) = json_to_raw(&v).and_then(|r| validate(r, tools).ok()) {
                    matched = Some((call, used));
                }
            }
        }
        match matched {
            Some((call, used)) => {
                match &found {
                    Some(prev) if *prev != call => return None,
                    _ => found = Some(call),
                }
                pos += used.max(1);
            }
            None => pos += ch.len_utf8(),
        }
    }
    found
}

pub fn fuzzy_match(text: &str, tools: &[ToolSpec], admissible: &[String]) -> Option<ToolCall> {
    let trimmed = text.trim();
    if let Ok((raw, used)) = parse_raw_prefix(trimmed) {
        if used == trimmed.len() && !tools.iter().any(|t| t.name == raw.name) {
            if let Some(name) = nearest_tool(&raw.name, tools) {
                let renamed = RawCall {
                    name: name.to_string(),
                    ..raw
                };
                if let Ok(call) = validate(renamed, tools) {
                    return Some(call);
                }
            }
        }
    }
    let reply = normalize(trimmed);
    let mut best: Option<(usize, ToolCall)> = None;
    for action in admissible {
        let Ok(call) = parse_call(action, tools) else {
            continue;
        };
        let cand = normalize(action);
        let d = levenshtein(&reply, &cand);
        let limit = reply.chars().count().max(cand.chars().count()) / 3;
        if d <= limit && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
            best = Some((d, call));
        }
    }
    best.map(|(_, c)| c)
}

fn nearest_tool<'a>(name: &str, tools: &'a [ToolSpec]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let limit = (lower.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for t in tools {
        let d = levenshtein(&lower, &t.name.to_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, &t.name));
        }
    }
    best.map(|(_, n)| n)
}

/// Lowercase, keep letters/digits, turn everything else into single spaces.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars().flat_map(char::to_lowercase) {
        if ch.is_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// Edit distance over chars (insert, delete, substitute; each costs 1).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

pub fn json_fix(text: &str, tools: &[ToolSpec]) -> Option<ToolCall> {
    let body = unfence(text);
    let start = body.find('{')?;
    let end = body
        .rfind('}')
        .filter(|e| *e > start)
        .map_or(body.len(), |e| e + 1);
    let fixed = fix_json(&body[start..end]);
    let v: Value = serde_json::from_str(&fixed).ok()?;
    let obj = v.as_object()?;
    let name = ["tool", "name", "action", "function"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))?;
    let args = ["args", "arguments", "parameters", "input"]
        .iter()
        .find_map(|k| obj.get(*k));
    let keyword = match args {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s).ok()? {
            Value::Object(m) => m.into_iter().collect(),
            _ => return None,
        },
        Some(_) => return None,
    };
    let raw = RawCall {
        name: name.to_string(),
        positional: Vec::new(),
        keyword,
    };
    validate(raw, tools).ok()
}

/// The contents of the first ``` fence (minus a language tag line), or the whole text.
fn unfence(text: &str) -> &str {
    let Some(open) = text.find("```") else {
        return text;
    };
    let after = &text[open + 3..];
    let after = match after.find('\n') {
        Some(nl)
            if after[..nl]
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric()) =>
        {
            &after[nl + 1..]
        }
        _ => after,
    };
    match after.find("```") {
        Some(close) => &after[..close],
        None => after,
    }
}

/// The lexical fixes of `json_fix`, in one pass over the text.
fn fix_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut stack: Vec<char> = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' | '\'' => {
                // A string in either quote style, re-emitted double-quoted.
                out.push('"');
                // An unterminated string is closed at the end of the text.
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if n == '\'' {
                                    out.push('\'');
                                } else {
                                    out.push('\\');
                                    out.push(n);
                                }
                            }
                        }
                        c if c == ch => break,
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            '{' | '[' => {
                stack.push(if ch == '{' { '}' } else { ']' });
                out.push(ch);
            }
            '}' | ']' => {
                drop_trailing_comma(&mut out);
                if stack.last() == Some(&ch) {
                    stack.pop();
                }
                out.push(ch);
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        word.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let next_non_ws = chars.clone().find(|c| !c.is_whitespace());
                match word.as_str() {
                    _ if next_non_ws == Some(':') => {
                        out.push('"');
                        out.push_str(&word);
                        out.push('"');
                    }
                    "True" | "true" => out.push_str("true"),
                    "False" | "false" => out.push_str("false"),
                    "None" | "null" => out.push_str("null"),
                    _ => out.push_str(&word),
                }
            }
            c => out.push(c),
        }
    }
    drop_trailing_comma(&mut out);
    while let Some(close) = stack.pop() {
        out.push(close);
    }
    out
}

fn drop_trailing_comma(out: &mut String) {
    let trimmed = out.trim_end().len();
    if out[..trimmed].ends_with(',') {
        out.truncate(trimmed - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{ParamIr, TypeIr};

    fn tools() -> Vec<ToolSpec> {
        let spec = |n: &str, ps: &[&str]| ToolSpec {
            name: n.into(),
            description: String::new(),
            params: ps
                .iter()
                .map(|p| ParamIr::new(*p, TypeIr::String))
                .collect(),
        };
        vec![
            spec("go", &["target"]),
            spec("take", &["object", "source"]),
            spec("examine", &["target"]),
            ToolSpec {
                name: "finish".into(),
                description: String::new(),
                params: vec![ParamIr::new(
                    "answer",
                    TypeIr::Optional(Box::new(TypeIr::String)),
                )],
            },
        ]
    }

    fn r(c: Option<ToolCall>) -> Option<String> {
        c.map(|c| c.render(None))
    }

    #[test]
    fn extract_finds_one_call_in_prose() {
        let t = tools();
        assert_eq!(
            r(extract_action(r#"I think I should go("desk 1") now"#, &t)),
            Some(r#"go("desk 1")"#.into())
        );
        assert_eq!(
            r(extract_action("Thought: done.\nAction: finish()", &t)),
            Some("finish()".into())
        );
        assert_eq!(
            r(extract_action(r#"go("a"). Yes: go("a")"#, &t)),
            Some(r#"go("a")"#.into())
        );
        assert_eq!(
            r(extract_action(
                r#"call {"tool": "go", "args": {"target": "b"}} please"#,
                &t
            )),
            Some(r#"go("b")"#.into())
        );
        // The inner call is part of the outer call's string argument.
        assert_eq!(
            r(extract_action(r#"finish(answer="go(\"x\")")"#, &t)),
            Some(r#"finish("go(\"x\")")"#.into())
        );
    }

    #[test]
    fn extract_fails_on_none_or_ambiguity() {
        let t = tools();
        assert_eq!(extract_action("I will walk to the desk", &t), None);
        assert_eq!(extract_action(r#"go("a") or go("b")"#, &t), None);
        assert_eq!(extract_action(r#"ergo("a")"#, &t), None);
        assert_eq!(extract_action(r#"fly("a")"#, &t), None);
        assert_eq!(extract_action("", &t), None);
    }

    #[test]
    fn fuzzy_renames_tools_and_matches_admissible() {
        let t = tools();
        assert_eq!(
            r(fuzzy_match(r#"goo("x")"#, &t, &[])),
            Some(r#"go("x")"#.into())
        );
        assert_eq!(
            r(fuzzy_match(r#"examin("x")"#, &t, &[])),
            Some(r#"examine("x")"#.into())
        );
        assert_eq!(r(fuzzy_match(r#"teleport("x")"#, &t, &[])), None);
        let adm = vec![
            r#"go("desk 1")"#.to_string(),
            r#"take("mug", "desk 1")"#.to_string(),
        ];
        assert_eq!(
            r(fuzzy_match("go to desk 1", &t, &adm)),
            Some(r#"go("desk 1")"#.into())
        );
        assert_eq!(
            r(fuzzy_match("take mug from desk 1", &t, &adm)),
            Some(r#"take("mug", "desk 1")"#.into())
        );
        assert_eq!(r(fuzzy_match("open the fridge", &t, &adm)), None);
        assert_eq!(r(fuzzy_match("", &t, &adm)), None);
    }

    #[test]
    fn json_fix_repairs_near_json() {
        let t = tools();
        let cases = [
            "```json\n{'tool': 'go', 'args': {'target': 'desk 1'},}\n```",
            r#"{tool: "go", args: {target: "desk 1"}"#,
            r#"Sure! {"name": "go", "arguments": "{\"target\": \"desk 1\"}"}"#,
            r#"{"action": "go", "input": {"target": "desk 1"#,
        ];
        for c in cases {
            assert_eq!(r(json_fix(c, &t)), Some(r#"go("desk 1")"#.into()), "{c}");
        }
        assert_eq!(
            r(json_fix("{'tool': 'finish', 'args': None}", &t)),
            Some("finish()".into())
        );
        assert_eq!(json_fix("no json here", &t), None);
        assert_eq!(json_fix(r#"{"tool": "fly"}"#, &t), None);
        assert_eq!(json_fix("}{", &t), None);
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("é", "e"), 1);
    }
}
