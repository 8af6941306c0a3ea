//! Codegen cannot be injected into, and what the checker accepts always builds: 50
//! randomly generated harnesses with hostile text in every literal, compiled by cargo as
//! one batch crate.
//!
//! Each harness is drawn from a seeded generator that reads the schema (which hooks
//! exist, which conditions and actions each allows), so it checks cleanly and still
//! covers every hook, action, detector, metric, subject, parameter type and tool option.
//! Every string literal (harness and tool descriptions, plain and triple-quoted prompts,
//! rule messages, `enum(..)` variants, model strings, `matches` patterns) holds hostile
//! text: quotes, backslashes, `"#`, `*/`, braces and `{}` format holes, newlines, NUL,
//! bidi controls, `r#"`, and Rust code meant to escape a literal. Names come from a pool
//! of Rust keywords and the generated module's own item names.
//!
//! The built binary must then give back, byte for byte, what the compiler knows: its
//! `dump` holds each harness's IR (so every string), tool schemas and rendered prompts,
//! and its `selftest` re-hashes every `ir()`. A string that escaped its literal would
//! fail the build, change the IR, or print something else.
//!
//! It runs one `cargo build` of a crate of 50 modules in the build driver's cache
//! (target/harnessx-cache, dependencies shared with `codegen_build.rs`): about a minute
//! warm on two cores, so it is `#[ignore]`d and `.ci/run` runs it:
//!
//! ```text
//! cargo test -p harnessx-compiler --test codegen_random_build -- --ignored
//! ```
//!
//! `HARNESSX_RANDOM_BUILD_SEED` draws a different batch (the seed is printed).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use harnessx_compiler::build::{build, BuildOptions};
use harnessx_compiler::check_source;
use harnessx_compiler::codegen::tool_schemas;
use harnessx_compiler::lower::{lower, Ir};
use harnessx_compiler::schema::{
    ActionSpec, DetectorArgs, FieldType, MessageSpec, ACTIONS, COMPACTIONS, DECODINGS, DETECTORS,
    METRICS, OFFERS, PARAM_TYPES, STRATEGIES, SUBJECTS,
};
use harnessx_compiler::Severity;
use harnessx_runtime::ir::Hook;
use harnessx_runtime::rng::SplitMix;
use harnessx_runtime::template::render;
use serde_json::Value;

const HARNESSES: usize = 50;
const DEFAULT_SEED: u64 = 0x5eed_c0de;

/// Pieces of hostile text; a literal's text is a few of them, glued.
const PIECES: &[&str] = &[
    "\"",
    "\\",
    "\\\\",
    "\"#",
    "\"##",
    "#\"",
    "r#\"",
    "r##\"raw\"##",
    "br\"",
    "'",
    "'\\u{0}'",
    "*/",
    "/*",
    "//",
    "///",
    "}",
    "{",
    "{}",
    "{0}",
    "{:?}",
    "{name}",
    "}}{{",
    "\n",
    "\r\n",
    "\t",
    "\u{0}",
    "\u{7f}",
    "\u{202e}",
    "\u{2066}",
    "\u{feff}",
    "\u{2028}",
    "é",
    "日本",
    "🦀",
    "\\u{7b}",
    "\\n",
    "\"); std::process::exit(1); (\"",
    "\"; } fn injected() { let _ = \"",
    "*/ fn injected() {} /*",
    "\"#); panic!(\"injected\"); (r#\"",
    "include_str!(\"/etc/passwd\")",
    "$crate",
    "#![no_std]",
    " ",
    "x",
    "text",
    "None",
    "Some",
    "Self",
    "self",
    "Option",
];

/// Names the generator gives to tools, parameters, prompts and rules: Rust keywords,
/// the generated module's own item names, and names that clash after sanitizing.
const NAMES: &[&str] = &[
    "fn",
    "type",
    "match",
    "mod",
    "impl",
    "self",
    "Self",
    "crate",
    "super",
    "struct",
    "enum_",
    "r#",
    "async",
    "await",
    "dyn",
    "try",
    "union",
    "yield",
    "macro_rules",
    "_",
    "__",
    "_1",
    "a",
    "A",
    "ir",
    "tools",
    "rules",
    "Rules",
    "Call",
    "HARNESS_HASH",
    "HARNESS_NAME",
    "render_prompt",
    "tool_schemas",
    "Args",
    "main",
    "std",
    "core",
    "serde",
    "serde_json",
    "harnessx_runtime",
    "Option",
    "String",
    "Vec",
    "Ok",
    "Err",
    "None",
    "Some",
    "a_b",
    "aB",
    "a__b",
    "x1",
    "fn_",
    "loop_",
    "string",
    "int",
    "system",
    "goal",
];

struct Gen {
    rng: SplitMix,
}

impl Gen {
    fn chance(&mut self, percent: usize) -> bool {
        self.rng.below(100) < percent
    }

    /// Hostile text: one to six pieces.
    fn text(&mut self) -> String {
        let n = self.rng.range(1, 6);
        (0..n).map(|_| *self.rng.pick(PIECES)).collect()
    }

    /// A plain `.harness` string literal whose value is `text`. Only `"`, `\` and
    /// newlines must be escaped, and a `{` next to another `{` (written `\u{7b}`, so it
    /// never opens a template hole); of the rest, a random third is written as a `\u{..}`
    /// escape, the others raw (NUL, bidi controls and all).
    fn plain_literal(&mut self, text: &str) -> String {
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::from("\"");
        for (i, &c) in chars.iter().enumerate() {
            let brace_pair =
                c == '{' && (chars.get(i + 1) == Some(&'{') || i > 0 && chars[i - 1] == '{');
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                _ if brace_pair || self.chance(33) => {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A template string: hostile text with, sometimes, a real `{{var}}` hole.
    fn template(&mut self, allow_triple: bool) -> String {
        let text = self.text();
        let hole = if self.chance(40) {
            *self
                .rng
                .pick(&["{{task.goal}}", "{{step}}", "{{max_steps}}", "{{task.id}}"])
        } else {
            ""
        };
        if allow_triple && self.chance(40) {
            // Triple-quoted strings are raw: no escapes, so leave out what would end the
            // string (`"""`) or open a hole (`{{`); everything else goes in as it is.
            let mut raw = text;
            while raw.contains("\"\"\"") || raw.contains("{{") {
                raw = raw.replace("\"\"\"", "\"\"").replace("{{", "{");
            }
            format!("\"\"\"\n    {raw} {hole}\n  \"\"\"")
        } else {
            let mut lit = self.plain_literal(&text);
            if !hole.is_empty() {
                lit.insert_str(lit.len() - 1, &format!(" {hole}"));
            }
            lit
        }
    }

    fn plain(&mut self) -> String {
        let text = self.text();
        self.plain_literal(&text)
    }

    /// `count` distinct names from [`NAMES`], each also distinct from `taken`.
    fn names(&mut self, count: usize, taken: &mut BTreeSet<String>) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < count {
            let name = self.rng.pick(NAMES).to_string();
            // `r#` is not an identifier of the language; it stands for "a raw-identifier
            // lookalike" and becomes `r`.
            let name = name.replace("r#", "r");
            if taken.insert(name.clone()) {
                out.push(name);
            }
        }
        out
    }

    fn harness(&mut self, index: usize) -> String {
        let mut s = String::new();
        let desc = if self.chance(80) {
            format!(" {}", self.plain())
        } else {
            String::new()
        };
        let _ = writeln!(s, "harness random_{index}{desc} {{");
        if self.chance(70) {
            self.model_section(&mut s);
        }
        let mut prompt_names = BTreeSet::from(["system".to_string()]);
        let _ = writeln!(s, "  prompt system {}", self.template(true));
        let extra = self.rng.below(3);
        let extra_prompts = self.names(extra, &mut prompt_names);
        for name in &extra_prompts {
            let _ = writeln!(s, "  prompt {name} {}", self.template(true));
        }
        let mut tool_names = BTreeSet::new();
        let n_tools = self.rng.range(1, 3);
        let tools = self.names(n_tools, &mut tool_names);
        for name in &tools {
            self.tool(&mut s, name);
        }
        if self.chance(60) {
            let strategy = self.rng.pick(STRATEGIES);
            let _ = writeln!(
                s,
                "  loop {{\n    max_steps = {}\n    strategy = {strategy}\n  }}",
                self.rng.range(1, 100)
            );
        }
        if self.chance(60) {
            let mut pins = vec!["system".to_string(), "task.goal".to_string()];
            pins.extend(extra_prompts.iter().cloned());
            let compaction = self.rng.pick(COMPACTIONS);
            let _ = writeln!(
                s,
                "  context {{\n    budget = {} tokens\n    compaction = {compaction}\n    pin = [{}]\n  }}",
                self.rng.range(64, 10_000),
                pins.join(", ")
            );
        }
        let mut rule_names = BTreeSet::new();
        for _ in 0..self.rng.range(1, 8) {
            self.rule(&mut s, &tools, &mut rule_names);
        }
        s.push_str("}\n");
        s
    }

    fn model_section(&mut self, s: &mut String) {
        s.push_str("  model {\n");
        if self.chance(50) {
            let _ = writeln!(s, "    backend = {}", self.plain());
        }
        if self.chance(50) {
            let _ = writeln!(s, "    api_key_env = {}", self.plain());
        }
        let _ = writeln!(s, "    decoding = {}", self.rng.pick(DECODINGS));
        let _ = writeln!(s, "    offer = {}", self.rng.pick(OFFERS));
        let _ = writeln!(s, "    temperature = {}", self.rng.below(3));
        s.push_str("  }\n");
    }

    fn param_type(&mut self, depth: usize) -> String {
        let base = match self.rng.below(if depth > 2 { 2 } else { 4 }) {
            0 => self.rng.pick(PARAM_TYPES).to_string(),
            1 => {
                // Distinct variant values: the checker refuses duplicates.
                let mut variants = BTreeSet::new();
                for _ in 0..self.rng.range(1, 4) {
                    variants.insert(self.text());
                }
                let lits: Vec<String> = variants.iter().map(|v| self.plain_literal(v)).collect();
                format!("enum({})", lits.join(", "))
            }
            _ => format!("[{}]", self.param_type(depth + 1)),
        };
        if self.chance(25) {
            format!("{base}?")
        } else {
            base
        }
    }

    fn tool(&mut self, s: &mut String, name: &str) {
        let mut taken = BTreeSet::new();
        let n = self.rng.below(4);
        let params: Vec<String> = self
            .names(n, &mut taken)
            .into_iter()
            .map(|p| format!("{p}: {}", self.param_type(0)))
            .collect();
        let desc = if self.chance(80) {
            format!(" {}", self.plain())
        } else {
            String::new()
        };
        let mut options = Vec::new();
        if self.chance(30) {
            options.push(format!("timeout = {}ms", self.rng.range(1, 5000)));
        }
        if self.chance(30) {
            options.push(format!("retries = {}", self.rng.below(4)));
        }
        if self.chance(20) {
            options.push("verifies = true".to_string());
        }
        let block = if options.is_empty() {
            String::new()
        } else {
            format!(" {{ {} }}", options.join("  "))
        };
        let _ = writeln!(s, "  tool {name}({}){desc}{block}", params.join(", "));
    }

    /// A condition legal at `hook`, `depth` levels of `and`/`or`/`not` at most.
    fn cond(&mut self, hook: Hook, tools: &[String], depth: usize) -> String {
        if depth < 2 && self.chance(35) {
            let a = self.cond(hook, tools, depth + 1);
            let b = self.cond(hook, tools, depth + 1);
            return match self.rng.below(3) {
                0 => format!("({a} and {b})"),
                1 => format!("({a} or {b})"),
                _ => format!("not ({a})"),
            };
        }
        loop {
            match self.rng.below(3) {
                0 => {
                    let d = self.rng.pick(DETECTORS);
                    if !d.hooks.contains(hook) {
                        continue;
                    }
                    return match d.args {
                        DetectorArgs::None => d.name.to_string(),
                        DetectorArgs::Tool => format!("call({})", self.rng.pick(tools)),
                        DetectorArgs::Named(_) => {
                            let window = self.rng.range(2, 20);
                            let count = self.rng.range(2, window);
                            format!("{}(window = {window}, count = {count})", d.name)
                        }
                    };
                }
                1 => {
                    let m = self.rng.pick(METRICS);
                    if !m.hooks.contains(hook) {
                        continue;
                    }
                    let op = self.rng.pick(&["<", "<=", ">", ">=", "==", "!="]);
                    let n = self.rng.range(1, 500);
                    let unit = if m.tokens && self.chance(50) {
                        " tokens"
                    } else {
                        ""
                    };
                    return format!("{} {op} {n}{unit}", m.name);
                }
                _ => {
                    let subject = self.rng.pick(SUBJECTS);
                    if !subject.hooks.contains(hook) {
                        continue;
                    }
                    let text = self.text();
                    let pattern = self.plain_literal(&regex::escape(&text));
                    return format!("{} matches {pattern}", subject.name);
                }
            }
        }
    }

    fn action(&mut self, spec: &ActionSpec) -> String {
        let mut out = spec.name.to_string();
        let chosen: Vec<_> = spec.args.iter().filter(|_| self.chance(50)).collect();
        let args: Vec<String> = chosen
            .into_iter()
            .map(|a| match a.ty {
                FieldType::Int { min, max } => {
                    let (lo, hi) = (min as usize, max as usize);
                    format!("{} = {}", a.name, self.rng.range(lo, hi))
                }
                FieldType::Duration { .. } => {
                    format!("{} = {}ms", a.name, self.rng.range(0, 60_000))
                }
                FieldType::Enum(variants) => format!("{} = {}", a.name, self.rng.pick(variants)),
                other => panic!("no generator for argument type {other:?}"),
            })
            .collect();
        if !args.is_empty() {
            let _ = write!(out, "({})", args.join(", "));
        }
        match spec.message {
            MessageSpec::None => {}
            MessageSpec::Text => {
                let _ = write!(out, " {}", self.template(false));
            }
            MessageSpec::Variant(variants) => {
                let _ = write!(out, " {}", self.rng.pick(variants));
            }
        }
        out
    }

    fn rule(&mut self, s: &mut String, tools: &[String], rule_names: &mut BTreeSet<String>) {
        let hook = *self.rng.pick(&Hook::ALL);
        let name = if self.chance(40) {
            format!(" as {}", self.names(1, rule_names)[0])
        } else {
            String::new()
        };
        let when = if self.chance(80) {
            format!(" when {}", self.cond(hook, tools, 0))
        } else {
            String::new()
        };
        let legal: Vec<&ActionSpec> = ACTIONS.iter().filter(|a| a.hooks.contains(hook)).collect();
        let _ = writeln!(s, "  on {}{name}{when} {{", hook.as_str());
        for _ in 0..self.rng.range(1, 3) {
            let spec = *self.rng.pick(&legal);
            let _ = writeln!(s, "    {}", self.action(spec));
            if spec.can_fail && self.chance(50) {
                let fallback: Vec<&ActionSpec> = legal
                    .iter()
                    .copied()
                    .filter(|a| a.name != spec.name)
                    .collect();
                if !fallback.is_empty() {
                    let other = *self.rng.pick(&fallback);
                    let _ = writeln!(s, "    otherwise {}", self.action(other));
                }
            }
        }
        s.push_str("  }\n");
    }
}

fn seed() -> u64 {
    std::env::var("HARNESSX_RANDOM_BUILD_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

/// Generates, checks and lowers the batch: `(source, IR)` per harness.
fn batch(seed: u64) -> Vec<(String, Ir)> {
    let mut g = Gen {
        rng: SplitMix::new(seed),
    };
    (0..HARNESSES)
        .map(|i| {
            let src = g.harness(i);
            let out = check_source(&src);
            let errors: Vec<_> = out
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert!(
                errors.is_empty(),
                "generated harness {i} (seed {seed}) does not check:\n{src}\n{errors:#?}"
            );
            let ir = lower(&out.file)
                .unwrap_or_else(|d| panic!("harness {i} does not lower:\n{src}\n{d:#?}"));
            (src, ir)
        })
        .collect()
}

fn run(binary: &Path, args: &[&str]) -> String {
    let out = Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}",
        binary.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn placeholder(v: harnessx_runtime::ir::Var) -> String {
    format!("<{}>", v.path())
}

/// The generator itself, without cargo: every harness checks, and the batch covers every
/// hook and action (so the build below proves something about each of them).
#[test]
fn random_harnesses_check_and_cover_the_language() {
    let batch = batch(seed());
    let all = batch
        .iter()
        .map(|(src, _)| src.as_str())
        .collect::<String>();
    for hook in Hook::ALL {
        assert!(all.contains(&format!("on {}", hook.as_str())), "{hook:?}");
    }
    for action in ACTIONS {
        assert!(
            all.contains(&format!("    {}", action.name)),
            "{}",
            action.name
        );
    }
    assert!(all.contains("\"\"\""), "a triple-quoted prompt");
    assert!(all.contains("enum("), "an enum parameter");
    let hashes: BTreeSet<String> = batch.iter().map(|(_, ir)| ir.hash()).collect();
    assert_eq!(hashes.len(), HARNESSES, "50 different harnesses");
}

#[test]
#[ignore = "one cargo build of 50 generated modules (about a minute warm); .ci/run runs it"]
fn fifty_random_hostile_harnesses_build_and_keep_every_string() {
    let seed = seed();
    eprintln!("seed {seed} (HARNESSX_RANDOM_BUILD_SEED)");
    let batch = batch(seed);
    let irs: Vec<Ir> = batch.iter().map(|(_, ir)| ir.clone()).collect();
    let built = build(&irs, &BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "built {} harnesses in {:.1}s at {}",
        built.krate.modules.len(),
        built.cargo_time.as_secs_f64(),
        built.krate.dir.display()
    );
    assert_eq!(built.krate.modules.len(), HARNESSES);
    assert!(
        !built.cargo_stderr.contains("warning"),
        "the generated crate compiles with warnings:\n{}",
        built.cargo_stderr
    );

    let selftest = run(&built.binary, &["selftest"]);
    assert_eq!(selftest, format!("ok: {HARNESSES} harnesses\n"));

    let dump: Value = serde_json::from_str(&run(&built.binary, &["dump"])).expect("dump is JSON");
    let entries = dump.as_array().expect("an array");
    assert_eq!(entries.len(), HARNESSES);
    for ((src, ir), e) in batch.iter().zip(entries) {
        assert_eq!(e["hash"], ir.hash().as_str(), "order of the batch");
        let compiled: Ir = serde_json::from_value(e["ir"].clone()).expect("IR from dump");
        assert_eq!(
            &compiled, ir,
            "compiled ir() differs from the source's:\n{src}"
        );
        assert_eq!(
            e["tool_schemas"],
            tool_schemas(ir),
            "tool schemas of:\n{src}"
        );
        let prompts = e["prompts"].as_array().expect("prompts");
        assert_eq!(prompts.len(), ir.prompts.len());
        for (p, got) in ir.prompts.iter().zip(prompts) {
            let expected = render(&p.template, placeholder);
            assert_eq!(
                got["text"],
                expected.as_str(),
                "prompt {} of:\n{src}",
                p.name
            );
        }
        // Through the binary's own argument handling and standard output too.
        let system = run(&built.binary, &["render", &ir.hash(), "system"]);
        assert_eq!(system, render(&ir.prompts[0].template, placeholder));
    }
}
