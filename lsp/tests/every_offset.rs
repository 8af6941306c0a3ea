//! Hover, completion, definition and references at every offset of damaged files never
//! panic, and what they return points into the text.
//!
//! The inputs are those of the front end's never-panic tests (`harnessx_tests::inputs`).
//! The binary is tested with them too (`cli/tests/lsp_robustness.rs`); this test goes
//! further in process, asking at every character boundary of each input.
//! Cases: 100 by default, or `PROPTEST_CASES`.

use harnessx_lsp::position::LineIndex;
use harnessx_lsp::{completion, hover, navigate};
use harnessx_tests::inputs::{mutated_file, token_soup};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn ask_everywhere(text: &str) -> Result<(), TestCaseError> {
    let file = harnessx_syntax::parse(text).file;
    let index = LineIndex::new(text);
    for offset in (0..=text.len()).filter(|o| text.is_char_boundary(*o)) {
        if let Some((_, span)) = hover::hover(&file, offset) {
            prop_assert!(span.start <= span.end && span.end <= text.len());
        }
        let _ = completion::complete(text, &file, offset);
        if let Some(span) = navigate::definition(&file, offset) {
            prop_assert!(text.get(span.start..span.end).is_some(), "{span:?}");
        }
        for span in navigate::references(&file, offset, true) {
            prop_assert!(text.get(span.start..span.end).is_some(), "{span:?}");
        }
        // Offsets survive the trip through LSP positions.
        let back = index.offset(text, index.position(text, offset));
        prop_assert!(back <= offset && text[back..offset].chars().all(|c| c == '\n' || c == '\r'));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mutated_files(text in mutated_file()) {
        ask_everywhere(&text)?;
    }

    #[test]
    fn token_soup_and_arbitrary_strings(text in prop_oneof![token_soup(), any::<String>()]) {
        ask_everywhere(&text)?;
    }
}
