//! An OpenAI-compatible chat-completions server on loopback, for the concurrency benchmark
//! and the chaos test: every reply comes a fixed delay after its request, and a seeded
//! share of requests gets a fault instead.
//!
//! - **Replies are a function of the request alone** ([`reply_content`]): the same request
//!   body gets the same reply from any server instance, first attempt or tenth. So a run
//!   against a faulty server and one against a fault-free server see the same replies, and
//!   their results can be compared episode by episode.
//! - **The policy** plays the constrained-decoding labels the `openai:` backend sends for
//!   [`key_door_harness`] (`response_format`'s `enum`): mostly a sensible label (take the
//!   key, go out, finish in the garden, open a container, then the door), sometimes any
//!   label, chosen by a hash of the body — so episodes differ in length and outcome, like a
//!   weak model's.
//! - **Faults** ([`Fault`]), drawn per request with probability `fault_rate` from a
//!   SplitMix64 of the seed, the body's hash and how often that body was sent before: the
//!   same run meets the same faults.
//! - **Connections** are HTTP/1.1 keep-alive, one thread each (the client keeps one per
//!   episode in flight), so the server handles as many requests at once as it has
//!   connections; the delay is a sleep, not work.
//!
//! The server stops when dropped. It is test and benchmark equipment, not part of harnessx.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harnessx_runtime::ir::{fnv1a64, Decoding, HarnessIr, ParamIr, PromptIr, ToolIr, TypeIr};
use harnessx_runtime::template::parse_template;
use serde_json::{json, Value};

/// What the server injects instead of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// HTTP 429 with `retry-after-ms`.
    RateLimited,
    /// HTTP 500.
    ServerError,
    /// The reply comes after [`ServerConfig::slow`], past the client's timeout.
    Slow,
    /// A 200 whose JSON body is cut in half (the HTTP framing is intact).
    TruncatedJson,
    /// A 200 with well-formed JSON of the wrong shape (no choices, no message, an `error`
    /// object).
    WrongShape,
    /// The connection is closed without a reply. A server cannot refuse one request on a
    /// port it listens on, so this stands for refused and dropped connections alike: the
    /// client sees the same connection-level failure.
    Dropped,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::RateLimited,
        Fault::ServerError,
        Fault::Slow,
        Fault::TruncatedJson,
        Fault::WrongShape,
        Fault::Dropped,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Fault::RateLimited => "429 with retry-after-ms",
            Fault::ServerError => "500",
            Fault::Slow => "slow reply, past the timeout",
            Fault::TruncatedJson => "truncated JSON",
            Fault::WrongShape => "wrong shape",
            Fault::Dropped => "refused / dropped connection",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Every reply (and fault) is sent this long after its request arrived.
    pub delay: Duration,
    /// The probability that a request gets a fault instead of its reply.
    pub fault_rate: f64,
    /// Seeds the fault draws.
    pub seed: u64,
    /// How long a [`Fault::Slow`] reply takes.
    pub slow: Duration,
    /// The `retry-after-ms` of a 429.
    pub retry_after_ms: u64,
}

impl ServerConfig {
    /// A server that answers every request after `delay`, without faults.
    pub fn answering_after(delay: Duration) -> ServerConfig {
        ServerConfig {
            delay,
            fault_rate: 0.0,
            seed: 0,
            slow: Duration::ZERO,
            retry_after_ms: 0,
        }
    }
}

/// What the server saw and did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub connections: u64,
    pub requests: u64,
    /// Requests that got their reply.
    pub replies: u64,
    /// Injected faults, by [`Fault::ALL`] position.
    pub faults: [u64; 6],
}

impl Counts {
    pub fn fault(&self, f: Fault) -> u64 {
        self.faults[f.index()]
    }

    pub fn faults_total(&self) -> u64 {
        self.faults.iter().sum()
    }
}

struct Shared {
    cfg: ServerConfig,
    stop: AtomicBool,
    connections: AtomicU64,
    requests: AtomicU64,
    replies: AtomicU64,
    faults: [AtomicU64; 6],
    /// How often each request body (by hash) was received, for the fault draws.
    seen: Mutex<HashMap<u64, u64>>,
    live: AtomicUsize,
}

/// A running server (see the module docs).
pub struct LoopbackServer {
    url: String,
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    pub fn start(cfg: ServerConfig) -> io::Result<LoopbackServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            faults: Default::default(),
            seen: Mutex::new(HashMap::new()),
            live: AtomicUsize::new(0),
        });
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("loopback-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if sh.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    sh.connections.fetch_add(1, Ordering::Relaxed);
                    sh.live.fetch_add(1, Ordering::SeqCst);
                    let conn = Arc::clone(&sh);
                    let spawned = std::thread::Builder::new()
                        .name("loopback-conn".into())
                        .spawn(move || {
                            serve(stream, &conn);
                            conn.live.fetch_sub(1, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        // The stream was dropped (closed) with the closure: the client
                        // sees a connection failure.
                        sh.live.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })?;
        Ok(LoopbackServer {
            url: format!("http://{addr}/v1"),
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:40123/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn counts(&self) -> Counts {
        let s = &self.shared;
        let mut faults = [0; 6];
        for (n, a) in faults.iter_mut().zip(&s.faults) {
            *n = a.load(Ordering::Relaxed);
        }
        Counts {
            connections: s.connections.load(Ordering::Relaxed),
            requests: s.requests.load(Ordering::Relaxed),
            replies: s.replies.load(Ordering::Relaxed),
            faults,
        }
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        // Connection threads notice the stop within their read timeout; a slow reply
        // finishes its sleep first.
        let deadline = Instant::now() + self.shared.cfg.slow + Duration::from_secs(2);
        while self.shared.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One keep-alive connection: requests until the client closes it or the server stops.
fn serve(mut stream: TcpStream, sh: &Shared) {
    let _ = stream.set_nodelay(true);
    // Short, so an idle connection notices the stop flag.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = Vec::new();
    while let Some(body) = read_request(&mut stream, &mut buf, &sh.stop) {
        let arrived = Instant::now();
        sh.requests.fetch_add(1, Ordering::Relaxed);
        let fault = draw_fault(sh, &body);
        let due = arrived + sh.cfg.delay;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let keep_open = match fault {
            None => {
                sh.replies.fetch_add(1, Ordering::Relaxed);
                respond(&mut stream, 200, "", &reply_json(&body))
            }
            Some(f) => {
                sh.faults[f.index()].fetch_add(1, Ordering::Relaxed);
                inject(&mut stream, f, &body, &sh.cfg)
            }
        };
        if !keep_open {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

fn draw_fault(sh: &Shared, body: &str) -> Option<Fault> {
    if sh.cfg.fault_rate <= 0.0 {
        return None;
    }
    let h = fnv1a64(body.as_bytes());
    let n = {
        let mut seen = sh.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let n = seen.entry(h).or_insert(0);
        *n += 1;
        *n
    };
    let r = harnessx_runtime::rng::nth(sh.cfg.seed ^ h, n);
    let u = (r >> 11) as f64 / (1u64 << 53) as f64;
    (u < sh.cfg.fault_rate).then(|| Fault::ALL[(harnessx_runtime::rng::mix(r) % 6) as usize])
}

/// Send a fault; `false` when the connection is closed afterwards.
fn inject(stream: &mut TcpStream, f: Fault, body: &str, cfg: &ServerConfig) -> bool {
    match f {
        Fault::RateLimited => respond(
            stream,
            429,
            &format!("retry-after-ms: {}\r\n", cfg.retry_after_ms),
            r#"{"error":{"message":"rate limit reached, slow down","type":"requests"}}"#,
        ),
        Fault::ServerError => respond(
            stream,
            500,
            "",
            r#"{"error":{"message":"internal server error"}}"#,
        ),
        Fault::Slow => {
            std::thread::sleep(cfg.slow);
            respond(stream, 200, "", &reply_json(body))
        }
        Fault::TruncatedJson => {
            let full = reply_json(body);
            let cut: String = full.chars().take(full.chars().count() / 2).collect();
            respond(stream, 200, "", &cut)
        }
        Fault::WrongShape => {
            const SHAPES: [&str; 4] = [
                r#"{"choices":[]}"#,
                r#"{"choices":[{"index":0,"text":"look"}]}"#,
                r#"{"choices":[{"message":{"role":"assistant"}}]}"#,
                r#"{"error":{"message":"the model is overloaded"}}"#,
            ];
            let i = (fnv1a64(body.as_bytes()) % SHAPES.len() as u64) as usize;
            respond(stream, 200, "", SHAPES[i])
        }
        Fault::Dropped => false,
    }
}

/// Write a response; `false` if the client is gone.
fn respond(stream: &mut TcpStream, code: u16, extra_headers: &str, body: &str) -> bool {
    let reason = match code {
        200 => "OK",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let msg = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    stream
        .write_all(msg.as_bytes())
        .and_then(|()| stream.flush())
        .is_ok()
}

/// The next request's body, keeping any bytes after it in `buf`; `None` when the client
/// closed the connection, sent garbage, or the server stops.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, stop: &AtomicBool) -> Option<String> {
    let mut chunk = [0u8; 16 * 1024];
    let mut fill = |buf: &mut Vec<u8>| -> Option<()> {
        loop {
            if stop.load(Ordering::SeqCst) {
                return None;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Some(());
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return None,
            }
        }
    };
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        fill(buf)?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        fill(buf)?;
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    buf.drain(..head_end + len);
    Some(body)
}

/// The chat-completions reply to a request body (see the module docs).
pub fn reply_json(body: &str) -> String {
    let content = reply_content(body);
    json!({
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "model": "loopback",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": body.len() / 4,
            "completion_tokens": content.len() / 4 + 1,
            "total_tokens": body.len() / 4 + content.len() / 4 + 1
        }
    })
    .to_string()
}

/// The reply text: one of the constrained-decoding labels, as the JSON the model would
/// write (`"take key"`), or `look()` for a request without any.
pub fn reply_content(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let rf = &v["response_format"];
    let schema = if rf["schema"].is_object() {
        &rf["schema"]
    } else {
        &rf["json_schema"]["schema"]
    };
    let Some(labels) = schema["enum"].as_array().filter(|l| !l.is_empty()) else {
        return "look()".into();
    };
    let h = harnessx_runtime::rng::mix(fnv1a64(body.as_bytes()));
    let text: Vec<&str> = labels.iter().filter_map(Value::as_str).collect();
    let has = |l: &str| text.contains(&l);
    // Three times in four a sensible choice, else any label.
    let sensible = if h & 3 == 0 {
        None
    } else if has("take key") {
        Some("take key")
    } else if has("go garden") {
        Some("go garden")
    } else if has("go hall") && has("finish") {
        Some("finish")
    } else if (h >> 8) & 3 == 0 && has("open door") {
        Some("open door")
    } else {
        text.iter()
            .copied()
            .find(|l| l.starts_with("open ") && *l != "open door")
            .or(has("open door").then_some("open door"))
    };
    match sensible {
        Some(l) => Value::String(l.to_string()).to_string(),
        None => labels[((h >> 16) % labels.len() as u64) as usize].to_string(),
    }
}

/// A harness for the `key_door` world that the loopback policy can play: its tools, a
/// system prompt with the goal, tools and admissible actions, constrained decoding (so each
/// request carries the labels), and `max_steps` steps.
pub fn key_door_harness(max_steps: u32) -> HarnessIr {
    let mut ir = HarnessIr::new("loopback_key_door");
    ir.model.decoding = Decoding::Constrained;
    ir.model.max_tokens = 16;
    ir.prompts.push(PromptIr {
        name: "system".into(),
        template: parse_template(
            "You are an agent in a small house. Your goal: {{task.goal}}\n\
             Tools:\n{{tools}}\nYou can now: {{admissible_actions}}\n\
             Reply with exactly one action.",
        ),
    });
    let s = |n: &str| ParamIr::new(n, TypeIr::String);
    ir.tools = vec![
        ToolIr::new("look", vec![]),
        ToolIr::new("open", vec![s("target")]),
        ToolIr::new("take", vec![s("object")]),
        ToolIr::new("go", vec![s("target")]),
        ToolIr::new("examine", vec![s("target")]),
        ToolIr::new(
            "finish",
            vec![ParamIr::new(
                "answer",
                TypeIr::Optional(Box::new(TypeIr::String)),
            )],
        ),
    ];
    ir.loop_.max_steps = max_steps;
    ir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(labels: &[&str], salt: u64) -> String {
        json!({"messages": [{"role": "user", "content": salt.to_string()}],
               "response_format": {"type": "json_object", "schema": {"enum": labels}}})
        .to_string()
    }

    #[test]
    fn replies_depend_on_the_request_alone_and_are_labels() {
        let labels = ["look", "open drawer", "open box", "open door", "finish"];
        for salt in 0..50 {
            let b = body(&labels, salt);
            let r = reply_content(&b);
            assert_eq!(r, reply_content(&b));
            let l: String = serde_json::from_str(&r).expect("a JSON string");
            assert!(labels.contains(&l.as_str()), "{l}");
        }
        // Mostly sensible: the key is taken when it can be.
        let with_key = ["look", "take key", "open door", "finish"];
        let took = (0..200)
            .filter(|s| reply_content(&body(&with_key, *s)) == "\"take key\"")
            .count();
        assert!((120..200).contains(&took), "{took}");
        assert_eq!(reply_content("{}"), "look()");
    }
}
