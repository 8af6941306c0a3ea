//! Property tests of the printer against the parser.
//!
//! 1. Random valid trees (every construct, comments in every slot, strings with unicode,
//!    quotes, backslashes, `{{`, newlines): `print` → `parse` gives no error and the same
//!    tree (modulo spans and template variables, which the parser derives from the printed
//!    text), and printing is idempotent.
//! 2. Random token soup: parsing and formatting never panic, and whatever parses without
//!    errors round-trips.
//!
//! Cases: 2,000 by default, or `PROPTEST_CASES`.

use harnessx_syntax::printer::{strip_key, triple_printable};
use harnessx_syntax::*;
use proptest::prelude::*;
use serde_json::Value as Json;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

/// Failing cases are reported with their shrunk input rather than saved to files.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn sp() -> Span {
    Span::default()
}

const KEYWORDS: [&str; 15] = [
    "harness",
    "prompt",
    "tool",
    "on",
    "as",
    "when",
    "and",
    "or",
    "not",
    "otherwise",
    "matches",
    "true",
    "false",
    "enum",
    "tokens",
];

// ---- names ----

fn raw_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,6}",
        "[A-Za-z_][A-Za-z0-9_]{0,3}",
        // Names that start like keywords or units.
        prop::sample::select(vec![
            "on_", "tool2", "notify", "ms", "s", "m", "e5", "tokens_"
        ])
        .prop_map(str::to_string),
    ]
}

fn name() -> impl Strategy<Value = String> {
    raw_name().prop_filter("keyword", |n| !KEYWORDS.contains(&n.as_str()))
}

fn ident() -> impl Strategy<Value = Ident> {
    name().prop_map(|name| Ident { name, span: sp() })
}

/// `a`, `task.goal`, `a.true` (only the first segment must not be a keyword).
fn dotted() -> impl Strategy<Value = String> {
    let later = prop_oneof![
        raw_name(),
        prop::sample::select(KEYWORDS.to_vec()).prop_map(str::to_string)
    ];
    (name(), prop::collection::vec(later, 0..3)).prop_map(|(first, rest)| {
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join(".")
    })
}

// ---- strings and comments ----

/// A piece of text: a character chosen to stress escaping, dedenting and templates.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 ,.:!?()-]{1,6}",
        1 => prop::sample::select(vec![
            "\"", "\\", "\n", "\n", "\n\n", "\t", "\r", " ", "  ", "#", "{{", "}}", "{{ task.goal }}",
            "\"\"\"", "café ✓", "日本", "\u{1}", "\u{7f}", "\u{85}", "\u{a0}", "\u{2028}", "\u{1F600}",
            "\\n", "\\u{41}", "}", "{", "@", "//",
        ])
        .prop_map(str::to_string),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..8).prop_map(|p| p.concat())
}

fn str_lit() -> impl Strategy<Value = StrLit> {
    (text(), prop::bool::ANY).prop_map(|(value, triple)| {
        // As if written by hand: every `{{..}}` hole in the text is a template variable.
        let vars = harnessx_syntax::parser::holes(&value)
            .into_iter()
            .map(|(_, _, path)| harnessx_syntax::TemplateVar { path, span: sp() })
            .collect();
        StrLit {
            value,
            style: if triple {
                StrStyle::Triple
            } else {
                StrStyle::Plain
            },
            vars,
            span: sp(),
        }
    })
}

/// A comment's text as the lexer stores it: one line, no trailing whitespace.
fn comment() -> impl Strategy<Value = String> {
    text().prop_map(|t| t.replace('\n', " ").trim_end().to_string())
}

fn comments(n: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(comment(), 0..=n)
}

fn node_comments() -> impl Strategy<Value = Comments> {
    (comments(2), prop::option::of(comment()))
        .prop_map(|(leading, trailing)| Comments { leading, trailing })
}

// ---- values ----

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            0.5,
            1e-7,
            1e21,
            -2.5,
            f64::MAX,
            f64::MIN_POSITIVE
        ]),
    ]
}

fn scalar_kind() -> impl Strategy<Value = ValueKind> {
    prop_oneof![
        str_lit().prop_map(ValueKind::Str),
        any::<i64>().prop_map(ValueKind::Int),
        float().prop_map(ValueKind::Float),
        any::<bool>().prop_map(ValueKind::Bool),
        (
            any::<u64>(),
            prop::sample::select(vec![DurationUnit::Ms, DurationUnit::S, DurationUnit::M])
        )
            .prop_map(|(amount, unit)| ValueKind::Duration(Duration { amount, unit })),
        any::<u64>().prop_map(ValueKind::Tokens),
        dotted().prop_map(ValueKind::Ident),
    ]
}

fn val(kind: ValueKind) -> Value {
    Value { kind, span: sp() }
}

fn scalar() -> impl Strategy<Value = Value> {
    scalar_kind().prop_map(val)
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        4 => scalar(),
        1 => (scalar(), scalar()).prop_map(|(lo, hi)| val(ValueKind::Range(Box::new(lo), Box::new(hi)))),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(|items| val(ValueKind::List(items)))
    })
}

fn arg() -> impl Strategy<Value = Arg> {
    (prop::option::of(ident()), value()).prop_map(|(name, value)| Arg {
        name,
        value,
        span: sp(),
    })
}

fn args() -> impl Strategy<Value = Vec<Arg>> {
    prop::collection::vec(arg(), 0..3)
}

fn annotations() -> impl Strategy<Value = Vec<Annotation>> {
    let one = (ident(), args()).prop_map(|(name, args)| Annotation {
        name,
        args,
        span: sp(),
    });
    prop::collection::vec(one, 0..3)
}

// ---- items ----

fn field() -> impl Strategy<Value = Field> {
    (ident(), value(), annotations(), node_comments()).prop_map(
        |(name, value, annotations, comments)| Field {
            name,
            value,
            annotations,
            comments,
            span: sp(),
        },
    )
}

fn fields() -> impl Strategy<Value = Vec<Field>> {
    prop::collection::vec(field(), 0..4)
}

fn section() -> impl Strategy<Value = Item> {
    (
        annotations(),
        ident(),
        fields(),
        comments(2),
        node_comments(),
    )
        .prop_map(|(annotations, name, fields, dangling, comments)| {
            Item::Section(Section {
                annotations,
                name,
                fields,
                dangling,
                comments,
                span: sp(),
            })
        })
}

fn prompt() -> impl Strategy<Value = Item> {
    (annotations(), ident(), str_lit(), node_comments()).prop_map(
        |(annotations, name, text, comments)| {
            Item::Prompt(Prompt {
                annotations,
                name,
                text,
                comments,
                span: sp(),
            })
        },
    )
}

fn type_expr() -> impl Strategy<Value = TypeExpr> {
    let ty = |kind| TypeExpr { kind, span: sp() };
    let leaf = prop_oneof![
        3 => name().prop_map(move |n| ty(TypeKind::Named(n))),
        1 => prop::collection::vec(str_lit(), 1..3).prop_map(move |v| ty(TypeKind::Enum(v))),
    ];
    leaf.prop_recursive(3, 6, 1, move |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(move |t| ty(TypeKind::List(Box::new(t)))),
            // `T??` has no source form: only a non-optional type is made optional.
            inner
                .prop_filter("T??", |t| !matches!(t.kind, TypeKind::Optional(_)))
                .prop_map(move |t| ty(TypeKind::Optional(Box::new(t)))),
        ]
    })
}

fn tool() -> impl Strategy<Value = Item> {
    let param = (ident(), type_expr()).prop_map(|(name, ty)| Param {
        name,
        ty,
        span: sp(),
    });
    (
        annotations(),
        ident(),
        prop::collection::vec(param, 0..3),
        prop::option::of(str_lit()),
        prop::option::of(fields()),
        comments(2),
        node_comments(),
    )
        .prop_map(
            |(annotations, name, params, description, options, dangling, comments)| {
                // Without a block there is nowhere for dangling comments to be.
                let dangling = if options.is_some() {
                    dangling
                } else {
                    Vec::new()
                };
                Item::Tool(Tool {
                    annotations,
                    name,
                    params,
                    description,
                    options,
                    dangling,
                    comments,
                    span: sp(),
                })
            },
        )
}

fn cond() -> impl Strategy<Value = Cond> {
    let c = |kind| Cond { kind, span: sp() };
    let op = prop::sample::select(vec![
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
        CmpOp::Eq,
        CmpOp::Ne,
    ]);
    let leaf = prop_oneof![
        (ident(), args()).prop_map(move |(name, args)| c(CondKind::Detector { name, args })),
        (ident(), op, value()).prop_map(move |(metric, op, value)| c(CondKind::Compare {
            metric,
            op,
            value
        })),
        (ident(), str_lit())
            .prop_map(move |(subject, pattern)| c(CondKind::Matches { subject, pattern })),
    ];
    leaf.prop_recursive(4, 16, 3, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(move |v| c(CondKind::And(v))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(move |v| c(CondKind::Or(v))),
            inner.prop_map(move |x| c(CondKind::Not(Box::new(x)))),
        ]
    })
}

/// What may follow an action's name on its line: a scalar, never a list or range.
fn message() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(scalar())
}

fn bare_action() -> impl Strategy<Value = Action> {
    (ident(), args(), message(), node_comments()).prop_map(|(name, args, message, comments)| {
        Action {
            name,
            args,
            message,
            otherwise: None,
            comments,
            span: sp(),
        }
    })
}

fn action() -> impl Strategy<Value = Action> {
    (bare_action(), prop::option::of(bare_action())).prop_map(|(mut a, fallback)| {
        a.otherwise = fallback.map(Box::new);
        a
    })
}

fn rule() -> impl Strategy<Value = Item> {
    (
        annotations(),
        ident(),
        prop::option::of(ident()),
        prop::option::of(cond()),
        prop::collection::vec(action(), 0..4),
        comments(2),
        node_comments(),
    )
        .prop_map(
            |(annotations, hook, name, when, actions, dangling, comments)| {
                Item::Rule(Rule {
                    annotations,
                    hook,
                    name,
                    when,
                    actions,
                    dangling,
                    comments,
                    span: sp(),
                })
            },
        )
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![section(), prompt(), tool(), rule()]
}

fn file() -> impl Strategy<Value = File> {
    (
        ident(),
        prop::option::of(str_lit()),
        prop::collection::vec(item(), 0..6),
        comments(2),
        node_comments(),
        comments(2),
    )
        .prop_map(
            |(name, description, items, dangling, comments, trailing_comments)| File {
                harness: Some(Harness {
                    name,
                    description,
                    items,
                    dangling,
                    comments,
                    span: sp(),
                }),
                trailing_comments,
                span: sp(),
            },
        )
}

// ---- comparison ----

/// The tree as the parser will give it back: no spans, no template variables, and
/// triple-quoted values that `dedent` could not give back printed (so parsed) as plain.
fn normalized(file: &File) -> Json {
    let mut v = without_spans(file);
    strip_key(&mut v, "vars");
    plain_fallback(&mut v);
    v
}

fn plain_fallback(v: &mut Json) {
    match v {
        Json::Object(map) => {
            let unprintable = map.get("style").and_then(Json::as_str) == Some("triple")
                && map
                    .get("value")
                    .and_then(Json::as_str)
                    .is_some_and(|s| !triple_printable(s));
            if unprintable {
                map.insert("style".into(), Json::from("plain"));
            }
            map.values_mut().for_each(plain_fallback);
        }
        Json::Array(items) => items.iter_mut().for_each(plain_fallback),
        _ => {}
    }
}

fn check_tree(file: &File) -> Result<(), TestCaseError> {
    let printed = print(file);
    let first = parse(&printed);
    prop_assert!(
        first.errors.is_empty(),
        "errors {:#?} in\n{}",
        first.errors,
        printed
    );
    prop_assert_eq!(
        normalized(&first.file),
        normalized(file),
        "tree changed; printed:\n{}",
        printed
    );
    let again = print(&first.file);
    prop_assert_eq!(&again, &printed, "print is not idempotent");
    let second = parse(&again);
    prop_assert_eq!(without_spans(&second.file), without_spans(&first.file));
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_trees_round_trip(file in file()) {
        check_tree(&file)?;
    }
}

// ---- perturbed layouts ----

/// Text that replaces a newline of the canonical form: CRLF, blank lines, trailing and
/// full-line comments, whitespace-only lines.
const NEWLINES: [&str; 10] = [
    "\n", "\n", "\n", "\r\n", "\n\n", " # t\n", "\n# l\n", "\n \t\n", " #\n", " # t\r\n",
];

/// Text that replaces a space: mostly spaces, sometimes a line break or a comment, which
/// the grammar does not allow everywhere (such cases are skipped).
const SPACES: [&str; 16] = [
    " ", " ", " ", " ", " ", " ", " ", " ", " ", " ", "  ", "\t", " \t ", "\n", " # s\n", "\n# m\n",
];

/// The end of the string literal starting at byte `at` of `src`.
fn string_end(src: &str, at: usize) -> usize {
    if src[at..].starts_with("\"\"\"") {
        return src[at + 3..]
            .find("\"\"\"")
            .map_or(src.len(), |n| at + 6 + n);
    }
    let mut escaped = false;
    for (i, c) in src[at + 1..].char_indices() {
        match c {
            '"' if !escaped => return at + 1 + i + 1,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    src.len()
}

/// `src` with its whitespace between tokens replaced according to `choices`; strings and
/// comments are copied unchanged.
fn perturb(src: &str, choices: &[u8]) -> String {
    let mut out = String::with_capacity(src.len() * 2);
    let mut pick = choices.iter().cycle().map(|c| *c as usize);
    let mut at = 0;
    while let Some(c) = src[at..].chars().next() {
        let next = match c {
            '"' => string_end(src, at),
            '#' => src[at..].find('\n').map_or(src.len(), |n| at + n),
            '\n' | ' ' => at + 1,
            _ => at + c.len_utf8(),
        };
        match c {
            '\n' => out.push_str(NEWLINES[pick.next().unwrap_or(0) % NEWLINES.len()]),
            ' ' => out.push_str(SPACES[pick.next().unwrap_or(0) % SPACES.len()]),
            _ => out.push_str(&src[at..next]),
        }
        at = next;
    }
    out
}

/// The contract for any source that parses cleanly: no comment lost, the printed form
/// re-parses to the same tree, and printing it again changes nothing.
fn check_source(src: &str) -> Result<(), TestCaseError> {
    let parsed = parse(src);
    if !parsed.errors.is_empty() {
        return Ok(());
    }
    let printed = print(&parsed.file);
    let again = parse(&printed);
    prop_assert!(
        again.errors.is_empty(),
        "{:#?}\n{}\n---\n{}",
        again.errors,
        src,
        printed
    );
    let (mut a, mut b) = (without_spans(&parsed.file), without_spans(&again.file));
    strip_key(&mut a, "vars");
    strip_key(&mut b, "vars");
    prop_assert_eq!(a, b, "tree changed:\n{}\n---\n{}", src, printed);
    prop_assert_eq!(&print(&again.file), &printed, "not idempotent:\n{}", src);
    let comments = |text: &str| harnessx_syntax::lex::scan(text).comments.len();
    prop_assert_eq!(
        comments(&printed),
        comments(src),
        "lost comments:\n{}\n---\n{}",
        src,
        printed
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn perturbed_layouts_round_trip(
        file in file(),
        choices in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let src = perturb(&print(&file), &choices);
        check_source(&src)?;
    }
}

// ---- token soup ----

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "harness h {",
        "}",
        "{",
        "(",
        ")",
        "[",
        "]",
        ",",
        "=",
        "@frozen",
        "@evolve(range = 1..2)",
        "model",
        "loop",
        "x",
        "y",
        "prompt",
        "tool",
        "on",
        "as",
        "when",
        "and",
        "or",
        "not",
        "otherwise",
        "matches",
        "\"s\"",
        "\"\"\"\n  t\n\"\"\"",
        "1",
        "2.5",
        "3s",
        "4 tokens",
        "true",
        "a.b",
        ":",
        "string",
        "?",
        "enum(\"a\")",
        "# c",
        "\n",
        "\n",
        " ",
        " ",
        ">=",
        "..",
        "inject",
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_soup_never_panics_and_round_trips(tokens in prop::collection::vec(token(), 0..40)) {
        let src = format!("harness h {{\n{}\n}}\n", tokens.join(" "));
        let _ = format_source(&src);
        let _ = paths::node_paths(&parse(&src).file);
        check_source(&src)?;
    }
}
