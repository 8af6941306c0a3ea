//! [`ModelSpec`]: a model chosen by name — on the command line, in a harness's `model`
//! section, or in a benchmark plan — and the one place that turns a name into a model.

use std::fmt;

use super::cache::{CachingModel, FailingModel};
use super::noisy::NoisyExpertModel;
use super::sim::{SimModel, Tier};
use super::{Model, ScriptedModel, WhenExhausted};

/// Model specs available by name (both are test stand-ins, not real or simulated models).
pub const KNOWN_MODELS: &[&str] = &[
    "noisy:P",
    "scripted:PATH",
    "openai:BASE_URL#MODEL",
    "cache:DIR:SPEC",
    "replay:DIR",
    "sim:small|medium|large",
    "random",
];

/// Why `openai:` is refused by a runtime built without its `openai` feature (see the
/// crate docs): that build has no HTTP client.
pub const NO_HTTP_BACKEND: &str =
    "this build of the runtime has no HTTP backend (feature `openai`), so `openai:` models are unavailable";

/// A model chosen on the command line. Both kinds are **test stand-ins**.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// `noisy:P`: [`NoisyExpertModel`] with competence `P` in `[0, 1]` and default weights.
    Noisy(f64),
    /// `scripted:PATH`: a [`ScriptedModel`] replaying these replies in order, cycling.
    Scripted(Vec<String>),
    /// `openai:BASE_URL#MODEL[?options]`: a real model over the chat-completions API
    /// ([`super::openai`]). Only with the crate feature `openai`.
    #[cfg(feature = "openai")]
    OpenAi(super::openai::OpenAiConfig),
    /// `cache:DIR:SPEC`: `SPEC` behind the response cache in `DIR` ([`super::cache`]):
    /// cached replies are served, others are asked for and stored.
    Cached { dir: String, inner: Box<ModelSpec> },
    /// `replay:DIR`: replies from the response cache in `DIR` only; a miss is an error.
    Replay(String),
    /// `sim:small|medium|large`: the simulated model family ([`super::sim`]). Its results
    /// are simulated and must be labelled so ([`ModelSpec::is_simulated`]).
    Sim(Tier),
    /// `random`: the random admissible-action policy ([`super::random_policy`]), no model
    /// at all: the floor a harness must beat.
    RandomPolicy,
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Noisy(p) => write!(f, "noisy:{p} (test stand-in)"),
            ModelSpec::Scripted(r) => write!(f, "scripted, {} replies (test stand-in)", r.len()),
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => write!(f, "{c}"),
            ModelSpec::Cached { dir, inner } => write!(f, "{inner}, cached in {dir}"),
            ModelSpec::Replay(dir) => write!(f, "replay of {dir}"),
            ModelSpec::Sim(t) => write!(f, "sim:{t} (simulated)"),
            ModelSpec::RandomPolicy => write!(f, "random policy (no model)"),
        }
    }
}

impl ModelSpec {
    /// Parse `noisy:P` or `scripted:PATH`. `read` loads a scripted file (injected so this
    /// module does no IO of its own); the file holds one reply per line, blank lines
    /// skipped.
    pub fn parse(
        spec: &str,
        read: impl FnOnce(&str) -> Result<String, String>,
    ) -> Result<ModelSpec, String> {
        let unknown = || {
            format!(
                "unknown model `{spec}`; known models: {}",
                KNOWN_MODELS.join(", ")
            )
        };
        if spec == "random" {
            return Ok(ModelSpec::RandomPolicy);
        }
        let (kind, arg) = spec.split_once(':').ok_or_else(unknown)?;
        match kind {
            "noisy" => match arg.trim().parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => Ok(ModelSpec::Noisy(p)),
                _ => Err(format!(
                    "`{spec}`: the competence of `noisy:P` must be a number from 0 to 1"
                )),
            },
            "scripted" if !arg.is_empty() => {
                let text = read(arg)?;
                let replies: Vec<String> = text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect();
                if replies.is_empty() {
                    return Err(format!(
                        "`{arg}`: a scripted model needs at least one reply"
                    ));
                }
                Ok(ModelSpec::Scripted(replies))
            }
            #[cfg(feature = "openai")]
            "openai" => super::openai::OpenAiConfig::parse(arg).map(ModelSpec::OpenAi),
            #[cfg(not(feature = "openai"))]
            "openai" => Err(format!("`{spec}`: {NO_HTTP_BACKEND}")),
            // The directory ends at the first `:`; the rest is a whole spec (`openai:http://…`).
            "cache" => match arg.split_once(':') {
                Some((dir, inner)) if !dir.is_empty() && !inner.is_empty() => {
                    Ok(ModelSpec::Cached {
                        dir: dir.to_string(),
                        inner: Box::new(ModelSpec::parse(inner, read)?),
                    })
                }
                _ => Err(format!("`{spec}`: expected `cache:DIR:SPEC`")),
            },
            "replay" if !arg.is_empty() => Ok(ModelSpec::Replay(arg.to_string())),
            "sim" => Tier::parse(arg).map(ModelSpec::Sim).ok_or_else(|| {
                format!("`{spec}`: the simulated tiers are sim:small, sim:medium, sim:large")
            }),
            _ => Err(unknown()),
        }
    }

    /// Whether results from this model are simulated (`sim:`, also behind a cache), so
    /// summaries can say so.
    pub fn is_simulated(&self) -> bool {
        match self {
            ModelSpec::Sim(_) => true,
            ModelSpec::Cached { inner, .. } => inner.is_simulated(),
            _ => false,
        }
    }

    /// Whether this model calls a server over HTTP (`openai:`, also behind a cache), so a
    /// compiled runner must build the runtime with its `openai` feature. `replay:` does not:
    /// it only reads its directory.
    pub fn needs_http(&self) -> bool {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(_) => true,
            ModelSpec::Cached { inner, .. } => inner.needs_http(),
            _ => false,
        }
    }

    /// How many episodes to run at once when nobody said: one for a model behind HTTP,
    /// else [`crate::runner::default_workers`]. A local llama.cpp-style server keeps one
    /// prompt cache, so concurrent episodes evict each other's prefix and every request is
    /// read from the start (measured with SmolLM2 on llama-cpp-python: 66 tokens of prefix
    /// reused per request with two episodes in flight, the whole history with one; see
    /// docs/MODELS.md). A server that batches many sequences (vLLM, SGLang) wants a large
    /// `--workers` instead.
    pub fn default_workers(&self) -> usize {
        if self.needs_http() {
            1
        } else {
            crate::runner::default_workers()
        }
    }

    /// What produces the replies, for response caches (see [`super::cache`]).
    pub fn model_id(&self) -> String {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => c.model_id(),
            ModelSpec::Noisy(p) => format!("noisy:{p}"),
            ModelSpec::Scripted(r) => format!(
                "scripted:{:016x}",
                crate::ir::fnv1a64(r.join("\n").as_bytes())
            ),
            ModelSpec::Cached { inner, .. } => inner.model_id(),
            ModelSpec::Replay(dir) => format!("replay:{dir}"),
            ModelSpec::RandomPolicy => "random".to_string(),
            #[allow(unreachable_patterns)]
            other => other.to_string(),
        }
    }

    /// Take the harness's model settings that a spec leaves open: for `openai:`, the
    /// API-key variable (`api_key_env`) and the timeout. Call it before [`Self::build`].
    /// (Without the `openai` feature no spec takes any, and `m` only passes through caches.)
    #[cfg_attr(not(feature = "openai"), allow(clippy::only_used_in_recursion))]
    pub fn apply_model_ir(&mut self, m: &crate::ir::ModelIr) {
        match self {
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => c.apply_model_ir(m),
            ModelSpec::Cached { inner, .. } => inner.apply_model_ir(m),
            _ => {}
        }
    }

    /// A fresh model for one episode (models keep per-episode state, e.g. the noisy
    /// model's previous call, so episodes never share an instance).
    pub fn build(&self) -> Box<dyn Model> {
        match self {
            ModelSpec::Noisy(p) => Box::new(NoisyExpertModel::new(*p)),
            ModelSpec::Scripted(r) => Box::new(ScriptedModel::new(r.clone(), WhenExhausted::Cycle)),
            #[cfg(feature = "openai")]
            ModelSpec::OpenAi(c) => Box::new(super::openai::OpenAiModel::new(c.clone())),
            // Building cannot fail, so an unusable cache fails every call with the reason.
            ModelSpec::Cached { dir, inner } => {
                match CachingModel::new(inner.build(), dir, &inner.model_id()) {
                    Ok(m) => Box::new(m),
                    Err(e) => Box::new(FailingModel(e)),
                }
            }
            ModelSpec::Replay(dir) => match CachingModel::replay(dir) {
                Ok(m) => Box::new(m),
                Err(e) => Box::new(FailingModel(e)),
            },
            ModelSpec::Sim(t) => Box::new(SimModel::new(*t)),
            ModelSpec::RandomPolicy => Box::new(super::random_policy::RandomPolicy),
        }
    }
}
