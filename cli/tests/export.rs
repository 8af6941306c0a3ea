//! `harnessx export` end to end: episodes run through the real `openai:` backend against a
//! scripted server on loopback, with an API key in the environment that the backend sends;
//! every exported line is checked against docs/export/*.schema.json (and its calls against
//! the tools' own parameter schemas), and no secret appears in anything written.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{harnessx, key_door_harness, scratch, text, FakeOpenAi};
use serde_json::Value;

const KEY: &str = "sk-test-3f9a7c21d4e8b6050aa1";
const OTHER_KEY: &str = "hx-other-secret-77e1c0de";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn schema(format: &str) -> jsonschema::Validator {
    let path = workspace().join(format!("docs/export/{format}.schema.json"));
    let value: Value = serde_json::from_str(&fs::read_to_string(&path).expect("schema file"))
        .expect("schema is JSON");
    jsonschema::validator_for(&value).expect("a valid JSON schema")
}

fn lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .expect("export file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// Checks `line` against the format's schema, and what a schema cannot say: every call's
/// arguments are a JSON object valid against its tool's parameters, and every tool message
/// answers the call just before it.
fn check_line(format: &str, line: &Value, validator: &jsonschema::Validator) {
    let errors: Vec<String> = validator.iter_errors(line).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{format}: {errors:?}\n{line}");
    let tools: Vec<Value> = line["tools"].as_array().cloned().unwrap_or_default();
    let parts: &[&str] = if format == "sft" {
        &["messages"]
    } else {
        &["prompt", "chosen", "rejected"]
    };
    for part in parts {
        let mut open_call: Option<String> = None;
        let messages = line[*part].as_array().cloned().unwrap_or_default();
        for m in messages {
            if let Some(calls) = m["tool_calls"].as_array() {
                let f = &calls[0]["function"];
                let tool = tools
                    .iter()
                    .find(|t| t["function"]["name"] == f["name"])
                    .unwrap_or_else(|| panic!("a call of an unknown tool: {m}"));
                let args: Value = serde_json::from_str(f["arguments"].as_str().unwrap_or(""))
                    .expect("arguments are JSON");
                let params = jsonschema::validator_for(&tool["function"]["parameters"])
                    .expect("parameters are a schema");
                assert!(params.is_valid(&args), "{args} against {tool}");
                open_call = calls[0]["id"].as_str().map(str::to_string);
            } else if m["role"] == "tool" {
                // In a preference continuation the call may sit in the shared prompt.
                if *part != "chosen" && *part != "rejected" || open_call.is_some() {
                    assert_eq!(m["tool_call_id"].as_str(), open_call.as_deref(), "{m}");
                }
                open_call = None;
            }
        }
    }
}

/// Every file under `dir`, read as text.
fn all_text(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.clone(),
                    String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned(),
                ));
            }
        }
    }
    out
}

#[test]
fn sft_and_preference_exports_are_schema_valid_and_hold_no_secret() {
    let dir = scratch("export");
    let server = FakeOpenAi::start();
    let env = [("OPENAI_API_KEY", KEY), ("HARNESSX_API_KEY", OTHER_KEY)];
    let spec = server.spec("OPENAI_API_KEY");
    for (name, marker) in [("solver", "SOLVER"), ("quitter", "QUITTER")] {
        let file = dir.join(format!("{name}.harness"));
        fs::write(&file, key_door_harness(marker, "OPENAI_API_KEY")).unwrap();
        let traces = dir.join(format!("{name}-traces"));
        let o = harnessx(
            &[
                "run",
                file.to_str().unwrap(),
                "--env",
                "key_door",
                "--model",
                &spec,
                "--tasks",
                "3",
                "--interpret",
                "--trace-dir",
                traces.to_str().unwrap(),
            ],
            &env,
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    }
    // The key was read from the environment and sent: this is the real backend path.
    let seen = server.requests();
    assert!(!seen.is_empty());
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {KEY}"))));

    let out = dir.join("out");
    let sft = out.join("sft.jsonl");
    let o = harnessx(
        &[
            "export",
            dir.join("solver-traces").to_str().unwrap(),
            dir.join("quitter-traces").to_str().unwrap(),
            "--format",
            "sft",
            "--out",
            sft.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("wrote 3 sft example(s)"),
        "{}",
        text(&o.stdout)
    );
    let sft_lines = lines(&sft);
    assert_eq!(
        sft_lines.len(),
        3,
        "the solver's three successes, none of the quitter's"
    );
    let v = schema("sft");
    for l in &sft_lines {
        check_line("sft", l, &v);
        let calls = l["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m.get("tool_calls").is_some())
            .count();
        assert_eq!(calls, common::SOLUTION.len(), "{l}");
    }
    let meta: Value =
        serde_json::from_str(&fs::read_to_string(out.join("sft.meta.json")).unwrap()).unwrap();
    assert_eq!(meta["simulated"], false);
    assert_eq!(meta["lines"].as_array().map(Vec::len), Some(3));
    assert_eq!(meta["lines"][0]["episode"]["env"], "key_door");

    let pref = out.join("pref.jsonl");
    let o = harnessx(
        &[
            "export",
            dir.join("solver-traces").to_str().unwrap(),
            dir.join("quitter-traces").to_str().unwrap(),
            "--format",
            "preference",
            "--out",
            pref.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let pref_lines = lines(&pref);
    assert_eq!(
        pref_lines.len(),
        3,
        "one pair per task: same task and seed, one won"
    );
    let v = schema("preference");
    for l in &pref_lines {
        check_line("preference", l, &v);
        assert!(l["chosen"].to_string().contains("garden"), "{l}");
    }

    // Filters: a hash prefix that matches nothing, too few steps, the wrong environment.
    for extra in [
        &["--harness-hash", "ffff"][..],
        &["--max-steps", "2"][..],
        &["--env", "household"][..],
    ] {
        let f = out.join("filtered.jsonl");
        let mut args = vec![
            "export",
            dir.to_str().unwrap(),
            "--format",
            "sft",
            "--out",
            f.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = harnessx(&args, &env);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(lines(&f).len(), 0, "{extra:?}");
    }

    // No secret in anything written: exports, provenance, traces, run.json.
    for (path, body) in all_text(&dir) {
        assert!(!body.contains(KEY), "{}", path.display());
        assert!(!body.contains(OTHER_KEY), "{}", path.display());
    }
}

#[test]
fn a_secret_echoed_into_a_trace_is_redacted_from_the_export() {
    let dir = scratch("export-leak");
    let server = FakeOpenAi::start();
    let env = [("HARNESSX_API_KEY", OTHER_KEY)];
    let file = dir.join("solver.harness");
    fs::write(&file, key_door_harness("SOLVER", "HARNESSX_API_KEY")).unwrap();
    let traces = dir.join("traces");
    let o = harnessx(
        &[
            "run",
            file.to_str().unwrap(),
            "--env",
            "key_door",
            "--model",
            &server.spec("HARNESSX_API_KEY"),
            "--tasks",
            "1",
            "--interpret",
            "--trace-dir",
            traces.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // An environment that printed the key: put it into an observation.
    let trace = traces.join("episode-0000.jsonl");
    let body = fs::read_to_string(&trace).unwrap();
    let leaked = body.replacen(
        "You are in the hall.",
        &format!("The key is {OTHER_KEY}."),
        1,
    );
    assert_ne!(leaked, body);
    fs::write(&trace, leaked).unwrap();

    let sft = dir.join("sft.jsonl");
    let o = harnessx(
        &[
            "export",
            traces.to_str().unwrap(),
            "--format",
            "sft",
            "--out",
            sft.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout)
            .contains("the values of HARNESSX_API_KEY appeared in the episodes and were redacted"),
        "{}",
        text(&o.stdout)
    );
    let written = fs::read_to_string(&sft).unwrap();
    assert!(!written.contains(OTHER_KEY));
    assert!(written.contains("The key is [REDACTED]."));
    check_line("sft", &lines(&sft)[0], &schema("sft"));
}

#[test]
fn traces_without_their_harness_are_a_clear_error() {
    let dir = scratch("export-no-tools");
    let server = FakeOpenAi::start();
    let file = dir.join("solver.harness");
    fs::write(&file, key_door_harness("SOLVER", "HARNESSX_API_KEY")).unwrap();
    let traces = dir.join("traces");
    let env = [("HARNESSX_API_KEY", OTHER_KEY)];
    let o = harnessx(
        &[
            "run",
            file.to_str().unwrap(),
            "--env",
            "key_door",
            "--model",
            &server.spec("HARNESSX_API_KEY"),
            "--tasks",
            "1",
            "--interpret",
            "--trace-dir",
            traces.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    fs::remove_file(traces.join("run.json")).unwrap();
    let sft = dir.join("sft.jsonl");
    let args = [
        "export",
        traces.to_str().unwrap(),
        "--format",
        "sft",
        "--out",
        sft.to_str().unwrap(),
    ];
    let o = harnessx(&args, &env);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--tools-from"),
        "{}",
        text(&o.stderr)
    );
    assert!(!sft.exists(), "nothing written on error");
    let mut with_tools = args.to_vec();
    with_tools.extend(["--tools-from", file.to_str().unwrap()]);
    let o = harnessx(&with_tools, &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(lines(&sft).len(), 1);

    let o = harnessx(
        &[
            "export",
            "does/not/exist",
            "--format",
            "sft",
            "--out",
            sft.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no such file or directory"),
        "{}",
        text(&o.stderr)
    );
}
