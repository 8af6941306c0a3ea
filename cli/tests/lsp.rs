//! `harnessx lsp` end to end: the real binary over stdio, spoken to in JSON-RPC as an
//! editor speaks to it (initialize, didOpen, didChange, requests, shutdown, exit).

mod lsp_client;

use lsp_client::{pos_after_last, pos_of, uri, Client};
use serde_json::{json, Value};

const CLEAN: &str = include_str!("../../examples/household.harness");

fn codes(diags: &Value) -> Vec<String> {
    diags["diagnostics"]
        .as_array()
        .expect("a diagnostics list")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn handshake_announces_what_the_server_does_and_shutdown_exits_cleanly() {
    let (client, init) = Client::start();
    let caps = &init["capabilities"];
    assert_eq!(caps["textDocumentSync"], 1, "full sync");
    assert_eq!(caps["documentFormattingProvider"], true);
    assert_eq!(caps["hoverProvider"], true);
    assert_eq!(init["serverInfo"]["name"], "harnessx");
    let status = client.shutdown();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn diagnostics_on_open_and_change_carry_codes_suggestions_and_utf16_ranges() {
    let (mut client, _) = Client::start();
    let doc = uri("diag.harness");
    let opened = client.open(&doc, CLEAN);
    assert_eq!(opened["version"], 1);
    assert!(codes(&opened).is_empty(), "{opened}");

    // Non-ASCII text on the lines before the errors.
    let broken = CLEAN.replace(
        "on after_model as reask",
        "# “café 🚀”\n  on after_modle as reask",
    );
    let broken = broken.replace("  model {", "  # 日本語 ✓\n  model {\n    note = \"🚀\"");
    client.change(&doc, 2, &broken);
    let changed = client.diagnostics(&doc);
    assert_eq!(changed["version"], 2);
    let diags = changed["diagnostics"].as_array().unwrap();
    let hook = diags
        .iter()
        .find(|d| d["code"] == "E0109")
        .unwrap_or_else(|| panic!("unknown hook reported: {changed}"));
    assert_eq!(hook["source"], "harnessx");
    assert_eq!(hook["severity"], 1);
    assert!(
        hook["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `after_model`"),
        "{hook}"
    );
    assert_eq!(hook["range"]["start"], pos_of(&broken, "after_modle as", 0));
    assert_eq!(hook["range"]["end"], pos_of(&broken, "after_modle as", 11));
    let field = diags
        .iter()
        .find(|d| d["code"] == "E0102")
        .unwrap_or_else(|| panic!("unknown field reported: {changed}"));
    assert_eq!(field["range"]["start"], pos_of(&broken, "note =", 0));

    // Non-ASCII on the same line before the error, in a string: columns count UTF-16.
    let same_line = CLEAN.replace(
        "tool look() \"Describe where you are\"",
        "tool look() \"Décrire 🚀 où\" { timout = 2s }",
    );
    client.change(&doc, 3, &same_line);
    let changed = client.diagnostics(&doc);
    let option = changed["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "E0102")
        .unwrap_or_else(|| panic!("unknown tool option reported: {changed}"))
        .clone();
    let expected = pos_of(&same_line, "timout", 0);
    assert_eq!(option["range"]["start"], expected);
    let byte_column = same_line
        .lines()
        .find(|l| l.contains("timout"))
        .unwrap()
        .find("timout")
        .unwrap();
    assert_ne!(
        expected["character"],
        json!(byte_column),
        "the test needs multi-byte text"
    );
    assert!(
        option["message"].as_str().unwrap().contains("timeout"),
        "{option}"
    );

    // Fixing the file clears the squiggles.
    client.change(&doc, 4, CLEAN);
    let fixed = client.diagnostics(&doc);
    assert_eq!(fixed["version"], 4);
    assert!(codes(&fixed).is_empty(), "{fixed}");
    assert!(client.shutdown().success());
}

#[test]
fn syntax_errors_are_diagnostics_too_and_a_duplicate_points_at_the_first() {
    let (mut client, _) = Client::start();
    let doc = uri("syntax.harness");
    let text =
        "harness h {\n  prompt system \"a\"\n  prompt system \"b\"\n  tool go(t: string\n}\n";
    let diags = client.open(&doc, text);
    let all = codes(&diags);
    assert!(all.iter().any(|c| c.starts_with("E000")), "{diags}");
    let dup = diags["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "E0120")
        .unwrap_or_else(|| panic!("duplicate reported: {diags}"));
    let related = &dup["relatedInformation"][0];
    assert_eq!(related["location"]["uri"], doc);
    assert_eq!(
        related["location"]["range"]["start"],
        json!({"line": 1, "character": 9})
    );
    assert!(client.shutdown().success());
}

#[test]
fn formatting_uses_the_canonical_printer_and_refuses_syntax_errors() {
    let (mut client, _) = Client::start();
    let doc = uri("fmt.harness");
    let messy = "harness h {\nprompt system   \"x\"\n      tool go(t: string)   \"Go\"\n}\n";
    client.open(&doc, messy);
    let params = json!({ "textDocument": { "uri": doc }, "options": { "tabSize": 2, "insertSpaces": true } });
    let edits = client.request("textDocument/formatting", params.clone());
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    let canonical = harnessx_syntax::format_source(messy).unwrap();
    assert_eq!(edits[0]["newText"], canonical);
    assert_eq!(
        edits[0]["range"]["start"],
        json!({"line": 0, "character": 0})
    );
    assert_eq!(edits[0]["range"]["end"], json!({"line": 4, "character": 0}));

    // Already canonical: no edit.
    client.change(&doc, 2, &canonical);
    let _ = client.diagnostics(&doc);
    assert_eq!(
        client.request("textDocument/formatting", params.clone()),
        json!([])
    );

    // Syntax errors: refused, like `harnessx fmt`.
    client.change(&doc, 3, "harness h {\n  tool go(\n}\n");
    let _ = client.diagnostics(&doc);
    assert_eq!(
        client.request("textDocument/formatting", params),
        Value::Null
    );
    assert!(client.shutdown().success());
}

#[test]
fn requests_about_unknown_documents_or_methods_are_errors_not_crashes() {
    let (mut client, _) = Client::start();
    let params = json!({ "textDocument": { "uri": uri("never-opened.harness") }, "options": { "tabSize": 2, "insertSpaces": true } });
    let response = client.request_raw("textDocument/formatting", params);
    assert_eq!(response["error"]["code"], -32602, "{response}");
    let response = client.request_raw("harnessx/noSuchMethod", json!({}));
    assert_eq!(response["error"]["code"], -32601, "{response}");
    let response = client.request_raw("textDocument/formatting", json!({ "nonsense": true }));
    assert_eq!(response["error"]["code"], -32602, "{response}");
    // Closing a document clears its diagnostics.
    let doc = uri("closed.harness");
    client.open(&doc, "harness h { oops }");
    client.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": doc } }),
    );
    assert_eq!(client.diagnostics(&doc)["diagnostics"], json!([]));
    assert!(client.shutdown().success());
}

#[test]
fn hover_shows_schema_docs_and_legal_values_at_utf16_positions() {
    let (mut client, init) = Client::start();
    assert_eq!(init["capabilities"]["hoverProvider"], true);
    let doc = uri("hover.harness");
    // Non-ASCII before the hovered word on its line: the server must count UTF-16 units.
    let text = CLEAN.replace(
        "    strategy = react",
        "    # ✓\n    strategy = react # “日本” 🚀",
    );
    client.open(&doc, &text);
    let hover = |client: &mut Client, needle: &str, delta: u32| {
        client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": doc }, "position": pos_of(&text, needle, delta) }),
        )
    };
    let field = hover(&mut client, "strategy = react", 3);
    assert_eq!(field["contents"]["kind"], "markdown");
    let value = field["contents"]["value"].as_str().unwrap();
    assert!(value.contains("**`loop.strategy`**"), "{value}");
    assert!(
        value.contains("one of `react`, `plan_then_act`, `reflect`"),
        "{value}"
    );
    assert_eq!(
        field["range"]["start"],
        pos_of(&text, "strategy = react", 0)
    );

    let hook = hover(&mut client, "after_model as", 0);
    let value = hook["contents"]["value"].as_str().unwrap();
    assert!(value.contains("**`after_model`** — hook"), "{value}");
    assert!(value.contains("`reprompt`"), "{value}");

    let action = hover(&mut client, "reprompt \"", 4);
    assert!(action["contents"]["value"]
        .as_str()
        .unwrap()
        .contains("Legal on: `after_model`"));

    // Nothing to say between words.
    assert_eq!(hover(&mut client, "  loop {", 0), Value::Null);
    assert!(client.shutdown().success());
}

#[test]
fn completion_offers_hooks_conditions_actions_fields_and_declared_names() {
    let (mut client, init) = Client::start();
    assert!(init["capabilities"]["completionProvider"]["triggerCharacters"].is_array());
    let doc = uri("complete.harness");
    let mut version = 1;
    client.open(&doc, CLEAN);
    let mut labels_at = |client: &mut Client, text: &str, marker: &str| -> Vec<String> {
        version += 1;
        client.change(&doc, version, text);
        let _ = client.diagnostics(&doc);
        let result = client.request(
            "textDocument/completion",
            json!({ "textDocument": { "uri": doc }, "position": pos_after_last(text, marker) }),
        );
        result
            .as_array()
            .expect("a list of items")
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    let end = CLEAN.rfind('}').unwrap();
    let with = |tail: &str| format!("{}  # “日本” 🚀\n{tail}\n}}\n", &CLEAN[..end]);

    let hooks = labels_at(&mut client, &with("  on "), "  on ");
    assert!(hooks.contains(&"before_tool".to_string()), "{hooks:?}");
    let conds = labels_at(
        &mut client,
        &with("  on after_tool when "),
        "after_tool when ",
    );
    assert!(conds.contains(&"tool_error".to_string()), "{conds:?}");
    assert!(!conds.contains(&"malformed_call".to_string()), "{conds:?}");
    let tools = labels_at(&mut client, &with("  on before_tool when call("), "call(");
    assert!(tools.contains(&"examine".to_string()) && tools.contains(&"go".to_string()));
    let actions = labels_at(
        &mut client,
        &with("  on before_tool when call(go) {\n    \n  }"),
        "call(go) {\n    ",
    );
    assert!(actions.contains(&"block".to_string()), "{actions:?}");
    assert!(!actions.contains(&"reprompt".to_string()), "{actions:?}");
    let fields = labels_at(
        &mut client,
        &CLEAN.replace("    max_tokens = 256", "    max_tokens = 256\n    "),
        "max_tokens = 256\n    ",
    );
    assert!(fields.contains(&"top_p".to_string()), "{fields:?}");
    assert!(!fields.contains(&"max_tokens".to_string()), "{fields:?}");
    assert!(client.shutdown().success());
}

#[test]
fn definition_and_references_for_tools_prompts_and_named_rules() {
    let (mut client, init) = Client::start();
    assert_eq!(init["capabilities"]["definitionProvider"], true);
    assert_eq!(init["capabilities"]["referencesProvider"], true);
    let doc = uri("navigate.harness");
    let end = CLEAN.rfind('}').unwrap();
    let text = format!(
        "{}  prompt hint \"Zuerst schauen 👀\"\n  on before_tool as guard when call(go) or call(examine) {{ log \"é\" }}\n  on after_tool when call(go) and tool_error {{ retry }}\n}}\n",
        &CLEAN[..end]
    )
    .replace("pin = [system]", "pin = [system, hint]");
    let opened = client.open(&doc, &text);
    assert_eq!(opened["diagnostics"], json!([]), "{opened}");
    let at = |needle: &str| json!({ "textDocument": { "uri": doc }, "position": pos_of(&text, needle, 0) });

    let def = client.request("textDocument/definition", at("go) or"));
    assert_eq!(def["uri"], doc);
    assert_eq!(def["range"]["start"], pos_of(&text, "go(target", 0));
    assert_eq!(def["range"]["end"], pos_of(&text, "go(target", 2));
    let def = client.request("textDocument/definition", at("hint]"));
    assert_eq!(def["range"]["start"], pos_of(&text, "hint \"", 0));
    let def = client.request("textDocument/definition", at("guard"));
    assert_eq!(def["range"]["start"], pos_of(&text, "guard", 0));
    assert_eq!(
        client.request("textDocument/definition", at("before_tool as")),
        Value::Null
    );

    let mut refs = |needle: &str, include: bool| -> Vec<Value> {
        let mut params = at(needle);
        params["context"] = json!({ "includeDeclaration": include });
        let result = client.request("textDocument/references", params);
        result
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["range"]["start"].clone())
            .collect()
    };
    let go = refs("go(target", true);
    assert_eq!(go.len(), 3, "{go:?}");
    assert_eq!(go[1], pos_of(&text, "go) or", 0));
    assert_eq!(refs("go(target", false).len(), 2);
    assert_eq!(
        refs("hint \"", true),
        vec![pos_of(&text, "hint]", 0), pos_of(&text, "hint \"", 0)]
    );
    assert_eq!(refs("examine)", true).len(), 2);
    assert!(client.shutdown().success());
}
