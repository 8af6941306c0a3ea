//! `stdio:CMD`: an environment that lives in a child process and speaks JSON lines.
//!
//! The child is started with `sh -c CMD`. It prints a ready line
//! (`{"ready": true, "name": ..., "protocol": 1}`), then answers one reply line per request
//! line, with the request's `id`: `reset` (task, seed), `step` (the call as canonical call
//! text plus `tool` and `args`) and `close`. The full protocol, with examples, is in
//! `docs/BRIDGE.md`; `bridges/harnessx_bridge.py` implements the child side in Python.
//!
//! # Failure handling
//!
//! The child is another program, so nothing it does may hang or crash the run:
//!
//! * stdout is read by a thread that hands lines over a channel, so every wait has a
//!   deadline ([`StdioConfig::ready_timeout`], [`StdioConfig::request_timeout`]);
//! * stderr is drained by another thread into a bounded tail that error messages quote;
//! * a child that exits, stops answering, or writes anything that is not a well-formed
//!   reply (not JSON, wrong `id`, wrong field types, a line over
//!   [`StdioConfig::max_line_bytes`]) is killed with its whole process group (a bridge may
//!   start helpers of its own, such as a JVM). The episode in progress is recorded as
//!   failed: the next `step` returns a [`StepOutcome`] with `done`, no success, a
//!   [`ToolFailure`] and an observation saying what happened. The next `reset` starts a
//!   fresh child, so the run goes on;
//! * an `{"id", "error"}` reply is the bridge refusing one request while staying healthy:
//!   at `reset` the episode fails (the child is kept); at `step` the call fails with a
//!   tool error and the episode continues, as with any failing tool.
//!
//! # Determinism
//!
//! Wall-clock time never enters an outcome: `latency_ms` is whatever the bridge reports
//! (0 if it reports nothing), so traces stay byte-identical across runs. Measured round
//! trips are kept apart in [`StdioStats`].
//!
//! # Keeping the child alive
//!
//! Starting a bridge can be slow (a JVM takes seconds), while the runner builds a fresh
//! environment per episode. [`StdioEnv::pooled`] (what `make_env("stdio:...")` uses) puts
//! its healthy child into a process-wide pool when dropped, and takes one from there
//! before spawning, so one child serves episode after episode. Pooled children are never
//! sent `close`; they exit when harnessx exits and their stdin reaches end of file.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::call::{ToolCall, ToolSpec};
use crate::env::{Env, FailureKind, Observation, StepOutcome, ToolFailure};
use crate::ir::{ParamIr, TypeIr};
use crate::parse::parse_call;

/// The protocol version this runtime speaks; the ready line must carry it.
pub const PROTOCOL_VERSION: u64 = 1;

/// Timeouts and limits of a [`StdioEnv`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioConfig {
    /// From spawning to the ready line. Generous by default: a JVM-backed bridge on a busy
    /// two-core machine can take many seconds to start.
    pub ready_timeout: Duration,
    /// From sending a request to its reply.
    pub request_timeout: Duration,
    /// How long a closing (non-pooled) child gets to exit after `close` before it is
    /// killed.
    pub close_timeout: Duration,
    /// How much of the child's stderr is kept for error messages (the last bytes).
    pub stderr_tail_bytes: usize,
    /// Longest accepted stdout line; a longer one is a protocol error.
    pub max_line_bytes: usize,
    /// Also copy the child's stderr to ours, line by line (off by default: it would mix
    /// with the CLI's own output).
    pub forward_stderr: bool,
}

impl Default for StdioConfig {
    fn default() -> Self {
        StdioConfig {
            ready_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            close_timeout: Duration::from_secs(2),
            stderr_tail_bytes: 8 * 1024,
            max_line_bytes: 4 * 1024 * 1024,
            forward_stderr: false,
        }
    }
}

/// Counters of one [`StdioEnv`], for tests and measurements. The times are wall-clock
/// round trips and never enter outcomes or traces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StdioStats {
    /// Children started by this env (not counting ones taken from the pool).
    pub spawns: u64,
    /// Children killed because they crashed, hung or broke the protocol.
    pub bridge_failures: u64,
    /// Episodes recorded as failed because of the bridge (including refused resets).
    pub failed_episodes: u64,
    pub resets: u64,
    pub steps: u64,
    /// Starting children and waiting for their ready lines (not part of `reset_time`).
    pub spawn_time: Duration,
    pub reset_time: Duration,
    pub step_time: Duration,
}

/// What went wrong talking to a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeErrorKind {
    /// The command could not be started.
    Spawn,
    /// The child exited (or closed stdout) when a line was expected.
    Exited,
    /// No line within the deadline.
    Timeout,
    /// A line that is not a well-formed message of the protocol.
    Malformed,
    /// The bridge answered `{"id", "error"}`: it refused the request but is healthy.
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeError {
    pub kind: BridgeErrorKind,
    /// Says what was being done, what happened and, where useful, the end of the child's
    /// stderr.
    pub message: String,
}

impl BridgeError {
    fn new(kind: BridgeErrorKind, message: impl Into<String>) -> Self {
        BridgeError {
            kind,
            message: message.into(),
        }
    }

    /// Whether the child can no longer be trusted and must be killed.
    pub fn is_fatal(&self) -> bool {
        self.kind != BridgeErrorKind::Refused
    }
}

impl std::fmt::Display for BridgeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BridgeError {}

// ---------------------------------------------------------------------------------------
// the child process

/// One stdout event, from the reader thread.
enum Line {
    Text(String),
    TooLong(usize),
    NotUtf8,
    Eof,
    ReadError(String),
}

/// The last bytes of the child's stderr.
#[derive(Default)]
struct LogTail {
    bytes: VecDeque<u8>,
    truncated: bool,
    closed: bool,
}

impl LogTail {
    fn push(&mut self, data: &[u8], cap: usize) {
        self.bytes.extend(data);
        while self.bytes.len() > cap {
            self.bytes.pop_front();
            self.truncated = true;
        }
    }

    fn text(&self) -> String {
        let (a, b) = self.bytes.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        let s = String::from_utf8_lossy(&v);
        let s = s.trim();
        if self.truncated {
            format!("...{s}")
        } else {
            s.to_string()
        }
    }
}

struct Bridge {
    command: String,
    child: Child,
    /// `None` once closed, so the child sees end of file.
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    log: Arc<Mutex<LogTail>>,
    name: String,
    next_id: u64,
}

fn lock(log: &Mutex<LogTail>) -> std::sync::MutexGuard<'_, LogTail> {
    // A panicking logger thread must not take error reporting down with it.
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// Read stdout into lines of at most `max` bytes without ever buffering more than that,
/// so a child writing an endless line cannot exhaust memory.
fn read_lines(out: impl Read, max: usize, tx: SyncSender<Line>) {
    let mut r = BufReader::new(out);
    let mut line: Vec<u8> = Vec::new();
    let mut overflow = 0usize;
    loop {
        let buf = match r.fill_buf() {
            Ok([]) => {
                // A last line without a newline still counts.
                if overflow > 0 {
                    let _ = tx.send(Line::TooLong(overflow));
                } else if !line.is_empty() {
                    let _ = tx.send(to_line(std::mem::take(&mut line)));
                }
                let _ = tx.send(Line::Eof);
                return;
            }
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.send(Line::ReadError(e.to_string()));
                return;
            }
        };
        let (chunk, newline) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if overflow > 0 || line.len() + chunk.len() > max {
            overflow = overflow.max(line.len()) + chunk.len();
            line.clear();
        } else {
            line.extend_from_slice(chunk);
        }
        let used = newline.unwrap_or(buf.len());
        r.consume(used);
        if newline.is_some() {
            let msg = if overflow > 0 {
                Line::TooLong(std::mem::take(&mut overflow))
            } else {
                to_line(std::mem::take(&mut line))
            };
            // The receiver is gone once the bridge was dropped: stop reading.
            if tx.send(msg).is_err() {
                return;
            }
        }
    }
}

fn to_line(bytes: Vec<u8>) -> Line {
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.ends_with('\r') {
                s.pop();
            }
            Line::Text(s)
        }
        Err(_) => Line::NotUtf8,
    }
}

fn drain_stderr(err: impl Read, log: Arc<Mutex<LogTail>>, cap: usize, forward: bool) {
    let mut r = BufReader::new(err);
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if forward {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                lock(&log).push(&buf[..n], cap);
            }
        }
    }
    lock(&log).closed = true;
}

/// A line for error messages: at most 200 characters.
fn clip(s: &str) -> String {
    const MAX: usize = 200;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}... ({} bytes)", s.len())
    }
}

impl Bridge {
    fn spawn(command: &str, cfg: &StdioConfig) -> Result<Bridge, BridgeError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Own process group, so killing the bridge also kills whatever it started (`sh`
        // itself, a JVM...), which would otherwise keep running and keep the pipes open.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            BridgeError::new(
                BridgeErrorKind::Spawn,
                format!("cannot start bridge `{command}`: {e}"),
            )
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_child(&mut child);
            return Err(BridgeError::new(
                BridgeErrorKind::Spawn,
                format!("bridge `{command}`: no pipes to the child"),
            ));
        };
        let (tx, rx) = sync_channel(64);
        let max = cfg.max_line_bytes;
        thread::spawn(move || read_lines(stdout, max, tx));
        let log = Arc::new(Mutex::new(LogTail::default()));
        let (l2, cap, fwd) = (log.clone(), cfg.stderr_tail_bytes, cfg.forward_stderr);
        thread::spawn(move || drain_stderr(stderr, l2, cap, fwd));
        let mut b = Bridge {
            command: command.to_string(),
            child,
            stdin: Some(stdin),
            lines: rx,
            log,
            name: String::new(),
            next_id: 1,
        };
        match b.await_ready(cfg.ready_timeout) {
            Ok(()) => Ok(b),
            Err(e) => {
                b.kill();
                Err(e)
            }
        }
    }

    fn await_ready(&mut self, timeout: Duration) -> Result<(), BridgeError> {
        let line = self.next_line(Instant::now() + timeout, "waiting for the ready line")?;
        let bad = |why: &str| {
            BridgeError::new(
                BridgeErrorKind::Malformed,
                format!(
                    "bridge `{}`: expected the ready line {{\"ready\": true, \"protocol\": {PROTOCOL_VERSION}, ...}}, {why}: {}",
                    self.command,
                    clip(&line)
                ),
            )
        };
        let v: Value =
            serde_json::from_str(&line).map_err(|_| bad("got a line that is not JSON"))?;
        if v.get("ready") != Some(&Value::Bool(true)) {
            return Err(bad("got"));
        }
        match v.get("protocol").and_then(Value::as_u64) {
            Some(PROTOCOL_VERSION) => {}
            _ => return Err(bad("with an unsupported or missing protocol version")),
        }
        self.name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        Ok(())
    }

    fn who(&self) -> String {
        if self.name.is_empty() {
            format!("bridge `{}`", self.command)
        } else {
            format!("bridge `{}` ({})", self.command, self.name)
        }
    }

    /// The end of stderr for an error message, waiting briefly for the drain thread to
    /// catch up when the child has exited (its last words are usually the useful ones).
    fn stderr_note(&self, wait: bool) -> String {
        if wait {
            let until = Instant::now() + Duration::from_millis(300);
            while !lock(&self.log).closed && Instant::now() < until {
                thread::sleep(Duration::from_millis(10));
            }
        }
        let t = lock(&self.log).text();
        if t.is_empty() {
            String::new()
        } else {
            format!("; its stderr ends with: {t}")
        }
    }

    /// The exit status, waiting a little for a child that just closed stdout.
    fn exit_status(&mut self) -> String {
        let until = Instant::now() + Duration::from_millis(500);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return s.to_string(),
                Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(10)),
                Ok(None) => return "still running, stdout closed".into(),
                Err(e) => return format!("status unknown: {e}"),
            }
        }
    }

    fn next_line(&mut self, deadline: Instant, during: &str) -> Result<String, BridgeError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(wait) {
            Ok(Line::Text(s)) => Ok(s),
            Ok(Line::TooLong(n)) => Err(BridgeError::new(
                BridgeErrorKind::Malformed,
                format!(
                    "{} {during}: a stdout line of {n} bytes, over the limit (stdout is for protocol lines only)",
                    self.who()
                ),
            )),
            Ok(Line::NotUtf8) => Err(BridgeError::new(
                BridgeErrorKind::Malformed,
                format!("{} {during}: a stdout line that is not UTF-8", self.who()),
            )),
            Ok(Line::ReadError(e)) => Err(BridgeError::new(
                BridgeErrorKind::Exited,
                format!("{} {during}: reading its stdout failed: {e}", self.who()),
            )),
            Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => {
                let status = self.exit_status();
                Err(BridgeError::new(
                    BridgeErrorKind::Exited,
                    format!(
                        "{} exited {during} ({status}){}",
                        self.who(),
                        self.stderr_note(true)
                    ),
                ))
            }
            Err(RecvTimeoutError::Timeout) => Err(BridgeError::new(
                BridgeErrorKind::Timeout,
                format!(
                    "{} did not answer within {} ms {during}{}",
                    self.who(),
                    wait.as_millis(),
                    self.stderr_note(false)
                ),
            )),
        }
    }

    /// Send one request and wait for its reply object (without `id`).
    fn request(
        &mut self,
        op: &str,
        mut fields: Map<String, Value>,
        timeout: Duration,
    ) -> Result<Map<String, Value>, BridgeError> {
        let id = self.next_id;
        self.next_id += 1;
        let during = format!("during `{op}` (request {id})");
        fields.insert("id".into(), Value::from(id));
        fields.insert("op".into(), Value::from(op));
        let mut text = Value::Object(fields).to_string();
        text.push('\n');
        // Requests are small and a child that stopped reading is killed at the first
        // timeout, so this write cannot block on a full pipe for long.
        let sent = match self.stdin.as_mut() {
            Some(w) => w.write_all(text.as_bytes()).and_then(|()| w.flush()),
            None => Err(std::io::Error::other("stdin already closed")),
        };
        if let Err(e) = sent {
            let status = self.exit_status();
            return Err(BridgeError::new(
                BridgeErrorKind::Exited,
                format!(
                    "{} {during}: cannot write the request ({e}; {status}){}",
                    self.who(),
                    self.stderr_note(true)
                ),
            ));
        }
        let deadline = Instant::now() + timeout;
        let line = loop {
            let l = self.next_line(deadline, &during)?;
            // Blank lines carry nothing; tolerating them costs nothing.
            if !l.trim().is_empty() {
                break l;
            }
        };
        let malformed = |why: String| {
            BridgeError::new(
                BridgeErrorKind::Malformed,
                format!("{} {during}: {why}: {}", self.who(), clip(&line)),
            )
        };
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| malformed(format!("a stdout line that is not JSON ({e})")))?;
        let Value::Object(mut obj) = v else {
            return Err(malformed("a reply that is not a JSON object".into()));
        };
        match obj.remove("id") {
            Some(Value::Number(n)) if n.as_u64() == Some(id) => {}
            Some(other) => {
                return Err(malformed(format!("a reply with id {other}, expected {id}")))
            }
            None => return Err(malformed("a reply without an `id`".into())),
        }
        match obj.remove("error") {
            None | Some(Value::Null) => Ok(obj),
            Some(Value::String(m)) => Err(BridgeError::new(
                BridgeErrorKind::Refused,
                format!("{} refused `{op}`: {m}", self.who()),
            )),
            Some(_) => Err(malformed("an `error` that is not a string".into())),
        }
    }

    fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn kill(mut self) {
        kill_child(&mut self.child);
    }

    /// Ask the child to exit; kill it if it does not within `timeout`.
    fn close(mut self, timeout: Duration) {
        let id = self.next_id;
        if let Some(mut w) = self.stdin.take() {
            let _ = writeln!(w, "{{\"id\":{id},\"op\":\"close\"}}").and_then(|()| w.flush());
            // Dropping stdin gives the child end of file, the other way to say goodbye.
        }
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => thread::sleep(Duration::from_millis(10)),
            }
        }
        kill_child(&mut self.child);
    }
}

/// Kill the child's process group, then the child, and reap it.
fn kill_child(child: &mut Child) {
    #[cfg(unix)]
    {
        // The group id is the child's pid (see `process_group(0)`). The id cannot have
        // been reused: either the child is not reaped yet, or it was reaped moments ago
        // and the id stays taken while any helper of the group lives (and an empty group
        // means nobody is left to kill). `kill -9 -PGID` from the shell avoids an FFI
        // dependency for this rare path; dash, the usual `sh`, rejects `-KILL --`.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -9 -{} 2>/dev/null", child.id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Idle children of pooled envs, by command (see the module docs).
static POOL: Mutex<Vec<Bridge>> = Mutex::new(Vec::new());
/// At most this many idle children are kept per process; more are closed.
const POOL_MAX: usize = 32;

fn pool() -> std::sync::MutexGuard<'static, Vec<Bridge>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// wire format of replies

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireParam {
    name: String,
    #[serde(rename = "type")]
    ty: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTool {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    params: Vec<WireParam>,
}

#[derive(Deserialize)]
struct ResetReply {
    observation: String,
    #[serde(default)]
    goal: String,
    #[serde(default)]
    admissible: Vec<String>,
    #[serde(default)]
    tools: Vec<WireTool>,
    #[serde(default)]
    expert: Option<String>,
}

#[derive(Deserialize)]
struct WireFailure {
    kind: FailureKind,
    message: String,
}

#[derive(Deserialize)]
struct StepReply {
    observation: String,
    #[serde(default)]
    reward: f64,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    error: Option<WireFailure>,
    #[serde(default)]
    state_changed: bool,
    #[serde(default)]
    admissible: Vec<String>,
    #[serde(default)]
    goal: Option<String>,
    #[serde(default)]
    expert: Option<String>,
    #[serde(default)]
    latency_ms: u64,
}

/// A parameter type: the source spelling (`string`, `int?`, `[string]`,
/// `enum("a", "b")`) or the IR's JSON form (`"string"`, `{"optional": "int"}`).
pub fn parse_type(v: &Value) -> Result<TypeIr, String> {
    match v {
        Value::String(s) => parse_type_text(s.trim()),
        other => serde_json::from_value(other.clone()).map_err(|e| format!("type {other}: {e}")),
    }
}

fn parse_type_text(s: &str) -> Result<TypeIr, String> {
    if let Some(inner) = s.strip_suffix('?') {
        return Ok(TypeIr::Optional(Box::new(parse_type_text(inner.trim())?)));
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Ok(TypeIr::List(Box::new(parse_type_text(inner.trim())?)));
    }
    if let Some(inner) = s.strip_prefix("enum(").and_then(|r| r.strip_suffix(')')) {
        let vs: Vec<String> = serde_json::from_str(&format!("[{inner}]"))
            .map_err(|_| format!("type `{s}`: enum values must be double-quoted strings"))?;
        return Ok(TypeIr::Enum(vs));
    }
    Ok(match s {
        "string" => TypeIr::String,
        "int" => TypeIr::Int,
        "float" => TypeIr::Float,
        "bool" => TypeIr::Bool,
        "duration" => TypeIr::Duration,
        "tokens" => TypeIr::Tokens,
        _ => return Err(format!("unknown type `{s}`")),
    })
}

fn to_spec(t: WireTool) -> Result<ToolSpec, String> {
    let mut params = Vec::with_capacity(t.params.len());
    for p in t.params {
        let ty = parse_type(&p.ty).map_err(|e| format!("tool `{}`: {e}", t.name))?;
        params.push(ParamIr::new(p.name, ty));
    }
    Ok(ToolSpec {
        name: t.name,
        description: t.description,
        params,
    })
}

// ---------------------------------------------------------------------------------------
// the environment

/// An environment served by a child process. See the module docs.
pub struct StdioEnv {
    command: String,
    config: StdioConfig,
    pooled: bool,
    bridge: Option<Bridge>,
    tools: Vec<ToolSpec>,
    goal: String,
    admissible: Vec<String>,
    expert: Option<ToolCall>,
    /// Set when the current episode failed because of the bridge: every step ends it.
    failure: Option<ToolFailure>,
    last_error: Option<BridgeError>,
    stats: StdioStats,
}

impl StdioEnv {
    /// An env owning its child: started at the first reset, sent `close` when dropped.
    pub fn new(command: impl Into<String>) -> Self {
        Self::with_config(command, StdioConfig::default())
    }

    pub fn with_config(command: impl Into<String>, config: StdioConfig) -> Self {
        StdioEnv {
            command: command.into(),
            config,
            pooled: false,
            bridge: None,
            tools: Vec::new(),
            goal: String::new(),
            admissible: Vec::new(),
            expert: None,
            failure: None,
            last_error: None,
            stats: StdioStats::default(),
        }
    }

    /// An env sharing idle children of the same command with other pooled envs of this
    /// process (see the module docs).
    pub fn pooled(command: impl Into<String>, config: StdioConfig) -> Self {
        let mut env = Self::with_config(command, config);
        env.pooled = true;
        env
    }

    /// `stdio:CMD` as given to `make_env`.
    pub fn from_spec(spec: &str) -> Result<Self, String> {
        match spec.strip_prefix("stdio:").map(str::trim) {
            Some(cmd) if !cmd.is_empty() => Ok(Self::pooled(cmd, StdioConfig::default())),
            _ => Err(format!(
                "`{spec}`: expected `stdio:CMD`, where CMD starts the bridge (run with `sh -c`)"
            )),
        }
    }

    pub fn command(&self) -> &str {
        &self.command
    }

    /// The name from the bridge's ready line (empty before the first reset).
    pub fn bridge_name(&self) -> &str {
        self.bridge.as_ref().map_or("", |b| b.name.as_str())
    }

    pub fn stats(&self) -> &StdioStats {
        &self.stats
    }

    /// The latest bridge failure or refusal, if any.
    pub fn last_error(&self) -> Option<&BridgeError> {
        self.last_error.as_ref()
    }

    /// Whether the current episode was ended by a bridge failure.
    pub fn episode_failed(&self) -> bool {
        self.failure.is_some()
    }

    fn take_pooled(&mut self) -> Option<Bridge> {
        let mut p = pool();
        while let Some(i) = p.iter().position(|b| b.command == self.command) {
            let mut b = p.swap_remove(i);
            // A child may have died while idle; a dead one is reaped and skipped.
            if b.is_alive() {
                return Some(b);
            }
            b.kill();
        }
        None
    }

    fn ensure_bridge(&mut self) -> Result<(), BridgeError> {
        if self.bridge.is_some() {
            return Ok(());
        }
        if self.pooled {
            if let Some(b) = self.take_pooled() {
                self.bridge = Some(b);
                return Ok(());
            }
        }
        self.stats.spawns += 1;
        let start = Instant::now();
        let b = Bridge::spawn(&self.command, &self.config);
        self.stats.spawn_time += start.elapsed();
        self.bridge = Some(b?);
        Ok(())
    }

    /// Record a bridge error: kill the child when it is fatal, fail the episode.
    fn fail(&mut self, e: BridgeError) -> ToolFailure {
        if e.is_fatal() {
            self.stats.bridge_failures += 1;
            if let Some(b) = self.bridge.take() {
                b.kill();
            }
        }
        self.stats.failed_episodes += 1;
        let kind = match e.kind {
            BridgeErrorKind::Timeout => FailureKind::Timeout,
            _ => FailureKind::Error,
        };
        let restart = if e.is_fatal() {
            " It was stopped and restarts at the next episode."
        } else {
            ""
        };
        let f = ToolFailure {
            kind,
            message: format!(
                "The environment bridge failed: {}.{restart} This episode is recorded as failed.",
                e.message
            ),
        };
        self.failure = Some(f.clone());
        self.expert = None;
        self.admissible.clear();
        self.last_error = Some(e);
        f
    }

    fn failed_outcome(&self, f: ToolFailure) -> StepOutcome {
        StepOutcome {
            observation: Observation {
                text: f.message.clone(),
                goal: self.goal.clone(),
                admissible: Vec::new(),
            },
            reward: 0.0,
            done: true,
            success: false,
            error: Some(f),
            state_changed: false,
            latency_ms: 0,
        }
    }

    fn parse_expert(&self, text: Option<String>) -> Result<Option<ToolCall>, String> {
        match text {
            None => Ok(None),
            Some(t) => parse_call(&t, &self.tools)
                .map(Some)
                .map_err(|e| format!("expert `{}` is not a call of its tools: {e}", clip(&t))),
        }
    }

    fn try_reset(&mut self, task: u64, seed: u64) -> Result<Observation, BridgeError> {
        self.ensure_bridge()?;
        let timeout = self.config.request_timeout;
        let mut fields = Map::new();
        fields.insert("task".into(), Value::from(task));
        fields.insert("seed".into(), Value::from(seed));
        let Some(b) = self.bridge.as_mut() else {
            return Err(BridgeError::new(BridgeErrorKind::Spawn, "no bridge"));
        };
        let who = b.who();
        let obj = b.request("reset", fields, timeout)?;
        let bad = |why: String| {
            BridgeError::new(
                BridgeErrorKind::Malformed,
                format!("{who}: malformed `reset` reply: {why}"),
            )
        };
        let r: ResetReply =
            serde_json::from_value(Value::Object(obj)).map_err(|e| bad(e.to_string()))?;
        let tools = r
            .tools
            .into_iter()
            .map(to_spec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        self.tools = tools;
        self.expert = self.parse_expert(r.expert).map_err(bad)?;
        self.goal = r.goal;
        self.admissible = r.admissible;
        Ok(Observation {
            text: r.observation,
            goal: self.goal.clone(),
            admissible: self.admissible.clone(),
        })
    }

    fn try_step(&mut self, call: &ToolCall) -> Result<StepOutcome, BridgeError> {
        let spec = self.tools.iter().find(|t| t.name == call.tool);
        let text = call.render(spec.map(|t| t.params.as_slice()));
        let args: Map<String, Value> = call
            .args
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        let mut fields = Map::new();
        fields.insert("action".into(), Value::from(text));
        fields.insert("tool".into(), Value::from(call.tool.clone()));
        fields.insert("args".into(), Value::Object(args));
        let timeout = self.config.request_timeout;
        let Some(b) = self.bridge.as_mut() else {
            return Err(BridgeError::new(
                BridgeErrorKind::Spawn,
                "`step` before a successful `reset`",
            ));
        };
        let who = b.who();
        let obj = b.request("step", fields, timeout)?;
        let bad = |why: String| {
            BridgeError::new(
                BridgeErrorKind::Malformed,
                format!("{who}: malformed `step` reply: {why}"),
            )
        };
        let r: StepReply =
            serde_json::from_value(Value::Object(obj)).map_err(|e| bad(e.to_string()))?;
        if !r.reward.is_finite() {
            return Err(bad(format!("reward {} is not a finite number", r.reward)));
        }
        self.expert = if r.done {
            None
        } else {
            self.parse_expert(r.expert).map_err(bad)?
        };
        if let Some(g) = r.goal {
            self.goal = g;
        }
        self.admissible = r.admissible;
        Ok(StepOutcome {
            observation: Observation {
                text: r.observation,
                goal: self.goal.clone(),
                admissible: self.admissible.clone(),
            },
            reward: r.reward,
            done: r.done,
            success: r.done && r.success,
            error: r.error.map(|f| ToolFailure {
                kind: f.kind,
                message: f.message,
            }),
            state_changed: r.state_changed,
            latency_ms: r.latency_ms,
        })
    }
}

impl Env for StdioEnv {
    fn reset(&mut self, task: u64, seed: u64) -> Observation {
        self.failure = None;
        self.expert = None;
        self.goal.clear();
        self.admissible.clear();
        self.stats.resets += 1;
        let start = Instant::now();
        let spawning = self.stats.spawn_time;
        let out = self.try_reset(task, seed);
        let spawned = self.stats.spawn_time.saturating_sub(spawning);
        self.stats.reset_time += start.elapsed().saturating_sub(spawned);
        match out {
            Ok(obs) => obs,
            Err(e) => {
                let f = self.fail(e);
                Observation {
                    text: f.message,
                    goal: String::new(),
                    admissible: Vec::new(),
                }
            }
        }
    }

    fn step(&mut self, call: &ToolCall) -> StepOutcome {
        if let Some(f) = self.failure.clone() {
            return self.failed_outcome(f);
        }
        self.stats.steps += 1;
        let start = Instant::now();
        let out = self.try_step(call);
        self.stats.step_time += start.elapsed();
        match out {
            Ok(o) => o,
            // A refused call is a failed tool call; the episode goes on.
            Err(e) if !e.is_fatal() => {
                let message = e.message.clone();
                self.last_error = Some(e);
                StepOutcome {
                    observation: Observation {
                        text: format!("Error: {message}"),
                        goal: self.goal.clone(),
                        admissible: self.admissible.clone(),
                    },
                    reward: 0.0,
                    done: false,
                    success: false,
                    error: Some(ToolFailure {
                        kind: FailureKind::Error,
                        message,
                    }),
                    state_changed: false,
                    latency_ms: 0,
                }
            }
            Err(e) => {
                let f = self.fail(e);
                self.failed_outcome(f)
            }
        }
    }

    /// The tools from the latest `reset` reply (empty before the first reset).
    fn tools(&self) -> Vec<ToolSpec> {
        self.tools.clone()
    }

    fn expert(&self) -> Option<ToolCall> {
        self.expert.clone()
    }

    /// A bridge that crashed, hung or broke the protocol in this episode: the episode is
    /// the infrastructure's failure, not the harness's.
    fn infra_failure(&self) -> Option<String> {
        self.failure.as_ref().map(|f| f.message.clone())
    }
}

impl Drop for StdioEnv {
    fn drop(&mut self) {
        let Some(b) = self.bridge.take() else {
            return;
        };
        if self.pooled {
            let mut p = pool();
            if p.len() < POOL_MAX {
                p.push(b);
                return;
            }
        }
        b.close(self.config.close_timeout);
    }
}

impl std::fmt::Debug for StdioEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioEnv")
            .field("command", &self.command)
            .field("pooled", &self.pooled)
            .field("running", &self.bridge.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_spellings() {
        let t = |s: &str| parse_type(&Value::from(s));
        assert_eq!(t("string"), Ok(TypeIr::String));
        assert_eq!(t("int?"), Ok(TypeIr::Optional(Box::new(TypeIr::Int))));
        assert_eq!(t("[string]"), Ok(TypeIr::List(Box::new(TypeIr::String))));
        assert_eq!(
            t(r#"enum("a", "b c")"#),
            Ok(TypeIr::Enum(vec!["a".into(), "b c".into()]))
        );
        assert!(t("enum(a)").is_err());
        assert!(t("str").is_err());
        let ir_form = serde_json::json!({"optional": "bool"});
        assert_eq!(
            parse_type(&ir_form),
            Ok(TypeIr::Optional(Box::new(TypeIr::Bool)))
        );
    }

    #[test]
    fn log_tail_keeps_the_end() {
        let mut t = LogTail::default();
        t.push(b"hello ", 8);
        t.push(b"world", 8);
        assert_eq!(t.text(), "...lo world");
    }

    #[test]
    fn long_and_broken_lines_are_reported_not_buffered() {
        let (tx, rx) = sync_channel(16);
        let input: &[u8] = b"ok\n0123456789abcdef\n\xff\xfe\nlast";
        read_lines(input, 8, tx);
        let got: Vec<String> = rx
            .iter()
            .map(|l| match l {
                Line::Text(s) => format!("text {s}"),
                Line::TooLong(n) => format!("long {n}"),
                Line::NotUtf8 => "not utf8".into(),
                Line::Eof => "eof".into(),
                Line::ReadError(e) => format!("error {e}"),
            })
            .collect();
        assert_eq!(got, ["text ok", "long 16", "not utf8", "text last", "eof"]);
    }

    #[test]
    fn specs_need_a_command() {
        assert!(StdioEnv::from_spec("stdio:").is_err());
        assert!(StdioEnv::from_spec("stdio:   ").is_err());
        let e = StdioEnv::from_spec("stdio: python3 x.py").map(|e| e.command().to_string());
        assert_eq!(e, Ok("python3 x.py".to_string()));
    }

    #[test]
    fn a_missing_command_fails_the_episode_cleanly() {
        let mut env = StdioEnv::new("exec /nonexistent/bridge-binary");
        let obs = env.reset(0, 0);
        assert!(obs.text.contains("bridge failed"), "{}", obs.text);
        let out = env.step(&ToolCall::new("look"));
        assert!(out.done && !out.success && out.error.is_some());
        assert_eq!(env.stats().failed_episodes, 1);
    }
}
