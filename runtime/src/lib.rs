//! harnessx-runtime: the IR of a checked harness, and the engine that runs it.
//!
//! The runtime knows nothing of syntax: it consumes [`ir::HarnessIr`] — produced by the
//! compiler, or by hand in tests — and never depends on the syntax or compiler crates.
//!
//! # Module map
//!
//! | module | job |
//! |---|---|
//! | [`ir`] | the checked program as serializable data; canonical JSON and content hash |
//! | [`template`] | `{{var}}` templates: splitting and rendering |
//! | [`call`] | tool calls and tool specs as data; the canonical call text |
//! | [`parse`] | when a model reply is a well-formed call (the exact rules) |
//! | [`repair`] | `extract_action`, `fuzzy_match`, `json_fix` |
//! | [`message`] | chat messages and roles, and the token estimate (shared by context and models) |
//! | [`models`] | the [`models::Model`] trait and one room per backend: `spec` (a [`models::spec::ModelSpec`] by name), `sim`, `noisy`, `openai` (feature `openai`), `cache` |
//! | [`env`](mod@env) | the [`env::Env`] trait |
//! | [`envs`] | the environments: `KeyDoor`, `household`, `flaky_api`, `stdio` (the bridge) |
//! | [`runner`] | environments by name, episode seeds, batches of episodes with many in flight (infrastructure failures re-run) |
//! | [`context`] | the context window: pins, `keep_last`, compaction |
//! | [`state`] | the episode state detectors read |
//! | [`detect`] | the detectors, as pure functions of the state |
//! | `episode` | `Run`: one episode's mutable data, shared by the loop and the hook actions |
//! | [`hooks`] | [`hooks::HookCtx`]: what rules may read and do at a hook; each action's semantics |
//! | [`rules`] | the [`rules::RuleSet`] trait and the interpreter [`rules::InterpretedRules`] |
//! | [`engine`] | the agent loop: hooks in order, model and tool calls, strategies, ends |
//! | [`trace`] | trace events, JSONL sinks |
//! | [`rng`] | SplitMix64, the one seeded generator everything draws from |
//! | [`fsutil`] | [`fsutil::write_atomic`], the one way a file that matters is written |
//! | [`doc_sections`] | generated sections of a Markdown document that several commands write |
//!
//! Architecture invariant: the module imports form no cycle. `engine → hooks → episode`,
//! `rules → hooks`; `context` and `models` share `message` and never import each other.
//!
//! # Running a harness
//!
//! ```
//! use harnessx_runtime::{envs::KeyDoor, ir::HarnessIr, models::{ScriptedModel, WhenExhausted},
//!     run_episode, trace::VecSink};
//!
//! let ir = HarnessIr::new("empty"); // no tools: every reply is malformed
//! let mut model = ScriptedModel::new(["look()"], WhenExhausted::Cycle);
//! let mut sink = VecSink::default();
//! let result = run_episode(&ir, &mut model, &mut KeyDoor::new(), 0, 42, &mut sink);
//! assert_eq!(result.steps, ir.loop_.max_steps);
//! ```
//!
//! # Interpreted and compiled rules: one engine
//!
//! The engine ([`run_with_rules`]) is generic over a [`rules::RuleSet`]. At every hook it
//! calls `RuleSet::fire(hook, ctx)`; the rule set evaluates its conditions with the
//! [`detect`] functions over `ctx.state()` and calls `ctx`'s action methods (`inject`,
//! `repair`, `retry`, ...). [`rules::InterpretedRules`] does this by walking the IR's
//! `CondIr`/`ActionIr`; generated code does it with each rule compiled to native Rust (see
//! the example in [`rules`]). All effects and all tracing happen inside the `ctx` methods,
//! so the two produce byte-identical traces whenever they make the same calls in the same
//! order — the contract is spelled out in [`rules`], and a differential test in
//! `tests/properties.rs` checks a hand-compiled rule set against the interpreter. Generated
//! code still passes the IR to [`run_with_rules`] for everything that is not a rule
//! (prompts, tools, loop and context settings), e.g. embedded as canonical JSON and read
//! with [`ir::HarnessIr::from_json`].
//!
//! # Determinism
//!
//! Same IR, model, environment, task and seed → the same trace, byte for byte: no hash-map
//! iteration anywhere, time is a virtual clock (latency and backoff are added, never slept),
//! model seeds derive from the episode seed, and traces hold no wall-clock time.
//!
//! # Environments
//!
//! Built in: [`envs::KeyDoor`] (a tiny test world), `household` (ALFWorld-like) and
//! `flaky_api` (unreliable tool use); external ones over the `stdio:CMD` JSON-lines bridge.
//! [`runner::make_env`] builds them by name.
//!
//! # Features
//!
//! `openai` (default): the `openai:` model backend and its HTTP client (ureq with rustls).
//! Everything else — the IR, the engine, the simulated and test models, the response
//! cache, `replay:` — needs no feature. Generated batch crates use
//! `default-features = false`, which keeps the HTTP and TLS stack out of their build;
//! without the feature an `openai:` spec is refused with [`models::spec::NO_HTTP_BACKEND`].

pub mod call;
pub mod context;
pub mod detect;
pub mod doc_sections;
pub mod engine;
pub mod env;
pub mod envs;
mod episode;
pub mod fsutil;
pub mod hooks;
pub mod ir;
pub mod message;
pub mod models;
pub mod parse;
pub mod repair;
pub mod rng;
pub mod rules;
pub mod runner;
pub mod state;
pub mod template;
pub mod trace;

pub use engine::{run_episode, run_with_rules, EndReason, EpisodeResult};
