//! The response cache and the model specs of the real backends: a rerun from the cache
//! makes no model calls and gives the same traces byte for byte.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use harnessx_runtime::envs::KeyDoor;
use harnessx_runtime::ir::ModelIr;
use harnessx_runtime::models::cache::CachingModel;
use harnessx_runtime::models::noisy::NoisyExpertModel;
use harnessx_runtime::models::openai::ToolMode;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::models::{Model, ModelError, ModelRequest, ModelResponse};
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::run_episode;
use harnessx_runtime::runner::{episode_seed, run_episodes};
use harnessx_runtime::trace::{read_jsonl, EventKind, VecSink};

/// Counts the calls that reach the wrapped model.
struct Counting<M> {
    inner: M,
    calls: Arc<AtomicUsize>,
}

impl<M: Model> Model for Counting<M> {
    fn complete(&mut self, req: &ModelRequest) -> Result<ModelResponse, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.complete(req)
    }
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hx-openai-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Three episodes of the key_door harness; each episode gets a fresh model from `make`.
fn run(mut make: impl FnMut() -> Box<dyn Model>) -> Vec<String> {
    let ir = common::key_door_ir();
    (0..3)
        .map(|task| {
            let mut model = make();
            let mut sink = VecSink::default();
            run_episode(
                &ir,
                model.as_mut(),
                &mut KeyDoor::new(),
                task,
                episode_seed(11, task),
                &mut sink,
            );
            sink.to_jsonl()
        })
        .collect()
}

#[test]
fn a_rerun_from_the_cache_makes_no_calls_and_gives_identical_traces() {
    let dir = tmp_dir("rerun");
    let plain = run(|| Box::new(NoisyExpertModel::new(0.7)));

    let first_calls = Arc::new(AtomicUsize::new(0));
    let recorded = run(|| {
        let counting = Counting {
            inner: NoisyExpertModel::new(0.7),
            calls: Arc::clone(&first_calls),
        };
        Box::new(CachingModel::new(Box::new(counting), &dir, "noisy:0.7").expect("cache"))
    });
    assert!(first_calls.load(Ordering::SeqCst) > 0);
    // The cache is transparent: recording changes nothing in the traces.
    assert_eq!(recorded, plain);

    let rerun_calls = Arc::new(AtomicUsize::new(0));
    let rerun = run(|| {
        let counting = Counting {
            inner: NoisyExpertModel::new(0.7),
            calls: Arc::clone(&rerun_calls),
        };
        Box::new(CachingModel::new(Box::new(counting), &dir, "noisy:0.7").expect("cache"))
    });
    assert_eq!(
        rerun_calls.load(Ordering::SeqCst),
        0,
        "every reply came from the cache"
    );
    assert_eq!(rerun, recorded);

    let replayed = run(|| Box::new(CachingModel::replay(&dir).expect("replay")));
    assert_eq!(replayed, recorded);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_misses_end_the_episode_with_a_clear_model_error() {
    let dir = tmp_dir("miss");
    run(|| {
        Box::new(CachingModel::new(Box::new(NoisyExpertModel::new(0.7)), &dir, "m").expect("cache"))
    });
    let ir = common::key_door_ir();
    let mut model = CachingModel::replay(&dir).expect("replay");
    let mut sink = VecSink::default();
    // A seed that was never recorded.
    run_episode(&ir, &mut model, &mut KeyDoor::new(), 0, 999, &mut sink);
    let failed = sink.events.iter().find_map(|e| match &e.kind {
        EventKind::ModelFailed { error } => Some(error.clone()),
        _ => None,
    });
    let error = failed.expect("a model_failed event");
    assert!(error.contains("not in the cache"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_and_replay_specs_run_through_the_runner() {
    let dir = tmp_dir("specs");
    let no_file = |_: &str| Err::<String, String>("no files".into());
    let ir = common::key_door_ir();
    let rules = InterpretedRules::new(&ir);
    let traces = |spec: &ModelSpec| {
        let mut out = Vec::new();
        run_episodes(&ir, &rules, "key_door", spec, 3, 5, |e| {
            out.push(e.trace_jsonl())
        })
        .map(|()| out)
        .expect("runs")
    };
    let plain = traces(&ModelSpec::Noisy(0.6));
    let cached = ModelSpec::parse(&format!("cache:{}:noisy:0.6", dir.display()), no_file)
        .expect("cache spec");
    assert_eq!(
        cached,
        ModelSpec::Cached {
            dir: dir.display().to_string(),
            inner: Box::new(ModelSpec::Noisy(0.6))
        }
    );
    assert_eq!(traces(&cached), plain);
    let replay = ModelSpec::parse(&format!("replay:{}", dir.display()), no_file).expect("replay");
    assert_eq!(traces(&replay), plain);
    for bad in ["cache:", "cache:dir", "cache::noisy:0.5", "replay:"] {
        assert!(ModelSpec::parse(bad, no_file).is_err(), "{bad}");
    }
    // A replay of a directory that is not a cache fails every episode clearly.
    let not_cache = ModelSpec::Replay(tmp_dir("nothing").display().to_string());
    let t = traces(&not_cache);
    assert!(t[0].contains("not a response cache"), "{}", t[0]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn openai_specs_parse_and_take_the_harness_settings() {
    let no_file = |_: &str| Err::<String, String>("no files".into());
    let mut spec = ModelSpec::parse(
        "openai:http://127.0.0.1:8080/v1#smollm2?tools=native&retries=1",
        no_file,
    )
    .expect("spec");
    let ModelSpec::OpenAi(c) = &spec else {
        panic!("want an openai spec, got {spec:?}")
    };
    assert_eq!((c.tools, c.retries), (ToolMode::Native, 1));
    let m = ModelIr {
        api_key_env: Some("HX_SOME_KEY".into()),
        timeout_ms: Some(1234),
        ..ModelIr::default()
    };
    spec.apply_model_ir(&m);
    let ModelSpec::OpenAi(c) = &spec else {
        panic!("still openai")
    };
    assert_eq!(c.api_key_env.as_deref(), Some("HX_SOME_KEY"));
    assert_eq!(c.timeout_ms, Some(1234));
    assert!(spec
        .model_id()
        .starts_with("openai:http://127.0.0.1:8080/v1#smollm2"));
    let mut cached = ModelSpec::parse("cache:/tmp/x:openai:http://127.0.0.1:8080/v1#m", no_file)
        .expect("cached openai");
    cached.apply_model_ir(&m);
    assert!(format!("{cached}").contains("cached in /tmp/x"));
    for bad in [
        "openai:",
        "openai:http://127.0.0.1:8080/v1",
        "openai:127.0.0.1:8080#m",
        "openai:http://h/v1#m?tools=maybe",
    ] {
        let e = ModelSpec::parse(bad, no_file).expect_err(bad);
        assert!(e.contains("openai") || e.contains("tools"), "{bad}: {e}");
    }
}

#[test]
fn traces_of_cached_runs_parse_back() {
    let dir = tmp_dir("parse");
    let traces = run(|| {
        Box::new(CachingModel::new(Box::new(NoisyExpertModel::new(0.9)), &dir, "n").expect("c"))
    });
    for t in &traces {
        assert!(read_jsonl(t).is_ok_and(|e| !e.is_empty()));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
