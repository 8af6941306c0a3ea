//! Random *checked* harnesses with hostile text in every literal: what
//! `tests/tests/codegen_random_build.rs` compiles with cargo (50 of them in one crate) to
//! show that no string can break out of the literal code generation puts it in, and that
//! every checked harness builds.
//!
//! Every harness is built from the language's own tables (hooks, the conditions and
//! actions legal on each, field ranges), so it checks without errors by construction;
//! the test asserts that too, so a generator bug shows as such and not as a codegen bug.
//! Strings are hostile: quotes, backslashes, `"#` and `"##` (raw-string terminators),
//! `*/`, `}` and `{{`, NUL and other control characters, newlines, bidi controls, astral
//! characters, text that looks like Rust. They appear in the harness and tool
//! descriptions, every prompt (plain and triple-quoted, with real template holes between
//! hostile text), every action message, `enum(..)` variants, `matches` patterns (the
//! hostile text regex-escaped), `model.backend` and `model.api_key_env`, and comments.
//! Names are drawn from Rust keywords and names the generated module uses itself.
//!
//! Deterministic: the same seed gives the same text.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use harnessx_runtime::rng::SplitMix;

/// The workspace's SplitMix64 stream (`harnessx_runtime::rng::SplitMix`, the one the
/// environments draw with), with the helpers this generator picks from its tables with.
pub struct Rng(SplitMix);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Pieces of hostile text. Each breaks some naive way of emitting a string into Rust
/// source: a plain literal, a raw literal with any number of `#`, a comment, `format!`,
/// a template, a line-based writer.
pub const HOSTILE: &[&str] = &[
    "\"",
    "\\",
    "\\\"",
    "\"#",
    "\"##",
    "\"###",
    "r#\"",
    "r##\"raw\"##",
    "#",
    "}",
    "{",
    "{{",
    "}}",
    "{}",
    "{0}",
    "{{ nope }}",
    "*/",
    "/*",
    "//",
    "/// doc",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{0}",
    "\u{7}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{2029}",
    "\u{202e}",
    "\u{2066}",
    "\u{feff}",
    "\u{fffd}",
    "é",
    "日本",
    "🦀",
    "\u{10ffff}",
    "\"); std::process::exit(1); (\"",
    "\"#); panic!(); (r#\"",
    "}} fn evil() {} {{",
    "*/ fn evil() {} /*",
    "\\u{0}",
    "\\n",
    "\\x41",
    "$crate",
    "'a",
    "b'\\0'",
    "<script>",
    "%s%n",
    "   ",
];

/// Hostile text: up to `max` pieces of [`HOSTILE`], plain words and arbitrary characters.
pub fn hostile_text(rng: &mut Rng, max: usize) -> String {
    let n = rng.below(max + 1);
    let mut s = String::new();
    for _ in 0..n {
        match rng.below(10) {
            0..=5 => s.push_str(rng.pick(HOSTILE)),
            6..=7 => s.push_str(rng.pick(&["word", "a b", "x", "Go", "ok."])),
            _ => {
                // Any scalar value: `from_u32` refuses only surrogates.
                let c = loop {
                    if let Some(c) = char::from_u32(rng.range(0, 0x10ffff) as u32) {
                        break c;
                    }
                };
                s.push(c);
            }
        }
    }
    s
}

/// `text` as a plain `.harness` string: quote and backslash escaped, line breaks and
/// other control characters as escapes, non-ASCII sometimes raw and sometimes `\u{..}`.
/// With `template`, every `{` is written `\u{7b}` so the text never forms a template hole.
fn plain(rng: &mut Rng, text: &str, template: bool) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' if rng.chance(50) => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '{' if template => out.push_str("\\u{7b}"),
            c if c.is_control() && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c if !c.is_ascii() && rng.chance(50) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `text` can stand between `"""` and `"""`: no `""` inside (so no `"""`, even
/// next to a neighbour), and no `"` at either end, which would run into the quotes.
fn triple_ok(text: &str) -> bool {
    !text.contains("\"\"") && !text.starts_with('"') && !text.ends_with('"')
}

/// `text` as a triple-quoted string when it can be one (raw: no `"""` inside, and no `"`
/// at the end, which would run into the closing quotes), else as a plain one. A template
/// loses its `{{` (there is no escape in a raw string).
fn string(rng: &mut Rng, text: &str, template: bool) -> String {
    let mut raw = text.to_string();
    if template {
        while raw.contains("{{") {
            raw = raw.replace("{{", "{ {");
        }
    }
    if rng.chance(30) && triple_ok(&raw) {
        format!("\"\"\"{raw}\"\"\"")
    } else {
        plain(rng, text, template)
    }
}

const VARS: &[&str] = &[
    "task.goal",
    "task.id",
    "step",
    "max_steps",
    "tools",
    "admissible_actions",
    "observation",
    "history",
];

/// A template: hostile text with real `{{var}}` holes between the pieces. The pieces are
/// escaped (plain) or lose their `{{` (triple-quoted), so no hole forms but the real ones.
fn template(rng: &mut Rng) -> String {
    let mut texts = vec![hostile_text(rng, 6)];
    let mut holes = Vec::new();
    for _ in 0..rng.below(3) {
        let var = rng.pick(VARS);
        holes.push(if rng.chance(50) {
            format!("{{{{{var}}}}}")
        } else {
            format!("{{{{ {var} }}}}")
        });
        texts.push(hostile_text(rng, 4));
    }
    let triple = rng.chance(30) && texts.iter().all(|t| triple_ok(t));
    let mut lit = String::from(if triple { "\"\"\"" } else { "\"" });
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            // A space on each side, so no stray brace of the text joins the hole.
            let _ = write!(lit, " {} ", holes[i - 1]);
        }
        if triple {
            let mut raw = text.clone();
            while raw.contains("{{") {
                raw = raw.replace("{{", "{ {");
            }
            // `{` at the end, before the space and a hole, is harmless.
            lit.push_str(&raw);
        } else {
            let quoted = plain(rng, text, true);
            lit.push_str(&quoted[1..quoted.len() - 1]);
        }
    }
    lit.push_str(if triple { "\"\"\"" } else { "\"" });
    lit
}

/// The characters `regex::escape` escapes.
fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Names that are Rust keywords, names the generated module uses for its own items, and
/// names that map to the same snake_case identifier.
const NAMES: &[&str] = &[
    "type",
    "fn",
    "self",
    "Self",
    "crate",
    "super",
    "match",
    "mod",
    "impl",
    "async",
    "await",
    "dyn",
    "try",
    "union",
    "static",
    "loop",
    "model",
    "context",
    "ir",
    "tools",
    "prompts",
    "rules",
    "Rules",
    "Call",
    "call",
    "main",
    "std",
    "core",
    "rt",
    "serde",
    "_",
    "__",
    "_0",
    "HARNESS_HASH",
    "Option",
    "Result",
    "String",
    "Vec",
    "Box",
    "a__b",
    "A_B",
    "a_b",
    "go",
    "Go",
    "g_o",
    "system_with",
    "render",
    "render_prompt",
    "Args",
    "r",
    "r_",
    "x",
];

/// Picks a name not yet in `used` (a fresh `n<k>` when the table runs out).
fn fresh(rng: &mut Rng, used: &mut BTreeSet<String>) -> String {
    for _ in 0..8 {
        let name = rng.pick(NAMES).to_string();
        if used.insert(name.clone()) {
            return name;
        }
    }
    let name = format!("n{}", used.len());
    used.insert(name.clone());
    name
}

const HOOKS: &[&str] = &[
    "task_start",
    "step_start",
    "before_model",
    "after_model",
    "before_tool",
    "after_tool",
    "step_end",
    "task_end",
];

fn legal(hook: &str, hooks: &[&str]) -> bool {
    hooks.contains(&hook)
}

/// One condition atom legal at `hook`.
fn atom(rng: &mut Rng, hook: &str, tools: &[String]) -> String {
    loop {
        let s = match rng.below(11) {
            0 if legal(hook, &["after_model"]) => "malformed_call".to_string(),
            1 if legal(
                hook,
                &[
                    "step_start",
                    "before_model",
                    "before_tool",
                    "after_tool",
                    "step_end",
                ],
            ) =>
            {
                if rng.chance(50) {
                    "repeated_action".to_string()
                } else {
                    let window = rng.range(2, 50);
                    let count = rng.range(2, window);
                    format!("repeated_action(window = {window}, count = {count})")
                }
            }
            2 if legal(hook, &["after_tool", "step_end"]) => {
                rng.pick(&["tool_error", "tool_timeout"]).to_string()
            }
            3 if legal(hook, &["before_tool", "after_tool"]) => {
                format!("call({})", tools[rng.below(tools.len())])
            }
            4 => "verified".to_string(),
            5 => {
                let metric = rng.pick(&["step", "context_tokens", "tokens_used"]);
                let op = rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                let n = rng.range(0, 100_000);
                if metric != "step" && rng.chance(50) {
                    format!("{metric} {op} {n} tokens")
                } else {
                    format!("{metric} {op} {n}")
                }
            }
            6 if legal(
                hook,
                &["step_start", "before_model", "after_tool", "step_end"],
            ) =>
            {
                format!("consecutive_errors >= {}", rng.range(0, 20))
            }
            7 | 8 => {
                let mut subjects = vec!["goal"];
                if legal(
                    hook,
                    &["after_model", "before_tool", "after_tool", "step_end"],
                ) {
                    subjects.push("output");
                }
                if legal(
                    hook,
                    &["step_start", "before_model", "after_tool", "step_end"],
                ) {
                    subjects.push("observation");
                }
                let subject = rng.pick(&subjects);
                let pattern = regex_escape(&hostile_text(rng, 5));
                let lit = string(rng, &pattern, false);
                format!("{subject} matches {lit}")
            }
            _ => continue,
        };
        return s;
    }
}

/// A condition legal at `hook`, up to `depth` levels of `and`, `or`, `not` and brackets.
fn condition(rng: &mut Rng, hook: &str, tools: &[String], depth: usize) -> String {
    if depth == 0 || rng.chance(40) {
        return atom(rng, hook, tools);
    }
    match rng.below(4) {
        0 => format!("not {}", condition(rng, hook, tools, depth - 1)),
        1 => format!("({})", condition(rng, hook, tools, depth - 1)),
        2 => format!(
            "{} and {}",
            condition(rng, hook, tools, depth - 1),
            condition(rng, hook, tools, depth - 1)
        ),
        _ => format!(
            "({} or {})",
            condition(rng, hook, tools, depth - 1),
            condition(rng, hook, tools, depth - 1)
        ),
    }
}

/// One action legal at `hook` (a fallback when `fallback`: no `otherwise` of its own).
fn action(rng: &mut Rng, hook: &str, fallback: bool) -> String {
    let read_only = legal(hook, &["step_end", "task_end"]);
    loop {
        let s = match rng.below(8) {
            0 => format!("log {}", template(rng)),
            1 if !read_only => format!("inject {}", template(rng)),
            2 if legal(hook, &["step_start", "before_model"]) => {
                if rng.chance(50) {
                    "compact".to_string()
                } else {
                    let s = rng.pick(&["summarize_oldest", "truncate_oldest", "drop_observations"]);
                    format!("compact(strategy = {s})")
                }
            }
            3 if hook == "after_model" => {
                let s = rng.pick(&["extract_action", "fuzzy_match", "json_fix"]);
                let mut a = format!("repair {s}");
                if !fallback && rng.chance(60) {
                    let _ = write!(a, "\n    otherwise {}", action(rng, hook, true));
                }
                a
            }
            4 if hook == "after_model" => {
                if rng.chance(50) {
                    format!("reprompt {}", template(rng))
                } else {
                    format!("reprompt(max = {}) {}", rng.range(1, 5), template(rng))
                }
            }
            5 if hook == "after_tool" => {
                let mut a = if rng.chance(50) {
                    "retry".to_string()
                } else {
                    format!(
                        "retry(max = {}, backoff = {}ms)",
                        rng.range(1, 10),
                        rng.range(0, 60_000)
                    )
                };
                if !fallback && rng.chance(60) {
                    let _ = write!(a, "\n    otherwise {}", action(rng, hook, true));
                }
                a
            }
            6 if legal(hook, &["before_model", "before_tool"]) => {
                format!("block {}", template(rng))
            }
            7 if !read_only => format!("stop {}", template(rng)),
            _ => continue,
        };
        return s;
    }
}

/// A parameter type, nested up to `depth`: scalars, lists, optionals and `enum(..)` with
/// hostile variants.
fn param_type(rng: &mut Rng, depth: usize) -> String {
    let base = match rng.below(if depth == 0 { 7 } else { 9 }) {
        0..=5 => rng
            .pick(&["string", "int", "float", "bool", "duration", "tokens"])
            .to_string(),
        6 => {
            let mut seen = BTreeSet::new();
            let mut variants = Vec::new();
            for _ in 0..rng.range(1, 4) {
                let v = hostile_text(rng, 3);
                if !v.is_empty() && seen.insert(v.clone()) {
                    variants.push(plain(rng, &v, false));
                }
            }
            if variants.is_empty() {
                variants.push("\"\\\"#\"".to_string());
            }
            format!("enum({})", variants.join(", "))
        }
        _ => format!("[{}]", param_type(rng, depth - 1)),
    };
    if rng.chance(20) {
        format!("{base}?")
    } else {
        base
    }
}

/// A one-line comment holding hostile text (line breaks removed: they would end it).
fn comment(rng: &mut Rng) -> String {
    let text: String = hostile_text(rng, 5)
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect();
    format!("#{text}")
}

fn duration(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("{}ms", rng.range(1, 600_000)),
        1 => format!("{}s", rng.range(1, 600)),
        _ => format!("{}m", rng.range(1, 10)),
    }
}

/// A random checked harness named `name`, with hostile text in every string literal.
pub fn random_harness(seed: u64, name: &str) -> String {
    let rng = &mut Rng::new(seed);
    let mut s = String::new();
    let _ = writeln!(s, "{}", comment(rng));
    let desc = if rng.chance(80) {
        let text = hostile_text(rng, 6);
        format!(" {}", string(rng, &text, false))
    } else {
        String::new()
    };
    let _ = writeln!(s, "harness {name}{desc} {{");

    if rng.chance(70) {
        let _ = writeln!(s, "  model {{");
        let backend = hostile_text(rng, 4);
        let _ = writeln!(s, "    backend = {}", string(rng, &backend, false));
        if rng.chance(60) {
            let t = rng.range(0, 100) as f64 / 100.0;
            let _ = writeln!(s, "    temperature = {t:?} @evolve(range = 0.0..1.0)");
        }
        if rng.chance(50) {
            let _ = writeln!(s, "    max_tokens = {}", rng.range(1, 32_768));
        }
        if rng.chance(40) {
            let _ = writeln!(s, "    top_p = 0.{}", rng.range(0, 99));
        }
        if rng.chance(40) {
            let d = rng.pick(&["free", "constrained"]);
            let _ = writeln!(s, "    decoding = {d} @frozen");
        }
        if rng.chance(40) {
            let o = rng.pick(&[
                "all",
                "untried",
                "untried_since_reward",
                "untried_since_change",
            ]);
            let _ = writeln!(s, "    offer = {o}");
        }
        if rng.chance(50) {
            let key = hostile_text(rng, 3);
            let _ = writeln!(s, "    api_key_env = {}", string(rng, &key, false));
        }
        if rng.chance(30) {
            let _ = writeln!(s, "    seed = {}", rng.range(0, i64::MAX as u64));
        }
        if rng.chance(30) {
            let _ = writeln!(s, "    timeout = {}", duration(rng));
        }
        if rng.chance(20) {
            let _ = writeln!(s, "    requests_per_second = {}.5", rng.range(1, 1000));
        }
        if rng.chance(20) {
            let _ = writeln!(s, "    tokens_per_minute = {}", rng.range(1, 1_000_000));
        }
        let _ = writeln!(s, "  }}");
    }

    let mut prompt_names = BTreeSet::from(["system".to_string()]);
    let mut prompts = vec![("system".to_string(), template(rng))];
    for _ in 0..rng.below(4) {
        let name = if rng.chance(40) {
            let n = rng.pick(&["step", "plan", "reflect"]).to_string();
            if !prompt_names.insert(n.clone()) {
                continue;
            }
            n
        } else {
            fresh(rng, &mut prompt_names)
        };
        prompts.push((name, template(rng)));
    }
    for (name, text) in &prompts {
        if rng.chance(20) {
            let _ = writeln!(s, "  {}", comment(rng));
        }
        if rng.chance(15) {
            let _ = writeln!(s, "  @frozen");
        }
        let _ = writeln!(s, "  prompt {name} {text}");
    }

    let mut tool_names = BTreeSet::new();
    let mut tools = Vec::new();
    for _ in 0..rng.range(1, 4) {
        let name = fresh(rng, &mut tool_names);
        let mut params = Vec::new();
        let mut param_names = BTreeSet::new();
        for _ in 0..rng.below(4) {
            let p = fresh(rng, &mut param_names);
            params.push(format!("{p}: {}", param_type(rng, 2)));
        }
        let mut line = format!("  tool {name}({})", params.join(", "));
        if rng.chance(70) {
            let text = hostile_text(rng, 6);
            let _ = write!(line, " {}", string(rng, &text, false));
        }
        if rng.chance(40) {
            let mut opts = Vec::new();
            if rng.chance(50) {
                opts.push(format!("timeout = {}", duration(rng)));
            }
            if rng.chance(50) {
                opts.push(format!("retries = {}", rng.range(0, 10)));
            }
            if rng.chance(50) {
                opts.push(format!("verifies = {}", rng.chance(50)));
            }
            let _ = write!(line, " {{ {} }}", opts.join("  "));
        }
        let _ = writeln!(s, "{line}");
        tools.push(name);
    }

    if rng.chance(60) {
        let strategy = rng.pick(&["react", "plan_then_act", "reflect"]);
        let _ = writeln!(s, "  loop {{");
        let _ = writeln!(s, "    max_steps = {}", rng.range(1, 1000));
        let _ = writeln!(s, "    strategy = {strategy}");
        if strategy == "reflect" {
            let _ = writeln!(s, "    reflect_every = {}", rng.range(1, 100));
        }
        let _ = writeln!(s, "  }}");
    }
    if rng.chance(60) {
        let mut pins: Vec<String> = Vec::new();
        let mut candidates: Vec<String> = ["system", "task.goal", "tools", "admissible_actions"]
            .iter()
            .map(|p| p.to_string())
            .collect();
        candidates.extend(prompts.iter().map(|(n, _)| n.clone()));
        for c in candidates {
            if rng.chance(40) && !pins.contains(&c) {
                pins.push(c);
            }
        }
        let compaction = rng.pick(&[
            "none",
            "truncate_oldest",
            "summarize_oldest",
            "drop_observations",
        ]);
        let _ = writeln!(
            s,
            "  context {{ budget = {} tokens  compaction = {compaction}  pin = [{}]  keep_last = {} }}",
            rng.range(64, 1_000_000),
            pins.join(", "),
            rng.range(0, 100)
        );
    }

    let mut rule_names = BTreeSet::new();
    for _ in 0..rng.below(7) {
        let hook = rng.pick(HOOKS);
        let mut head = format!("  on {hook}");
        if rng.chance(50) {
            let _ = write!(head, " as {}", fresh(rng, &mut rule_names));
        }
        if rng.chance(80) {
            let _ = write!(head, " when {}", condition(rng, hook, &tools, 3));
        }
        if rng.chance(15) {
            let _ = writeln!(s, "  @frozen");
        }
        let _ = writeln!(s, "{head} {{");
        for _ in 0..rng.range(1, 3) {
            let _ = writeln!(s, "    {}", action(rng, hook, false));
        }
        let _ = writeln!(s, "  }}");
    }
    let _ = writeln!(s, "}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_harness() {
        assert_eq!(random_harness(7, "h"), random_harness(7, "h"));
        assert_ne!(random_harness(7, "h"), random_harness(8, "h"));
    }

    #[test]
    fn random_harnesses_check_without_errors() {
        for seed in 0..300 {
            let src = random_harness(seed, "h");
            let out = harnessx_compiler::check_source(&src);
            assert!(
                !out.has_errors(),
                "seed {seed}:\n{src}\n{:#?}",
                out.diagnostics
            );
        }
    }
}
