//! `openai:` — a [`Model`] over the OpenAI chat-completions API, as served by llama.cpp
//! (`llama-server` and `llama-cpp-python`), vLLM, Ollama and OpenAI itself.
//!
//! Only with the crate feature `openai` (on by default): it brings in the HTTP client
//! (ureq, rustls TLS). Without it the module is absent and the spec `openai:` is an error
//! ([`crate::models::spec::ModelSpec::parse`]).
//!
//! # Spec
//!
//! `openai:BASE_URL#MODEL[?OPTION=VALUE&...]`, e.g.
//! `openai:http://127.0.0.1:8080/v1#smollm2` or
//! `openai:https://api.openai.com/v1#gpt-4o-mini?tools=native`. The request goes to
//! `BASE_URL/chat/completions`. Options (see [`OpenAiConfig`]):
//!
//! | option | values | default |
//! |---|---|---|
//! | `tools` | `text` (the harness describes tools in its prompt; the reply is text) or `native` (tools sent as `tools`, `tool_calls` read back) | `text` |
//! | `format` | how `decoding = constrained` sends the schema: `json_object` (`{type: json_object, schema}`: llama-cpp-python, llama.cpp's server) or `json_schema` (`{type: json_schema, json_schema: {name, schema}}`: OpenAI, vLLM, llama.cpp's server) | `json_object` |
//! | `timeout_ms` | whole-request timeout | the harness's `timeout_ms`, else 60000 |
//! | `connect_timeout_ms` | TCP/TLS connect timeout | 5000 |
//! | `retries` | retries after the first attempt | 4 |
//! | `backoff_ms`, `backoff_max_ms` | exponential backoff base and cap | 500, 8000 |
//! | `rps` | the endpoint's requests per second (a token bucket shared by every episode) | the harness's `requests_per_second`, else none |
//! | `tpm` | the endpoint's tokens per minute (prompt estimate + `max_tokens` reserved, settled with `usage`) | the harness's `tokens_per_minute`, else none |
//! | `key_env` | name of the variable holding the API key | the harness's `api_key_env` |
//!
//! # Behaviour
//!
//! - **Retries**: HTTP 429, 408, 409 and any 5xx, timeouts, connection-level failures
//!   (refused, reset, closed before a full reply) and malformed 200 replies (invalid or
//!   truncated JSON, a wrong shape, an `error` object), up to `retries` times — the causes
//!   and the bound of OpenAI's own clients, whose default is 2; ours is 4, since an episode
//!   lost to a passing fault costs a whole rerun. Attempt `n` (from 0) sleeps
//!   `min(backoff_max, backoff * 2^n)` scaled by a jitter factor in `[0.5, 1)`; the jitter
//!   is a SplitMix64 of the request seed and the attempt, so the schedule is reproducible.
//!   A `Retry-After` (or `retry-after-ms`) of at most 60 s replaces the backoff and pauses
//!   *every* request to the endpoint ([`super::endpoint`]). Other 4xx statuses are not
//!   retried: repeating a bad request cannot help. After the bound the error says how many
//!   attempts were made and what the last failure was, and the episode is
//!   infrastructure-failed ([`ModelError::is_infrastructure`]); [`Model::retries`] counts
//!   every retry by cause for the run's summary.
//! - **Malformed replies** never panic: what was wrong is named in the error message.
//! - **Shared per endpoint** ([`super::endpoint`]): the connection pool, the rate limits
//!   (`rps`, `tpm`) and `Retry-After` pauses, across every episode in flight.
//! - **Tool calls**: the first entry of `tool_calls` becomes the canonical call text
//!   (`open("drawer")`, see [`crate::call`]) so the engine parses it like any reply. Arguments
//!   that are not a JSON object are passed on as `{"tool": NAME, "args": RAW}`, which the
//!   engine classifies as malformed (and `json_fix` may repair).
//! - **Constrained decoding** (`decoding = constrained`): a JSON schema of the calls, an
//!   `anyOf` over `{"tool": NAME, "args": {...}}` per tool, is sent as `response_format`;
//!   the reply is that JSON, which the engine's parser accepts. When the request lists
//!   admissible actions, the schema is exactly those that parse as calls, as one `enum` of
//!   short labels ([`action_labels`]: the argument alone when every call is of one
//!   one-argument tool, else the call's text), and the label the model picks is handed to
//!   the engine as the call it stands for. No `tools` are sent in this mode.
//! - **Tokens**: from `usage` when the server reports it; otherwise the runtime's estimate,
//!   counted in [`OpenAiStats::estimated_usage`].
//! - **The API key** is read from the environment when the model is built, sent only as an
//!   `Authorization: Bearer` header, and never part of the config, the model id, `Debug`
//!   output or a trace. Every reply body is redacted as it arrives (each occurrence of the
//!   key becomes `<redacted>`), so a server or model that echoes the key cannot carry it
//!   into an error message, a reply, a trace or the response cache.
//! - **Seeds**: the request seed is sent masked to 31 bits, which every server accepts
//!   (llama.cpp takes a `uint32`, others an `int`).
//! - **Messages**: `tool`-role messages are sent as `user` messages, since the context does
//!   not track tool-call ids, which the `tool` role requires.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::call::{ToolCall, ToolSpec};
use crate::ir::{Decoding, ModelIr, TypeIr};
use crate::message::Role;
use crate::message::{estimate_tokens, PER_MESSAGE_TOKENS};
use crate::models::endpoint::{self, Endpoint};
use crate::models::rate_limit::RateLimits;
use crate::models::{request_tokens, Model, ModelError, ModelRequest, ModelResponse, Retries};
use crate::parse::parse_call;

/// Default whole-request timeout when neither the spec nor the harness sets one.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_RETRIES: u32 = 4;
pub const DEFAULT_BACKOFF_MS: u64 = 500;
pub const DEFAULT_BACKOFF_MAX_MS: u64 = 8_000;

/// How tools reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolMode {
    /// Tools are not sent; the harness prompt describes them and the model replies in text.
    Text,
    /// Tools are sent as `tools`; the reply's `tool_calls` become call text.
    Native,
}

/// The `response_format` shape used for constrained decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    /// `{"type": "json_schema", "json_schema": {"name", "schema"}}` (OpenAI, vLLM, llama.cpp's
    /// server; llama-cpp-python 0.3 rejects it).
    JsonSchema,
    /// `{"type": "json_object", "schema": ...}`: the form llama-cpp-python (0.3) accepts, and
    /// llama.cpp's server too. The default, because the project's local model runs there.
    JsonObject,
}

/// A parsed `openai:` spec. Holds the *name* of the API-key variable, never the key.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    pub tools: ToolMode,
    pub format: SchemaFormat,
    pub api_key_env: Option<String>,
    /// `None`: the harness's `timeout_ms`, else [`DEFAULT_TIMEOUT_MS`].
    pub timeout_ms: Option<u64>,
    pub connect_timeout_ms: u64,
    pub retries: u32,
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// The endpoint's rate limits; `None` fields are taken from the harness.
    pub limits: RateLimits,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            model: model.into(),
            tools: ToolMode::Text,
            format: SchemaFormat::JsonObject,
            api_key_env: None,
            timeout_ms: None,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            retries: DEFAULT_RETRIES,
            backoff_ms: DEFAULT_BACKOFF_MS,
            backoff_max_ms: DEFAULT_BACKOFF_MAX_MS,
            limits: RateLimits::default(),
        }
    }

    /// Parse what follows `openai:` (see the module docs).
    pub fn parse(rest: &str) -> Result<OpenAiConfig, String> {
        let usage = "expected `openai:BASE_URL#MODEL[?option=value&...]`, \
                     e.g. `openai:http://127.0.0.1:8080/v1#smollm2`";
        let (url, model_opts) = rest
            .split_once('#')
            .ok_or_else(|| format!("`openai:{rest}`: no `#MODEL`; {usage}"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
            return Err(format!(
                "`openai:{rest}`: the base URL must start with http:// or https://; {usage}"
            ));
        }
        let (model, opts) = match model_opts.split_once('?') {
            Some((m, o)) => (m, o),
            None => (model_opts, ""),
        };
        if model.trim().is_empty() {
            return Err(format!("`openai:{rest}`: the model name is empty; {usage}"));
        }
        let mut cfg = OpenAiConfig::new(url, model);
        for opt in opts.split('&').filter(|o| !o.is_empty()) {
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| format!("`openai:` option `{opt}` is not KEY=VALUE"))?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("`openai:` option `{k}` needs a whole number, got `{v}`"))
            };
            match k {
                "tools" => {
                    cfg.tools = match v {
                        "text" => ToolMode::Text,
                        "native" => ToolMode::Native,
                        _ => return Err(format!("`tools={v}`: expected `text` or `native`")),
                    }
                }
                "format" => {
                    cfg.format = match v {
                        "json_schema" => SchemaFormat::JsonSchema,
                        "json_object" => SchemaFormat::JsonObject,
                        _ => {
                            return Err(format!(
                                "`format={v}`: expected `json_schema` or `json_object`"
                            ))
                        }
                    }
                }
                "timeout_ms" => cfg.timeout_ms = Some(num()?.max(1)),
                "connect_timeout_ms" => cfg.connect_timeout_ms = num()?.max(1),
                "retries" => cfg.retries = u32::try_from(num()?).unwrap_or(u32::MAX),
                "backoff_ms" => cfg.backoff_ms = num()?,
                "backoff_max_ms" => cfg.backoff_max_ms = num()?,
                "rps" => match v.parse::<f64>() {
                    Ok(r) if r.is_finite() && r > 0.0 => cfg.limits.requests_per_second = Some(r),
                    _ => {
                        return Err(format!(
                            "`openai:` option `rps` needs a number of requests per second \
                             above 0, got `{v}`"
                        ))
                    }
                },
                "tpm" => match num()? {
                    0 => return Err("`openai:` option `tpm` must be at least 1".into()),
                    t => cfg.limits.tokens_per_minute = Some(t),
                },
                "key_env" if !v.is_empty() => cfg.api_key_env = Some(v.to_string()),
                _ => {
                    return Err(format!(
                        "unknown `openai:` option `{k}`; known: tools, format, timeout_ms, \
                         connect_timeout_ms, retries, backoff_ms, backoff_max_ms, rps, tpm, \
                         key_env"
                    ))
                }
            }
        }
        Ok(cfg)
    }

    /// Take what the spec left open from the harness's model section: the API-key variable,
    /// the timeout and the rate limits. Settings in the spec win.
    pub fn apply_model_ir(&mut self, m: &ModelIr) {
        if self.api_key_env.is_none() {
            self.api_key_env.clone_from(&m.api_key_env);
        }
        if self.timeout_ms.is_none() {
            self.timeout_ms = m.timeout_ms;
        }
        let l = &mut self.limits;
        l.requests_per_second = l.requests_per_second.or(m.requests_per_second);
        l.tokens_per_minute = l.tokens_per_minute.or(m.tokens_per_minute);
    }

    /// Identifies what produces the replies, for response caches: the endpoint, the model
    /// and the options that change the reply. Any `user:password@` in the URL is dropped.
    pub fn model_id(&self) -> String {
        let url = match self.base_url.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('/') {
                Some((host, path)) => format!(
                    "{scheme}://{}/{path}",
                    host.rsplit_once('@').map_or(host, |(_, h)| h)
                ),
                None => format!(
                    "{scheme}://{}",
                    rest.rsplit_once('@').map_or(rest, |(_, h)| h)
                ),
            },
            None => self.base_url.clone(),
        };
        let tools = match self.tools {
            ToolMode::Text => "text",
            ToolMode::Native => "native",
        };
        let format = match self.format {
            SchemaFormat::JsonSchema => "json_schema",
            SchemaFormat::JsonObject => "json_object",
        };
        format!("openai:{url}#{}?tools={tools}&format={format}", self.model)
    }
}

impl fmt::Display for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.model_id())
    }
}

/// Counters for one model instance, for tests and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenAiStats {
    /// HTTP requests sent (first attempts and retries).
    pub http_requests: u64,
    /// Retries by cause.
    pub retries: Retries,
    /// Every backoff slept, in order, in milliseconds.
    pub backoffs_ms: Vec<u64>,
    /// Successful replies whose token counts are the runtime's estimate (no `usage`).
    pub estimated_usage: u64,
    /// Replies that carried more than one tool call (only the first is used).
    pub extra_tool_calls: u64,
}

/// A secret that never prints.
#[derive(Clone)]
struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The `openai:` backend. Blocking; one instance per episode, sharing its endpoint's
/// connections, rate limits and pauses with every other instance in the process.
pub struct OpenAiModel {
    cfg: OpenAiConfig,
    endpoint: Arc<Endpoint>,
    agent: ureq::Agent,
    timeout: Duration,
    /// `Err` when the harness names a key variable that is not set: reported at the first
    /// call, because building a model cannot fail.
    key: Result<Option<Secret>, String>,
    stats: OpenAiStats,
}

impl fmt::Debug for OpenAiModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiModel")
            .field("cfg", &self.cfg)
            .field("key", &self.key)
            .field("stats", &self.stats)
            .finish()
    }
}

impl OpenAiModel {
    /// Build the client, reading the API key from `cfg.api_key_env` if set.
    pub fn new(cfg: OpenAiConfig) -> OpenAiModel {
        let key = match &cfg.api_key_env {
            None => Ok(None),
            Some(var) => match std::env::var(var) {
                Ok(k) if !k.trim().is_empty() => Ok(Some(Secret(k.trim().to_string()))),
                _ => Err(format!(
                    "the API key variable `{var}` (api_key_env) is not set or empty"
                )),
            },
        };
        let timeout = Duration::from_millis(cfg.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
        let endpoint = endpoint::endpoint(&cfg.base_url);
        endpoint.set_limits(cfg.limits);
        let agent = endpoint.agent(Duration::from_millis(cfg.connect_timeout_ms));
        OpenAiModel {
            cfg,
            endpoint,
            agent,
            timeout,
            key,
            stats: OpenAiStats::default(),
        }
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &OpenAiStats {
        &self.stats
    }

    /// Replace every occurrence of the key in a message or a reply: servers sometimes echo
    /// headers, and a model can repeat what it was sent.
    fn redact(&self, msg: String) -> String {
        match &self.key {
            Ok(Some(Secret(k))) if !k.is_empty() => msg.replace(k.as_str(), "<redacted>"),
            _ => msg,
        }
    }

    /// How long to sleep before retry `attempt` (from 0): the server's `Retry-After` when
    /// it gave one (already capped by [`endpoint::retry_after`]), else the jittered
    /// exponential backoff.
    fn backoff(&self, req: &ModelRequest, attempt: u32, retry_after: Option<Duration>) -> u64 {
        if let Some(ra) = retry_after {
            return u64::try_from(ra.as_millis()).unwrap_or(u64::MAX);
        }
        let exp = self
            .cfg
            .backoff_ms
            .saturating_mul(1u64 << attempt.min(32))
            .min(self.cfg.backoff_max_ms);
        let r =
            crate::rng::mix(req.seed ^ u64::from(attempt).wrapping_mul(crate::rng::GOLDEN_GAMMA));
        // Jitter factor in [0.5, 1): spreads out clients that failed together, never waits
        // less than half the nominal delay.
        let half = exp / 2;
        // In u128: `half * 2^53` overflows u64 once `half` passes 2,048 ms.
        half + u64::try_from((u128::from(half) * u128::from(r >> 11)) >> 53).unwrap_or(half)
    }

    /// One HTTP attempt.
    fn attempt(&self, url: &str, body: &str) -> Attempt {
        let mut r = self
            .agent
            .post(url)
            // The whole request, connect to last byte: a server that trickles bytes forever
            // is cut off too (a read timeout alone restarts with every byte).
            .timeout(self.timeout)
            .set("Content-Type", "application/json")
            .set("Accept", "application/json");
        if let Ok(Some(Secret(k))) = &self.key {
            r = r.set("Authorization", &format!("Bearer {k}"));
        }
        let retry = |cause: Cause, why: String| Attempt::Retry {
            cause,
            why,
            retry_after: None,
        };
        match r.send_string(body) {
            // Bodies are redacted as they arrive, before anything parses, quotes, clips or
            // stores them: a server that echoes the key into a reply or an error page must
            // not put it in a trace, the response cache or a message.
            Ok(resp) => match resp.into_string() {
                Ok(text) => Attempt::Body(self.redact(text)),
                Err(e) if is_timeout(&e) => retry(Cause::Timeout, "timed out".into()),
                Err(e) => retry(Cause::Connection, format!("reading the reply failed: {e}")),
            },
            Err(ureq::Error::Status(code, resp)) => {
                let retry_after = endpoint::retry_after(
                    resp.header("retry-after-ms"),
                    resp.header("retry-after"),
                );
                let text = self.redact(resp.into_string().unwrap_or_default());
                let why = format!("HTTP {code}: {}", excerpt(&text));
                let cause = match code {
                    429 => Some(Cause::RateLimited),
                    408 | 409 | 500..=599 => Some(Cause::ServerError),
                    _ => None,
                };
                match cause {
                    Some(cause) => Attempt::Retry {
                        cause,
                        why,
                        retry_after,
                    },
                    None if code == 400 && is_context_overflow(&text) => {
                        Attempt::ContextOverflow(why)
                    }
                    None => Attempt::Fatal(why),
                }
            }
            Err(ureq::Error::Transport(t)) => match t.kind() {
                ureq::ErrorKind::Io if transport_timed_out(&t) => {
                    retry(Cause::Timeout, format!("timed out: {t}"))
                }
                ureq::ErrorKind::InvalidUrl
                | ureq::ErrorKind::UnknownScheme
                | ureq::ErrorKind::InsecureRequestHttpsOnly
                | ureq::ErrorKind::InvalidProxyUrl => Attempt::Fatal(t.to_string()),
                _ => retry(Cause::Connection, format!("connection error: {t}")),
            },
        }
    }

    /// The response for a parsed reply: token counts, and a constrained label turned back
    /// into its call.
    fn response(&mut self, req: &ModelRequest, reply: Reply, start: Instant) -> ModelResponse {
        self.stats.extra_tool_calls += u64::from(reply.extra_tool_calls);
        let (prompt_tokens, completion_tokens) = match reply.usage {
            Some(u) => u,
            None => {
                self.stats.estimated_usage += 1;
                (
                    request_tokens(req),
                    estimate_tokens(&reply.text).saturating_sub(PER_MESSAGE_TOKENS),
                )
            }
        };
        // A constrained choice among labels comes back as the label (a JSON string); the
        // engine gets the call it stands for.
        let text = match req.decoding {
            Decoding::Constrained => {
                let labels = action_labels(&req.tools, &req.admissible);
                call_of_label(&reply.text, &labels).unwrap_or(reply.text)
            }
            Decoding::Free => reply.text,
        };
        ModelResponse {
            // Again after JSON decoding: a key the body spelled with escapes reads plainly
            // here.
            text: self.redact(text),
            prompt_tokens,
            completion_tokens,
            latency_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Why an attempt is worth repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    RateLimited,
    ServerError,
    Timeout,
    Connection,
    Malformed,
}

impl Cause {
    fn count(self, r: &mut Retries) {
        let n = match self {
            Cause::RateLimited => &mut r.rate_limited,
            Cause::ServerError => &mut r.server_error,
            Cause::Timeout => &mut r.timeout,
            Cause::Connection => &mut r.connection,
            Cause::Malformed => &mut r.malformed,
        };
        *n += 1;
    }
}

enum Attempt {
    Body(String),
    Retry {
        cause: Cause,
        why: String,
        retry_after: Option<Duration>,
    },
    /// The server said the prompt is longer than its context window.
    ContextOverflow(String),
    Fatal(String),
}

/// Whether an HTTP 400 body is a server's "prompt too long" refusal (llama.cpp's and
/// llama-cpp-python's "maximum context length", vLLM's and OpenAI's wording).
fn is_context_overflow(body: &str) -> bool {
    let b = body.to_ascii_lowercase();
    [
        "maximum context length",
        "context_length_exceeded",
        "context length",
        "exceeds the context",
        "context window",
    ]
    .iter()
    .any(|k| b.contains(k))
}

impl Model for OpenAiModel {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        if let Err(e) = &self.key {
            return Err(ModelError::Backend(e.clone()));
        }
        let url = format!("{}/chat/completions", self.cfg.base_url);
        let body = request_body(&self.cfg, req);
        // What a tokens-per-minute limit reserves: the prompt and the longest reply.
        let estimate = request_tokens(req).saturating_add(u64::from(req.max_tokens));
        // The latency starts with the first attempt: waiting for the endpoint's rate limit
        // is queueing in this process, not the model's time.
        let mut start = None;
        let mut attempt = 0u32;
        loop {
            let reserved = self.endpoint.admit(estimate);
            let started = *start.get_or_insert_with(Instant::now);
            self.stats.http_requests += 1;
            let (cause, why, retry_after) = match self.attempt(&url, &body) {
                Attempt::Body(text) => match parse_reply(&text, &req.tools) {
                    Ok(reply) => {
                        let used = reply.usage.map_or(reserved, |(p, c)| p.saturating_add(c));
                        self.endpoint.settle(reserved, used);
                        return Ok(self.response(req, reply, started));
                    }
                    Err(e) => (Cause::Malformed, format!("malformed reply: {e}"), None),
                },
                Attempt::Retry {
                    cause,
                    why,
                    retry_after,
                } => (cause, why, retry_after),
                Attempt::ContextOverflow(why) => {
                    self.endpoint.settle(reserved, 0);
                    return Err(ModelError::ContextOverflow(
                        self.redact(format!("{url}: {why}")),
                    ));
                }
                Attempt::Fatal(why) => {
                    self.endpoint.settle(reserved, 0);
                    return Err(ModelError::Backend(self.redact(format!("{url}: {why}"))));
                }
            };
            // A failed attempt used no completion: its reservation goes back.
            self.endpoint.settle(reserved, 0);
            if attempt >= self.cfg.retries {
                let n = attempt + 1;
                let s = if n == 1 { "" } else { "s" };
                return Err(ModelError::Backend(self.redact(format!(
                    "{url}: gave up after {n} attempt{s}; last: {why}"
                ))));
            }
            if let Some(ra) = retry_after {
                // The server is overloaded for everyone: hold every episode's requests.
                self.endpoint.pause(ra);
            }
            let wait = self.backoff(req, attempt, retry_after);
            cause.count(&mut self.stats.retries);
            self.stats.backoffs_ms.push(wait);
            std::thread::sleep(Duration::from_millis(wait));
            attempt += 1;
        }
    }

    fn retries(&self) -> Retries {
        self.stats.retries
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn transport_timed_out(t: &ureq::Transport) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(t);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if is_timeout(io) {
                return true;
            }
        }
        src = e.source();
    }
    // Some timeouts only show in the message (e.g. the overall deadline).
    t.to_string().to_ascii_lowercase().contains("timed out")
}

/// At most 300 characters of a body, on one line, for error messages.
fn excerpt(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let t = one_line.trim();
    if t.is_empty() {
        return "(empty body)".into();
    }
    let mut out: String = t.chars().take(300).collect();
    if t.chars().count() > 300 {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------------------
// requests

/// JSON with keys in insertion order. serde_json's `Map` sorts keys; order matters here
/// because grammar-constrained servers make the model write properties in schema order, and
/// `{"tool": ..., "args": ...}` (the verb first) is the natural order for a small model.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Str(String),
    Bool(bool),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    Val(Value),
}

impl J {
    fn obj<const N: usize>(fields: [(&str, J); N]) -> J {
        J::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
    fn s(s: &str) -> J {
        J::Str(s.to_string())
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Str(x) => s.serialize_str(x),
            J::Bool(b) => s.serialize_bool(*b),
            J::Val(v) => v.serialize(s),
            J::Arr(xs) => {
                let mut seq = s.serialize_seq(Some(xs.len()))?;
                for x in xs {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The JSON schema of one value of type `ty`.
pub fn type_schema(ty: &TypeIr) -> J {
    let t = |name: &str| J::obj([("type", J::s(name))]);
    match ty {
        TypeIr::String => t("string"),
        TypeIr::Int | TypeIr::Tokens => t("integer"),
        TypeIr::Float => t("number"),
        TypeIr::Bool => t("boolean"),
        TypeIr::Duration => J::obj([
            ("type", J::s("string")),
            ("pattern", J::s("^[0-9]+(ms|s|m)$")),
        ]),
        TypeIr::Enum(vs) => J::obj([
            ("type", J::s("string")),
            ("enum", J::Arr(vs.iter().map(|v| J::s(v)).collect())),
        ]),
        TypeIr::List(inner) => J::obj([("type", J::s("array")), ("items", type_schema(inner))]),
        // Optional parameters are left out of `required`; the value itself keeps its type.
        TypeIr::Optional(inner) => type_schema(inner),
    }
}

/// The schema of a tool's arguments object.
pub fn params_schema(tool: &ToolSpec) -> J {
    let props = tool
        .params
        .iter()
        .map(|p| (p.name.clone(), type_schema(&p.ty)))
        .collect();
    let required = tool
        .params
        .iter()
        .filter(|p| !p.is_optional())
        .map(|p| J::s(&p.name))
        .collect();
    J::obj([
        ("type", J::s("object")),
        ("properties", J::Obj(props)),
        ("required", J::Arr(required)),
        ("additionalProperties", J::Bool(false)),
    ])
}

/// The admissible actions that parse as calls, each with the short label the model writes
/// under constrained decoding: the argument's value when every call is of one tool with
/// one argument and the values are distinct (`look around` for `act("look around")`),
/// else the call's canonical text. A label costs a small model 3–8 generated tokens where a
/// call object costs 17–28, and generation is the slow part of a reply.
pub fn action_labels(tools: &[ToolSpec], admissible: &[String]) -> Vec<(String, String)> {
    let calls: Vec<ToolCall> = admissible
        .iter()
        .filter_map(|a| parse_call(a, tools).ok())
        .collect();
    let bare: Option<Vec<String>> = calls
        .iter()
        .map(|c| match (c.args.as_slice(), c.tool == calls[0].tool) {
            ([a], true) => a.value.as_str().map(str::to_string),
            _ => None,
        })
        .collect();
    let distinct = |v: &Vec<String>| {
        let mut s = v.clone();
        s.sort();
        s.dedup();
        s.len() == v.len()
    };
    // Otherwise the tool name and its arguments' values, space-separated: `open drawer`.
    let words: Vec<String> = calls
        .iter()
        .map(|c| {
            let mut w = vec![c.tool.clone()];
            w.extend(c.args.iter().map(|a| match a.value.as_str() {
                Some(s) => s.to_string(),
                None => a.value.to_string(),
            }));
            w.join(" ")
        })
        .collect();
    // A quote or backslash in a label breaks llama-cpp-python's schema-to-grammar
    // conversion (the server then fails every request), so such a list keeps call objects.
    let plain = |v: &Vec<String>| v.iter().all(|l| !l.is_empty() && !l.contains(['"', '\\']));
    let labels = match bare {
        Some(v) if distinct(&v) && plain(&v) => v,
        _ if distinct(&words) && plain(&words) => words,
        _ => return Vec::new(),
    };
    labels
        .into_iter()
        .zip(calls.iter().map(|c| c.render(None)))
        .collect()
}

/// A call as the JSON object the engine's parser accepts, `tool` first.
fn call_json(call: &ToolCall) -> J {
    let args = call
        .args
        .iter()
        .map(|a| (a.name.clone(), J::Val(a.value.clone())))
        .collect();
    J::obj([("tool", J::s(&call.tool)), ("args", J::Obj(args))])
}

/// The call a constrained reply stands for: the reply is a JSON string holding one of the
/// labels of [`action_labels`]. `None` when it is not (then the reply is passed on as it
/// is, and the engine's parser judges it).
fn call_of_label(reply: &str, labels: &[(String, String)]) -> Option<String> {
    let label: String = serde_json::from_str(reply.trim()).ok()?;
    labels
        .iter()
        .find(|(l, _)| *l == label)
        .map(|(_, call)| call.clone())
}

/// The schema for constrained decoding. When the request lists admissible actions that
/// parse as calls, exactly those, as one `enum` of their labels ([`action_labels`]): the
/// model cannot pick an action the environment says is not possible now. Otherwise one
/// branch per tool (`{"tool": NAME, "args": {...}}` with typed arguments). `None` without
/// tools.
pub fn action_schema(tools: &[ToolSpec], admissible: &[String]) -> Option<J> {
    if tools.is_empty() {
        return None;
    }
    let labels = action_labels(tools, admissible);
    if !labels.is_empty() {
        return Some(J::obj([(
            "enum",
            J::Arr(labels.iter().map(|(l, _)| J::s(l)).collect()),
        )]));
    }
    // Labels that cannot be written plainly: the admissible calls as call objects.
    let calls: Vec<ToolCall> = admissible
        .iter()
        .filter_map(|a| parse_call(a, tools).ok())
        .collect();
    if !calls.is_empty() {
        return Some(J::obj([(
            "enum",
            J::Arr(calls.iter().map(call_json).collect()),
        )]));
    }
    let mut branches = Vec::new();
    for t in tools {
        branches.push(J::obj([
            ("type", J::s("object")),
            (
                "properties",
                J::obj([
                    ("tool", J::obj([("enum", J::Arr(vec![J::s(&t.name)]))])),
                    ("args", params_schema(t)),
                ]),
            ),
            ("required", J::Arr(vec![J::s("tool"), J::s("args")])),
            ("additionalProperties", J::Bool(false)),
        ]));
    }
    Some(if branches.len() == 1 {
        branches.remove(0)
    } else {
        J::obj([("anyOf", J::Arr(branches))])
    })
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        // See the module docs: no tool-call ids to pair a `tool` message with.
        Role::Tool => "user",
    }
}

/// The JSON body of a chat-completions request. `req.expert` is never read: it exists for
/// the simulated models only.
pub fn request_body(cfg: &OpenAiConfig, req: &ModelRequest) -> String {
    let messages = req
        .messages
        .iter()
        .map(|m| {
            J::obj([
                ("role", J::s(role_name(m.role))),
                ("content", J::s(&m.content)),
            ])
        })
        .collect();
    let mut body = vec![
        ("model".to_string(), J::s(&cfg.model)),
        ("messages".to_string(), J::Arr(messages)),
        ("temperature".to_string(), J::Val(num(req.temperature))),
        (
            "max_tokens".to_string(),
            J::Val(Value::from(req.max_tokens)),
        ),
        (
            "seed".to_string(),
            J::Val(Value::from(req.seed & 0x7fff_ffff)),
        ),
        ("stream".to_string(), J::Bool(false)),
    ];
    if let Some(p) = req.top_p {
        body.push(("top_p".into(), J::Val(num(p))));
    }
    match req.decoding {
        Decoding::Constrained => {
            if let Some(schema) = action_schema(&req.tools, &req.admissible) {
                let rf = match cfg.format {
                    SchemaFormat::JsonSchema => J::obj([
                        ("type", J::s("json_schema")),
                        (
                            "json_schema",
                            J::obj([
                                ("name", J::s("action")),
                                ("strict", J::Bool(false)),
                                ("schema", schema),
                            ]),
                        ),
                    ]),
                    SchemaFormat::JsonObject => {
                        J::obj([("type", J::s("json_object")), ("schema", schema)])
                    }
                };
                body.push(("response_format".into(), rf));
            }
        }
        Decoding::Free => {
            if cfg.tools == ToolMode::Native && !req.tools.is_empty() {
                let tools = req
                    .tools
                    .iter()
                    .map(|t| {
                        J::obj([
                            ("type", J::s("function")),
                            (
                                "function",
                                J::obj([
                                    ("name", J::s(&t.name)),
                                    ("description", J::s(&t.description)),
                                    ("parameters", params_schema(t)),
                                ]),
                            ),
                        ])
                    })
                    .collect();
                body.push(("tools".into(), J::Arr(tools)));
            }
        }
    }
    // Serializing strings, bools and finite numbers cannot fail.
    serde_json::to_string(&J::Obj(body)).unwrap_or_default()
}

/// A finite float as JSON (non-finite values, which the checker rejects, become 0).
fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::from(0), Value::Number)
}

// ---------------------------------------------------------------------------------------
// replies

/// What a chat-completions reply carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// `(prompt_tokens, completion_tokens)` from `usage`.
    pub usage: Option<(u64, u64)>,
    pub extra_tool_calls: u32,
}

/// Parse a reply body. Errors say what was wrong with the shape.
pub fn parse_reply(body: &str, tools: &[ToolSpec]) -> Result<Reply, String> {
    let v: Value = serde_json::from_str(body)
        .map_err(|e| format!("invalid JSON ({e}) in {}", excerpt(body)))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("expected a JSON object, got {}", excerpt(body)))?;
    if let Some(err) = obj.get("error").filter(|e| !e.is_null()) {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| err.to_string(), str::to_string);
        return Err(format!("the server reported an error: {}", excerpt(&msg)));
    }
    let choice = obj
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("no `choices[0]` in the reply")?;
    let message = choice
        .get("message")
        .and_then(Value::as_object)
        .ok_or("`choices[0].message` is missing or not an object")?;
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err("`tool_calls` is not an array".into()),
    };
    let text = match (calls.first(), message.get("content")) {
        (Some(call), _) => tool_call_text(call, tools)?,
        (None, Some(Value::String(s))) => s.clone(),
        (None, None | Some(Value::Null)) => {
            return Err("the message has neither `content` nor `tool_calls`".into())
        }
        (None, Some(_)) => return Err("`content` is not a string".into()),
    };
    let usage = obj.get("usage").and_then(|u| {
        let p = u.get("prompt_tokens").and_then(Value::as_u64)?;
        let c = u.get("completion_tokens").and_then(Value::as_u64)?;
        Some((p, c))
    });
    Ok(Reply {
        text,
        usage,
        extra_tool_calls: u32::try_from(calls.len().saturating_sub(1)).unwrap_or(u32::MAX),
    })
}

/// One entry of `tool_calls` as call text (see the module docs).
pub fn tool_call_text(call: &Value, tools: &[ToolSpec]) -> Result<String, String> {
    let f = call
        .get("function")
        .and_then(Value::as_object)
        .ok_or("`tool_calls[0].function` is missing or not an object")?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or("`tool_calls[0].function.name` is missing or not a string")?;
    let args: Value = match f.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(v) => v,
            // The model wrote broken arguments: hand them on for the engine to classify.
            Err(_) => return Ok(raw_call_text(name, s)),
        },
        Some(v) => v.clone(),
    };
    let Value::Object(map) = args else {
        return Ok(raw_call_text(name, &args.to_string()));
    };
    let spec = tools.iter().find(|t| t.name == name);
    let params = spec.map_or(&[][..], |s| s.params.as_slice());
    let mut out = ToolCall::new(name);
    // Normalize: parameters in declaration order, null optionals omitted, then any
    // unknown names (which the engine then reports as unknown parameters).
    for p in params {
        if let Some(v) = map.get(&p.name) {
            if !(v.is_null() && p.is_optional()) {
                out = out.arg(p.name.clone(), v.clone());
            }
        }
    }
    for (k, v) in &map {
        if !params.iter().any(|p| &p.name == k) {
            out = out.arg(k.clone(), v.clone());
        }
    }
    Ok(out.render(Some(params)))
}

fn raw_call_text(name: &str, raw_args: &str) -> String {
    format!(
        "{{\"tool\": {}, \"args\": {raw_args}}}",
        Value::String(name.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::ParamIr;

    fn tools() -> Vec<ToolSpec> {
        vec![
            ToolSpec {
                name: "open".into(),
                description: "Open".into(),
                params: vec![ParamIr::new("target", TypeIr::String)],
            },
            ToolSpec {
                name: "finish".into(),
                description: "Done".into(),
                params: vec![ParamIr::new(
                    "answer",
                    TypeIr::Optional(Box::new(TypeIr::String)),
                )],
            },
        ]
    }

    #[test]
    fn specs_parse_or_explain() {
        let c = OpenAiConfig::parse(
            "http://127.0.0.1:8080/v1/#smol?tools=native&retries=2&rps=2.5&tpm=90000",
        )
        .expect("parses");
        assert_eq!(c.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(c.model, "smol");
        assert_eq!(c.tools, ToolMode::Native);
        assert_eq!(c.retries, 2);
        assert_eq!(
            c.limits,
            RateLimits {
                requests_per_second: Some(2.5),
                tokens_per_minute: Some(90_000)
            }
        );
        // Rate limits do not change the replies, so not the cache's model id.
        assert!(!c.model_id().contains("rps"), "{}", c.model_id());
        for bad in [
            "http://x/v1",
            "ftp://x#m",
            "http://x/v1#",
            "http://x#m?nope=1",
            "http://x#m?retries=a",
            "http://x#m?tools",
            "http://x#m?rps=0",
            "http://x#m?rps=-1",
            "http://x#m?rps=inf",
            "http://x#m?tpm=0",
            "http://x#m?tpm=1.5",
        ] {
            assert!(OpenAiConfig::parse(bad).is_err(), "{bad}");
        }
        let c = OpenAiConfig::parse("https://u:p@api.example/v1#m").expect("parses");
        assert!(!c.model_id().contains("u:p"), "{}", c.model_id());
    }

    #[test]
    fn harness_settings_fill_gaps_only() {
        let mut c = OpenAiConfig::parse("http://x/v1#m?timeout_ms=5&rps=3").expect("parses");
        let m = ModelIr {
            api_key_env: Some("K".into()),
            timeout_ms: Some(9),
            requests_per_second: Some(7.0),
            tokens_per_minute: Some(1_000),
            ..ModelIr::default()
        };
        c.apply_model_ir(&m);
        assert_eq!(c.api_key_env.as_deref(), Some("K"));
        assert_eq!(c.timeout_ms, Some(5));
        assert_eq!(c.limits.requests_per_second, Some(3.0));
        assert_eq!(c.limits.tokens_per_minute, Some(1_000));
    }

    #[test]
    fn tool_calls_become_canonical_text() {
        let t = tools();
        let call =
            |args: Value| serde_json::json!({"function": {"name": "open", "arguments": args}});
        assert_eq!(
            tool_call_text(&call(r#"{"target": "drawer"}"#.into()), &t),
            Ok(r#"open("drawer")"#.to_string())
        );
        // Arguments as an object (Ollama) work too.
        assert_eq!(
            tool_call_text(&call(serde_json::json!({"target": "box"})), &t),
            Ok(r#"open("box")"#.to_string())
        );
        let fin =
            serde_json::json!({"function": {"name": "finish", "arguments": "{\"answer\": null}"}});
        assert_eq!(tool_call_text(&fin, &t), Ok("finish()".to_string()));
        // Broken arguments are passed on for the engine to classify.
        let broken = tool_call_text(&call(r#"{"target": "dra"#.into()), &t).expect("text");
        assert!(parse_call(&broken, &t).is_err(), "{broken}");
        let extra = tool_call_text(&call(r#"{"target": "a", "zz": 1}"#.into()), &t).expect("text");
        assert_eq!(extra, r#"open("a", zz=1)"#);
        assert!(tool_call_text(&serde_json::json!({"x": 1}), &t).is_err());
    }

    #[test]
    fn replies_parse_or_say_what_is_wrong() {
        let ok = r#"{"choices":[{"message":{"role":"assistant","content":"look()"}}],
                    "usage":{"prompt_tokens":12,"completion_tokens":3}}"#;
        let r = parse_reply(ok, &tools()).expect("parses");
        assert_eq!((r.text.as_str(), r.usage), ("look()", Some((12, 3))));
        let no_usage = r#"{"choices":[{"message":{"content":"x"}}]}"#;
        assert_eq!(parse_reply(no_usage, &tools()).map(|r| r.usage), Ok(None));
        for (body, want) in [
            ("{\"choices\": [", "invalid JSON"),
            ("[1]", "expected a JSON object"),
            ("{}", "choices[0]"),
            (r#"{"choices":[]}"#, "choices[0]"),
            (r#"{"choices":[{"text":"x"}]}"#, "message"),
            (r#"{"choices":[{"message":{}}]}"#, "neither"),
            (r#"{"choices":[{"message":{"content":3}}]}"#, "not a string"),
            (
                r#"{"error":{"message":"model not loaded"}}"#,
                "model not loaded",
            ),
        ] {
            let e = parse_reply(body, &tools()).expect_err(body);
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn constrained_schema_uses_admissible_actions_and_keeps_order() {
        let t = tools();
        let s = action_schema(&t, &[r#"open("drawer")"#.into(), "bogus".into()]).expect("schema");
        let text = serde_json::to_string(&s).unwrap_or_default();
        // Exactly the admissible actions that parse; `finish` is not admissible now. One
        // tool with one argument: the label is the argument.
        assert_eq!(text, r#"{"enum":["drawer"]}"#);
        let mixed = action_schema(&t, &[r#"open("drawer")"#.into(), "finish()".into()]);
        let text = serde_json::to_string(&mixed.expect("schema")).unwrap_or_default();
        assert_eq!(text, r#"{"enum":["open drawer","finish"]}"#);
        // A quote in an argument: call objects, which every server's grammar takes.
        let quoted = action_schema(
            &t,
            &[r#"open("the \"red\" box")"#.into(), "finish()".into()],
        );
        let text = serde_json::to_string(&quoted.expect("schema")).unwrap_or_default();
        assert!(
            text.starts_with(r#"{"enum":[{"tool":"open","args""#),
            "{text}"
        );
        let free = action_schema(&t, &["bogus".into()]).expect("schema");
        let text = serde_json::to_string(&free).unwrap_or_default();
        assert!(text.starts_with(r#"{"anyOf":[{"type":"object""#), "{text}");
        assert!(text.contains(r#""tool":{"enum":["finish"]}"#), "{text}");
        assert!(action_schema(&[], &[]).is_none());
        let single = action_schema(&t[..1], &[]).expect("schema");
        let text = serde_json::to_string(&single).unwrap_or_default();
        assert!(
            text.starts_with(r#"{"type":"object","properties":{"tool""#),
            "{text}"
        );
    }

    #[test]
    fn a_constrained_label_comes_back_as_its_call() {
        let t = tools();
        let labels = action_labels(&t, &[r#"open("drawer")"#.into(), r#"open("box 1")"#.into()]);
        assert_eq!(
            call_of_label(r#""box 1""#, &labels).as_deref(),
            Some(r#"open("box 1")"#)
        );
        assert_eq!(call_of_label(r#""box 2""#, &labels), None);
        assert_eq!(call_of_label("open(\"box 1\")", &labels), None);
        // Two identical calls: no labels (ambiguous), so the schema keeps call objects.
        let labels = action_labels(
            &t,
            &[r#"open("drawer")"#.into(), r#"open("drawer")"#.into()],
        );
        assert!(labels.is_empty(), "{labels:?}");
    }

    #[test]
    fn backoff_is_exponential_capped_and_reproducible() {
        let mut cfg = OpenAiConfig::new("http://x/v1", "m");
        cfg.backoff_ms = 100;
        cfg.backoff_max_ms = 1000;
        let m = OpenAiModel::new(cfg);
        let req = ModelRequest {
            messages: vec![],
            tools: vec![],
            temperature: 0.0,
            max_tokens: 1,
            top_p: None,
            decoding: Decoding::Free,
            seed: 7,
            admissible: vec![],
            expert: None,
        };
        let ds: Vec<u64> = (0..6).map(|a| m.backoff(&req, a, None)).collect();
        let nominal = [100, 200, 400, 800, 1000, 1000];
        for (d, n) in ds.iter().zip(nominal) {
            assert!(*d >= n / 2 && *d < n.max(1), "{ds:?}");
        }
        assert_eq!(
            ds,
            (0..6).map(|a| m.backoff(&req, a, None)).collect::<Vec<_>>()
        );
        // A Retry-After (capped where it is read) replaces the backoff, above the cap too.
        let ra = |ms| Some(Duration::from_millis(ms));
        assert_eq!(m.backoff(&req, 0, ra(700)), 700);
        assert_eq!(m.backoff(&req, 3, ra(30_000)), 30_000);
        // Long delays keep their jitter (the arithmetic once saturated above 2 s).
        let mut cfg = OpenAiConfig::new("http://x/v1", "m");
        cfg.backoff_max_ms = 8_000;
        let m = OpenAiModel::new(cfg);
        let long: Vec<u64> = (0..64)
            .map(|s| {
                m.backoff(
                    &ModelRequest {
                        seed: s,
                        ..req.clone()
                    },
                    6,
                    None,
                )
            })
            .collect();
        assert!(long.iter().all(|d| (4_000..8_000).contains(d)), "{long:?}");
        assert!(long.iter().any(|d| *d > 6_100), "{long:?}");
    }
}
