//! Where the cursor is, read from the text before it: the context completion needs.
//!
//! Completion runs on half-typed text (`on after_model when mal`), which rarely parses, so
//! this works on tokens rather than on the tree: a small tokenizer that never fails, a
//! stack of open brackets, and the tokens of the item and line the cursor is in. It only
//! ever looks backwards from the cursor.

/// One token of the text before the cursor.
#[derive(Debug, Clone, PartialEq)]
struct Token<'a> {
    text: &'a str,
    kind: Kind,
    /// The token is the first on its line.
    line_start: bool,
    /// The byte just after the token.
    end: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Ident,
    Str,
    Number,
    Punct,
}

/// What may be written at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Context {
    /// Before the harness header.
    FileStart,
    /// At the start of an item in the harness body.
    ItemStart,
    /// After `@`.
    Annotation,
    /// After `on`.
    Hook,
    /// After `on HOOK` (`as`, `when`).
    RuleHeader,
    /// After `when`, `and`, `or`, `not` or `(` in a rule's condition.
    Condition { hook: Option<String> },
    /// After a complete condition (`and`, `or`).
    AfterCondition,
    /// Inside `call(`.
    CallArgument,
    /// Inside a detector's parentheses, such as `repeated_action(`.
    DetectorArgument { detector: String },
    /// After `:` in a tool's parameter list.
    ParamType,
    /// At the start of a line in a rule body (or after `otherwise`).
    Action { hook: Option<String> },
    /// After an action's name on its line: `repair `.
    ActionMessage { action: String },
    /// Inside an action's parentheses: `retry(`; `arg` after `NAME =`.
    ActionArgument { action: String, arg: Option<String> },
    /// At the start of a line in a section (or tool option block, `section: None`);
    /// `present` lists the fields already written in it.
    Field {
        section: Option<String>,
        present: Vec<String>,
    },
    /// After `FIELD =` in a section or tool option block.
    FieldValue {
        section: Option<String>,
        field: String,
    },
    /// Inside `{{` in a string.
    TemplateVar,
    /// In a comment or string, or anywhere nothing can be suggested.
    Nothing,
}

/// Tokens of `text[..offset]`, or `None` when the cursor is inside a comment or a string
/// (`Some(true)` then tells whether it is inside an open `{{` of a string).
fn tokenize(text: &str, offset: usize) -> Result<Vec<Token<'_>>, bool> {
    let src = &text[..floor_boundary(text, offset)];
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    let mut line_start = true;
    while at < bytes.len() {
        let b = bytes[at];
        let start = at;
        let kind = match b {
            b'\n' => {
                line_start = true;
                at += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                at += 1;
                continue;
            }
            b'#' => match src[at..].find('\n') {
                Some(n) => {
                    at += n;
                    continue;
                }
                None => return Err(false), // the cursor is in the comment
            },
            b'"' => {
                let end = if src[at..].starts_with("\"\"\"") {
                    src[at + 3..].find("\"\"\"").map(|n| at + 3 + n + 3)
                } else {
                    plain_string_end(src, at)
                };
                match end {
                    Some(end) => at = end,
                    None => return Err(open_template(&src[at..])),
                }
                Kind::Str
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                    at += 1;
                }
                Kind::Ident
            }
            b if b.is_ascii_digit() || (b == b'-' && next_is_digit(bytes, at)) => {
                at += 1;
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric()
                        || bytes[at] == b'_'
                        || (bytes[at] == b'.' && next_is_digit(bytes, at)))
                {
                    at += 1;
                }
                Kind::Number
            }
            _ => {
                let two = src.get(at..at + 2).unwrap_or("");
                at += if ["<=", ">=", "==", "!=", ".."].contains(&two) {
                    2
                } else {
                    src[at..].chars().next().map_or(1, char::len_utf8)
                };
                Kind::Punct
            }
        };
        tokens.push(Token {
            text: &src[start..at],
            kind,
            line_start,
            end: at,
        });
        line_start = false;
    }
    Ok(tokens)
}

fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn next_is_digit(bytes: &[u8], at: usize) -> bool {
    bytes.get(at + 1).is_some_and(u8::is_ascii_digit)
}

/// The end of the plain string starting at `at`, or `None` when it is still open (a
/// plain string cannot hold a raw newline, so one ends it as the lexer does).
fn plain_string_end(src: &str, at: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in src[at + 1..].char_indices() {
        match c {
            '"' if !escaped => return Some(at + 1 + i + 1),
            '\n' => return Some(at + 1 + i),
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}

/// Whether an open string's text ends inside a `{{` hole.
fn open_template(open: &str) -> bool {
    match open.rfind("{{") {
        Some(i) => !open[i..].contains("}}"),
        None => false,
    }
}

const ITEM_KEYWORDS: [&str; 3] = ["on", "tool", "prompt"];

/// The context at byte `offset` of `text`.
pub fn at(text: &str, offset: usize) -> Context {
    let mut tokens = match tokenize(text, offset) {
        Ok(tokens) => tokens,
        Err(true) => return Context::TemplateVar,
        Err(false) => return Context::Nothing,
    };
    // A word that ends at the cursor is being typed: the context is what precedes it.
    let typing = tokens
        .last()
        .is_some_and(|t| t.kind == Kind::Ident && t.end == floor_boundary(text, offset));
    let typed_line_start = typing && tokens.last().is_some_and(|t| t.line_start);
    if typing {
        tokens.pop();
    }
    if tokens.last().is_some_and(|t| t.text == "@") {
        return Context::Annotation;
    }

    // Open brackets: (the bracket, index of the token).
    let mut open: Vec<(&str, usize)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t.text {
            "{" | "(" | "[" => open.push((t.text, i)),
            "}" | ")" | "]" => {
                // Unbalanced input: close the innermost bracket of that kind.
                let want = match t.text {
                    "}" => "{",
                    ")" => "(",
                    _ => "[",
                };
                if let Some(k) = open.iter().rposition(|(b, _)| *b == want) {
                    open.truncate(k);
                }
            }
            _ => {}
        }
    }
    let braces: Vec<usize> = open
        .iter()
        .filter(|(b, _)| *b == "{")
        .map(|(_, i)| *i)
        .collect();
    // A line is "empty" before the cursor when nothing but the typed word is on it.
    let at_line_start = match tokens.last() {
        None => true,
        Some(_) if typing => typed_line_start,
        Some(_) => text[..floor_boundary(text, offset)]
            .rsplit('\n')
            .next()
            .is_some_and(|l| l.trim().is_empty()),
    };
    match braces.len() {
        0 => Context::FileStart,
        1 => body(&tokens, braces[0], &open, at_line_start),
        2 => block(&tokens, braces[0], braces[1], &open, at_line_start),
        _ => Context::Nothing,
    }
}

/// The tokens of the item at depth 1 that starts after `from` and runs to `to`
/// (exclusive): everything since the last item boundary, annotations skipped.
fn item_tokens<'t, 'a>(tokens: &'t [Token<'a>], from: usize, to: usize) -> &'t [Token<'a>] {
    let mut depth = 0i32;
    let mut start = from + 1;
    for (i, t) in tokens.iter().enumerate().take(to).skip(from + 1) {
        match t.text {
            "{" | "(" | "[" => depth += 1,
            "}" | ")" | "]" => {
                depth -= 1;
                if depth == 0 && t.text == "}" {
                    start = i + 1;
                }
            }
            kw if depth == 0 && ITEM_KEYWORDS.contains(&kw) && t.kind == Kind::Ident => start = i,
            // A name or annotation at the start of a line begins a new item, except
            // while a rule's header (which may span lines) is still open.
            _ if depth == 0
                && t.line_start
                && (t.kind == Kind::Ident || t.text == "@")
                && tokens.get(start).is_none_or(|s| s.text != "on") =>
            {
                start = i
            }
            _ => {}
        }
    }
    let mut item = &tokens[start.min(to)..to];
    // Skip `@name` and `@name(...)` annotations before the item.
    while item.first().is_some_and(|t| t.text == "@") {
        let mut skip = 2.min(item.len());
        if item.get(skip).is_some_and(|t| t.text == "(") {
            let mut depth = 0;
            for (k, t) in item.iter().enumerate().skip(skip) {
                match t.text {
                    "(" => depth += 1,
                    ")" => {
                        depth -= 1;
                        if depth == 0 {
                            skip = k + 1;
                            break;
                        }
                    }
                    _ => skip = k + 1,
                }
            }
        }
        item = &item[skip..];
    }
    item
}

/// In the harness body (one `{` open, at token `harness_brace`).
fn body(
    tokens: &[Token],
    harness_brace: usize,
    open: &[(&str, usize)],
    line_start: bool,
) -> Context {
    let paren = open.last().filter(|(b, _)| *b != "{").map(|(_, i)| *i);
    let item = item_tokens(tokens, harness_brace, tokens.len());
    if paren.is_none() && (item.is_empty() || line_start) {
        return Context::ItemStart;
    }
    let Some(first) = item.first() else {
        return Context::ItemStart;
    };
    match first.text {
        "on" => rule_header(tokens, &item[1..], paren),
        "tool" => match (paren, tokens.last()) {
            (Some(_), Some(t)) if [":", "[", "?"].contains(&t.text) => Context::ParamType,
            _ => Context::Nothing,
        },
        _ => Context::Nothing,
    }
}

fn rule_header(tokens: &[Token], rest: &[Token], paren: Option<usize>) -> Context {
    let Some(hook) = rest.first() else {
        return Context::Hook;
    };
    let Some(when) = rest.iter().position(|t| t.text == "when") else {
        return match rest.len() {
            1 => Context::RuleHeader,
            3 if rest[1].text == "as" => Context::RuleHeader,
            _ => Context::Nothing,
        };
    };
    let hook = (hook.kind == Kind::Ident).then(|| hook.text.to_string());
    if let Some(p) = paren {
        // In a detector's parentheses, or in a grouping `(`.
        let detector = p.checked_sub(1).map(|i| &tokens[i]);
        match detector {
            Some(d) if d.kind == Kind::Ident && !["and", "or", "not", "when"].contains(&d.text) => {
                if d.text == "call" {
                    return Context::CallArgument;
                }
                if tokens
                    .last()
                    .is_some_and(|t| t.text == "(" || t.text == ",")
                {
                    return Context::DetectorArgument {
                        detector: d.text.to_string(),
                    };
                }
                return Context::Nothing;
            }
            _ => {}
        }
    }
    let last = rest.last().map(|t| t.text);
    match last {
        Some("when" | "and" | "or" | "not" | "(") => Context::Condition { hook },
        Some(")") => Context::AfterCondition,
        _ if rest.len() > when + 1 && rest.last().is_some_and(|t| t.kind == Kind::Ident) => {
            Context::AfterCondition
        }
        _ => Context::Nothing,
    }
}

/// Inside a block (two `{` open): a rule body, a section or a tool's option block.
fn block(
    tokens: &[Token],
    harness_brace: usize,
    brace: usize,
    open: &[(&str, usize)],
    line_start: bool,
) -> Context {
    let header = item_tokens(tokens, harness_brace, brace);
    let inner = &tokens[brace + 1..];
    // The statement the cursor is in: the tokens on its line.
    let line_from = inner.iter().rposition(|t| t.line_start).unwrap_or(0);
    let line: &[Token] = if line_start { &[] } else { &inner[line_from..] };
    let paren = open.last().filter(|(b, _)| *b == "(").map(|(_, i)| *i);
    match header.first().map(|t| t.text) {
        Some("on") => {
            let hook = header
                .get(1)
                .filter(|t| t.kind == Kind::Ident)
                .map(|t| t.text.to_string());
            rule_body(tokens, line, paren, hook)
        }
        Some("tool") => section_body(inner, line, None),
        Some("prompt") | None => Context::Nothing,
        Some(section) => section_body(inner, line, Some(section.to_string())),
    }
}

fn rule_body(
    tokens: &[Token],
    line: &[Token],
    paren: Option<usize>,
    hook: Option<String>,
) -> Context {
    let line: Vec<&Token> = line.iter().skip_while(|t| t.text == "otherwise").collect();
    if let Some(p) = paren {
        let action = p.checked_sub(1).map(|i| tokens[i].text.to_string());
        let Some(action) = action else {
            return Context::Nothing;
        };
        return match tokens.last().map(|t| t.text) {
            Some("(" | ",") => Context::ActionArgument { action, arg: None },
            Some("=") => {
                let arg = tokens
                    .len()
                    .checked_sub(2)
                    .map(|i| tokens[i].text.to_string());
                Context::ActionArgument { action, arg }
            }
            _ => Context::Nothing,
        };
    }
    match line.as_slice() {
        [] => Context::Action { hook },
        [name] if name.kind == Kind::Ident => Context::ActionMessage {
            action: name.text.to_string(),
        },
        [name, .., close] if name.kind == Kind::Ident && close.text == ")" => {
            Context::ActionMessage {
                action: name.text.to_string(),
            }
        }
        _ => Context::Nothing,
    }
}

fn section_body(inner: &[Token], line: &[Token], section: Option<String>) -> Context {
    match line {
        [] => {
            // Field names already written: an identifier followed by `=`.
            let present = inner
                .windows(2)
                .filter(|w| w[0].kind == Kind::Ident && w[1].text == "=" && w[0].line_start)
                .map(|w| w[0].text.to_string())
                .collect();
            Context::Field { section, present }
        }
        [field, eq, rest @ ..] if field.kind == Kind::Ident && eq.text == "=" => {
            // Right after `=`, or inside a list after `[` or `,`.
            let ready = match rest.last() {
                None => true,
                Some(t) => ["[", ","].contains(&t.text),
            };
            if ready {
                Context::FieldValue {
                    section,
                    field: field.text.to_string(),
                }
            } else {
                Context::Nothing
            }
        }
        _ => Context::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context at the `|` in `marked`.
    fn ctx(marked: &str) -> Context {
        let at = marked.find('|').expect("a cursor mark");
        let text = marked.replacen('|', "", 1);
        super::at(&text, at)
    }

    fn s(x: &str) -> Option<String> {
        Some(x.to_string())
    }

    #[test]
    fn contexts_in_rule_headers() {
        assert_eq!(ctx("|"), Context::FileStart);
        assert_eq!(ctx("harness h {\n  |"), Context::ItemStart);
        assert_eq!(ctx("harness h {\n  mod|"), Context::ItemStart);
        assert_eq!(ctx("harness h {\n  on |"), Context::Hook);
        assert_eq!(ctx("harness h {\n  on after_m|"), Context::Hook);
        assert_eq!(ctx("harness h {\n  on after_model |"), Context::RuleHeader);
        assert_eq!(
            ctx("harness h {\n  on after_model when |"),
            Context::Condition {
                hook: s("after_model")
            }
        );
        assert_eq!(
            ctx("harness h {\n  on before_tool as x when step > 3 and not mal|"),
            Context::Condition {
                hook: s("before_tool")
            }
        );
        assert_eq!(
            ctx("harness h {\n  on before_tool when call(|"),
            Context::CallArgument
        );
        assert_eq!(
            ctx("harness h {\n  on before_tool when call(g|)"),
            Context::CallArgument
        );
        assert_eq!(
            ctx("harness h {\n  on step_end when repeated_action(|"),
            Context::DetectorArgument {
                detector: "repeated_action".into()
            }
        );
        assert_eq!(
            ctx("harness h {\n  on step_end when tool_error |"),
            Context::AfterCondition
        );
        assert_eq!(ctx("harness h {\n  tool go(t: |"), Context::ParamType);
        assert_eq!(ctx("harness h {\n  tool go(t: [str|"), Context::ParamType);
        assert_eq!(
            ctx("harness h {\n  prompt system \"x\"\n  @|"),
            Context::Annotation
        );
    }

    #[test]
    fn contexts_in_blocks() {
        let rule = "harness h {\n  on after_model when malformed_call {\n    ";
        assert_eq!(
            ctx(&format!("{rule}|")),
            Context::Action {
                hook: s("after_model")
            }
        );
        assert_eq!(
            ctx(&format!("{rule}rep|")),
            Context::Action {
                hook: s("after_model")
            }
        );
        assert_eq!(
            ctx(&format!("{rule}repair |")),
            Context::ActionMessage {
                action: "repair".into()
            }
        );
        assert_eq!(
            ctx(&format!("{rule}repair json_fix\n    otherwise |")),
            Context::Action {
                hook: s("after_model")
            }
        );
        assert_eq!(
            ctx(&format!("{rule}reprompt(|")),
            Context::ActionArgument {
                action: "reprompt".into(),
                arg: None
            }
        );
        assert_eq!(
            ctx(&format!("{rule}compact(strategy = |")),
            Context::ActionArgument {
                action: "compact".into(),
                arg: s("strategy")
            }
        );
        assert_eq!(ctx(&format!("{rule}log \"{{{{ta|")), Context::TemplateVar);
        assert_eq!(ctx(&format!("{rule}log \"plain |")), Context::Nothing);
        assert_eq!(ctx(&format!("{rule}# a comment |")), Context::Nothing);

        let section = "harness h {\n  loop {\n    max_steps = 3\n    ";
        assert_eq!(
            ctx(&format!("{section}|")),
            Context::Field {
                section: s("loop"),
                present: vec!["max_steps".into()]
            }
        );
        assert_eq!(
            ctx(&format!("{section}strategy = |")),
            Context::FieldValue {
                section: s("loop"),
                field: "strategy".into()
            }
        );
        assert_eq!(
            ctx("harness h {\n  context {\n    pin = [system, |"),
            Context::FieldValue {
                section: s("context"),
                field: "pin".into()
            }
        );
        assert_eq!(
            ctx("harness h {\n  tool go(t: string) {\n    |"),
            Context::Field {
                section: None,
                present: vec![]
            }
        );
        // After a closed block, a new item starts.
        assert_eq!(
            ctx("harness h {\n  loop { max_steps = 3 }\n  |"),
            Context::ItemStart
        );
    }
}
