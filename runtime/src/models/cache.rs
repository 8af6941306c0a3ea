//! The response cache: `cache:DIR:SPEC` records, `replay:DIR` only serves.
//!
//! A [`CachingModel`] answers a request from `DIR` when it has seen the same request
//! before, and otherwise asks the model it wraps and stores the reply. Without a wrapped
//! model (`replay:DIR`) a request that is not in the cache is an error, so a replayed run
//! provably makes no model calls.
//!
//! # Layout and keys
//!
//! - `DIR/model-id`: the id of the model whose replies the directory holds (e.g.
//!   `openai:http://127.0.0.1:8080/v1#smollm2?tools=text&format=json_schema`). One
//!   directory holds one model's replies: wrapping another model is refused, so a cache
//!   cannot silently serve one model's answers as another's. `replay:` reads the id from
//!   here.
//! - `DIR/<KEY>.json`, one file per request: the key, the model id, the request and the
//!   response. `KEY` is FNV-1a 64 (16 hex digits) of the model id and the request's
//!   canonical JSON — every field of [`ModelRequest`]: messages, tools, temperature,
//!   max_tokens, top_p, decoding, seed, admissible actions (and the simulation-only expert
//!   call, so caching a simulated model is exact too). The stored request is compared on
//!   every hit, so a hash collision is a miss, never a wrong answer.
//!
//! Files are written to a temporary name in `DIR` and renamed into place, so a reader (or
//! a concurrent run) sees a whole entry or none. Failed calls are not cached, with one
//! exception: the server's refusal of a prompt longer than the model's context
//! ([`ModelError::ContextOverflow`]) is its deterministic answer to that request, and the
//! harness's failure rather than the infrastructure's; it is stored (`response` null,
//! `context_overflow` the server's message) and served again, so a run whose episodes
//! overflowed replays, and resumes, without asking the model.
//!
//! The stored response includes `latency_ms`, which advances the episode's virtual clock,
//! so a rerun from the cache gives the same trace byte for byte.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ir::fnv1a64;
use crate::models::{Model, ModelError, ModelRequest, ModelResponse};

/// The file in a cache directory that names its model.
pub const MODEL_ID_FILE: &str = "model-id";

/// One cache file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: String,
    pub model_id: String,
    pub request: ModelRequest,
    /// The reply; `None` when the server refused the prompt as too long.
    pub response: Option<ModelResponse>,
    /// The server's message when it refused the prompt as longer than the model's context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_overflow: Option<String>,
}

impl CacheEntry {
    /// What the model answered: the reply, or the context overflow it reported.
    fn answer(self) -> Result<ModelResponse, ModelError> {
        match (self.response, self.context_overflow) {
            (Some(r), _) => Ok(r),
            (None, Some(m)) => Err(ModelError::ContextOverflow(m)),
            (None, None) => Err(ModelError::Backend(format!(
                "cache entry {}: neither a response nor a context overflow",
                self.key
            ))),
        }
    }
}

/// Hits, misses and writes of one [`CachingModel`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    /// Requests passed to the wrapped model.
    pub misses: u64,
    pub stored: u64,
}

/// The cache key of `req` under `model_id` (see the module docs).
pub fn cache_key(model_id: &str, req: &ModelRequest) -> String {
    // A request is plain data with finite floats: serializing it cannot fail.
    let json = serde_json::to_string(req).unwrap_or_default();
    let mut bytes = Vec::with_capacity(model_id.len() + 1 + json.len());
    bytes.extend_from_slice(model_id.as_bytes());
    // A separator no model id contains, so (id, request) pairs cannot run into each other.
    bytes.push(0);
    bytes.extend_from_slice(json.as_bytes());
    format!("{:016x}", fnv1a64(&bytes))
}

/// A model behind a response cache (see the module docs).
pub struct CachingModel<'a> {
    inner: Option<Box<dyn Model + 'a>>,
    dir: PathBuf,
    model_id: String,
    stats: CacheStats,
}

impl<'a> CachingModel<'a> {
    /// Record and serve: hits come from `dir`, misses go to `inner` and are stored.
    /// Creates `dir` if needed; fails if it holds another model's replies.
    pub fn new(
        inner: Box<dyn Model + 'a>,
        dir: impl AsRef<Path>,
        model_id: &str,
    ) -> Result<CachingModel<'a>, String> {
        let dir = dir.as_ref().to_path_buf();
        if model_id.is_empty() || model_id.contains(['\n', '\0']) {
            return Err(format!("invalid cache model id {model_id:?}"));
        }
        fs::create_dir_all(&dir)
            .map_err(|e| format!("cache directory `{}`: {e}", dir.display()))?;
        clean_once(&dir);
        match read_model_id(&dir)? {
            Some(id) if id != model_id => {
                return Err(format!(
                    "cache directory `{}` holds replies of `{id}`, not `{model_id}`; \
                     use another directory per model",
                    dir.display()
                ))
            }
            Some(_) => {}
            None => write_atomic(&dir, MODEL_ID_FILE, format!("{model_id}\n").as_bytes())?,
        }
        Ok(CachingModel {
            inner: Some(inner),
            dir,
            model_id: model_id.to_string(),
            stats: CacheStats::default(),
        })
    }

    /// Serve only from `dir` (`replay:DIR`); a request not in the cache is an error.
    pub fn replay(dir: impl AsRef<Path>) -> Result<CachingModel<'a>, String> {
        let dir = dir.as_ref().to_path_buf();
        let model_id = read_model_id(&dir)?.ok_or_else(|| {
            format!(
                "`{}` is not a response cache (no `{MODEL_ID_FILE}` file); record one with \
                 `cache:DIR:SPEC` first",
                dir.display()
            )
        })?;
        Ok(CachingModel {
            inner: None,
            dir,
            model_id,
            stats: CacheStats::default(),
        })
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The cached response for `req`, if any. `Err` only for an unreadable entry.
    fn lookup(&self, key: &str, req: &ModelRequest) -> Result<Option<CacheEntry>, String> {
        let path = self.path(key);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cache entry `{}`: {e}", path.display())),
        };
        let entry: CacheEntry = serde_json::from_str(&text)
            .map_err(|e| format!("corrupt cache entry `{}`: {e}", path.display()))?;
        // Same key, different request: a hash collision. Treat it as a miss.
        if entry.model_id == self.model_id && entry.request == *req {
            Ok(Some(entry))
        } else {
            Ok(None)
        }
    }
}

impl Model for CachingModel<'_> {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let key = cache_key(&self.model_id, req);
        let found = match self.lookup(&key, req) {
            Ok(found) => found,
            // When recording, a damaged entry is simply rewritten; replay cannot recover.
            Err(e) if self.inner.is_none() => return Err(ModelError::Backend(e)),
            Err(_) => None,
        };
        if let Some(entry) = found {
            self.stats.hits += 1;
            return entry.answer();
        }
        let Some(inner) = self.inner.as_mut() else {
            return Err(ModelError::Backend(format!(
                "replay: request {key} is not in the cache `{}` (model `{}`); \
                 record it with `cache:DIR:SPEC`",
                self.dir.display(),
                self.model_id
            )));
        };
        self.stats.misses += 1;
        let answer = inner.complete(req);
        let entry = CacheEntry {
            key: key.clone(),
            model_id: self.model_id.clone(),
            request: req.clone(),
            response: match &answer {
                Ok(resp) => Some(resp.clone()),
                Err(ModelError::ContextOverflow(_)) => None,
                Err(_) => return answer,
            },
            context_overflow: match &answer {
                Err(ModelError::ContextOverflow(m)) => Some(m.clone()),
                _ => None,
            },
        };
        let json = serde_json::to_string_pretty(&entry).unwrap_or_default();
        write_atomic(&self.dir, &format!("{key}.json"), json.as_bytes())
            .map_err(ModelError::Backend)?;
        self.stats.stored += 1;
        answer
    }

    fn retries(&self) -> super::Retries {
        self.inner
            .as_ref()
            .map_or_else(super::Retries::default, |m| m.retries())
    }
}

/// Removes the temporary files a killed recorder left in `dir`, once per directory and
/// process (a model is built per episode; the directory is scanned only the first time).
/// Best effort: a leftover costs only disk space, never a wrong answer, since entries are
/// looked up by their final names.
fn clean_once(dir: &Path) {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static CLEANED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    let key = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let first = CLEANED
        .get_or_init(Default::default)
        .lock()
        .map(|mut set| set.insert(key))
        .unwrap_or(false);
    if first {
        let _ = crate::fsutil::remove_stale_temps(dir, false);
    }
}

fn read_model_id(dir: &Path) -> Result<Option<String>, String> {
    let path = dir.join(MODEL_ID_FILE);
    match fs::read_to_string(&path) {
        Ok(t) => Ok(Some(t.trim_end_matches('\n').to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("`{}`: {e}", path.display())),
    }
}

/// Write `dir/name` atomically ([`crate::fsutil::write_atomic`]).
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    let target = dir.join(name);
    crate::fsutil::write_atomic(&target, bytes)
        .map_err(|e| format!("writing cache entry `{}`: {e}", target.display()))
}

/// A model that fails every call with one message: what a spec builds when its model
/// cannot be made (e.g. an unusable cache directory), since building cannot fail.
#[derive(Debug, Clone)]
pub struct FailingModel(pub String);

impl Model for FailingModel {
    fn complete(&mut self, _: &ModelRequest) -> Result<ModelResponse, ModelError> {
        Err(ModelError::Backend(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Decoding;
    use crate::message::{Message, Role};
    use crate::models::{ScriptedModel, WhenExhausted};

    fn req(text: &str) -> ModelRequest {
        ModelRequest {
            messages: vec![Message {
                role: Role::User,
                content: text.into(),
            }],
            tools: vec![],
            temperature: 0.2,
            max_tokens: 10,
            top_p: None,
            decoding: Decoding::Free,
            seed: 1,
            admissible: vec![],
            expert: None,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hx-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn keys_depend_on_every_field_and_the_model() {
        let a = req("a");
        let k = cache_key("m", &a);
        assert_eq!(k, cache_key("m", &a.clone()));
        assert_ne!(k, cache_key("m2", &a));
        for changed in [
            ModelRequest {
                seed: 2,
                ..a.clone()
            },
            ModelRequest {
                temperature: 0.3,
                ..a.clone()
            },
            ModelRequest {
                max_tokens: 11,
                ..a.clone()
            },
            ModelRequest {
                decoding: Decoding::Constrained,
                ..a.clone()
            },
            req("b"),
        ] {
            assert_ne!(k, cache_key("m", &changed));
        }
    }

    /// Refuses the request whose text is "long" as a context overflow, fails "down" as a
    /// transport error, and answers everything else.
    struct Limited {
        calls: usize,
    }

    impl Model for Limited {
        fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
            self.calls += 1;
            match req.messages[0].content.as_str() {
                "long" => Err(ModelError::ContextOverflow("2313 > 2048 tokens".into())),
                "down" => Err(ModelError::Backend("connection refused".into())),
                _ => Ok(ModelResponse {
                    text: "ok".into(),
                    prompt_tokens: 1,
                    completion_tokens: 1,
                    latency_ms: 3,
                }),
            }
        }
    }

    #[test]
    fn a_context_overflow_is_recorded_and_replayed_other_failures_are_not() {
        let dir = tmp("overflow");
        let mut model = Limited { calls: 0 };
        {
            let mut c = CachingModel::new(Box::new(&mut model), &dir, "limited").expect("cache");
            for _ in 0..2 {
                assert_eq!(
                    c.complete(&req("long")),
                    Err(ModelError::ContextOverflow("2313 > 2048 tokens".into()))
                );
                assert!(matches!(
                    c.complete(&req("down")),
                    Err(ModelError::Backend(_))
                ));
            }
            assert_eq!(c.stats().stored, 1, "only the overflow is stored");
        }
        // The overflow was asked once, the transport failure each time.
        assert_eq!(model.calls, 3);
        let mut r = CachingModel::replay(&dir).expect("replay");
        assert_eq!(
            r.complete(&req("long")),
            Err(ModelError::ContextOverflow("2313 > 2048 tokens".into()))
        );
        let miss = r.complete(&req("down")).expect_err("not recorded");
        assert!(miss.to_string().contains("not in the cache"), "{miss}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_then_serves_then_replays() {
        let dir = tmp("rec");
        let mut scripted = ScriptedModel::new(["one", "two"], WhenExhausted::Error);
        {
            let mut c =
                CachingModel::new(Box::new(&mut scripted), &dir, "scripted:x").expect("cache");
            assert_eq!(c.complete(&req("a")).map(|r| r.text), Ok("one".into()));
            assert_eq!(c.complete(&req("a")).map(|r| r.text), Ok("one".into()));
            assert_eq!(c.complete(&req("b")).map(|r| r.text), Ok("two".into()));
            assert_eq!(
                c.stats(),
                CacheStats {
                    hits: 1,
                    misses: 2,
                    stored: 2
                }
            );
        }
        assert_eq!(scripted.requests.len(), 2);
        let mut r = CachingModel::replay(&dir).expect("replay");
        assert_eq!(r.model_id(), "scripted:x");
        assert_eq!(r.complete(&req("b")).map(|r| r.text), Ok("two".into()));
        let miss = r.complete(&req("c")).expect_err("miss");
        assert!(miss.to_string().contains("not in the cache"), "{miss}");
        // Another model may not share the directory.
        let other = ScriptedModel::new(["x"], WhenExhausted::Cycle);
        let e = CachingModel::new(Box::new(other), &dir, "scripted:y").err();
        assert!(e.is_some_and(|e| e.contains("holds replies of `scripted:x`")));
        // No temporary files are left behind.
        let leftovers = fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(leftovers, 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn replay_of_a_missing_or_corrupt_cache_is_a_clear_error() {
        let dir = tmp("missing");
        let e = CachingModel::replay(&dir).err().unwrap_or_default();
        assert!(e.contains("not a response cache"), "{e}");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join(MODEL_ID_FILE), "m\n").expect("write");
        fs::write(dir.join(format!("{}.json", cache_key("m", &req("a")))), "{").expect("write");
        let mut r = CachingModel::replay(&dir).expect("replay");
        let e = r.complete(&req("a")).expect_err("corrupt");
        assert!(e.to_string().contains("corrupt cache entry"), "{e}");
        // Recording over a corrupt entry rewrites it.
        let mut c = CachingModel::new(
            Box::new(ScriptedModel::new(["ok"], WhenExhausted::Cycle)),
            &dir,
            "m",
        )
        .expect("cache");
        assert_eq!(c.complete(&req("a")).map(|r| r.text), Ok("ok".into()));
        let mut r = CachingModel::replay(&dir).expect("replay");
        assert_eq!(r.complete(&req("a")).map(|r| r.text), Ok("ok".into()));
        let _ = fs::remove_dir_all(&dir);
    }
}
