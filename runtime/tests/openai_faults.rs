//! The `openai:` backend against a fault-injecting OpenAI-compatible server on loopback.
//!
//! The server is a minimal HTTP/1.1 responder on `127.0.0.1:0` in a thread (and a thread
//! per connection): it plays a script of replies in the order connections arrive (success,
//! 429, 500, slow, truncated, wrong shapes, dropped connections), records every request it
//! receives, and stops by itself when the test drops it or after a fixed deadline, so no
//! test can leave it running. The shared per-endpoint state (`Retry-After` pauses, rate
//! limits) is tested here too, with several model instances at once.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harnessx_runtime::call::ToolSpec;
use harnessx_runtime::envs::KeyDoor;
use harnessx_runtime::ir::{Decoding, ParamIr, TypeIr};
use harnessx_runtime::message::{Message, Role};
use harnessx_runtime::models::cache::CachingModel;
use harnessx_runtime::models::openai::{OpenAiConfig, OpenAiModel, SchemaFormat, ToolMode};
use harnessx_runtime::models::{Model, ModelError, ModelRequest};
use harnessx_runtime::run_episode;
use harnessx_runtime::trace::VecSink;

/// One scripted reply.
#[derive(Debug, Clone)]
enum Fault {
    /// 200 with this body.
    Ok(String),
    /// This status and body, with an optional `Retry-After` (seconds).
    Status(u16, String, Option<u64>),
    /// Wait, then 200 with this body.
    Slow(Duration, String),
    /// Announce the whole body's length, send only the first `n` bytes, close.
    Short(String, usize),
    /// Close the connection without replying.
    Drop,
}

#[derive(Debug, Clone)]
struct Captured {
    headers: Vec<(String, String)>,
    body: String,
    /// When the whole request had arrived.
    at: Instant,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

struct FaultServer {
    url: String,
    requests: Arc<Mutex<Vec<Captured>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultServer {
    /// Serve `script` in order; after it runs out, the last entry repeats.
    fn start(script: Vec<Fault>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stop2) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            // A hard bound, so a broken test cannot leave the thread running.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut served = 0usize;
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let fault = script
                            .get(served)
                            .or(script.last())
                            .cloned()
                            .unwrap_or(Fault::Drop);
                        served += 1;
                        // A thread per connection, so a slow reply holds up no other.
                        let reqs = Arc::clone(&reqs);
                        std::thread::spawn(move || handle(stream, fault, &reqs));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        FaultServer {
            url: format!("http://127.0.0.1:{port}/v1"),
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn captured(&self) -> Vec<Captured> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// When each request arrived, in order.
    fn arrivals(&self) -> Vec<Instant> {
        self.captured().iter().map(|c| c.at).collect()
    }

    fn config(&self) -> OpenAiConfig {
        let mut c = OpenAiConfig::new(&self.url, "test-model");
        // Short backoffs keep the suite fast; the schedule itself is unit-tested.
        c.backoff_ms = 5;
        c.backoff_max_ms = 50;
        c.timeout_ms = Some(5_000);
        c
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut stream: TcpStream, fault: Fault, reqs: &Mutex<Vec<Captured>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(req) = read_request(&mut stream) else {
        return;
    };
    if let Ok(mut r) = reqs.lock() {
        r.push(req);
    }
    let respond = |s: &mut TcpStream, code: u16, body: &str, extra: &str, send: usize| {
        let reason = match code {
            200 => "OK",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&body.as_bytes()[..send.min(body.len())]);
        let _ = s.flush();
    };
    match fault {
        Fault::Ok(body) => respond(&mut stream, 200, &body, "", usize::MAX),
        Fault::Status(code, body, retry_after) => {
            let extra = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            respond(&mut stream, code, &body, &extra, usize::MAX)
        }
        Fault::Slow(wait, body) => {
            std::thread::sleep(wait);
            respond(&mut stream, 200, &body, "", usize::MAX)
        }
        Fault::Short(body, n) => respond(&mut stream, 200, &body, "", n),
        Fault::Drop => {}
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn read_request(s: &mut TcpStream) -> Option<Captured> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string();
    Some(Captured {
        headers,
        body,
        at: Instant::now(),
    })
}

fn reply(content: &str) -> String {
    serde_json::json!({
        "id": "x", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 17, "completion_tokens": 5, "total_tokens": 22}
    })
    .to_string()
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "open".into(),
            description: "Open a container".into(),
            params: vec![ParamIr::new("target", TypeIr::String)],
        },
        ToolSpec {
            name: "look".into(),
            description: "Look".into(),
            params: vec![],
        },
    ]
}

fn request() -> ModelRequest {
    ModelRequest {
        messages: vec![
            Message {
                role: Role::System,
                content: "You are an agent.".into(),
            },
            Message {
                role: Role::User,
                content: "You see a drawer.".into(),
            },
        ],
        tools: tools(),
        temperature: 0.2,
        max_tokens: 32,
        top_p: None,
        decoding: Decoding::Free,
        seed: 0xdead_beef_cafe,
        admissible: vec![r#"open("drawer")"#.into(), "look()".into()],
        expert: None,
    }
}

#[test]
fn a_successful_reply_parses_with_usage_and_the_request_is_well_formed() {
    let server = FaultServer::start(vec![Fault::Ok(reply("look()"))]);
    let mut m = OpenAiModel::new(server.config());
    let r = m.complete(&request()).expect("reply");
    assert_eq!(r.text, "look()");
    assert_eq!((r.prompt_tokens, r.completion_tokens), (17, 5));
    assert_eq!(m.stats().estimated_usage, 0);
    let got = server.captured();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "You see a drawer.");
    assert_eq!(body["max_tokens"], 32);
    assert_eq!(body["stream"], false);
    // Seeds are masked to 31 bits, which every server accepts.
    assert_eq!(body["seed"], 0xdead_beef_cafe_u64 & 0x7fff_ffff);
    // Text mode: no native tools, and free decoding: no response_format.
    assert!(body.get("tools").is_none() && body.get("response_format").is_none());
    // Without a key variable no Authorization header is sent.
    assert!(got[0].header("authorization").is_none());
}

#[test]
fn without_usage_the_token_counts_are_estimated_and_counted() {
    let body = r#"{"choices":[{"message":{"role":"assistant","content":"look()"}}]}"#;
    let server = FaultServer::start(vec![Fault::Ok(body.into())]);
    let mut m = OpenAiModel::new(server.config());
    let r = m.complete(&request()).expect("reply");
    assert!(r.prompt_tokens > 0 && r.completion_tokens > 0);
    assert_eq!(m.stats().estimated_usage, 1);
}

#[test]
fn rate_limits_are_retried_then_succeed() {
    let server = FaultServer::start(vec![
        Fault::Status(429, r#"{"error":{"message":"slow down"}}"#.into(), None),
        Fault::Status(429, "{}".into(), None),
        Fault::Ok(reply("look()")),
    ]);
    let mut m = OpenAiModel::new(server.config());
    let r = m.complete(&request()).expect("reply after retries");
    assert_eq!(r.text, "look()");
    assert_eq!(server.count(), 3);
    assert_eq!(m.stats().http_requests, 3);
    assert_eq!(m.stats().retries.rate_limited, 2);
    assert_eq!(m.retries().total(), 2);
    assert_eq!(m.stats().backoffs_ms.len(), 2);
}

#[test]
fn retry_after_replaces_the_backoff_up_to_a_minute() {
    let server = FaultServer::start(vec![
        Fault::Status(429, "{}".into(), Some(1)),
        Fault::Status(503, "{}".into(), Some(61)),
        Fault::Ok(reply("look()")),
    ]);
    let mut cfg = server.config();
    cfg.backoff_max_ms = 300;
    let mut m = OpenAiModel::new(cfg);
    assert!(m.complete(&request()).is_ok());
    // The server asked for 1 s, above the backoff cap: honoured. 61 s is more than a
    // minute: ignored, the ordinary backoff (at most 300 ms) applies.
    let b = &m.stats().backoffs_ms;
    assert_eq!(b.len(), 2);
    assert_eq!(b[0], 1_000);
    assert!(b[1] < 300, "{b:?}");
}

/// One episode's 429 with `Retry-After` holds the requests of every other episode on the
/// endpoint, not only its own retry.
#[test]
fn retry_after_pauses_every_request_to_the_endpoint() {
    let server = FaultServer::start(vec![
        Fault::Status(429, "{}".into(), Some(1)),
        Fault::Ok(reply("look()")),
    ]);
    let cfg = server.config();
    let endpoint = harnessx_runtime::models::endpoint::endpoint(&cfg.base_url);
    std::thread::scope(|s| {
        let first = cfg.clone();
        s.spawn(move || {
            let mut m = OpenAiModel::new(first);
            assert!(m.complete(&request()).is_ok());
            assert_eq!(m.retries().rate_limited, 1);
        });
        // The others start once the 429 is in, while the pause lasts.
        let deadline = Instant::now() + Duration::from_secs(20);
        while endpoint.paused_for().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(endpoint.paused_for().is_some(), "no pause after the 429");
        for _ in 0..4 {
            let cfg = cfg.clone();
            s.spawn(move || {
                let mut m = OpenAiModel::new(cfg);
                assert!(m.complete(&request()).is_ok());
                // They waited the pause out without sending anything, so no retry.
                assert_eq!(m.retries().total(), 0);
            });
        }
    });
    let paused_at = server.arrivals()[0];
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 6);
    for t in &arrivals[1..] {
        let after = t.duration_since(paused_at);
        assert!(
            after >= Duration::from_millis(990),
            "a request came {after:?} after the 429"
        );
    }
}

/// `rps` spaces requests out across model instances (episodes): with 5 per second and a
/// burst of 5, twelve requests need at least 7 / 5 s.
#[test]
fn a_requests_per_second_limit_is_shared_by_every_episode() {
    let server = FaultServer::start(vec![Fault::Ok(reply("look()"))]);
    let mut cfg = server.config();
    cfg.limits.requests_per_second = Some(5.0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let cfg = cfg.clone();
            s.spawn(move || {
                let mut m = OpenAiModel::new(cfg);
                for _ in 0..3 {
                    assert!(m.complete(&request()).is_ok());
                }
            });
        }
    });
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 12);
    let span = arrivals[11].duration_since(arrivals[0]);
    assert!(
        span >= Duration::from_millis(1_350),
        "12 requests in {span:?}"
    );
    // Any window of one second holds at most the burst plus what refills in it.
    for (i, a) in arrivals.iter().enumerate() {
        let within = arrivals[i..]
            .iter()
            .take_while(|b| b.duration_since(*a) < Duration::from_millis(950))
            .count();
        assert!(within <= 10, "{within} requests within a second");
    }
}

#[test]
fn server_errors_are_retried_up_to_the_limit_then_reported() {
    let server = FaultServer::start(vec![Fault::Status(500, "upstream exploded".into(), None)]);
    let mut cfg = server.config();
    cfg.retries = 2;
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("gives up");
    assert_eq!(server.count(), 3, "one attempt and two retries");
    let ModelError::Backend(msg) = &e else {
        panic!("want a backend error, got {e:?}")
    };
    assert!(msg.contains("gave up after 3 attempts"), "{msg}");
    assert!(
        msg.contains("HTTP 500") && msg.contains("upstream exploded"),
        "{msg}"
    );
}

#[test]
fn other_client_errors_are_not_retried() {
    let server = FaultServer::start(vec![Fault::Status(
        400,
        r#"{"error":{"message":"bad field"}}"#.into(),
        None,
    )]);
    let mut m = OpenAiModel::new(server.config());
    let e = m.complete(&request()).expect_err("fails");
    assert_eq!(server.count(), 1);
    assert!(e.to_string().contains("HTTP 400"), "{e}");
}

#[test]
fn a_slow_reply_times_out_and_is_retried() {
    let slow = Fault::Slow(Duration::from_millis(1_500), reply("look()"));
    let server = FaultServer::start(vec![slow.clone(), Fault::Ok(reply("look()"))]);
    let mut cfg = server.config();
    cfg.timeout_ms = Some(200);
    let mut m = OpenAiModel::new(cfg.clone());
    assert_eq!(m.complete(&request()).map(|r| r.text), Ok("look()".into()));
    assert_eq!(server.count(), 2);
    assert_eq!(m.stats().retries.timeout, 1);

    // A server that stays slow: the bound, then an infrastructure error.
    let server = FaultServer::start(vec![slow]);
    let mut cfg = server.config();
    cfg.timeout_ms = Some(200);
    cfg.retries = 1;
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("times out");
    assert!(e.is_infrastructure(), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("gave up after 2 attempts") && msg.contains("timed out"),
        "{msg}"
    );
    assert_eq!(server.count(), 2);
}

#[test]
fn truncated_json_is_retried_then_a_clear_error() {
    let full = reply("look()");
    let cut = full[..full.len() / 2].to_string();
    let server = FaultServer::start(vec![Fault::Ok(cut.clone()), Fault::Ok(full)]);
    let mut m = OpenAiModel::new(server.config());
    assert_eq!(m.complete(&request()).map(|r| r.text), Ok("look()".into()));
    assert_eq!(m.stats().retries.malformed, 1);

    let server = FaultServer::start(vec![Fault::Ok(cut)]);
    let mut cfg = server.config();
    cfg.retries = 2;
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("malformed");
    let msg = e.to_string();
    assert!(
        msg.contains("gave up after 3 attempts")
            && msg.contains("malformed reply")
            && msg.contains("invalid JSON"),
        "{msg}"
    );
    assert_eq!(server.count(), 3);
}

#[test]
fn a_body_cut_short_by_the_connection_is_retried_then_reported() {
    let full = reply("look()");
    let server = FaultServer::start(vec![
        Fault::Short(full.clone(), 20),
        Fault::Short(full.clone(), 20),
        Fault::Ok(full),
    ]);
    let mut m = OpenAiModel::new(server.config());
    assert_eq!(m.complete(&request()).map(|r| r.text), Ok("look()".into()));
    assert_eq!(server.count(), 3);

    let server = FaultServer::start(vec![Fault::Short(reply("look()"), 20)]);
    let mut cfg = server.config();
    cfg.retries = 1;
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("gives up");
    assert!(e.to_string().contains("gave up after 2 attempts"), "{e}");
}

#[test]
fn wrong_shapes_are_clear_errors() {
    for (body, want) in [
        (r#"{"data": []}"#, "choices[0]"),
        (r#"{"choices": [{"text": "look()"}]}"#, "message"),
        (
            r#"{"choices": [{"message": {"role": "assistant"}}]}"#,
            "neither",
        ),
        (
            r#"{"choices": [{"message": {"content": ["x"]}}]}"#,
            "not a string",
        ),
        (
            r#"{"choices": [{"message": {"tool_calls": {}}}]}"#,
            "not an array",
        ),
        (
            r#"{"error": {"message": "model not loaded"}}"#,
            "model not loaded",
        ),
        (r#""just a string""#, "JSON object"),
        ("", "invalid JSON"),
    ] {
        let server = FaultServer::start(vec![Fault::Ok(body.into())]);
        let mut cfg = server.config();
        cfg.retries = 1;
        let mut m = OpenAiModel::new(cfg);
        match m.complete(&request()) {
            Err(ModelError::Backend(msg)) => {
                assert!(
                    msg.contains("malformed reply") && msg.contains(want),
                    "{body}: {msg}"
                )
            }
            other => panic!("{body}: want a backend error, got {other:?}"),
        }
        // Retried once (a server may send a bad body once), then reported.
        assert_eq!(server.count(), 2, "{body}");
        assert_eq!(m.retries().malformed, 1, "{body}");
    }
}

#[test]
fn a_dropped_connection_is_retried() {
    let server = FaultServer::start(vec![Fault::Drop, Fault::Ok(reply("look()"))]);
    let mut m = OpenAiModel::new(server.config());
    assert_eq!(m.complete(&request()).map(|r| r.text), Ok("look()".into()));
    assert_eq!(server.count(), 2);
    assert_eq!(m.stats().retries.connection, 1);
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    // Bind and release a port, so nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut cfg = OpenAiConfig::new(format!("http://127.0.0.1:{port}/v1"), "m");
    cfg.retries = 2;
    cfg.backoff_ms = 1;
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("refused");
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert!(e.to_string().contains("connection"), "{e}");
    assert_eq!(m.stats().http_requests, 3);
}

#[test]
fn native_tool_calls_are_sent_and_converted_to_call_text() {
    let tool_reply = serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "open", "arguments": "{\"target\": \"drawer\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "look", "arguments": "{}"}}
        ]}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 9}
    })
    .to_string();
    let server = FaultServer::start(vec![Fault::Ok(tool_reply)]);
    let mut cfg = server.config();
    cfg.tools = ToolMode::Native;
    let mut m = OpenAiModel::new(cfg);
    let r = m.complete(&request()).expect("reply");
    assert_eq!(r.text, r#"open("drawer")"#);
    assert_eq!(m.stats().extra_tool_calls, 1);
    let body = server.captured()[0].json();
    let f = &body["tools"][0]["function"];
    assert_eq!(f["name"], "open");
    assert_eq!(f["parameters"]["properties"]["target"]["type"], "string");
    assert_eq!(f["parameters"]["required"][0], "target");
}

#[test]
fn constrained_decoding_sends_a_schema_with_the_admissible_actions() {
    // The model picks a label; the engine gets the call it stands for.
    let server = FaultServer::start(vec![Fault::Ok(reply(r#""open drawer""#))]);
    let mut cfg = server.config();
    cfg.format = SchemaFormat::JsonSchema;
    let mut m = OpenAiModel::new(cfg);
    let req = ModelRequest {
        decoding: Decoding::Constrained,
        ..request()
    };
    let r = m.complete(&req).expect("reply");
    assert_eq!(r.text, r#"open("drawer")"#);
    let captured = server.captured();
    let raw = &captured[0].body;
    // The admissible actions become one enum of labels: two tools, so tool and arguments.
    assert!(
        raw.contains(r#""response_format":{"type":"json_schema","json_schema":{"name":"action","strict":false,"schema":{"enum":["open drawer","look"]}}}"#),
        "{raw}"
    );
    assert!(captured[0].json().get("tools").is_none());

    // A reply that is no label (a server that ignored the schema) is passed on as it is:
    // the engine's parser judges it.
    let server = FaultServer::start(vec![Fault::Ok(reply(
        r#"{"tool": "open", "args": {"target": "drawer"}}"#,
    ))]);
    let mut m = OpenAiModel::new(server.config());
    let r = m.complete(&req).expect("reply");
    assert!(harnessx_runtime::parse::parse_call(&r.text, &tools()).is_ok());
}

#[test]
fn the_api_key_is_sent_as_a_bearer_header_and_never_reaches_a_trace() {
    const SECRET: &str = "sk-test-4f9a1c0ffee";
    std::env::set_var("HX_OPENAI_FAULTS_KEY", SECRET);
    // A server that echoes the key in an error body, then replies normally, then repeats
    // the key in replies: plainly, and spelled with a JSON escape (`\u002d` is `-`), which
    // only decoding reveals.
    let echo = format!(r#"{{"error": {{"message": "bad key Bearer {SECRET}"}}}}"#);
    let escaped = reply(&format!("look() -- you sent {SECRET}"))
        .replace(SECRET, &SECRET.replacen('-', "\\u002d", 1));
    assert!(!escaped.contains(SECRET));
    let server = FaultServer::start(vec![
        Fault::Status(401, echo, None),
        Fault::Ok(reply("look()")),
        Fault::Ok(reply(&format!("look() -- you sent Bearer {SECRET}"))),
        Fault::Ok(escaped),
    ]);
    let mut cfg = server.config();
    cfg.api_key_env = Some("HX_OPENAI_FAULTS_KEY".into());
    let mut m = OpenAiModel::new(cfg.clone());
    assert!(!format!("{m:?}").contains(SECRET));
    assert!(!format!("{cfg:?} {cfg}").contains(SECRET));

    let mut ir = common::key_door_ir();
    ir.model.api_key_env = Some("HX_OPENAI_FAULTS_KEY".into());
    ir.loop_.max_steps = 3;
    // First episode: the 401 ends it with a model error whose message is redacted.
    let mut sink = VecSink::default();
    let res = run_episode(&ir, &mut m, &mut KeyDoor::new(), 0, 1, &mut sink);
    let trace = sink.to_jsonl();
    assert!(
        trace.contains("HTTP 401") && trace.contains("<redacted>"),
        "{trace}"
    );
    assert!(!res.success);
    // Second episode: normal replies.
    let mut sink2 = VecSink::default();
    run_episode(&ir, &mut m, &mut KeyDoor::new(), 1, 2, &mut sink2);
    let trace2 = sink2.to_jsonl();
    assert!(trace2.contains("look()"), "{trace2}");
    // Replies that repeat the key reach the trace redacted.
    let echoed = trace2.matches("you sent").count();
    assert!(echoed >= 2, "{trace2}");
    assert_eq!(trace2.matches("<redacted>").count(), echoed, "{trace2}");
    for t in [&trace, &trace2] {
        assert!(!t.contains(SECRET), "the key leaked into a trace");
        assert!(
            !t.contains("sk-test"),
            "part of the key leaked into a trace"
        );
    }
    let got = server.captured();
    assert!(got.len() >= 2);
    for c in &got {
        assert_eq!(
            c.header("authorization"),
            Some(format!("Bearer {SECRET}").as_str())
        );
        assert!(!c.body.contains(SECRET), "the key must not be in the body");
    }
}

#[test]
fn a_missing_key_variable_fails_clearly_without_a_request() {
    let server = FaultServer::start(vec![Fault::Ok(reply("look()"))]);
    let mut cfg = server.config();
    cfg.api_key_env = Some("HX_OPENAI_FAULTS_KEY_THAT_IS_NOT_SET".into());
    let mut m = OpenAiModel::new(cfg);
    let e = m.complete(&request()).expect_err("no key");
    assert!(
        e.to_string()
            .contains("HX_OPENAI_FAULTS_KEY_THAT_IS_NOT_SET"),
        "{e}"
    );
    assert_eq!(server.count(), 0);
}

#[test]
fn a_cached_openai_run_replays_identically_without_requests() {
    let dir = std::env::temp_dir().join(format!("hx-openai-faults-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = FaultServer::start(vec![
        Fault::Status(503, "warming up".into(), None),
        Fault::Ok(reply(r#"open("drawer")"#)),
        Fault::Ok(reply("look()")),
        Fault::Ok(reply(r#"go("garden")"#)),
    ]);
    let cfg = server.config();
    let id = cfg.model_id();
    let mut ir = common::key_door_ir();
    ir.loop_.max_steps = 3;
    let episode = |model: &mut dyn Model| {
        let mut sink = VecSink::default();
        run_episode(&ir, model, &mut KeyDoor::new(), 0, 42, &mut sink);
        sink.to_jsonl()
    };
    let recorded = {
        let mut m =
            CachingModel::new(Box::new(OpenAiModel::new(cfg.clone())), &dir, &id).expect("cache");
        episode(&mut m)
    };
    let served = server.count();
    assert_eq!(served, 4, "one 503, then three replies");
    let rerun = {
        let mut m = CachingModel::new(Box::new(OpenAiModel::new(cfg)), &dir, &id).expect("cache");
        episode(&mut m)
    };
    assert_eq!(server.count(), served, "the rerun sent no request");
    assert_eq!(rerun, recorded);
    let mut replay = CachingModel::replay(&dir).expect("replay");
    assert_eq!(episode(&mut replay), recorded);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_schema_format_is_llama_cpp_json_object() {
    let server = FaultServer::start(vec![Fault::Ok(reply(r#"{"tool": "look", "args": {}}"#))]);
    let mut m = OpenAiModel::new(server.config());
    let req = ModelRequest {
        decoding: Decoding::Constrained,
        admissible: vec![],
        ..request()
    };
    assert!(m.complete(&req).is_ok());
    let body = server.captured()[0].json();
    let rf = &body["response_format"];
    assert_eq!(rf["type"], "json_object");
    // Without admissible actions: one free branch per tool.
    assert_eq!(
        rf["schema"]["anyOf"][0]["properties"]["tool"]["enum"][0],
        "open"
    );
    assert_eq!(
        rf["schema"]["anyOf"][1]["properties"]["tool"]["enum"][0],
        "look"
    );
}
