//! Lowering over the shipped examples and the checker's accepted fixtures: every one
//! lowers, and the examples' IR is pinned as JSON snapshots (the same text that
//! `harnessx compile FILE --emit ir` prints).

use std::fs;
use std::path::Path;

use harnessx_compiler::lower::lower_source;

mod common;
use common::{harness_files, workspace};

fn lower_file(path: &Path) -> harnessx_runtime::ir::HarnessIr {
    let src = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match lower_source(&src) {
        Ok(ir) => ir,
        Err(diags) => panic!("{} did not lower: {diags:#?}", path.display()),
    }
}

#[test]
fn examples_lower_and_match_snapshots() {
    let files = harness_files(&workspace().join("examples"));
    assert!(
        files.len() >= 3,
        "examples/ should hold the shipped harnesses"
    );
    for path in files {
        let ir = lower_file(&path);
        let json = serde_json::to_string_pretty(&ir).expect("IR serializes");
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("unnamed")
            .to_string();
        insta::assert_snapshot!(format!("ir_{name}"), json);
        // The JSON is a faithful form: it reads back to the same IR.
        let back: harnessx_runtime::ir::HarnessIr =
            serde_json::from_str(&json).expect("IR deserializes");
        assert_eq!(back, ir);
    }
}

#[test]
fn accepted_check_fixtures_lower() {
    let files = harness_files(&workspace().join("tests/fixtures/check/ok"));
    assert!(!files.is_empty());
    for path in files {
        lower_file(&path);
    }
}

mod holes {
    use harnessx_compiler::check::codes::LOWERING_FAILED;
    use harnessx_compiler::lower::lower_source;
    use harnessx_runtime::ir::{Segment, Var};
    use proptest::prelude::*;

    /// A plain `.harness` string body for `text`, with every `{` written `\u{7b}`, so the
    /// text never forms a hole in the source even where its value reads like one.
    fn escaped(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '{' => out.push_str("\\u{7b}"),
                ' '..='~' => out.push(c),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        }
        out
    }

    #[derive(Debug, Clone)]
    enum Piece {
        Text(String),
        Var(Var),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        let text = prop::collection::vec(
            prop_oneof![
                Just("{{".to_string()),
                Just("}}".to_string()),
                Just("{{step}}".to_string()),
                Just("{{ task.goal }}".to_string()),
                Just("\"".to_string()),
                Just("\n".to_string()),
                Just("\\".to_string()),
                "[a-z ]{1,3}",
                any::<char>().prop_map(String::from),
            ],
            1..5,
        )
        .prop_map(|v| Piece::Text(v.concat()));
        let var = prop::sample::select(Var::ALL.to_vec()).prop_map(Piece::Var);
        prop_oneof![text, var]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Holes written in the source become variables and everything else stays text,
        /// byte for byte — or lowering says it cannot tell (never a wrong split).
        #[test]
        fn holes_and_escaped_braces_lower_exactly(pieces in prop::collection::vec(piece(), 0..8)) {
            let mut body = String::new();
            let mut expected: Vec<Segment> = Vec::new();
            for p in &pieces {
                match p {
                    Piece::Text(t) => {
                        body.push_str(&escaped(t));
                        match expected.last_mut() {
                            Some(Segment::Text(prev)) => prev.push_str(t),
                            _ => expected.push(Segment::Text(t.clone())),
                        }
                    }
                    Piece::Var(v) => {
                        body.push_str(&format!("{{{{{}}}}}", v.path()));
                        expected.push(Segment::Var(*v));
                    }
                }
            }
            let src = format!("harness h {{ prompt system \"{body}\" tool a(c: string) }}");
            match lower_source(&src) {
                Ok(ir) => prop_assert_eq!(&ir.prompts[0].template, &expected, "{}", src),
                Err(d) => prop_assert!(
                    d.iter().all(|d| d.code == LOWERING_FAILED),
                    "{src}\n{d:#?}"
                ),
            }
        }
    }
}
