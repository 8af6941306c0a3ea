//! The printer's contract on real and hand-made sources: `parse(print(x)) == parse(x)`
//! modulo spans, `print` is idempotent, and no comment is lost.

use harnessx_syntax::lex::scan;
use harnessx_syntax::printer::strip_key;
use harnessx_syntax::*;

/// Every comment stored in the tree.
fn comment_count(file: &File) -> usize {
    let Some(h) = &file.harness else {
        return file.trailing_comments.len();
    };
    let c = |c: &Comments| c.leading.len() + usize::from(c.trailing.is_some());
    let fields = |fs: &[Field]| fs.iter().map(|f| c(&f.comments)).sum::<usize>();
    let action = |a: &Action| c(&a.comments) + a.otherwise.as_ref().map_or(0, |f| c(&f.comments));
    let items: usize = h
        .items
        .iter()
        .map(|item| {
            c(item.comments())
                + match item {
                    Item::Section(s) => fields(&s.fields) + s.dangling.len(),
                    Item::Tool(t) => fields(t.options.as_deref().unwrap_or(&[])) + t.dangling.len(),
                    Item::Rule(r) => r.actions.iter().map(action).sum::<usize>() + r.dangling.len(),
                    Item::Prompt(_) => 0,
                }
        })
        .sum();
    file.trailing_comments.len() + c(&h.comments) + h.dangling.len() + items
}

/// Asserts the printer's contract on `src`; returns the canonical text.
fn assert_round_trip(name: &str, src: &str) -> String {
    let first = parse(src);
    assert!(
        first.errors.is_empty(),
        "{name}: source has errors: {:#?}",
        first.errors
    );
    assert_eq!(
        comment_count(&first.file),
        scan(src).comments.len(),
        "{name}: the parser lost a comment"
    );
    let printed = print(&first.file);
    let second = parse(&printed);
    assert!(
        second.errors.is_empty(),
        "{name}: printed text has errors: {:#?}\n{printed}",
        second.errors
    );
    let (mut a, mut b) = (without_spans(&first.file), without_spans(&second.file));
    strip_key(&mut a, "vars");
    strip_key(&mut b, "vars");
    assert_eq!(a, b, "{name}: tree changed by printing:\n{printed}");
    assert_eq!(
        print(&second.file),
        printed,
        "{name}: print is not idempotent"
    );
    printed
}

#[test]
fn examples_round_trip() {
    let pattern = format!("{}/../examples/*.harness", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(format!("{}/../examples", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "harness") {
            let src = std::fs::read_to_string(&path).unwrap();
            assert_round_trip(&path.display().to_string(), &src);
            seen += 1;
        }
    }
    assert!(seen >= 3, "no examples found under {pattern}");
}

#[test]
fn canonical_layout() {
    let src = r#"# lead
harness h "d" { model { backend = "x"
temperature=0.5 @evolve(range=0.0..1.0) }
prompt system "a"
prompt other "b"
tool a(x:string,y:int?) "A" {timeout=2s}
tool b() {}
tool c(k: enum("p","q")) {timeout=1s retries=2}
@frozen on after_model as fix when not(a or b) and c(n=1) {repair(1)  extract otherwise reprompt "r"
inject """
    line

      deeper
""" }
} # end
# after
"#;
    let expected = r#"# lead
harness h "d" {
  model {
    backend = "x"
    temperature = 0.5 @evolve(range = 0.0..1.0)
  }

  prompt system "a"
  prompt other "b"

  tool a(x: string, y: int?) "A" { timeout = 2s }
  tool b() {}

  tool c(k: enum("p", "q")) {
    timeout = 1s
    retries = 2
  }

  @frozen
  on after_model as fix when not (a or b) and c(n = 1) {
    repair(1) extract
    otherwise reprompt "r"
    inject """
      line

        deeper
    """
  }
} # end
# after
"#;
    assert_eq!(assert_round_trip("layout", src), expected);
    assert_eq!(format_source(src).as_deref(), Ok(expected));
}

#[test]
fn format_source_reports_errors() {
    let errors = format_source("harness h { model { x = } }").unwrap_err();
    assert!(!errors.is_empty());
}

const TRICKY: &[(&str, &str)] = &[
    ("comments everywhere", include_str!("data/comments.harness")),
    (
        "only comments",
        "# a\nharness h { # b\n  # c\n} # d\n# e\n",
    ),
    ("empty harness", "harness h {}\n"),
    (
        "non-ascii",
        "# café ✓ ünïcödé 日本\nharness h \"café ✓\" {\n  prompt p \"日本語 ✓ {{ task.goal }} \\\"q\\\"\" # ✓ ok\n  tool t(x: enum(\"é\", \"✓\")) \"ß\"\n}\n",
    ),
    (
        "triple strings",
        "harness h \"\"\"\n  desc\n\"\"\" {\n  prompt a \"\"\"\n\n    first line empty\n\n\n    two blanks above\n  \"\"\"\n  prompt b \"\"\"\"\"\"\n  prompt c \"\"\"one line\"\"\"\n  prompt d \"\"\"\n    trailing blank\n\n  \"\"\"\n  prompt e \"\"\"\n       x\n    y\n  \"\"\"\n  tool t() \"\"\"\n    tool desc\n  \"\"\" { timeout = \"\"\"\n    a\n  \"\"\" }\n  model { x = [\"\"\"\n  a\n  \"\"\", 1] }\n  on h { inject \"\"\"\n    m\n  \"\"\" }\n}\n",
    ),
    (
        "triple strings that dedent normalizes",
        "harness h {\n  prompt a \"\"\"\n    a\n      \n    b\n  \"\"\"\n  prompt b \"\"\"  lead\"\"\"\n  prompt c \"\"\"a\r\nb\"\"\"\n}\n",
    ),
    (
        "nested conditions",
        "harness h {\n  on a when ((a and b) and c) and (d or (e or f)) {}\n  on b when not (not a) or not (a or b) and (x) {}\n  on c when (a) and ((b)) {}\n  on d when x == [1, 2] and y != \"s\" or z < 1..2 and w <= -1.5 and v > 10 tokens and u >= 2s {}\n}\n",
    ),
    (
        "otherwise",
        "harness h {\n  on a {\n    retry otherwise inject \"x\"\n    repair(1, k = v)\n    # lead of fallback\n    otherwise block\n    log 3\n  }\n}\n",
    ),
    (
        "annotations",
        "harness h {\n  @frozen @evolve(choices = [a, b])\n  # between annotation and item\n  model {\n    @evolve(range = 1..2)\n    # between\n    @frozen\n    x = 1 @evolve()\n  }\n  @frozen\n  prompt p \"x\"\n  @frozen\n  tool t()\n  @evolve(x = \"\"\"\n    multi\n  \"\"\")\n  on r {}\n}\n",
    ),
    (
        "empty blocks",
        "harness h {\n  tool a() {}\n  tool b() {\n  }\n  tool c()\n  model {}\n  loop {\n    # dangling only\n  }\n  on x {\n  }\n}\n",
    ),
    (
        "same line items",
        "harness h { model { a = 1 b = 2 # c\n } tool t() { x = 1 } # d\n}\n",
    ),
    (
        "numbers",
        "harness h {\n  model {\n    a = 0.1\n    b = -0.0\n    c = 1E3\n    d = 123456789012345678901234567890.5\n    e = 9223372036854775807\n    f = -9223372036854775808\n    g = 18446744073709551615 tokens\n    h = 0ms\n    i = 5m\n    j = 3.0e-300\n  }\n}\n",
    ),
    (
        "crlf",
        "harness h {\r\n  # c\r\n  model {\r\n    x = 1 # t\r\n  }\r\n  prompt p \"\"\"\r\n    a\r\n    b\r\n  \"\"\"\r\n}\r\n",
    ),
];

#[test]
fn tricky_sources_round_trip() {
    for (name, src) in TRICKY {
        assert_round_trip(name, src);
    }
}

#[test]
fn comments_keep_their_places() {
    let printed = assert_round_trip("comments", include_str!("data/comments.harness"));
    for line in [
        "# before the harness",
        "  tool none(xs: [string]?, kind: enum(\"a\", \"b c\")) # after none",
        "    backend = \"sim:small\" # after backend",
        "  } # after model",
        "    otherwise reprompt \"go\" # after otherwise",
        "    # dangling in rule\n  } # after rule",
        "    # dangling in many\n  }",
        "  # dangling in harness\n} # after harness\n# after everything\n",
    ] {
        assert!(printed.contains(line), "missing {line:?} in\n{printed}");
    }
}

/// The parser never produces a triple-quoted value that `dedent` cannot give back, but a
/// tree built or edited in code can: such values print as plain strings.
#[test]
fn plain_fallback_for_unprintable_triple_strings() {
    let mut file = parse("harness h {\n  prompt a \"\"\"\n    x\n  \"\"\"\n}\n").file;
    for (value, expected) in [
        ("a\n  \nb", r#"prompt a "a\n  \nb""#),
        ("  lead", r#"prompt a "  lead""#),
        ("a\r\nb", r#"prompt a "a\r\nb""#),
        ("a \"\"\" b", r#"prompt a "a \"\"\" b""#),
        (
            "ok\n  fine",
            "prompt a \"\"\"\n    ok\n      fine\n  \"\"\"",
        ),
    ] {
        if let Some(Item::Prompt(p)) = file.harness.as_mut().and_then(|h| h.items.first_mut()) {
            p.text.value = value.to_string();
        }
        let printed = print(&file);
        assert!(printed.contains(expected), "{value:?}:\n{printed}");
        let Some(Item::Prompt(p)) = parse(&printed)
            .file
            .harness
            .and_then(|h| h.items.into_iter().next())
        else {
            panic!("no prompt in {printed}");
        };
        assert_eq!(p.text.value, value);
    }
}

#[test]
fn tool_option_block_keeps_some_and_none_apart() {
    let file = parse("harness h {\n  tool a() {}\n  tool b()\n}\n").file;
    let printed = print(&file);
    assert!(printed.contains("tool a() {}\n  tool b()\n"), "{printed}");
}

#[test]
fn only_one_line_tools_and_prompts_are_grouped() {
    let src = "harness h {\n  tool a() # a\n  # above b\n  tool b() { x = 1 }\n  tool c() { x = 1 # on x\n  }\n  tool d()\n  prompt p \"p\"\n  prompt q \"q\"\n  @frozen\n  prompt r \"r\"\n  prompt s \"\"\"\n    s\n  \"\"\"\n  prompt t \"t\"\n}\n";
    let expected = "harness h {\n  tool a() # a\n  # above b\n  tool b() { x = 1 }\n\n  tool c() {\n    x = 1 # on x\n  }\n\n  tool d()\n\n  prompt p \"p\"\n  prompt q \"q\"\n\n  @frozen\n  prompt r \"r\"\n\n  prompt s \"\"\"\n    s\n  \"\"\"\n\n  prompt t \"t\"\n}\n";
    assert_eq!(assert_round_trip("grouping", src), expected);
}

/// A `{{ .. }}` whose inside holds a `"` is literal text: in a plain string the `"` is
/// written `\"`, so a hole there would read differently in the source and in the value, and
/// printing such a string twice gave two texts (found by `random_trees_round_trip`).
#[test]
fn braces_around_quotes_are_literal_and_print_stably() {
    assert!(harnessx_syntax::parser::holes("{{\"\"\"}}").is_empty());
    assert_eq!(harnessx_syntax::parser::holes("{{ goal }}").len(), 1);
}
