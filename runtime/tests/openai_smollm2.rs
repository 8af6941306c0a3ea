//! End to end against a real small model: SmolLM2-135M-Instruct served by llama.cpp
//! (`scripts/serve-smollm2.sh`), through the `openai:` backend.
//!
//! Ignored by default because it needs the server. Run it with
//!
//! ```text
//! url=$(scripts/serve-smollm2.sh)
//! HARNESSX_SMOLLM2_URL=$url cargo test -p harnessx-runtime --test openai_smollm2 -- --ignored --nocapture
//! ```
//!
//! It checks what must hold whatever the model's skill: every reply carries real token
//! counts from the server, every reply is either parsed into a call or classified as a
//! malformed one, and no episode dies of a transport error. Success rates and tokens/s are
//! printed, not asserted: a 135M model is expected to fail most tasks.

mod common;

use std::time::{Duration, Instant};

use harnessx_runtime::env::Env;
use harnessx_runtime::ir::{
    ActionIr, ActionKind, CondIr, Decoding, HarnessIr, Hook, PromptIr, RepairStrategy, ToolIr,
};
use harnessx_runtime::models::openai::{OpenAiConfig, OpenAiModel};
use harnessx_runtime::models::{Model, ModelError, ModelRequest, ModelResponse};
use harnessx_runtime::run_episode;
use harnessx_runtime::runner::{episode_seed, make_env};
use harnessx_runtime::template::parse_template;
use harnessx_runtime::trace::{EventKind, VecSink};

/// Wall time and completion tokens of the calls that reach the model.
struct Timed<'a> {
    inner: &'a mut OpenAiModel,
    wall: Duration,
    completion_tokens: u64,
    calls: u64,
}

impl Model for Timed<'_> {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        let start = Instant::now();
        let r = self.inner.complete(req);
        self.wall += start.elapsed();
        if let Ok(resp) = &r {
            self.completion_tokens += resp.completion_tokens;
            self.calls += 1;
        }
        r
    }
}

/// A small careful harness for `env`: the goal, the tools and the admissible actions in
/// the prompt, and a repair guard (pull the call out of prose, else match it to an
/// admissible action).
fn harness(env: &dyn Env, decoding: Decoding, max_steps: u32) -> HarnessIr {
    let mut ir = HarnessIr::new("smollm2_e2e");
    ir.model.decoding = decoding;
    ir.model.max_tokens = 48;
    ir.model.temperature = 0.2;
    ir.tools = env
        .tools()
        .into_iter()
        .map(|t| ToolIr {
            description: t.description.clone(),
            ..ToolIr::new(t.name.clone(), t.params.clone())
        })
        .collect();
    ir.prompts = vec![
        PromptIr {
            name: "system".into(),
            template: parse_template(
                "You are an agent in a text world. Your goal: {{task.goal}}\n\
                 Tools:\n{{tools}}\n\
                 Reply with exactly one action and nothing else, for example: look()",
            ),
        },
        PromptIr {
            name: "step".into(),
            template: parse_template(
                "{{observation}}\nAdmissible actions: {{admissible_actions}}\nYour action:",
            ),
        },
    ];
    ir.loop_.max_steps = max_steps;
    // The server's window is 2048 tokens; leave room for the reply.
    ir.context.budget_tokens = 1200;
    ir.rules.push(common::rule(
        Hook::AfterModel,
        Some(CondIr::MalformedCall),
        vec![
            ActionIr::new(ActionKind::Repair(RepairStrategy::ExtractAction)).otherwise(
                ActionIr::new(ActionKind::Repair(RepairStrategy::FuzzyMatch)),
            ),
        ],
    ));
    ir
}

#[derive(Default)]
struct Tally {
    episodes: u64,
    successes: u64,
    steps: u64,
    replies: u64,
    parsed: u64,
    malformed: u64,
    repaired: u64,
    model_errors: u64,
    wall: Duration,
    completion_tokens: u64,
}

#[test]
#[ignore = "needs a SmolLM2 server: HARNESSX_SMOLLM2_URL=$(scripts/serve-smollm2.sh)"]
fn smollm2_plays_key_door_and_household_through_the_openai_backend() {
    let url = std::env::var("HARNESSX_SMOLLM2_URL")
        .expect("set HARNESSX_SMOLLM2_URL to the server's /v1 URL (scripts/serve-smollm2.sh)");
    // Episodes per run; household prompts are long (about 1,000 tokens), so it gets fewer.
    let override_episodes: Option<u64> = std::env::var("HARNESSX_SMOLLM2_EPISODES")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut runs = vec![
        ("key_door", Decoding::Free, 12, 3),
        ("key_door", Decoding::Constrained, 12, 3),
    ];
    if make_env("household").is_ok() {
        runs.push(("household", Decoding::Free, 10, 2));
        runs.push(("household", Decoding::Constrained, 10, 2));
    }
    let mut report = Vec::new();
    let mut problems = Vec::new();
    for (env_name, decoding, max_steps, default_episodes) in runs {
        let episodes = override_episodes.unwrap_or(default_episodes);
        let mut tally = Tally::default();
        for task in 0..episodes {
            let mut env = make_env(env_name).expect("env");
            let ir = harness(env.as_ref(), decoding, max_steps);
            let mut cfg = OpenAiConfig::parse(&format!("{url}#smollm2")).expect("spec");
            cfg.apply_model_ir(&ir.model);
            // Generous: on 2 shared cores a long prompt can take tens of seconds, and a
            // timeout here would be a measurement artefact, not a backend failure.
            cfg.timeout_ms = Some(300_000);
            let mut backend = OpenAiModel::new(cfg);
            let mut timed = Timed {
                inner: &mut backend,
                wall: Duration::ZERO,
                completion_tokens: 0,
                calls: 0,
            };
            let mut sink = VecSink::default();
            let seed = episode_seed(2024, task);
            let result = run_episode(&ir, &mut timed, env.as_mut(), task, seed, &mut sink);
            // HARNESSX_SMOLLM2_TRACES=DIR keeps the traces for reading.
            if let Ok(dir) = std::env::var("HARNESSX_SMOLLM2_TRACES") {
                let name = format!("{env_name}-{decoding:?}-{task}.jsonl").to_lowercase();
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(std::path::Path::new(&dir).join(name), sink.to_jsonl());
            }
            tally.wall += timed.wall;
            tally.completion_tokens += timed.completion_tokens;
            tally.episodes += 1;
            tally.successes += u64::from(result.success);
            tally.steps += u64::from(result.steps);
            let calls = timed.calls;
            if backend.stats().estimated_usage > 0 {
                problems.push(format!(
                    "{env_name}: replies without usage (llama.cpp reports it)"
                ));
            }
            if calls == 0 {
                problems.push(format!("{env_name} task {task}: the model was never asked"));
            }

            // Every reply has real token counts and is parsed or classified.
            let events = &sink.events;
            for (i, e) in events.iter().enumerate() {
                match &e.kind {
                    EventKind::ModelResponse {
                        prompt_tokens,
                        completion_tokens,
                        ..
                    } => {
                        tally.replies += 1;
                        if *prompt_tokens == 0 {
                            problems.push(format!("{env_name}: no prompt tokens: {e:?}"));
                        }
                        // An empty reply can have 0 completion tokens only if the server
                        // stopped at once; the sum over the run is checked below.
                        let _ = completion_tokens;
                        let next = events[i + 1..].iter().find_map(|n| match &n.kind {
                            EventKind::CallParsed { call, error } => Some((call, error)),
                            EventKind::ModelRequest { .. } => Some((&None, &None)),
                            _ => None,
                        });
                        if let Some((call, error)) = next {
                            match (call, error) {
                                (Some(_), None) => tally.parsed += 1,
                                (None, Some(_)) => tally.malformed += 1,
                                // A plan reply (no parse) or the episode's end.
                                _ => {}
                            }
                        }
                    }
                    EventKind::RuleFired {
                        action,
                        took_effect: true,
                        ..
                    } if action.starts_with("repair") => tally.repaired += 1,
                    EventKind::ModelFailed { error } => {
                        tally.model_errors += 1;
                        eprintln!("{env_name} task {task}: model failed: {error}");
                    }
                    _ => {}
                }
            }
        }
        if tally.model_errors > 0 {
            problems.push(format!("{env_name}: {} model errors", tally.model_errors));
        }
        if tally.completion_tokens == 0 {
            problems.push(format!("{env_name}: no completion tokens at all"));
        }
        if tally.parsed + tally.malformed != tally.replies {
            problems.push(format!(
                "{env_name}: {} replies but {} parsed and {} malformed",
                tally.replies, tally.parsed, tally.malformed
            ));
        }
        report.push((env_name, decoding, tally));
    }
    println!(
        "\nSmolLM2-135M-Instruct (Q4_1, llama-cpp-python, 2 threads) via openai: at {url}\n\
         env        decoding     episodes success  steps  replies parsed malformed repaired  tok/s  wall_s"
    );
    for (env_name, decoding, t) in &report {
        let secs = t.wall.as_secs_f64();
        let tps = if secs > 0.0 {
            t.completion_tokens as f64 / secs
        } else {
            0.0
        };
        println!(
            "{env_name:<10} {:<12} {:>8} {:>7} {:>6} {:>8} {:>6} {:>9} {:>8} {:>6.1} {:>7.0}",
            format!("{decoding:?}").to_lowercase(),
            t.episodes,
            format!("{}/{}", t.successes, t.episodes),
            t.steps,
            t.replies,
            t.parsed,
            t.malformed,
            t.repaired,
            tps,
            secs
        );
    }
    println!(
        "(tok/s: completion tokens over wall time of model calls, prompt processing included)"
    );
    // The table is printed first so a failing run still reports what it measured.
    assert!(problems.is_empty(), "{problems:#?}");
}
