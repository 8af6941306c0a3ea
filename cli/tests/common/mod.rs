//! Shared helpers of the CLI's end-to-end tests: the binary, scratch directories, and a
//! scripted OpenAI-compatible server on loopback that plays the key_door world, so that
//! runs go through the real `openai:` backend, API key and all.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Runs the binary with `env` set (and nothing else changed).
pub fn harnessx(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_harnessx"));
    c.args(args).env("NO_COLOR", "1").env(
        "HARNESSX_CACHE_DIR",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-cache"),
    );
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run harnessx")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh directory under the target dir, unique to the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Every file under `dir`, by path relative to it, with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    std::fs::read(&p).expect("read"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Temporary files of `write_atomic` anywhere under `dir`.
pub fn temp_files(dir: &Path) -> Vec<String> {
    snapshot(dir)
        .into_keys()
        .filter(|k| {
            Path::new(k)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".tmp"))
        })
        .collect()
}

/// The calls that solve key_door whichever container holds the key.
pub const SOLUTION: [&str; 7] = [
    r#"open("drawer")"#,
    r#"open("box")"#,
    r#"open("shelf")"#,
    r#"take("key")"#,
    r#"open("door")"#,
    r#"go("garden")"#,
    "finish()",
];

/// A key_door harness for the scripted server. `marker` goes into the system prompt: the
/// server solves the task for `SOLVER` and gives up at once for any other marker.
pub fn key_door_harness(marker: &str, key_env: &str) -> String {
    format!(
        r#"harness kd {{
  model {{
    backend = "sim:small"
    api_key_env = "{key_env}"
  }}
  prompt system "{marker}. Goal: {{{{task.goal}}}}"
  tool look() "Look around"
  tool open(target: string) "Open something"
  tool take(object: string) "Take something"
  tool go(target: string) "Go somewhere"
  tool examine(target: string) "Examine something"
  tool finish(answer: string?) "Finish"
  loop {{
    max_steps = 10
  }}
}}
"#
    )
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

/// A scripted chat-completions server on 127.0.0.1: for a system prompt that mentions
/// `SOLVER` it answers with [`SOLUTION`] (the n-th reply for a request holding n assistant
/// messages), for any other `finish()`. It stops when dropped, or after fifteen minutes.
/// [`FakeOpenAi::failing_every`] answers every n-th request with HTTP 503 instead;
/// [`FakeOpenAi::echoing_key`] and [`FakeOpenAi::unauthorized`] repeat the API key they
/// were sent, as careless models and servers do.
pub struct FakeOpenAi {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// How many requests got a 503 ([`FakeOpenAi::failing_every`]).
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How a [`FakeOpenAi`] misbehaves.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Healthy,
    /// Every n-th request gets a 503.
    FailEvery(usize),
    /// `finish()` replies give the `Authorization` header they answer as the answer.
    EchoKey,
    /// Every request gets a 401 whose body quotes the key.
    Unauthorized,
}

impl FakeOpenAi {
    pub fn start() -> FakeOpenAi {
        FakeOpenAi::serve(Mode::Healthy)
    }

    /// Like [`FakeOpenAi::start`], but the n-th, 2n-th, ... request gets a 503.
    pub fn failing_every(n: usize) -> FakeOpenAi {
        FakeOpenAi::serve(Mode::FailEvery(n.max(1)))
    }

    /// Like [`FakeOpenAi::start`], but the model answers with the key it was sent:
    /// `finish("you sent Bearer KEY")` instead of `finish()` (which key_door accepts, so
    /// the episodes still succeed or fail as they would).
    pub fn echoing_key() -> FakeOpenAi {
        FakeOpenAi::serve(Mode::EchoKey)
    }

    /// Every request gets HTTP 401 with the key it was sent in the body, as an
    /// "incorrect API key" page that quotes it.
    pub fn unauthorized() -> FakeOpenAi {
        FakeOpenAi::serve(Mode::Unauthorized)
    }

    fn serve(mode: Mode) -> FakeOpenAi {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind loopback");
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .expect("an IP address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let (seen2, stop2, refused2) = (Arc::clone(&seen), Arc::clone(&stop), Arc::clone(&refused));
        let thread = std::thread::spawn(move || {
            // A safety net against a leaked server, not a time limit: a compiled run builds
            // its runner crate first, which takes minutes on a loaded machine.
            let deadline = Instant::now() + Duration::from_secs(900);
            let mut received = 0usize;
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                received += 1;
                let nth = |n: usize| received.checked_rem(n) == Some(0);
                if matches!(mode, Mode::FailEvery(n) if nth(n)) {
                    refused2.fetch_add(1, Ordering::SeqCst);
                    let _ = req.respond(
                        tiny_http::Response::from_string("overloaded").with_status_code(503),
                    );
                    continue;
                }
                let authorization = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.as_str().to_string());
                let mut raw = String::new();
                let _ = req.as_reader().read_to_string(&mut raw);
                let body: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
                let mut reply = answer(&body);
                let sent = authorization.clone().unwrap_or_default();
                if let Ok(mut s) = seen2.lock() {
                    s.push(Seen {
                        authorization,
                        body,
                    });
                }
                if let Mode::Unauthorized = mode {
                    let page = serde_json::json!({"error": {
                        "message": format!("Incorrect API key provided: {sent}"),
                        "type": "invalid_request_error"}});
                    let _ = req.respond(
                        tiny_http::Response::from_string(page.to_string()).with_status_code(401),
                    );
                    continue;
                }
                if matches!(mode, Mode::EchoKey) && reply == "finish()" {
                    reply = format!("finish({:?})", format!("you sent {sent}"));
                }
                let json = serde_json::json!({
                    "choices": [{"message": {"role": "assistant", "content": reply}}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 5}
                });
                let header = tiny_http::Header::from_bytes("Content-Type", "application/json")
                    .expect("header");
                let _ = req.respond(
                    tiny_http::Response::from_string(json.to_string()).with_header(header),
                );
            }
        });
        FakeOpenAi {
            url: format!("http://127.0.0.1:{port}/v1"),
            seen,
            refused,
            stop,
            thread: Some(thread),
        }
    }

    /// The model spec that reaches this server, reading the key from `key_env`.
    pub fn spec(&self, key_env: &str) -> String {
        format!("openai:{}#scripted?key_env={key_env}&retries=0", self.url)
    }

    /// How many requests were answered with a 503 so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn answer(body: &serde_json::Value) -> String {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let system = messages
        .first()
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    if !system.contains("SOLVER") {
        return "finish()".into();
    }
    let replies = messages.iter().filter(|m| m["role"] == "assistant").count();
    SOLUTION.get(replies).unwrap_or(&"finish()").to_string()
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
