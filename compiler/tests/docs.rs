//! docs/LANGUAGE.md's reference tables are generated from `schema.rs` and the fixtures,
//! and this test keeps them in step: it fails when a table in the doc differs from what
//! the schema says. Regenerate with `UPDATE_DOCS=1 cargo test -p harnessx-compiler --test docs`.
//!
//! A generated block sits between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
//! everything outside the markers is hand-written.

use std::path::PathBuf;

use harnessx_compiler::check::codes;
use harnessx_compiler::check_source;
use harnessx_compiler::schema::{
    self, DetectorArgs, FieldSpec, Hook, HookExt, HookSet, MessageSpec, ProcessorKind,
    ProcessorKindExt,
};

mod common;
use common::workspace;

/// Makes text safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// Inline code that may itself contain backticks.
fn code(s: &str) -> String {
    let s = cell(s);
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn hook_header(first: &str) -> String {
    let mut h = format!("| {first} |");
    let mut rule = String::from("|---|");
    for hook in Hook::ALL {
        let ro = if hook.is_read_only() { " (ro)" } else { "" };
        h.push_str(&format!(" `{}`{ro} |", hook.as_str()));
        rule.push_str(":-:|");
    }
    format!("{h}\n{rule}\n")
}

fn hook_row(first: &str, hooks: HookSet) -> String {
    let mut row = format!("| {first} |");
    for hook in Hook::ALL {
        row.push_str(if hooks.contains(hook) {
            " ✓ |"
        } else {
            " · |"
        });
    }
    row.push('\n');
    row
}

fn hooks() -> String {
    let mut s = String::from("| Hook | Read-only | Fires |\n|---|:-:|---|\n");
    for h in Hook::ALL {
        let ro = if h.is_read_only() { "yes" } else { "" };
        s.push_str(&format!(
            "| `{}` | {ro} | {} |\n",
            h.as_str(),
            cell(h.doc())
        ));
    }
    s
}

fn field_table(fields: &[FieldSpec]) -> String {
    let mut s = String::from(
        "| Field | Type and legal range | Default | `@evolve` default bounds | Meaning |\n\
         |---|---|---|---|---|\n",
    );
    for f in fields {
        let default = f
            .default
            .map_or("unset".to_string(), |d| code(&d.to_string()));
        let evolve = match f.evolve {
            schema::EvolveDefault::Never => "not evolvable".to_string(),
            e @ schema::EvolveDefault::Range(..) => code(&e.doc(f.ty)),
            e => cell(&e.doc(f.ty)),
        };
        s.push_str(&format!(
            "| `{}` | {} | {default} | {evolve} | {} |\n",
            f.name,
            cell(&f.ty.doc()),
            cell(f.doc)
        ));
    }
    s
}

fn sections() -> String {
    let mut s = String::new();
    for sec in schema::SECTIONS {
        s.push_str(&format!("#### `{}` — {}\n\n", sec.name, sec.doc));
        s.push_str(&field_table(sec.fields));
        s.push('\n');
    }
    s.trim_end().to_string() + "\n"
}

fn tool_options() -> String {
    field_table(schema::TOOL_OPTIONS)
}

fn param_types() -> String {
    let mut s = String::from("| Type | Values |\n|---|---|\n");
    for (t, doc) in [
        ("string", "text"),
        ("int", "a 64-bit integer"),
        ("float", "a number"),
        ("bool", "`true` or `false`"),
        ("duration", "a duration"),
        ("tokens", "a token count"),
    ] {
        assert!(schema::PARAM_TYPES.contains(&t), "{t}");
        s.push_str(&format!("| `{t}` | {doc} |\n"));
    }
    assert_eq!(
        schema::PARAM_TYPES.len(),
        6,
        "document the new parameter type"
    );
    s.push_str("| `[T]` | a list of `T` |\n");
    s.push_str("| `T?` | a `T` or nothing: the argument may be left out |\n");
    s.push_str("| `enum(\"a\", \"b\")` | one of the listed strings (at least one, each once) |\n");
    s
}

fn detector_form(d: &schema::DetectorSpec) -> String {
    match d.args {
        DetectorArgs::None => format!("`{}`", d.name),
        DetectorArgs::Tool => format!("`{}(TOOL)`", d.name),
        DetectorArgs::Named(args) => {
            let list: Vec<String> = args.iter().map(|a| format!("{} = N", a.name)).collect();
            format!("`{}` or `{}({})`", d.name, d.name, list.join(", "))
        }
    }
}

fn detector_args(d: &schema::DetectorSpec) -> String {
    match d.args {
        DetectorArgs::None => "—".into(),
        DetectorArgs::Tool => "a declared tool's name".into(),
        DetectorArgs::Named(args) => args
            .iter()
            .map(|a| {
                let def = a.default.map_or("unset".into(), |d| d.to_string());
                format!("`{}`: {}, default `{def}`", a.name, cell(&a.ty.doc()))
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn conditions() -> String {
    let mut s = String::from("| Condition | Arguments | Meaning |\n|---|---|---|\n");
    for d in schema::DETECTORS {
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            detector_form(d),
            detector_args(d),
            cell(d.doc)
        ));
    }
    for m in schema::METRICS {
        let value = if m.tokens {
            "an int or `N tokens`"
        } else {
            "an int ≥ 0"
        };
        s.push_str(&format!(
            "| `{} OP N` | {value} | compares {} |\n",
            m.name,
            cell(m.doc)
        ));
    }
    for sub in schema::SUBJECTS {
        s.push_str(&format!(
            "| `{} matches \"RE\"` | a regular expression | {} matches the pattern |\n",
            sub.name,
            cell(sub.doc)
        ));
    }
    s
}

fn condition_hooks() -> String {
    let mut s = hook_header("Condition");
    for d in schema::DETECTORS {
        s.push_str(&hook_row(&format!("`{}`", d.name), d.hooks));
    }
    for m in schema::METRICS {
        s.push_str(&hook_row(&format!("`{}`", m.name), m.hooks));
    }
    for sub in schema::SUBJECTS {
        s.push_str(&hook_row(&format!("`{} matches`", sub.name), sub.hooks));
    }
    s
}

fn actions() -> String {
    let mut s = String::from(
        "| Action | Form | Kind | Can fail (`otherwise`) | Arguments | Effect |\n\
         |---|---|---|:-:|---|---|\n",
    );
    for a in schema::ACTIONS {
        let form: Vec<String> = a.usage.split("  |  ").map(code).collect();
        let mut args: Vec<String> = Vec::new();
        match a.message {
            MessageSpec::None => {}
            MessageSpec::Text => args.push("message: a string (a template)".into()),
            MessageSpec::Variant(vs) => args.push(format!(
                "strategy: {}",
                vs.iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
        for arg in a.args {
            let def = match arg.default {
                Some(d) => format!("default `{d}`"),
                None => "optional".into(),
            };
            args.push(format!("`{}`: {}, {def}", arg.name, cell(&arg.ty.doc())));
        }
        let args = if args.is_empty() {
            "—".into()
        } else {
            args.join("; ")
        };
        let fails = if a.can_fail { "yes" } else { "" };
        s.push_str(&format!(
            "| `{}` | {} | {} | {fails} | {args} | {} |\n",
            a.name,
            form.join(" or "),
            a.kind.name(),
            cell(a.doc)
        ));
    }
    s
}

fn legality() -> String {
    let mut s = hook_header("Action");
    for a in schema::ACTIONS {
        s.push_str(&hook_row(&format!("`{}`", a.name), a.hooks));
    }
    s
}

fn processor_kinds() -> String {
    let mut s = String::from("| Kind | What it does to the event | Actions |\n|---|---|---|\n");
    for k in ProcessorKind::ALL {
        let actions: Vec<String> = schema::ACTIONS
            .iter()
            .filter(|a| a.kind == k)
            .map(|a| format!("`{}`", a.name))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            k.name(),
            k.doc(),
            actions.join(", ")
        ));
    }
    s
}

fn template_vars() -> String {
    let mut s = String::from("| Variable | Type | Value |\n|---|---|---|\n");
    for v in schema::TEMPLATE_VARS {
        s.push_str(&format!(
            "| `{{{{{}}}}}` | {} | {} |\n",
            v.name,
            v.ty.name(),
            cell(v.doc)
        ));
    }
    s
}

fn annotations() -> String {
    let mut s = String::from(
        "| Annotation | On fields | On items | Arguments | Meaning |\n|---|:-:|:-:|---|---|\n",
    );
    for a in schema::ANNOTATIONS {
        let yes = |b: bool| if b { "✓" } else { "·" };
        let args = if a.args.is_empty() {
            "none".to_string()
        } else {
            a.args
                .iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        s.push_str(&format!(
            "| `@{}` | {} | {} | {args} | {} |\n",
            a.name,
            yes(a.on_fields),
            yes(a.on_items),
            a.doc
        ));
    }
    s
}

/// The first fixture named after `code`, among the check and parse fixtures.
fn fixture_for(code: &str) -> Option<PathBuf> {
    let root = workspace().join("tests/fixtures");
    for dir in ["check/err", "check/ok", "parse/err"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        if let Some(f) = files.into_iter().find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(code) && n.ends_with(".harness"))
        }) {
            return Some(f);
        }
    }
    None
}

fn diagnostic_codes() -> String {
    let mut s =
        String::from("| Code | Meaning | Example (fixture line) | Message |\n|---|---|---|---|\n");
    for info in codes::ALL {
        let (example, message) = match fixture_for(info.code) {
            Some(path) => {
                let src = std::fs::read_to_string(&path).unwrap_or_default();
                let out = check_source(&src);
                match out.diagnostics.iter().find(|d| d.code == info.code) {
                    Some(d) => {
                        let start = d.primary.span.start.min(src.len());
                        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
                        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
                        let line = src[line_start..line_end].trim();
                        let example = if line.is_empty() {
                            "*(an empty file)*".to_string()
                        } else {
                            code(line)
                        };
                        (example, cell(&d.message))
                    }
                    None => ("—".into(), "—".into()),
                }
            }
            None => ("—".into(), "—".into()),
        };
        s.push_str(&format!(
            "| `{}` | {} | {example} | {message} |\n",
            info.code,
            cell(info.title)
        ));
    }
    s
}

fn blocks() -> Vec<(&'static str, String)> {
    vec![
        ("hooks", hooks()),
        ("sections", sections()),
        ("param-types", param_types()),
        ("tool-options", tool_options()),
        ("conditions", conditions()),
        ("condition-hooks", condition_hooks()),
        ("actions", actions()),
        ("legality", legality()),
        ("processor-kinds", processor_kinds()),
        ("template-vars", template_vars()),
        ("annotations", annotations()),
        ("codes", diagnostic_codes()),
    ]
}

/// Replaces the body of each generated block; reports blocks that are missing.
fn regenerate(doc: &str) -> Result<String, String> {
    let mut out = doc.to_string();
    for (name, body) in blocks() {
        let open = format!("<!-- generated:{name} -->\n");
        let close = format!("<!-- /generated:{name} -->");
        let Some(a) = out.find(&open) else {
            return Err(format!("docs/LANGUAGE.md lacks `{}`", open.trim()));
        };
        let from = a + open.len();
        let Some(b) = out[from..].find(&close) else {
            return Err(format!("docs/LANGUAGE.md lacks `{close}`"));
        };
        out.replace_range(from..from + b, &body);
    }
    Ok(out)
}

#[test]
fn language_reference_tables_match_the_schema() {
    let path = workspace().join("docs/LANGUAGE.md");
    let doc = std::fs::read_to_string(&path).expect("docs/LANGUAGE.md exists");
    let fresh = regenerate(&doc).unwrap_or_else(|e| panic!("{e}"));
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &fresh).expect("write docs/LANGUAGE.md");
        return;
    }
    assert!(
        fresh == doc,
        "docs/LANGUAGE.md is out of date with schema.rs or the fixtures; \
         run `UPDATE_DOCS=1 cargo test -p harnessx-compiler --test docs` and review the diff"
    );
}

#[test]
fn every_code_appears_in_the_language_reference() {
    let doc = std::fs::read_to_string(workspace().join("docs/LANGUAGE.md"))
        .expect("docs/LANGUAGE.md exists");
    for info in codes::ALL.iter().chain(codes::INTERNAL) {
        assert!(
            doc.contains(&format!("`{}`", info.code)),
            "{} is not documented",
            info.code
        );
    }
}

#[test]
fn harness_examples_in_the_language_reference_check_clean() {
    let doc = std::fs::read_to_string(workspace().join("docs/LANGUAGE.md"))
        .expect("docs/LANGUAGE.md exists");
    let mut found = 0;
    let mut rest = doc.as_str();
    while let Some(open) = rest.find("```harness\n") {
        let body = &rest[open + "```harness\n".len()..];
        let Some(close) = body.find("\n```") else {
            panic!("unclosed ```harness block");
        };
        let src = &body[..close];
        let out = check_source(src);
        assert!(
            out.diagnostics.is_empty(),
            "an example in docs/LANGUAGE.md does not check clean:\n{}",
            harnessx_compiler::render::render_text("LANGUAGE.md", src, &out.diagnostics, false)
        );
        found += 1;
        rest = &body[close..];
    }
    assert!(found > 0, "no ```harness example in docs/LANGUAGE.md");
}
