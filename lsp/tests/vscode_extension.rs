//! editors/vscode/ stays in step with the language.
//!
//! The TextMate grammar is generated from `harnessx_compiler::schema` (hooks, actions,
//! detectors, metrics, subjects, sections, fields, values, types, annotations) and the
//! grammar's keywords: this test compares the file with what the schema says today.
//! `UPDATE_GRAMMAR=1 cargo test -p harnessx-lsp --test vscode_extension` rewrites it.
//! The manifest must be valid JSON that starts `harnessx lsp` for `.harness` files.

use std::path::PathBuf;

use harnessx_compiler::schema::{self, FieldType, Hook};
use serde_json::{json, Value};

fn vscode_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode")
}

/// `\b(?:a|b|c)\b`, longest names first so no alternative shadows a longer one.
fn words<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    names.dedup();
    let escaped: Vec<String> = names.iter().map(|n| n.replace('.', "\\.")).collect();
    format!("\\b(?:{})\\b", escaped.join("|"))
}

fn rule(name: &str, pattern: String) -> Value {
    json!({ "name": name, "match": pattern })
}

/// The whole grammar, as JSON.
fn grammar() -> Value {
    let enum_values = schema::SECTIONS
        .iter()
        .flat_map(|s| s.fields.iter())
        .chain(schema::TOOL_OPTIONS)
        .flat_map(|f| match f.ty {
            FieldType::Enum(vs) => vs.to_vec(),
            _ => Vec::new(),
        })
        .chain(schema::ACTIONS.iter().flat_map(|a| match a.message {
            schema::MessageSpec::Variant(vs) => vs.to_vec(),
            _ => Vec::new(),
        }))
        .chain(schema::COMPACT_STRATEGIES.iter().copied());
    let fields = schema::SECTIONS
        .iter()
        .flat_map(|s| s.fields.iter().map(|f| f.name))
        .chain(schema::TOOL_OPTIONS.iter().map(|f| f.name))
        .chain(
            schema::ACTIONS
                .iter()
                .flat_map(|a| a.args.iter().map(|x| x.name)),
        )
        .chain(schema::REPEATED_ACTION_ARGS.iter().map(|a| a.name));
    let template = json!({
        "name": "variable.other.template.harness",
        "match": "\\{\\{[^{}\\\\]*\\}\\}"
    });
    json!({
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "harnessx",
        "scopeName": "source.harness",
        "fileTypes": ["harness"],
        "comment": "Generated from the compiler's schema by lsp/tests/vscode_extension.rs (UPDATE_GRAMMAR=1); do not edit by hand.",
        "patterns": [
            { "include": "#comment" },
            { "include": "#string" },
            { "include": "#declaration" },
            { "include": "#annotation" },
            { "include": "#keyword" },
            { "include": "#hook" },
            { "include": "#action" },
            { "include": "#detector" },
            { "include": "#metric" },
            { "include": "#section" },
            { "include": "#field" },
            { "include": "#value" },
            { "include": "#type" },
            { "include": "#number" },
            { "include": "#operator" }
        ],
        "repository": {
            "comment": rule("comment.line.number-sign.harness", "#.*$".into()),
            "string": { "patterns": [
                {
                    "name": "string.quoted.triple.harness",
                    "begin": "\"\"\"", "end": "\"\"\"",
                    "patterns": [template]
                },
                {
                    "name": "string.quoted.double.harness",
                    "begin": "\"", "end": "\"|$",
                    "patterns": [
                        { "name": "constant.character.escape.harness", "match": "\\\\(?:u\\{[0-9A-Fa-f]*\\}|.)" },
                        template
                    ]
                }
            ]},
            "declaration": { "patterns": [
                {
                    "match": "\\b(harness|tool|prompt)\\s+([A-Za-z_][A-Za-z0-9_]*)",
                    "captures": {
                        "1": { "name": "keyword.declaration.harness" },
                        "2": { "name": "entity.name.function.harness" }
                    }
                },
                {
                    "match": "\\b(as)\\s+([A-Za-z_][A-Za-z0-9_]*)",
                    "captures": {
                        "1": { "name": "keyword.control.harness" },
                        "2": { "name": "entity.name.function.rule.harness" }
                    }
                }
            ]},
            "annotation": rule("storage.modifier.annotation.harness",
                format!("@{}", words(schema::ANNOTATIONS.iter().map(|a| a.name)).trim_start_matches("\\b"))),
            "keyword": { "patterns": [
                rule("keyword.control.harness", words(["on", "when", "otherwise", "as"])),
                rule("keyword.operator.word.harness", words(["and", "or", "not", "matches"])),
                rule("constant.language.boolean.harness", words(["true", "false"])),
                rule("keyword.other.harness", words(["enum", "tokens"]))
            ]},
            "hook": rule("entity.name.tag.hook.harness", words(Hook::ALL.iter().map(|h| h.as_str()))),
            "action": rule("support.function.action.harness", words(schema::ACTIONS.iter().map(|a| a.name))),
            "detector": rule("support.function.detector.harness", words(schema::DETECTORS.iter().map(|d| d.name))),
            "metric": rule("support.variable.harness",
                words(schema::METRICS.iter().map(|m| m.name).chain(schema::SUBJECTS.iter().map(|s| s.name)))),
            "section": rule("entity.name.section.harness", words(schema::SECTIONS.iter().map(|s| s.name))),
            "field": rule("variable.other.property.harness", words(fields)),
            "value": rule("constant.language.harness", words(enum_values)),
            "type": rule("support.type.harness", words(schema::PARAM_TYPES.iter().copied())),
            "number": { "patterns": [
                rule("constant.numeric.duration.harness", "\\b\\d+(?:ms|s|m)\\b".into()),
                rule("constant.numeric.harness", "-?\\b\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?\\b".into())
            ]},
            "operator": rule("keyword.operator.harness", "<=|>=|==|!=|<|>|=|\\.\\.|\\?".into())
        }
    })
}

#[test]
fn the_textmate_grammar_is_generated_from_the_schema() {
    let path = vscode_dir().join("syntaxes/harness.tmLanguage.json");
    let expected = serde_json::to_string_pretty(&grammar()).unwrap() + "\n";
    if std::env::var_os("UPDATE_GRAMMAR").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{} is out of date with the schema; run UPDATE_GRAMMAR=1 cargo test -p harnessx-lsp --test vscode_extension",
        path.display()
    );
}

#[test]
fn the_grammar_colours_the_names_of_the_language_and_not_misspellings() {
    let g = grammar();
    let pattern =
        |key: &str| regex::Regex::new(g["repository"][key]["match"].as_str().unwrap()).unwrap();
    let hooks = pattern("hook");
    for h in Hook::ALL {
        assert!(hooks.is_match(h.as_str()));
    }
    assert!(!hooks.is_match("after_modle"));
    let actions = pattern("action");
    assert!(schema::ACTIONS.iter().all(|a| actions.is_match(a.name)));
    assert!(!actions.is_match("reprompted"));
    // Every regex of the grammar is one the Rust engine reads too (the TextMate engine,
    // Oniguruma, reads a superset).
    fn all_matches(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("match" | "begin" | "end", Value::String(s)) => out.push(s.clone()),
                        _ => all_matches(x, out),
                    }
                }
            }
            Value::Array(xs) => xs.iter().for_each(|x| all_matches(x, out)),
            _ => {}
        }
    }
    let mut regexes = Vec::new();
    all_matches(&g, &mut regexes);
    assert!(regexes.len() > 15);
    for r in regexes {
        regex::Regex::new(&r).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
}

#[test]
fn the_manifest_starts_the_server_for_harness_files() {
    let dir = vscode_dir();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    let language = &manifest["contributes"]["languages"][0];
    assert_eq!(language["id"], "harness");
    assert_eq!(language["extensions"], json!([".harness"]));
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["scopeName"], "source.harness");
    assert!(dir.join(grammar["path"].as_str().unwrap()).is_file());
    assert!(dir
        .join(language["configuration"].as_str().unwrap())
        .is_file());
    let _: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("language-configuration.json")).unwrap(),
    )
    .expect("language-configuration.json is JSON");
    assert_eq!(manifest["activationEvents"], json!(["onLanguage:harness"]));
    assert_eq!(
        manifest["contributes"]["configurationDefaults"]["[harness]"]["editor.formatOnSave"],
        true
    );
    let main = std::fs::read_to_string(dir.join(manifest["main"].as_str().unwrap())).unwrap();
    assert!(
        main.contains("args: ['lsp']"),
        "the extension starts `harnessx lsp`"
    );
    assert!(manifest["dependencies"]["vscode-languageclient"].is_string());
}
