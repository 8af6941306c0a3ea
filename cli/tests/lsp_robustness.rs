//! A half-typed file never crashes `harnessx lsp`: the inputs of the front end's
//! never-panic property tests (`harnessx_tests::inputs`: arbitrary strings, token soup,
//! examples and fixtures damaged by random edits) are sent to the real binary as
//! `didChange` events, each followed by hover, completion, definition, references and
//! formatting requests at positions drawn from the same generator (some past the end of
//! their line or of the file). Every request must be answered without an error, every
//! change must be answered by its diagnostics, and the server must shut down cleanly.
//!
//! Inputs: 500 by default, or `PROPTEST_CASES`; the generator's seed is fixed, so a
//! failure names an input that can be replayed.

mod lsp_client;

use harnessx_tests::inputs::{mutated_file, token_soup};
use lsp_client::{pos, uri, Client};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::json;

fn cases() -> usize {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

/// The same mix as the never-panic tests: arbitrary strings, token soup, mutated files.
fn input() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        2 => token_soup(),
        4 => mutated_file(),
    ]
}

#[test]
fn random_and_mutated_files_sent_as_changes_never_crash_the_server() {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (input(), any::<(u8, u8)>(), any::<(u8, u8)>());
    let (mut client, _) = Client::start();
    let doc = uri("robust.harness");
    client.open(&doc, "");
    for version in 2..(cases() as i64 + 2) {
        let (text, (l1, c1), (l2, c2)) =
            strategy.new_tree(&mut runner).expect("an input").current();
        client.change(&doc, version, &text);
        let published = client.diagnostics(&doc);
        assert_eq!(published["version"], version, "input:\n{text}");
        let lines = text.lines().count().max(1) as u32;
        // One position inside the text (modulo its size), one anywhere (often past it).
        let inside = pos(u32::from(l1) % lines, u32::from(c1) % 80);
        let anywhere = pos(u32::from(l2), u32::from(c2));
        for position in [inside, anywhere] {
            let at = json!({ "textDocument": { "uri": doc }, "position": position });
            let mut refs = at.clone();
            refs["context"] = json!({ "includeDeclaration": true });
            for (method, params) in [
                ("textDocument/hover", &at),
                ("textDocument/completion", &at),
                ("textDocument/definition", &at),
                ("textDocument/references", &refs),
            ] {
                let response = client.request_raw(method, params.clone());
                assert!(
                    response.get("error").is_none(),
                    "{method} at {position} failed: {response}\ninput:\n{text:?}"
                );
            }
        }
        let response = client.request_raw(
            "textDocument/formatting",
            json!({ "textDocument": { "uri": doc }, "options": { "tabSize": 2, "insertSpaces": true } }),
        );
        assert!(
            response.get("error").is_none(),
            "formatting failed: {response}\ninput:\n{text:?}"
        );
    }
    assert!(client.shutdown().success());
}
