//! Golden episodes: the harness played on three tasks of the `key_door` world by a
//! scripted model (`replies.txt`, the same replies in every episode), each episode's trace
//! snapshot-tested. Any change to what the harness sends the model, how it parses and
//! repairs a reply, or which rules fire, changes a trace.
//!
//! A scripted model needs no network and no API key. To pin a real model's behaviour
//! instead, record its replies once with `--model cache:DIR:openai:...` and replay them
//! here with `--model replay:DIR` (docs/MODELS.md, "Response cache and replay").

use harness_snapshots::harnessx;

#[test]
fn three_scripted_episodes() {
    let dir = std::env::temp_dir().join(format!("harness-snapshots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let traces = dir.to_str().expect("a UTF-8 temp path");
    let summary = harnessx(&[
        "run",
        "agent.harness",
        "--interpret",
        "--env",
        "key_door",
        "--model",
        "scripted:replies.txt",
        "--tasks",
        "3",
        "--trace-dir",
        traces,
    ]);
    insta::assert_snapshot!("summary", summary);
    for task in 0..3 {
        let path = dir.join(format!("episode-{task:04}.jsonl"));
        let trace =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        insta::assert_snapshot!(format!("episode-{task}"), trace);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
