//! Edge cases of the checker and the renderers.

use harnessx_compiler::render::{render_json, render_text};
use harnessx_compiler::{check_file, check_source, Diagnostic, Label, Severity};
use harnessx_syntax::{
    Action, Comments, CondKind, Ident, Item, Span, StrLit, StrStyle, TypeExpr, TypeKind, Value,
    ValueKind,
};

const BASE: &str =
    "harness t {\n  prompt system \"Goal: {{task.goal}}\"\n  tool finish(answer: string?)\n";

/// A harness with `body` added after the system prompt and one tool.
fn with(body: &str) -> String {
    format!("{BASE}{body}\n}}\n")
}

fn codes(src: &str) -> Vec<String> {
    check_source(src)
        .diagnostics
        .into_iter()
        .map(|d| d.code)
        .collect()
}

fn only(src: &str) -> Diagnostic {
    let out = check_source(src);
    assert_eq!(out.diagnostics.len(), 1, "{:#?}", out.diagnostics);
    out.diagnostics
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!())
}

#[test]
fn json_columns_count_chars_not_bytes() {
    let src =
        "harness t {\n  prompt system \"café {{tsk.goal}}\"\n  tool finish(answer: string?)\n}\n";
    let out = check_source(src);
    let json = render_json("t.harness", src, &out.diagnostics);
    let d = &json[0];
    assert_eq!(d["code"], "E0112");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["file"], "t.harness");
    assert_eq!(d["help"], "did you mean `task.goal`?");
    let p = &d["primary"];
    let start = p["start"].as_u64().unwrap_or_default() as usize;
    let end = p["end"].as_u64().unwrap_or_default() as usize;
    assert_eq!(&src[start..end], "{{tsk.goal}}");
    assert_eq!(p["line"], 2);
    // `  prompt system "café ` is 22 chars (23 bytes): the variable starts at column 23.
    assert_eq!(p["column"], 23);
    assert_eq!(p["end_line"], 2);
    assert_eq!(p["end_column"], 35);
    assert_eq!(p["message"], "not a template variable");
}

#[test]
fn text_rendering_mentions_code_help_and_location() {
    let src = with("  on after_modle { log \"x\" }");
    let out = check_source(&src);
    let text = render_text("t.harness", &src, &out.diagnostics, false);
    assert!(
        text.contains("error[E0109]: unknown hook `after_modle`"),
        "{text}"
    );
    assert!(text.contains("t.harness:4:6"), "{text}");
    assert!(text.contains("help: did you mean `after_model`?"), "{text}");
    let colored = render_text("t.harness", &src, &out.diagnostics, true);
    assert!(colored.contains('\u{1b}'));
}

#[test]
fn rendering_survives_spans_outside_the_source() {
    let src = "harness é {}";
    let d = Diagnostic {
        code: "E0101".into(),
        severity: Severity::Warning,
        message: "odd".into(),
        primary: Label::new(Span::new(9, 500), "inside a char, then past the end"),
        secondary: vec![Label::new(Span::new(400, 300), "reversed")],
        help: None,
        notes: vec!["a note".into()],
    };
    let text = render_text("x", src, std::slice::from_ref(&d), false);
    assert!(text.contains("odd"));
    let json = render_json("x", src, &[d]);
    assert_eq!(json[0]["primary"]["end"], src.len());
}

#[test]
fn diagnostics_are_sorted_by_position() {
    let src = with("  on bad_hook { log \"x\" }\n  loop { max_steps = 0 }\n  modle { }");
    let out = check_source(&src);
    let starts: Vec<usize> = out
        .diagnostics
        .iter()
        .map(|d| d.primary.span.start)
        .collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    assert_eq!(codes(&src), ["E0109", "E0202", "E0101"]);
}

#[test]
fn syntax_errors_are_diagnostics_and_do_not_hide_other_items() {
    let src = with("  loop { max_steps = }\n  on befor_tool { log \"x\" }");
    assert_eq!(codes(&src), ["E0001", "E0109"]);
}

#[test]
fn required_items_are_not_demanded_when_the_file_has_syntax_errors() {
    // The system prompt fails to parse; reporting it as missing would be noise.
    let src = "harness t {\n  prompt system \"unterminated\n  tool finish(answer: string?)\n}\n";
    assert!(!codes(src).iter().any(|c| c == "E0305"));
    assert!(check_source(src).has_errors());
}

#[test]
fn later_stages_skip_nodes_with_name_errors() {
    // Unknown section: its fields are not looked at.
    assert_eq!(codes(&with("  modle { temperature = \"hot\" }")), ["E0101"]);
    // Unknown field: its value is not typed, its annotations not checked.
    assert_eq!(
        codes(&with("  loop { max_stepz = \"x\" @evolve(range = 9..1) }")),
        ["E0102"]
    );
    // Unknown detector: neither its arguments nor its hook are checked.
    assert_eq!(
        codes(&with(
            "  on task_start when repeat_action(window = 1, count = 99) { log \"x\" }"
        )),
        ["E0106"]
    );
    // Unknown hook: the legality of its actions is not checked.
    assert_eq!(
        codes(&with("  on after_tol { repair extract_action }")),
        ["E0109"]
    );
    // Unknown action: its message's template variables are not checked.
    assert_eq!(
        codes(&with("  on task_start { shout \"{{nope}}\" }")),
        ["E0110"]
    );
    // A value with a type error is not compared against its evolve bounds.
    assert_eq!(
        codes(&with("  loop { max_steps = 5000 @evolve(range = 10..60) }")),
        ["E0202"]
    );
}

#[test]
fn a_regex_is_not_a_template() {
    // `{{..}}` in a pattern is regex text, not a variable.
    let src = with("  on after_model when output matches \"\\\\{{2}x\\\\}}\" { log \"x\" }");
    assert_eq!(codes(&src), Vec::<String>::new());
}

#[test]
fn accepted_forms() {
    for body in [
        "  model { temperature = 1 }",
        "  model { timeout = 1ms }",
        "  model { timeout = 10m }",
        "  context { budget = 64 tokens }",
        "  on step_start when context_tokens > 1200 tokens { compact }",
        "  on step_start when tokens_used > 1200 { compact }",
        "  on before_model when not (step < 3 or verified) and goal matches \"x\" { block \"x\" }",
        "  prompt other \"x\"\n  context { pin = [other, tools] }",
        "  prompt other \"{{ task.goal }} {{step}}\"",
        "  on after_tool when consecutive_errors >= 2 { retry otherwise stop \"x\" }",
        "  tool pick(xs: [enum(\"a\", \"b\")]?, n: int?, d: duration)",
    ] {
        let src = with(body);
        assert_eq!(codes(&src), Vec::<String>::new(), "{body}");
    }
}

#[test]
fn tokens_are_not_a_step_count() {
    let d = only(&with("  on step_start when step > 3 tokens { compact }"));
    assert_eq!(d.code, "E0201");
    assert_eq!(d.help.as_deref(), Some("`step` is a count: write `3`"));
}

#[test]
fn plain_int_budget_gets_the_tokens_hint() {
    let d = only(&with("  context { budget = 1500 }"));
    assert_eq!(d.code, "E0201");
    assert_eq!(d.help.as_deref(), Some("write `1500 tokens`"));
}

#[test]
fn fallback_legality_is_checked_on_the_hook() {
    let d = only(&with(
        "  on after_model when malformed_call { repair json_fix otherwise retry }",
    ));
    assert_eq!(d.code, "E0302");
    let src = with("  on step_end { log \"x\" otherwise inject \"y\" }");
    assert_eq!(codes(&src), ["E0303", "E0304"]);
}

#[test]
fn default_evolve_bounds_must_hold_the_value() {
    let d = only(&with("  loop { max_steps = 500 @evolve }"));
    assert_eq!(d.code, "E0312");
    assert!(d.message.contains("5..100"), "{}", d.message);
}

#[test]
fn evolve_bound_types() {
    let src = with("  context { budget = 1000 tokens @evolve(range = 500..2000) }");
    assert_eq!(codes(&src), ["E0201", "E0201"], "one per bound");
    let d = only(&with("  loop { max_steps = 30 @evolve(range = 10.5..60) }"));
    assert_eq!(d.code, "E0201");
    let d = only(&with("  loop { strategy = react @evolve(choices = []) }"));
    assert_eq!(d.code, "E0310");
    let d = only(&with(
        "  loop { strategy = react @evolve(choices = [reflect]) }",
    ));
    assert_eq!(d.code, "E0312");
    let d = only(&with(
        "  loop { max_steps = 30 @evolve(choices = [react]) }",
    ));
    assert_eq!(d.code, "E0309");
    let d = only(&with(
        "  loop { max_steps = 30 @evolve(range = 10..60, choices = [a]) }",
    ));
    assert_eq!(d.code, "E0205");
    let d = only(&with("  loop { max_steps = 30 @evolve(range = 10) }"));
    assert_eq!(d.code, "E0201");
}

fn ident(name: &str) -> Ident {
    Ident {
        name: name.into(),
        span: Span::default(),
    }
}

fn action(name: &str, message: Option<&str>) -> Action {
    Action {
        name: ident(name),
        args: Vec::new(),
        message: message.map(|m| Value {
            kind: ValueKind::Str(StrLit {
                value: m.into(),
                style: StrStyle::Plain,
                vars: Vec::new(),
                span: Span::default(),
            }),
            span: Span::default(),
        }),
        otherwise: None,
        comments: Comments::default(),
        span: Span::default(),
    }
}

/// Trees the parser never builds (the evolver might) are checked without panicking.
#[test]
fn odd_trees_from_other_producers() {
    let src = with(
        "  tool pick(x: enum(\"a\"))\n  on after_tool when tool_error { retry otherwise log \"x\" }",
    );
    let mut file = harnessx_syntax::parse(&src).file;
    let Some(h) = file.harness.as_mut() else {
        panic!("no harness")
    };
    for item in &mut h.items {
        match item {
            Item::Rule(r) => {
                // otherwise → otherwise: one level too many.
                if let Some(fb) = r.actions[0].otherwise.as_mut() {
                    fb.otherwise = Some(Box::new(action("log", Some("y"))));
                }
                r.actions.push(action("", None));
                if let Some(w) = r.when.as_mut() {
                    w.kind = CondKind::And(vec![w.clone(), w.clone()]);
                }
            }
            Item::Tool(t) if t.name.name == "pick" => {
                t.params[0].ty = TypeExpr {
                    kind: TypeKind::Enum(Vec::new()),
                    span: Span::default(),
                };
                t.name = ident("");
            }
            _ => {}
        }
    }
    let diags = check_file(&file);
    let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0206", "E0304"], "{diags:#?}");
}

#[test]
fn an_empty_file_and_a_bare_header_do_not_panic() {
    for src in [
        "",
        "harness",
        "harness {",
        "harness t {}",
        "}}}",
        "harness t { on { } }",
    ] {
        let _ = check_source(src);
    }
    assert_eq!(codes("harness t {}"), ["E0305", "E0306"]);
}
