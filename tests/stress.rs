//! Oversized inputs, generated rather than committed (a 2 MB fixture would bloat the
//! repository): many rules, very long lines, deep nesting. `tests/tests/stress.rs`
//! checks that the front end handles each without a crash and gets the right answer;
//! `benches/benches/stress.rs` measures their time and peak memory (docs/TESTING.md).
//!
//! Every generator is deterministic: the same arguments give the same text.

use std::fmt::Write as _;

/// The kinds of nesting the grammar allows, each built `depth` levels deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// `on step_start when ((((step > 1)))) { .. }`
    Parens,
    /// `on step_start when not not not .. verified { .. }`
    Not,
    /// `(a and (a and (a and ..)))`: nested binary operators, parenthesised.
    AndOr,
    /// `tool t(x: [[[[string]]]])`
    ListType,
    /// `loop { max_steps = [[[[1]]]] }` (a type error, reported, not a crash)
    ListValue,
    /// `@evolve(range = [[[[1]]]])` on a field: nested lists in annotation arguments.
    AnnotationArgs,
    /// `{` repeated inside the harness body, never closed (a syntax error).
    UnclosedBraces,
}

impl Nesting {
    pub const ALL: [Nesting; 7] = [
        Nesting::Parens,
        Nesting::Not,
        Nesting::AndOr,
        Nesting::ListType,
        Nesting::ListValue,
        Nesting::AnnotationArgs,
        Nesting::UnclosedBraces,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Nesting::Parens => "parens",
            Nesting::Not => "not",
            Nesting::AndOr => "and_or",
            Nesting::ListType => "list_type",
            Nesting::ListValue => "list_value",
            Nesting::AnnotationArgs => "annotation_args",
            Nesting::UnclosedBraces => "unclosed_braces",
        }
    }
}

/// The smallest harness the checker accepts, with `body` added to its items.
fn harness_with(body: &str) -> String {
    format!(
        "harness stress {{\n  prompt system \"Goal: {{{{task.goal}}}}\"\n  tool act(command: string) \"Run one command\"\n{body}}}\n"
    )
}

/// A checked harness with `n` rules, cycling over every hook and several conditions and
/// actions; rule `i` is named `r<i>`.
pub fn many_rules(n: usize) -> String {
    let mut body = String::with_capacity(n * 90);
    for i in 0..n {
        let rule = match i % 8 {
            0 => format!("on task_start as r{i} {{\n    log \"rule {i}\"\n  }}"),
            1 => format!("on step_start as r{i} when step > {i} {{\n    inject \"step {{{{step}}}}, rule {i}\"\n  }}"),
            2 => format!("on before_model as r{i} when repeated_action and not verified {{\n    compact\n  }}"),
            3 => format!("on after_model as r{i} when malformed_call {{\n    repair extract_action\n    otherwise reprompt \"rule {i}\"\n  }}"),
            4 => format!("on before_tool as r{i} when call(act) and step < {i} {{\n    block \"rule {i}\"\n  }}"),
            5 => format!("on after_tool as r{i} when tool_error or tool_timeout {{\n    retry(max = 2)\n  }}"),
            6 => format!("on step_end as r{i} when output matches \"x{i}\" {{\n    log \"rule {i}\"\n  }}"),
            _ => format!("on task_end as r{i} {{\n    log \"done {i}\"\n  }}"),
        };
        let _ = writeln!(body, "  {rule}");
    }
    harness_with(&body)
}

/// The text of [`long_line`]'s system prompt: `bytes` bytes of printable ASCII words.
pub fn long_text(bytes: usize) -> String {
    let word = "lorem ipsum dolor sit amet ";
    let mut s = word.repeat(bytes / word.len() + 1);
    s.truncate(bytes);
    s
}

/// A checked harness whose system prompt is one line of [`long_text`]`(bytes)`.
pub fn long_line(bytes: usize) -> String {
    let text = long_text(bytes);
    format!("harness stress {{\n  prompt system \"{text}\"\n  tool act(command: string)\n}}\n")
}

/// A checked harness with a comment of `bytes` bytes on one line.
pub fn long_comment(bytes: usize) -> String {
    harness_with(&format!("  #{}\n", long_text(bytes)))
}

/// A harness whose body is one line of `bytes` bytes of `x = ` fields with no section
/// around them: a syntax error on a huge line (the error and its rendering stay small).
pub fn long_garbage_line(bytes: usize) -> String {
    let unit = "x = 1 ";
    harness_with(&format!("  {}\n", unit.repeat(bytes / unit.len())))
}

/// A harness with `depth` levels of `kind` nesting.
pub fn deep(kind: Nesting, depth: usize) -> String {
    let open = |s: &str| s.repeat(depth);
    match kind {
        Nesting::Parens => harness_with(&format!(
            "  on step_start when {}step > 1{} {{\n    log \"deep\"\n  }}\n",
            open("("),
            open(")")
        )),
        Nesting::Not => harness_with(&format!(
            "  on step_start when {}verified {{\n    log \"deep\"\n  }}\n",
            open("not ")
        )),
        Nesting::AndOr => harness_with(&format!(
            "  on step_start when {}verified{} {{\n    log \"deep\"\n  }}\n",
            open("verified and ("),
            open(")")
        )),
        Nesting::ListType => harness_with(&format!(
            "  tool nested(x: {}string{})\n",
            open("["),
            open("]")
        )),
        Nesting::ListValue => harness_with(&format!(
            "  loop {{\n    max_steps = {}1{}\n  }}\n",
            open("["),
            open("]")
        )),
        Nesting::AnnotationArgs => harness_with(&format!(
            "  loop {{\n    max_steps = 10 @evolve(range = {}1{})\n  }}\n",
            open("["),
            open("]")
        )),
        Nesting::UnclosedBraces => harness_with(&format!("  {}\n", open("{"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_as_asked() {
        assert_eq!(long_text(2_000_000).len(), 2_000_000);
        let src = long_line(2_000_000);
        assert!(src.lines().any(|l| l.len() > 2_000_000));
        assert_eq!(many_rules(5_000).matches("\n  on ").count(), 5_000);
        let deep = deep(Nesting::Parens, 300);
        assert!(deep.contains(&format!("{}step", "(".repeat(300))));
        assert!(!deep.contains(&"(".repeat(301)));
    }
}
