use harnessx_syntax::parse;

#[test]
fn examples_parse_without_errors() {
    for name in ["household", "minimal", "flaky_api"] {
        let path = format!("{}/../examples/{name}.harness", env!("CARGO_MANIFEST_DIR"));
        let src = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&src);
        assert!(parsed.errors.is_empty(), "{name}: {:#?}", parsed.errors);
        let h = parsed.file.harness.as_ref().expect("harness");
        assert_eq!(h.name.name, name);
        if std::env::var("DUMP").is_ok() {
            println!("{}", serde_json::to_string_pretty(&parsed.file).unwrap());
        }
    }
}

#[test]
fn tokens_is_a_parameter_type_despite_being_a_keyword() {
    let src = "harness t { tool f(budget: tokens, more: [tokens]?) }";
    let parsed = parse(src);
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    let printed = harnessx_syntax::print(&parsed.file);
    assert!(
        printed.contains("tool f(budget: tokens, more: [tokens]?)"),
        "{printed}"
    );
}

#[test]
fn printing_keeps_template_holes_exactly() {
    // A tab inside `{{..}}` prints as `\t`; escaped braces stay literal text.
    for src in [
        "harness t { prompt p \"{{a\tb}}\" }",
        "harness t { prompt p \"{{a}\u{0}}\" }",
        "harness t { prompt p \"\\u{7b}\\u{7b}task.goal}}\" }",
        "harness t { prompt p \"\\u{7b}\\u{7b}step}} {{step}} {{x\\ty}}\" }",
        "harness t { prompt p \"\"\"\n  a {{\n  b}}\n\"\"\" }",
    ] {
        let first = parse(src);
        assert!(first.errors.is_empty(), "{src:?}: {:?}", first.errors);
        let printed = harnessx_syntax::print(&first.file);
        let second = parse(&printed);
        assert_eq!(
            harnessx_syntax::without_spans(&first.file),
            harnessx_syntax::without_spans(&second.file),
            "{src:?} printed as {printed:?}"
        );
    }
}

#[test]
fn mismatched_brackets_blame_the_unclosed_opener() {
    let src = "harness t {\n  on after_tool {\n    retry(max = 2\n  }\n}\n";
    let parsed = parse(src);
    let unclosed: Vec<_> = parsed
        .errors
        .iter()
        .filter(|e| e.kind == harnessx_syntax::SyntaxErrorKind::Unclosed)
        .collect();
    assert_eq!(unclosed.len(), 1, "{:#?}", parsed.errors);
    assert_eq!(&src[unclosed[0].span.start..unclosed[0].span.end], "(");
    assert_eq!(parsed.errors.len(), 1, "{:#?}", parsed.errors);
}

#[test]
fn items_without_a_header_get_one_clear_error() {
    let parsed = parse("model { backend = \"sim:small\" }\ntool go(x: string)\n");
    assert_eq!(parsed.errors.len(), 1, "{:#?}", parsed.errors);
    assert_eq!(
        parsed.errors[0].kind,
        harnessx_syntax::SyntaxErrorKind::MissingHeader
    );
}
