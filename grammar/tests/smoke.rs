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
