//! The chaos run: one batch of episodes against a fault-free loopback server, the same
//! batch against one that injects faults ([`crate::loopback::Fault`]) into a share of the
//! requests, and the comparison.
//!
//! The replies are a function of the request ([`crate::loopback::reply_content`]), so
//! when every fault is absorbed — retried by the `openai:` backend, or the episode re-run
//! by the runner — both batches must end with the same episodes: same results, same
//! traces except for the virtual clock (it advances by each reply's measured latency,
//! which faults lengthen). [`ChaosReport::problems`] lists every way they differ; the test
//! (`benches/tests/chaos.rs`, 50 episodes) and the benchmark (`loopback-bench chaos`, 1,000
//! episodes) both require it to be empty.

use std::time::{Duration, Instant};

use harnessx_runtime::models::openai::OpenAiConfig;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::models::Retries;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes_parallel, Episode, Summary};
use harnessx_runtime::trace::TraceEvent;

use crate::loopback::{key_door_harness, Counts, Fault, LoopbackServer, ServerConfig};

/// One chaos run's settings.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub episodes: u64,
    /// Episodes in flight.
    pub concurrency: usize,
    /// The share of requests that get a fault.
    pub fault_rate: f64,
    /// Seeds the episodes and the fault draws.
    pub seed: u64,
    /// The client's request timeout; slow replies take twice as long.
    pub timeout: Duration,
    /// The `openai:` backend's retries (its default when `None`).
    pub retries: Option<u32>,
    pub max_steps: u32,
}

impl ChaosConfig {
    /// `episodes` episodes at the issue's 20% fault rate, with timeouts short enough for a
    /// test and the backend's default retries.
    pub fn new(episodes: u64) -> ChaosConfig {
        ChaosConfig {
            episodes,
            concurrency: 32,
            fault_rate: 0.2,
            seed: 7,
            timeout: Duration::from_millis(1_000),
            retries: None,
            max_steps: 12,
        }
    }
}

/// One batch's outcome.
#[derive(Debug, Clone)]
pub struct Batch {
    pub episodes: Vec<Episode>,
    pub summary: Summary,
    pub server: Counts,
    pub seconds: f64,
}

/// Both batches and their comparison.
#[derive(Debug, Clone)]
pub struct ChaosReport {
    pub config: ChaosConfig,
    pub fault_free: Batch,
    pub chaos: Batch,
    /// Episodes whose result and trace (clock aside) are the same in both batches.
    pub identical: u64,
    /// Every way the chaos batch falls short; empty when it passed.
    pub problems: Vec<String>,
}

/// Run both batches and compare them.
pub fn run(cfg: &ChaosConfig) -> Result<ChaosReport, String> {
    let fault_free = batch(cfg, 0.0)?;
    let chaos = batch(cfg, cfg.fault_rate)?;
    let mut problems = Vec::new();
    let mut identical = 0;
    let (a, b) = (&fault_free.episodes, &chaos.episodes);
    if a.len() as u64 != cfg.episodes || b.len() as u64 != cfg.episodes {
        problems.push(format!(
            "episodes lost: {} fault-free and {} chaos episodes of {}",
            a.len(),
            b.len(),
            cfg.episodes
        ));
    }
    for (x, y) in a.iter().zip(b) {
        match differs(x, y) {
            None => identical += 1,
            Some(why) => problems.push(format!("task {}: {why}", x.task)),
        }
    }
    for (name, s) in [("fault-free", &fault_free), ("chaos", &chaos)] {
        if s.summary.infra_failures > 0 {
            problems.push(format!(
                "{} {name} episode(s) failed on the infrastructure after their reruns",
                s.summary.infra_failures
            ));
        }
    }
    if fault_free.summary.retries.total() > 0 || fault_free.server.faults_total() > 0 {
        problems.push(format!(
            "the fault-free batch retried {} request(s)",
            fault_free.summary.retries.describe()
        ));
    }
    problems.extend(accounting(&chaos));
    Ok(ChaosReport {
        config: cfg.clone(),
        fault_free,
        chaos,
        identical,
        problems,
    })
}

/// Whether the retries the summary counts fit the faults the server injected: every fault
/// ends one attempt, which the backend retries or, at its bound, gives up on (ending the
/// episode, which the runner re-runs or reports). A reply can also time out without a
/// fault on a loaded machine, so timeouts may exceed the slow replies.
fn accounting(b: &Batch) -> Vec<String> {
    let r = &b.summary.retries;
    let gave_up = b.summary.infra_reruns + b.summary.infra_failures;
    let f = |k| b.server.fault(k);
    let mut out = Vec::new();
    for (cause, retried, injected) in [
        ("429", r.rate_limited, f(Fault::RateLimited)),
        ("5xx", r.server_error, f(Fault::ServerError)),
        ("connection", r.connection, f(Fault::Dropped)),
        (
            "malformed",
            r.malformed,
            f(Fault::TruncatedJson) + f(Fault::WrongShape),
        ),
    ] {
        if retried > injected || injected - retried > gave_up {
            out.push(format!(
                "{cause}: {retried} retried for {injected} injected ({gave_up} requests given up)"
            ));
        }
    }
    if r.timeout + gave_up < f(Fault::Slow) {
        out.push(format!(
            "timeouts: {} retried for {} slow replies",
            r.timeout,
            f(Fault::Slow)
        ));
    }
    if r.total() + gave_up < b.server.faults_total() {
        out.push(format!(
            "{} retried and {gave_up} given up for {} injected faults",
            r.total(),
            b.server.faults_total()
        ));
    }
    out
}

fn batch(cfg: &ChaosConfig, fault_rate: f64) -> Result<Batch, String> {
    let server = LoopbackServer::start(ServerConfig {
        delay: Duration::ZERO,
        fault_rate,
        seed: cfg.seed,
        slow: cfg.timeout * 2,
        retry_after_ms: 20,
    })
    .map_err(|e| format!("loopback server: {e}"))?;
    let mut oc = OpenAiConfig::new(server.url(), "loopback");
    oc.timeout_ms = Some(u64::try_from(cfg.timeout.as_millis()).unwrap_or(u64::MAX));
    // Short backoffs keep the run quick; the schedule itself is the backend's.
    oc.backoff_ms = 5;
    oc.backoff_max_ms = 80;
    if let Some(r) = cfg.retries {
        oc.retries = r;
    }
    let model = ModelSpec::OpenAi(oc);
    let ir = key_door_harness(cfg.max_steps);
    let rules = InterpretedRules::new(&ir);
    let mut episodes = Vec::new();
    let mut summary = Summary::default();
    let start = Instant::now();
    run_episodes_parallel(
        &ir,
        &rules,
        "key_door",
        &model,
        cfg.episodes,
        cfg.seed,
        cfg.concurrency,
        |ep| {
            summary.add_episode(&ep);
            episodes.push(ep);
        },
    )?;
    Ok(Batch {
        episodes,
        summary,
        server: server.counts(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// How two runs of one episode differ, the virtual clock aside.
fn differs(a: &Episode, b: &Episode) -> Option<String> {
    if (a.task, a.seed) != (b.task, b.seed) {
        return Some(format!(
            "out of order: ({}, {}) vs ({}, {})",
            a.task, a.seed, b.task, b.seed
        ));
    }
    let (mut ra, mut rb) = (a.result.clone(), b.result.clone());
    ra.clock_ms = 0;
    rb.clock_ms = 0;
    if ra != rb {
        return Some(format!("results differ: {ra:?} vs {rb:?}"));
    }
    let strip = |es: &[TraceEvent]| -> Vec<TraceEvent> {
        es.iter()
            .cloned()
            .map(|mut e| {
                e.clock_ms = 0;
                e
            })
            .collect()
    };
    (strip(&a.events) != strip(&b.events)).then(|| "traces differ".to_string())
}

/// Retries by cause next to the faults that cause them, for reports.
pub fn retried_vs_injected(r: &Retries, c: &Counts) -> Vec<(&'static str, u64, u64)> {
    vec![
        ("429", c.fault(Fault::RateLimited), r.rate_limited),
        ("5xx", c.fault(Fault::ServerError), r.server_error),
        ("timeout", c.fault(Fault::Slow), r.timeout),
        (
            "malformed",
            c.fault(Fault::TruncatedJson) + c.fault(Fault::WrongShape),
            r.malformed,
        ),
        ("connection", c.fault(Fault::Dropped), r.connection),
    ]
}

/// The Markdown section (without its markers) of a chaos run.
pub fn render(r: &ChaosReport, command: &str) -> String {
    use std::fmt::Write as _;
    let c = &r.config;
    let (free, chaos) = (&r.fault_free, &r.chaos);
    let mut s = String::new();
    let _ = writeln!(s, "## Chaos: a faulty model server\n");
    let _ = writeln!(
        s,
        "Generated by:\n\n```\n{command}\n```\n\n{} `key_door` episodes (at most {} steps, \
         {} in flight) against a loopback OpenAI-compatible server (`benches/loopback.rs`) that \
         replies as a function of the request alone, twice: once without faults, once with a \
         fault instead of the reply for {:.0}% of the requests (a seeded draw per request), the \
         six kinds equally likely. The `openai:` backend ran with its default retries and \
         backoff shortened to 5–80 ms, a {} ms timeout (slow replies take {} ms); the runner \
         re-runs an episode a request gave up on (`INFRA_RERUNS`). The 50-episode version runs \
         in CI (`cargo test -p harnessx-benches --test chaos`).\n",
        c.episodes,
        c.max_steps,
        c.concurrency,
        100.0 * c.fault_rate,
        c.timeout.as_millis(),
        2 * c.timeout.as_millis(),
    );
    let _ = writeln!(s, "| | fault-free | with faults |\n|---|---:|---:|");
    let row = |s: &mut String, name: &str, a: String, b: String| {
        let _ = writeln!(s, "| {name} | {a} | {b} |");
    };
    row(
        &mut s,
        "server requests",
        free.server.requests.to_string(),
        chaos.server.requests.to_string(),
    );
    row(
        &mut s,
        "faults injected",
        free.server.faults_total().to_string(),
        chaos.server.faults_total().to_string(),
    );
    row(
        &mut s,
        "episodes scored",
        free.summary.episodes.to_string(),
        chaos.summary.episodes.to_string(),
    );
    row(
        &mut s,
        "successes",
        free.summary.successes.to_string(),
        chaos.summary.successes.to_string(),
    );
    row(
        &mut s,
        "success rate",
        format!("{:.3}", free.summary.success_rate()),
        format!("{:.3}", chaos.summary.success_rate()),
    );
    row(
        &mut s,
        "mean steps",
        format!("{:.2}", free.summary.mean_steps()),
        format!("{:.2}", chaos.summary.mean_steps()),
    );
    row(
        &mut s,
        "mean tokens",
        format!("{:.1}", free.summary.mean_tokens()),
        format!("{:.1}", chaos.summary.mean_tokens()),
    );
    row(
        &mut s,
        "infrastructure failures (not scored)",
        free.summary.infra_failures.to_string(),
        chaos.summary.infra_failures.to_string(),
    );
    row(
        &mut s,
        "episodes re-run",
        free.summary.infra_reruns.to_string(),
        chaos.summary.infra_reruns.to_string(),
    );
    row(
        &mut s,
        "requests retried",
        free.summary.retries.total().to_string(),
        chaos.summary.retries.total().to_string(),
    );
    row(
        &mut s,
        "wall time",
        format!("{:.1} s", free.seconds),
        format!("{:.1} s", chaos.seconds),
    );
    let _ = writeln!(
        s,
        "\nFaults injected by kind, and the retries the run's summary counts by cause (a fault \
         is either retried or, at the backend's bound, given up on — which ends the episode and \
         makes the runner re-run it):\n"
    );
    let _ = writeln!(s, "| fault | injected | retried |\n|---|---:|---:|");
    let kinds = retried_vs_injected(&chaos.summary.retries, &chaos.server);
    let labels = [
        Fault::RateLimited.label().to_string(),
        Fault::ServerError.label().to_string(),
        Fault::Slow.label().to_string(),
        format!(
            "{} / {}",
            Fault::TruncatedJson.label(),
            Fault::WrongShape.label()
        ),
        Fault::Dropped.label().to_string(),
    ];
    for ((_, injected, retried), label) in kinds.iter().zip(labels) {
        let _ = writeln!(s, "| {label} | {injected} | {retried} |");
    }
    let _ = writeln!(
        s,
        "| all | {} | {} (and {} given up, then re-run) |\n",
        chaos.server.faults_total(),
        chaos.summary.retries.total(),
        chaos.summary.infra_reruns + chaos.summary.infra_failures
    );
    if r.problems.is_empty() {
        let _ = writeln!(
            s,
            "**All {} episodes completed, none lost, and every one ended exactly as in the \
             fault-free run**: the same result and the same trace event for event (the virtual \
             clock aside, which advances by each reply's measured latency). The success \
             statistics are equal because every episode is.\n",
            r.identical
        );
    } else {
        let _ = writeln!(
            s,
            "**The chaos run fell short** ({} of {} episodes identical):\n",
            r.identical, c.episodes
        );
        for p in &r.problems {
            let _ = writeln!(s, "- {p}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use harnessx_runtime::runner::run_pair;

    /// The comparison sees a different episode, and only the clock is forgiven.
    #[test]
    fn episodes_differ_unless_only_the_clock_moved() {
        let ir = key_door_harness(8);
        let rules = InterpretedRules::new(&ir);
        let ep = |seed| {
            run_pair(&ir, &rules, "key_door", &ModelSpec::Noisy(0.5), 1, seed).expect("runs")
        };
        let a = ep(1);
        assert_eq!(differs(&a, &ep(1)), None);
        let mut slower = ep(1);
        slower.result.clock_ms += 500;
        for e in &mut slower.events {
            e.clock_ms += 500;
        }
        assert_eq!(differs(&a, &slower), None);
        let other = (2..40)
            .map(ep)
            .find(|b| b.result != a.result)
            .expect("another outcome");
        let other = Episode {
            seed: a.seed,
            ..other
        };
        assert!(differs(&a, &other).is_some());
        let mut edited = ep(1);
        edited.events.pop();
        assert_eq!(differs(&a, &edited).as_deref(), Some("traces differ"));
    }
}
