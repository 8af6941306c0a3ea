//! The models: the [`Model`] trait, and one room per backend.
//!
//! | module | model spec |
//! |---|---|
//! | [`spec`] | [`spec::ModelSpec`]: a model chosen by name (`sim:`, `openai:`, `cache:`, …) |
//! | [`sim`] | `sim:small|medium|large`, the simulated family (results labelled simulated) |
//! | [`noisy`] | `noisy:P`, a seeded test stand-in that follows the env's expert |
//! | `openai` | `openai:URL#MODEL`, chat completions over HTTP (feature `openai`) |
//! | [`cache`] | `cache:DIR:SPEC` and `replay:DIR`, the response cache |
//! | [`rate_limit`] | token buckets for an endpoint's requests/s and tokens/min |
//! | `endpoint` | what every episode talking to one server shares: connections, rate limits, `Retry-After` (feature `openai`) |
//!
//! This file holds the trait, the request/response types, and the scripted models tests use.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::call::{ToolCall, ToolSpec};
use crate::ir::Decoding;
use crate::message::{estimate_tokens, Message, PER_MESSAGE_TOKENS};

pub mod cache;
#[cfg(feature = "openai")]
pub mod endpoint;
pub mod noisy;
#[cfg(feature = "openai")]
pub mod openai;
pub mod random_policy;
pub mod rate_limit;
pub mod sim;
pub mod spec;

/// Everything a backend needs for one completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRequest {
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub temperature: f64,
    pub max_tokens: u32,
    pub top_p: Option<f64>,
    pub decoding: Decoding,
    /// Derived from the episode seed and the call index, so every call of an episode has
    /// its own reproducible seed.
    pub seed: u64,
    /// The environment's admissible actions (constrained decoding may turn them into an
    /// enum in the schema).
    pub admissible: Vec<String>,
    /// The environment's expert action. **Simulation only**: the simulated model family
    /// uses it to act competently; every real backend must ignore it.
    pub expert: Option<ToolCall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelResponse {
    pub text: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Simulated or measured latency; it advances the episode's virtual clock.
    pub latency_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "error", content = "message")]
pub enum ModelError {
    /// A scripted or replayed model has no reply left.
    Exhausted,
    /// The backend failed (transport, HTTP status, malformed reply...).
    Backend(String),
    Timeout,
    /// The server refused the prompt as longer than the model's context window: the
    /// harness's problem (it should compact before sending), not the infrastructure's.
    ContextOverflow(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Exhausted => write!(f, "the model has no replies left"),
            ModelError::Backend(m) => write!(f, "model backend error: {m}"),
            ModelError::Timeout => write!(f, "model timed out"),
            ModelError::ContextOverflow(m) => {
                write!(f, "the prompt overflows the model's context: {m}")
            }
        }
    }
}

impl ModelError {
    /// Whether the failure is the model server's, not the harness's: a timeout, or a
    /// backend error (transport, 5xx after the retries, a malformed or truncated reply, a
    /// response-cache miss). Such an episode says nothing about the harness, so it is
    /// re-run and kept out of every score ([`crate::engine::EndReason::Infrastructure`]).
    pub fn is_infrastructure(&self) -> bool {
        matches!(self, ModelError::Backend(_) | ModelError::Timeout)
    }
}

impl std::error::Error for ModelError {}

pub trait Model {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError>;

    /// The requests this model instance sent again because the transport failed, by cause,
    /// over its life so far. Zero for every backend that does not talk to a server. Kept
    /// out of responses and traces, so an episode's trace is the same with or without
    /// faults that a retry absorbed; the runner adds them to summaries.
    fn retries(&self) -> Retries {
        Retries::default()
    }
}

impl<M: Model + ?Sized> Model for &mut M {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        (**self).complete(req)
    }
    fn retries(&self) -> Retries {
        (**self).retries()
    }
}

/// Requests sent again after a transport failure, by cause (see [`Model::retries`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    /// HTTP 429.
    pub rate_limited: u64,
    /// HTTP 5xx, 408 and 409.
    pub server_error: u64,
    /// No whole reply within the request timeout.
    pub timeout: u64,
    /// Refused, reset or dropped connections, and bodies cut short.
    pub connection: u64,
    /// A complete 200 reply that is no chat completion (invalid or truncated JSON, a wrong
    /// shape, an `error` object).
    pub malformed: u64,
}

impl Retries {
    pub fn total(&self) -> u64 {
        self.rate_limited + self.server_error + self.timeout + self.connection + self.malformed
    }

    pub fn add(&mut self, other: &Retries) {
        self.rate_limited += other.rate_limited;
        self.server_error += other.server_error;
        self.timeout += other.timeout;
        self.connection += other.connection;
        self.malformed += other.malformed;
    }

    /// `7 (429: 2, 5xx: 1, timeout: 1, connection: 2, malformed: 1)`, causes with zero
    /// counts left out; `0` when nothing was retried.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("429", self.rate_limited),
            ("5xx", self.server_error),
            ("timeout", self.timeout),
            ("connection", self.connection),
            ("malformed", self.malformed),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k}: {n}"))
        .collect();
        if parts.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", self.total(), parts.join(", "))
        }
    }
}

/// Prompt tokens of a request under the runtime's estimate (see [`estimate_tokens`]): what
/// test models report, so token accounting is checkable by hand.
pub fn request_tokens(req: &ModelRequest) -> u64 {
    req.messages
        .iter()
        .map(|m| estimate_tokens(&m.content))
        .sum()
}

/// What a scripted model does when its replies run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenExhausted {
    /// Start again from the first reply.
    Cycle,
    /// Fail with [`ModelError::Exhausted`].
    Error,
}

/// Replies from a fixed list, in order. Token counts follow the runtime's estimate.
#[derive(Debug, Clone)]
pub struct ScriptedModel {
    replies: Vec<String>,
    next: usize,
    when_exhausted: WhenExhausted,
    /// Latency reported for every reply.
    pub latency_ms: u64,
    /// Every request received, for assertions.
    pub requests: Vec<ModelRequest>,
}

impl ScriptedModel {
    pub fn new<S: Into<String>>(
        replies: impl IntoIterator<Item = S>,
        when_exhausted: WhenExhausted,
    ) -> Self {
        ScriptedModel {
            replies: replies.into_iter().map(Into::into).collect(),
            next: 0,
            when_exhausted,
            latency_ms: 0,
            requests: Vec::new(),
        }
    }
}

impl Model for ScriptedModel {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        self.requests.push(req.clone());
        if self.next >= self.replies.len() {
            match self.when_exhausted {
                WhenExhausted::Cycle if !self.replies.is_empty() => self.next = 0,
                _ => return Err(ModelError::Exhausted),
            }
        }
        let text = self.replies[self.next].clone();
        self.next += 1;
        Ok(ModelResponse {
            prompt_tokens: request_tokens(req),
            completion_tokens: estimate_tokens(&text).saturating_sub(PER_MESSAGE_TOKENS),
            latency_ms: self.latency_ms,
            text,
        })
    }
}

/// A model from a closure over the request: handy for policies in tests, e.g. one that
/// always follows `req.expert`.
pub struct FnModel<F>(pub F);

impl<F: FnMut(&ModelRequest) -> String> Model for FnModel<F> {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let text = (self.0)(req);
        Ok(ModelResponse {
            prompt_tokens: request_tokens(req),
            completion_tokens: estimate_tokens(&text).saturating_sub(PER_MESSAGE_TOKENS),
            latency_ms: 0,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Role;

    fn req() -> ModelRequest {
        ModelRequest {
            messages: vec![Message {
                role: Role::User,
                content: "12345".into(),
            }],
            tools: vec![],
            temperature: 0.0,
            max_tokens: 10,
            top_p: None,
            decoding: Decoding::Free,
            seed: 1,
            admissible: vec![],
            expert: None,
        }
    }

    #[test]
    fn scripted_cycles_or_errors() {
        let mut m = ScriptedModel::new(["a", "b"], WhenExhausted::Cycle);
        let texts: Vec<String> = (0..3)
            .map(|_| m.complete(&req()).map(|r| r.text).unwrap_or_default())
            .collect();
        assert_eq!(texts, ["a", "b", "a"]);
        let mut m = ScriptedModel::new(["a"], WhenExhausted::Error);
        assert!(m.complete(&req()).is_ok());
        assert_eq!(m.complete(&req()), Err(ModelError::Exhausted));
        let mut empty = ScriptedModel::new(Vec::<String>::new(), WhenExhausted::Cycle);
        assert_eq!(empty.complete(&req()), Err(ModelError::Exhausted));
    }

    #[test]
    fn retries_add_up_and_describe_themselves() {
        let mut r = Retries {
            rate_limited: 2,
            timeout: 1,
            ..Retries::default()
        };
        assert_eq!(Retries::default().describe(), "0");
        r.add(&Retries {
            malformed: 3,
            ..Retries::default()
        });
        assert_eq!(r.total(), 6);
        assert_eq!(r.describe(), "6 (429: 2, timeout: 1, malformed: 3)");
        // Test models retry nothing.
        assert_eq!(
            ScriptedModel::new(["a"], WhenExhausted::Cycle).retries(),
            Retries::default()
        );
    }

    #[test]
    fn token_counts_follow_the_estimate() {
        let mut m = ScriptedModel::new(["abcdefgh"], WhenExhausted::Cycle);
        let r = m.complete(&req()).expect("reply");
        // "12345": ceil(5/4) + 4 per message; the completion has no message overhead.
        assert_eq!(r.prompt_tokens, 6);
        assert_eq!(r.completion_tokens, 2);
    }
}
