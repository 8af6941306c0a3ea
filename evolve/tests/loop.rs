//! The evolution loop end to end (no cargo build: `gate.build = false`; the CLI measures
//! that path): the gate rejects worse and regressing candidates, the budget holds, the
//! evolved file re-checks and is fmt-stable, provenance comments (snapshot), and a run
//! killed mid-round or after a checkpoint resumes to the identical final harness.

use std::path::{Path, PathBuf};

use harnessx_compiler::check_source;
use harnessx_evolve::checkpoint::Config;
use harnessx_evolve::digest::{parse_trace, DigestConfig, FailureCatalog};
use harnessx_evolve::gate::{evaluate, judge, static_check, Eval, GateConfig, GateMode, Outcome};
use harnessx_evolve::ledger::Cost;
use harnessx_evolve::round::{Abort, Quiet, ABORTED};
use harnessx_evolve::run::{self, train_pairs, Options};
use harnessx_runtime::trace::VecSink;
use harnessx_syntax::{parse, print};

/// A household harness without guard rules and with a short step limit: a seed with room
/// to improve. Kept here, not read from examples/, so the snapshot only changes with the
/// loop.
const WEAK_SEED: &str = r#"# A harness for ALFWorld-style household tasks: find objects, transform them, place them.
harness household "Household planner, ALFWorld-style" {
  model {
    backend = "sim:small"
    temperature = 0.2 @evolve(range = 0.0..1.0)
    max_tokens = 256
  }

  prompt system """
    You are a household agent. Your goal: {{task.goal}}
    Answer with exactly one action per turn, e.g. go("countertop 1").
    Admissible actions right now: {{admissible_actions}}
  """

  tool go(target: string) "Walk to a receptacle" { timeout = 2s }
  tool take(object: string, source: string) "Pick up an object from the receptacle you are at"
  tool put(object: string, target: string) "Place the held object in/on the receptacle you are at"
  tool open(target: string) "Open the closed receptacle you are at"
  tool close(target: string) "Close the open receptacle you are at"
  tool examine(target: string) "Look closely at a receptacle or the held object" { verifies = true }
  tool clean(object: string, appliance: string) "Clean the held object at a sinkbasin"
  tool heat(object: string, appliance: string) "Heat the held object at a microwave"
  tool cool(object: string, appliance: string) "Cool the held object at a fridge"
  tool use(target: string) "Switch a lamp on or off"
  tool look() "Describe where you are" { verifies = true }
  tool inventory() "Say what you are holding" { verifies = true }
  tool finish(answer: string?) "Give up; the episode ends by itself once the goal holds" { retries = 0 }

  loop {
    max_steps = 14 @evolve(range = 10..60)
    strategy = react @evolve(choices = [react, plan_then_act, reflect])
  }

  context {
    budget = 1500 tokens
    compaction = summarize_oldest
    pin = [system, task.goal]
  }

  @frozen
  on before_tool when call(finish) and not verified {
    block "Check the goal conditions before you finish."
  }
}
"#;

fn weak_seed() -> String {
    WEAK_SEED.to_string()
}

fn config(seed: u64, budget: u64) -> Config {
    Config {
        file: "weak.harness".into(),
        seed_source: weak_seed(),
        env: "household".into(),
        model: "noisy:0.3".into(),
        rounds: 3,
        k: 3,
        seed,
        train_tasks: 10,
        seeds_per_task: 2,
        held_out_tasks: 10,
        held_out_env: None,
        budget: Cost::new(budget, u64::MAX, f64::MAX),
        gate: GateConfig {
            build: false,
            ..GateConfig::default()
        },
        min_class_episodes: 2,
        epsilon: 0.1,
        proposer: None,
        phrasing: Default::default(),
    }
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hx-loop-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts(out: &Path, abort: Option<Abort>) -> Options {
    Options {
        out: out.to_path_buf(),
        workers: 2,
        abort,
        traces: false,
    }
}

#[test]
fn the_gate_rejects_a_worse_candidate() {
    let mut cfg = config(1, 1000);
    cfg.train_tasks = 30;
    let model = cfg.model_spec().unwrap();
    let pairs = train_pairs(&cfg);
    let parent = static_check(&cfg.seed_source).unwrap();
    let worse_src = cfg
        .seed_source
        .replace("max_steps = 14 @evolve(range = 10..60)", "max_steps = 5");
    let worse = static_check(&worse_src).unwrap();
    let p = evaluate(&parent, &cfg.env, &model, &pairs, 2, false).unwrap();
    let w = evaluate(&worse, &cfg.env, &model, &pairs, 2, false).unwrap();
    assert!(
        w.success_rate() < p.success_rate(),
        "{} {}",
        w.success_rate(),
        p.success_rate()
    );
    let j = judge(&p, &w, &cfg.gate, 0);
    assert!(!j.ship, "{j:?}");
    assert!(j.reason.starts_with("no improvement"), "{}", j.reason);
    // Results do not depend on the number of workers.
    let one = evaluate(&parent, &cfg.env, &model, &pairs, 1, false).unwrap();
    assert_eq!(one.outcomes, p.outcomes);
}

#[test]
fn kept_trace_events_digest_as_their_jsonl_file_does() {
    // The loop digests the events it keeps in memory; a trace written to disk is JSON
    // lines. Both must give the same catalog, and neither may depend on the workers.
    let mut cfg = config(1, 1000);
    cfg.train_tasks = 12;
    let model = cfg.model_spec().unwrap();
    let pairs = train_pairs(&cfg);
    let ir = static_check(&cfg.seed_source).unwrap();
    let two = evaluate(&ir, &cfg.env, &model, &pairs, 2, true).unwrap();
    let one = evaluate(&ir, &cfg.env, &model, &pairs, 1, true).unwrap();
    assert_eq!(two.traces, one.traces);
    assert_eq!(two.traces.len(), pairs.len());
    let dcfg = DigestConfig::default();
    let mut typed = FailureCatalog::new(64);
    let mut text = FailureCatalog::new(64);
    for events in &two.traces {
        typed.digest(events, None, &dcfg);
        let jsonl = VecSink {
            events: events.clone(),
        }
        .to_jsonl();
        let file = parse_trace(&jsonl);
        assert_eq!((file.episodes.len(), file.bad_lines), (1, 0));
        text.digest(&file.episodes[0], None, &dcfg);
    }
    assert!(typed.failures > 0, "the weak seed fails some episodes");
    assert_eq!(typed, text);
}

#[test]
fn the_gate_rejects_a_regressing_candidate() {
    // Better overall (12 pairs won) but a task the parent solved on both seeds is lost.
    let mk = |xs: &[(u64, bool)]| Eval {
        outcomes: xs
            .iter()
            .enumerate()
            .map(|(i, &(task, success))| Outcome {
                task,
                seed: i as u64,
                success,
                tokens: 1,
                steps: 1,
                clock_ms: 1,
                model_error: None,
                context_overflow: false,
            })
            .collect(),
        traces: Vec::new(),
    };
    let mut parent: Vec<(u64, bool)> = (0..12).map(|t| (t, false)).collect();
    parent.extend([(50, true), (50, true)]);
    let mut cand: Vec<(u64, bool)> = (0..12).map(|t| (t, true)).collect();
    cand.extend([(50, true), (50, false)]);
    let j = judge(&mk(&parent), &mk(&cand), &GateConfig::default(), 0);
    assert!(!j.ship && j.reason.starts_with("seesaw"), "{j:?}");
    assert!(j.p_value < 0.05, "significant, yet rejected: {j:?}");
}

#[test]
fn the_budget_is_never_exceeded() {
    for budget in [20, 45, 90, 130] {
        let out = out_dir(&format!("budget{budget}"));
        let cp = run::start(config(3, budget), &opts(&out, None), &mut Quiet).unwrap();
        let used = cp.budget.used;
        assert!(used.episodes <= budget, "{used:?} > {budget}");
        let charged: u64 = cp
            .ledgers
            .ships
            .iter()
            .chain(&cp.ledgers.rejects)
            .map(|e| e.cost.episodes)
            .sum();
        assert_eq!(
            charged + 20,
            used.episodes,
            "every episode is accounted for"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn the_evolved_file_rechecks_is_fmt_stable_and_carries_provenance() {
    let out = out_dir("snap");
    let cp = run::start(config(0, 1000), &opts(&out, None), &mut Quiet).unwrap();
    let best = std::fs::read_to_string(out.join("best.harness")).unwrap();
    assert_eq!(best, cp.parent_source);
    assert!(!check_source(&best).has_errors());
    assert_eq!(print(&parse(&best).file), best, "fmt-stable");
    assert!(cp.parent_id != "seed", "something shipped");
    assert!(best.contains("# evolved r1:"), "{best}");
    for f in [
        "lineage.json",
        "ledgers.json",
        "landscape.md",
        "result.json",
        "best.diff",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let report = harnessx_evolve::report::write_report(&out).unwrap();
    assert!(std::fs::read_to_string(report)
        .unwrap()
        .contains("score.svg"));
    insta::assert_snapshot!("evolved_weak_household", best);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_killed_run_resumes_to_the_identical_harness() {
    let whole = out_dir("whole");
    let cp = run::start(config(5, 1000), &opts(&whole, None), &mut Quiet).unwrap();
    let expected = std::fs::read_to_string(whole.join("lineage.json")).unwrap();
    for (name, abort) in [
        ("mid", Abort::MidRound(2)),
        ("after", Abort::AfterCheckpoint(1)),
    ] {
        let out = out_dir(name);
        let e = run::start(config(5, 1000), &opts(&out, Some(abort)), &mut Quiet).unwrap_err();
        assert_eq!(e.message(), ABORTED);
        let resumed = run::resume(&opts(&out, None), &mut Quiet).unwrap();
        assert_eq!(resumed.parent_source, cp.parent_source, "{name}");
        assert_eq!(resumed.budget, cp.budget, "{name}");
        assert_eq!(resumed.final_result, cp.final_result, "{name}");
        let lineage = std::fs::read_to_string(out.join("lineage.json")).unwrap();
        assert_eq!(lineage, expected, "{name}");
        let _ = std::fs::remove_dir_all(&out);
    }
    let _ = std::fs::remove_dir_all(&whole);
}

#[test]
fn resume_without_a_checkpoint_or_with_a_corrupt_one_is_a_clear_error() {
    let out = out_dir("corrupt");
    let e = run::resume(&opts(&out, None), &mut Quiet).unwrap_err();
    assert!(e.message().contains("no checkpoint"), "{e}");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("checkpoint.json"), "{ not json").unwrap();
    let e = run::resume(&opts(&out, None), &mut Quiet).unwrap_err();
    assert!(e.message().contains("corrupt checkpoint"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_held_out_evaluation_runs_in_the_held_out_env_when_given() {
    let mut cfg = config(3, 300);
    cfg.rounds = 1;
    let out = out_dir("held-out-env");
    let own = run::start(cfg.clone(), &opts(&out, None), &mut Quiet).unwrap();
    let own = own.final_result.expect("a final result");
    assert!(own.seed_held_out > 0.0, "{own:?}");
    assert!(own
        .held_out_split
        .contains("household's locked held-out split"));
    let _ = std::fs::remove_dir_all(&out);

    // flaky_api has none of household's tools: every held-out episode there fails, so a
    // zero shows the held-out episodes ran there and nowhere else; train is unchanged.
    cfg.held_out_env = Some("flaky_api".into());
    let elsewhere = run::start(cfg.clone(), &opts(&out, None), &mut Quiet).unwrap();
    let elsewhere = elsewhere.final_result.expect("a final result");
    assert_eq!(
        (elsewhere.seed_held_out, elsewhere.best_held_out),
        (0.0, 0.0)
    );
    assert_eq!(elsewhere.seed_train, own.seed_train);
    assert!(
        elsewhere.held_out_split.contains("flaky_api"),
        "{}",
        elsewhere.held_out_split
    );
    let _ = std::fs::remove_dir_all(&out);

    cfg.held_out_env = Some("nope".into());
    let e = run::start(cfg, &opts(&out, None), &mut Quiet).unwrap_err();
    assert!(e.message().contains("held-out environment"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_racing_gate_ships_what_the_fixed_gate_ships_for_fewer_episodes() {
    let mut fixed_cfg = config(5, 100_000);
    fixed_cfg.gate.mode = GateMode::Fixed;
    let mut racing_cfg = config(5, 100_000);
    racing_cfg.gate.mode = GateMode::Racing;
    let (fo, ro) = (out_dir("fixed-gate"), out_dir("racing-gate"));
    let fixed = run::start(fixed_cfg, &opts(&fo, None), &mut Quiet).unwrap();
    let racing = run::start(racing_cfg, &opts(&ro, None), &mut Quiet).unwrap();
    assert_eq!(racing.parent_source, fixed.parent_source);
    assert_eq!(racing.bandit, fixed.bandit);
    assert_eq!(racing.final_result, fixed.final_result);
    let verdicts = |cp: &harnessx_evolve::checkpoint::Checkpoint| -> Vec<(String, bool, bool)> {
        cp.rounds
            .iter()
            .flat_map(|r| &r.candidates)
            .map(|c| (c.id.clone(), c.shipped, c.reason.starts_with("dropped")))
            .collect()
    };
    let (fv, rv) = (verdicts(&fixed), verdicts(&racing));
    assert_eq!(fv.len(), rv.len());
    for (f, r) in fv.iter().zip(&rv) {
        assert_eq!((&f.0, f.1), (&r.0, r.1));
        assert!(!f.2);
    }
    assert!(
        rv.iter().any(|v| v.2),
        "something was dropped early: {rv:?}"
    );
    assert!(
        racing.budget.used.episodes < fixed.budget.used.episodes,
        "{:?} vs {:?}",
        racing.budget.used,
        fixed.budget.used
    );
    // Every verdict's episodes are recorded, and they add up to what was charged.
    for cp in [&fixed, &racing] {
        let recorded: u64 = cp
            .rounds
            .iter()
            .flat_map(|r| &r.candidates)
            .map(|c| c.episodes)
            .sum();
        assert_eq!(recorded + 20, cp.budget.used.episodes);
    }
    let _ = std::fs::remove_dir_all(&fo);
    let _ = std::fs::remove_dir_all(&ro);
}

#[test]
fn a_killed_fixed_gate_run_resumes_to_the_identical_harness() {
    let mut cfg = config(5, 1000);
    cfg.gate.mode = GateMode::Fixed;
    let whole = out_dir("whole-fixed");
    let cp = run::start(cfg.clone(), &opts(&whole, None), &mut Quiet).unwrap();
    let out = out_dir("mid-fixed");
    let e = run::start(cfg, &opts(&out, Some(Abort::MidRound(2))), &mut Quiet).unwrap_err();
    assert_eq!(e.message(), ABORTED);
    let resumed = run::resume(&opts(&out, None), &mut Quiet).unwrap();
    assert_eq!(resumed.parent_source, cp.parent_source);
    assert_eq!(resumed.budget, cp.budget);
    assert_eq!(
        std::fs::read_to_string(out.join("lineage.json")).unwrap(),
        std::fs::read_to_string(whole.join("lineage.json")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&out);

    // A checkpoint written before the gate had modes (no `mode`, `block`, `episodes`,
    // `pairs`) loads as the fixed gate it ran and resumes to the same harness and budget.
    let out = out_dir("old-fixed");
    let mut cfg = config(5, 1000);
    cfg.gate.mode = GateMode::Fixed;
    let e = run::start(
        cfg,
        &opts(&out, Some(Abort::AfterCheckpoint(1))),
        &mut Quiet,
    )
    .unwrap_err();
    assert_eq!(e.message(), ABORTED);
    let path = out.join("checkpoint.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let gate = v["config"]["gate"].as_object_mut().unwrap();
    assert!(gate.remove("mode").is_some() && gate.remove("block").is_some());
    for round in v["rounds"].as_array_mut().unwrap() {
        for c in round["candidates"].as_array_mut().unwrap() {
            let c = c.as_object_mut().unwrap();
            c.remove("episodes");
            c.remove("pairs");
        }
    }
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let resumed = run::resume(&opts(&out, None), &mut Quiet).unwrap();
    assert_eq!(resumed.config.gate.mode, GateMode::Fixed);
    assert_eq!(resumed.parent_source, cp.parent_source);
    assert_eq!(resumed.budget, cp.budget);
    assert_eq!(resumed.ledgers, cp.ledgers);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&whole);
}

/// Every kept trace file under `dir` with its contents, by relative path.
fn kept_files(dir: &Path) -> Vec<(String, String)> {
    harnessx_evolve::traces::list(dir)
        .unwrap()
        .into_iter()
        .map(|k| {
            let text = std::fs::read_to_string(dir.join(&k.path)).unwrap();
            (k.path, text)
        })
        .collect()
}

#[test]
fn a_run_keeps_the_traces_its_evidence_names_and_resumes_to_the_same_files() {
    let traced = |out: &Path, abort| Options {
        traces: true,
        ..opts(out, abort)
    };
    let whole = out_dir("traced");
    let cp = run::start(config(5, 1000), &traced(&whole, None), &mut Quiet).unwrap();
    let files = kept_files(&whole);
    assert!(!files.is_empty());

    // Each round's evidence names a kept file of the round's parent, holding that episode.
    let mut checked = 0;
    for r in &cp.rounds {
        assert_eq!(
            r.classes.values().sum::<u64>(),
            r.evidence.values().map(|v| v.len() as u64).sum::<u64>(),
            "round {}: one piece of evidence per failed episode",
            r.round
        );
        for ev in r.evidence.values().flatten() {
            let path = ev.trace.as_deref().expect("evidence names its trace file");
            assert!(
                path.starts_with(&format!("traces/{}/train/", r.parent_id)),
                "{path}"
            );
            let text = std::fs::read_to_string(whole.join(path)).unwrap();
            let file = parse_trace(&text);
            assert_eq!(file.episodes.len(), 1, "{path}");
            let verdict = harnessx_evolve::digest::diagnose(
                &file.episodes[0],
                Some(Path::new(path)),
                &DigestConfig::default(),
            );
            match verdict {
                harnessx_evolve::digest::Verdict::Failed(d) => assert_eq!(&d.evidence, ev),
                other => panic!("{path}: {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 0);

    // Candidates: one file per pair the gate ran. Held-out: the seed and the best, one
    // file per held-out task each.
    for c in cp.rounds.iter().flat_map(|r| &r.candidates) {
        let n = files
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("traces/{}/train/", c.id)))
            .count() as u64;
        assert_eq!(n, c.pairs.unwrap_or(0), "{}", c.id);
    }
    for id in ["seed", cp.parent_id.as_str()] {
        let n = files
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("traces/{id}/held-out/")))
            .count() as u64;
        assert_eq!(n, cp.config.held_out_tasks, "{id}");
    }

    // A killed run resumes to the same files, byte for byte.
    let out = out_dir("traced-mid");
    let e = run::start(
        config(5, 1000),
        &traced(&out, Some(Abort::MidRound(2))),
        &mut Quiet,
    )
    .unwrap_err();
    assert_eq!(e.message(), ABORTED);
    let resumed = run::resume(&traced(&out, None), &mut Quiet).unwrap();
    assert_eq!(resumed.rounds, cp.rounds);
    assert!(
        kept_files(&out) == files,
        "the resumed run kept other traces"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&whole);
}
