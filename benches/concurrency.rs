//! The concurrency benchmark: a batch of `key_door` episodes against an OpenAI-compatible
//! server with N episodes in flight, for several N, as throughput ratios to N = 1, with
//! the client's CPU time and peak memory.
//!
//! Each level runs in a process of its own ([`run_client`], called by the
//! `loopback-bench client` subcommand), so its peak resident memory and CPU time are its
//! own; the benchmark process only serves (the loopback server) and measures. Every level
//! also hashes the results of its first [`COMMON_TASKS`] episodes (traces without the
//! virtual clock), which must agree across levels: more episodes in flight, same episodes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use harnessx_runtime::ir::fnv1a64;
use harnessx_runtime::models::openai::OpenAiConfig;
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::rules::InterpretedRules;
use harnessx_runtime::runner::{run_episodes_parallel, Summary};
use harnessx_runtime::trace::EventKind;
use serde::{Deserialize, Serialize};

use crate::loopback::key_door_harness;

/// Episodes every level runs first, whose results are compared across levels.
pub const COMMON_TASKS: u64 = 16;

/// What one client process runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientArgs {
    pub url: String,
    pub model: String,
    pub concurrency: usize,
    pub tasks: u64,
    pub max_steps: u32,
    pub timeout_ms: u64,
    pub seed: u64,
}

/// What one level measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Level {
    pub concurrency: usize,
    pub episodes: u64,
    pub successes: u64,
    /// HTTP requests sent: model calls plus retries.
    pub requests: u64,
    pub retries: u64,
    pub infra_failures: u64,
    pub seconds: f64,
    /// The client process's CPU time (user + system).
    pub cpu_seconds: f64,
    /// The client's peak resident memory, and its resident memory before the batch.
    pub peak_rss_kb: u64,
    pub start_rss_kb: u64,
    /// The client's threads at their most (sampled), to show one per episode in flight.
    pub peak_threads: u64,
    /// FNV-1a of the first [`COMMON_TASKS`] episodes' results and traces (clock aside).
    pub digest: String,
    /// Model calls and the sum of their latencies (each from its request to its reply, as
    /// the trace's virtual clock records it: retries included, rate-limit waits not).
    pub model_calls: u64,
    pub model_latency_ms: u64,
    /// Filled in by the benchmark process: the server's CPU time during the level (the
    /// loopback server only) and the machine's load average when the level started.
    #[serde(default)]
    pub server_cpu_seconds: Option<f64>,
    #[serde(default)]
    pub load_average: Option<f64>,
    /// Chat-completion requests the server logged during the level from other clients,
    /// when its log was given (a shared server's other users disturb the figures).
    #[serde(default)]
    pub other_requests: Option<u64>,
}

impl Level {
    pub fn episodes_per_sec(&self) -> f64 {
        self.episodes as f64 / self.seconds.max(1e-9)
    }
    pub fn requests_per_sec(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
    /// Client CPU per HTTP request, in microseconds.
    pub fn cpu_us_per_request(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.requests.max(1) as f64
    }
    /// The mean time from a model request to its reply.
    pub fn mean_latency_ms(&self) -> f64 {
        self.model_latency_ms as f64 / self.model_calls.max(1) as f64
    }
    /// The share of the N episode slots' time spent waiting on a reply: below 1 the client
    /// did not keep N requests outstanding (its own work, the batch's edges).
    pub fn waiting_share(&self) -> f64 {
        self.model_latency_ms as f64 / 1000.0 / (self.seconds * self.concurrency as f64).max(1e-9)
    }
}

/// Run one level in this process and measure it.
pub fn run_client(a: &ClientArgs) -> Result<Level, String> {
    let mut oc = OpenAiConfig::new(&a.url, &a.model);
    oc.timeout_ms = Some(a.timeout_ms);
    let model = ModelSpec::OpenAi(oc);
    let ir = key_door_harness(a.max_steps);
    let rules = InterpretedRules::new(&ir);
    let start_rss_kb = proc_status("VmRSS:").unwrap_or(0);
    let cpu0 = process_cpu_seconds("self");
    let mut summary = Summary::default();
    let mut digest = String::new();
    let mut requests = 0u64;
    let (mut model_calls, mut model_latency_ms) = (0u64, 0u64);
    let threads = std::sync::atomic::AtomicU64::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let start = Instant::now();
    let ran = std::thread::scope(|s| {
        // Sample the thread count while the batch runs.
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(n) = proc_status("Threads:") {
                    threads.fetch_max(n, std::sync::atomic::Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let r = run_episodes_parallel(
            &ir,
            &rules,
            "key_door",
            &model,
            a.tasks,
            a.seed,
            a.concurrency,
            |ep| {
                summary.add_episode(&ep);
                requests += u64::from(ep.result.model_calls) + ep.retries.total();
                // The clock advances by a reply's latency between its request and reply.
                let mut asked = None;
                for e in &ep.events {
                    match e.kind {
                        EventKind::ModelRequest { .. } => asked = Some(e.clock_ms),
                        EventKind::ModelResponse { .. } | EventKind::ModelFailed { .. } => {
                            if let Some(t0) = asked.take() {
                                model_calls += 1;
                                model_latency_ms += e.clock_ms.saturating_sub(t0);
                            }
                        }
                        _ => {}
                    }
                }
                if ep.task < COMMON_TASKS {
                    let mut r = ep.result.clone();
                    r.clock_ms = 0;
                    let _ = writeln!(digest, "{} {} {r:?}", ep.task, ep.seed);
                    for mut e in ep.events {
                        e.clock_ms = 0;
                        let _ = writeln!(digest, "{e:?}");
                    }
                }
            },
        );
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        r
    });
    ran?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(Level {
        concurrency: a.concurrency,
        episodes: summary.episodes + summary.infra_failures,
        successes: summary.successes,
        requests,
        retries: summary.retries.total(),
        infra_failures: summary.infra_failures,
        seconds,
        cpu_seconds: process_cpu_seconds("self") - cpu0,
        peak_rss_kb: proc_status("VmHWM:").unwrap_or(0),
        start_rss_kb,
        peak_threads: threads.into_inner(),
        digest: format!("{:016x}", fnv1a64(digest.as_bytes())),
        model_calls,
        model_latency_ms,
        other_requests: None,
        server_cpu_seconds: None,
        load_average: None,
    })
}

/// A `kB` or count field of `/proc/self/status`.
pub fn proc_status(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// User + system CPU time of a process (`self` or a pid) from `/proc/PID/stat`, in seconds
/// (at the kernel's 100 ticks per second, `getconf CLK_TCK` on Linux).
pub fn process_cpu_seconds(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name is in parentheses and may hold spaces: count fields after it.
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line: utime, stime (the 12th and 13th after the name).
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The one-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The number of cores available.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The Markdown table of levels, as ratios to the first (N = 1).
pub fn levels_table(levels: &[Level], with_server_cpu: bool) -> String {
    let mut s = String::new();
    let Some(base) = levels.first() else {
        return s;
    };
    s.push_str(
        "| in flight (N) | episodes | requests | wall | episodes/s | requests/s | vs N = 1 (÷ N) \
         | reply latency | time waiting on replies | client CPU per request |",
    );
    if with_server_cpu {
        s.push_str(" CPU busy |");
    }
    s.push_str(" peak client memory | load average |\n");
    s.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if with_server_cpu {
        s.push_str("---:|");
    }
    s.push_str("---:|---:|\n");
    for l in levels {
        let r = ratio(l, base);
        let _ = write!(
            s,
            "| {} | {} | {} | {:.1} s | {:.2} | {:.1} | {:.1}x ({:.0}%) | {:.0} ms | {:.0}% | {} |",
            l.concurrency,
            l.episodes,
            l.requests,
            l.seconds,
            l.episodes_per_sec(),
            l.requests_per_sec(),
            r,
            100.0 * r / l.concurrency as f64,
            l.mean_latency_ms(),
            100.0 * l.waiting_share(),
            cpu_per_request(l),
        );
        if with_server_cpu {
            let _ = write!(s, " {:.0}% |", 100.0 * busy_share(l));
        }
        let _ = writeln!(
            s,
            " {:.1} MB | {} |",
            l.peak_rss_kb as f64 / 1024.0,
            l.load_average.map_or("?".into(), |x| format!("{x:.1}")),
        );
    }
    s
}

/// How client CPU per request changed between the first level where it could be measured
/// and the last one before throughput fell below 80% of linear.
fn cpu_growth(levels: &[Level]) -> String {
    let limit = first_below(levels, 0.8).map_or(usize::MAX, |l| l.concurrency);
    let measured: Vec<&Level> = levels
        .iter()
        .filter(|l| l.cpu_seconds >= 0.1 && l.concurrency < limit)
        .collect();
    let change = |a: &Level, b: &Level| {
        100.0 * (b.cpu_us_per_request() / a.cpu_us_per_request().max(1e-9) - 1.0)
    };
    match (measured.first(), measured.last()) {
        (Some(a), Some(b)) if a.concurrency < b.concurrency => format!(
            ": from N = {} to N = {}, {}x the threads, it changed by {:+.0}%{}",
            a.concurrency,
            b.concurrency,
            b.concurrency / a.concurrency.max(1),
            change(a, b),
            match levels.iter().find(|l| l.concurrency == limit) {
                Some(sat) => format!(
                    "; at N = {limit}, where the cores saturated, it was {:+.0}% above N = {}'s",
                    change(a, sat),
                    a.concurrency
                ),
                None => String::new(),
            }
        ),
        _ => String::new(),
    }
}

/// Client CPU per request, or a dash when the level used too little CPU to measure at
/// the kernel's 10 ms ticks.
fn cpu_per_request(l: &Level) -> String {
    if l.cpu_seconds < 0.1 {
        "–".into()
    } else {
        format!("{:.0} µs", l.cpu_us_per_request())
    }
}

/// The share of the machine's cores the client and the loopback server kept busy.
pub fn busy_share(l: &Level) -> f64 {
    (l.cpu_seconds + l.server_cpu_seconds.unwrap_or(0.0)) / l.seconds.max(1e-9) / cores() as f64
}

/// Memory per episode in flight: the peak resident memory above the N = 1 level's,
/// divided by the extra episodes in flight.
pub fn memory_per_episode_kb(levels: &[Level]) -> Vec<(usize, f64)> {
    let Some(base) = levels.first() else {
        return Vec::new();
    };
    levels
        .iter()
        .skip(1)
        .map(|l| {
            let extra = l.peak_rss_kb.saturating_sub(base.peak_rss_kb) as f64;
            (
                l.concurrency,
                extra / (l.concurrency - base.concurrency).max(1) as f64,
            )
        })
        .collect()
}

/// Everything the concurrency section reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The command line that produced it.
    pub command: String,
    pub delay_ms: u64,
    pub max_steps: u32,
    /// Episodes per episode in flight in each level.
    pub tasks_per_slot: u64,
    pub loopback: Vec<Level>,
    /// The SmolLM2 server's URL and its levels, or why that part did not run.
    pub smollm2: Result<(String, u32, Vec<Level>), String>,
}

/// The first level whose throughput falls below `share` of linear (ratio to N = 1
/// divided by N).
fn first_below(levels: &[Level], share: f64) -> Option<&Level> {
    let base = levels.first()?.requests_per_sec();
    levels
        .iter()
        .find(|l| l.requests_per_sec() / base.max(1e-9) / (l.concurrency as f64) < share)
}

fn ratio(l: &Level, base: &Level) -> f64 {
    l.requests_per_sec() / base.requests_per_sec().max(1e-9)
}

/// The Markdown section (without its markers).
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Episodes in flight against an inference server\n");
    let _ = writeln!(
        s,
        "Generated by:\n\n```\n{}\n```\n\nwhich starts the loopback server, runs each level in a \
         process of its own (`loopback-bench client`, so peak memory and CPU time are that \
         level's) and writes this section in place. Real HTTP on loopback, real `openai:` \
         backend; the episodes are `key_door` episodes of at most {} steps with the harness of \
         `benches/loopback.rs` (`key_door_harness`, constrained decoding). Throughput is \
         measured over the whole batch: {} episodes per episode in flight (at least {}), so \
         the ramp-up and the last, partly filled wave are included. The machine has {} cores, \
         shared with whatever else ran (the load average column).\n",
        r.command,
        r.max_steps,
        r.tasks_per_slot,
        COMMON_TASKS,
        cores()
    );
    let _ = writeln!(
        s,
        "### A loopback server answering every request after {} ms\n",
        r.delay_ms
    );
    s.push_str(&levels_table(&r.loopback, true));
    s.push('\n');
    analysis(&mut s, r);
    s.push_str(&smollm2_part(r));
    s
}

fn analysis(s: &mut String, r: &Report) {
    let levels = &r.loopback;
    let Some(base) = levels.first() else {
        return;
    };
    let _ = writeln!(
        s,
        "\"vs N = 1\" is requests per second as a multiple of N = 1's, and in brackets that \
         multiple over N (100% is linear). Requests per second are N × (time waiting on \
         replies) ÷ (reply latency), so a shortfall from linear is either slower replies (the \
         server, or the cores it shares) or fewer requests outstanding (the client's own work, \
         or the batch's edges: the ramp-up, the last partly filled wave, and finished episodes \
         waiting in the reorder window for a slower predecessor). \"CPU busy\" is the client's \
         and the loopback server's CPU time over the wall time and the {} cores; other \
         processes are not in it, but they are in the load average.\n",
        cores()
    );
    let _ = write!(s, "**Where it saturates.** ");
    for l in levels.iter().skip(1) {
        let _ = write!(s, "{}", explain(l, base));
    }
    let trimmed = s.trim_end().len();
    s.truncate(trimmed);
    match first_below(levels, 0.8) {
        None => {
            let last = levels.last().unwrap_or(base);
            let _ = writeln!(
                s,
                " Throughput stayed within 80% of linear up to the largest level measured, N = {}.\n",
                last.concurrency
            );
        }
        Some(l) => {
            let client_us = l.cpu_us_per_request();
            let server_us = l.server_cpu_seconds.unwrap_or(0.0) * 1e6 / l.requests.max(1) as f64;
            let _ = writeln!(
                s,
                "\n\nSo throughput is near linear up to N = {} and saturates below N = {}, at \
                 about {:.0} requests per second. There each request cost {:.0} µs of client \
                 CPU and {:.0} µs of loopback-server CPU, {:.0} µs in all: {} cores carry at \
                 most about {:.0} requests per second of that, less what the machine's other \
                 work takes. On this machine the limit is the CPU that client and server share; \
                 against a real inference server on other machines, the client's {:.0} µs per \
                 request is the part that stays.\n",
                levels
                    .iter()
                    .take_while(|x| x.concurrency < l.concurrency)
                    .last()
                    .unwrap_or(base)
                    .concurrency,
                l.concurrency,
                l.requests_per_sec(),
                client_us,
                server_us,
                client_us + server_us,
                cores(),
                cores() as f64 * 1e6 / (client_us + server_us).max(1e-9),
                client_us
            );
        }
    }
    let same = levels.iter().all(|l| l.digest == base.digest);
    let _ = writeln!(
        s,
        "**Same episodes at every N.** The first {COMMON_TASKS} episodes' results and traces \
         (the virtual clock aside, which advances by measured latency) hash to {} at {}.\n",
        if same {
            format!("`{}`", base.digest)
        } else {
            "**different values**".into()
        },
        if same {
            "every level".to_string()
        } else {
            levels
                .iter()
                .map(|l| format!("N = {}: `{}`", l.concurrency, l.digest))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    let mem: Vec<String> = memory_per_episode_kb(levels)
        .iter()
        .map(|(n, kb)| format!("{kb:.0} KB at N = {n}"))
        .collect();
    let last = levels.last().unwrap_or(base);
    let _ = writeln!(
        s,
        "**Memory per episode in flight** (peak resident memory above N = 1's, over the extra \
         episodes in flight): {}. It is bounded: a batch holds at most 4·N episodes \
         (`runner::REORDER_WINDOW`: the ones in flight and finished ones waiting to be handed \
         on in order), each a thread's stack pages in use, an environment, a model with its \
         pooled connection, and a trace; the batch's size does not matter.\n",
        mem.join(", ")
    );
    let _ = writeln!(
        s,
        "**Threads, not an async runtime.** Every episode in flight is one thread blocked on \
         its model's reply ({} threads at N = {}, {:.1} MB at the client's peak). Client CPU \
         per request (the whole episode's work: engine, JSON, HTTP) was {}{}. So \
         scheduling thousands of sleeping threads is not what limits throughput, and their \
         memory is the per-episode figure above. An async runtime could shrink the stacks' share of that memory, but it \
         needs an asynchronous engine and environment boundary — every environment is \
         synchronous, and a stdio bridge is a blocking child process — or a blocking thread \
         per episode anyway. So episodes stay on threads, up to `runner::MAX_WORKERS` = 4,096 \
         in flight.\n",
        last.peak_threads,
        last.concurrency,
        last.peak_rss_kb as f64 / 1024.0,
        levels
            .iter()
            .filter(|l| l.cpu_seconds >= 0.1)
            .map(|l| format!("{} at N = {}", cpu_per_request(l), l.concurrency))
            .collect::<Vec<_>>()
            .join(", "),
        cpu_growth(levels)
    );
}

/// One level's throughput against N = 1's, and why it falls short of linear.
fn explain(l: &Level, base: &Level) -> String {
    let r = ratio(l, base);
    let eff = r / l.concurrency as f64;
    let lat = l.mean_latency_ms() / base.mean_latency_ms().max(1e-9);
    let wait = l.waiting_share() / base.waiting_share().max(1e-9);
    let busy = busy_share(l);
    let mut out = format!(
        "At N = {} requests per second were {:.1}x N = 1's ({:.0}% of linear): replies took \
         {:.0} ms on average ({:.2}x N = 1's) and the episodes spent {:.0}% of their time \
         waiting on one ({:.2}x)",
        l.concurrency,
        r,
        100.0 * eff,
        l.mean_latency_ms(),
        lat,
        100.0 * l.waiting_share(),
        wait
    );
    if eff >= 0.9 {
        out.push_str(". ");
        return out;
    }
    let cpu = format!(
        "the client and the loopback server kept {:.0}% of the {} cores busy: {:.1} s and {:.1} s \
         of CPU in {:.1} s, load average {}",
        100.0 * busy,
        cores(),
        l.cpu_seconds,
        l.server_cpu_seconds.unwrap_or(0.0),
        l.seconds,
        l.load_average
            .map_or("unknown".into(), |x| format!("{x:.1}"))
    );
    if lat >= 1.25 && busy >= 0.7 {
        out.push_str(&format!(
            ": the replies slowed, because the cores ran out — {cpu}, and other processes had \
             the rest. "
        ));
    } else if lat >= 1.25 {
        out.push_str(&format!(
            ": the replies slowed while {cpu}: the server, or the other processes on the \
             machine, are the limit. "
        ));
    } else if busy >= 0.8 {
        out.push_str(&format!(
            ": fewer requests were outstanding, because the client ran out of CPU: {cpu}, at \
             {:.0} µs of client CPU per request against {:.0} µs at N = 1. ",
            l.cpu_us_per_request(),
            base.cpu_us_per_request()
        ));
    } else {
        out.push_str(&format!(
            ": fewer requests were outstanding, and not for lack of this benchmark's CPU \
             ({cpu}); what is left is the batch's edges — the ramp-up, the last partly filled \
             wave, episodes waiting in the reorder window. "
        ));
    }
    out
}

fn smollm2_part(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "### SmolLM2-135M on llama-cpp-python, 2 CPU cores\n");
    match &r.smollm2 {
        Err(why) => {
            let _ = writeln!(s, "Not run: {why}\n");
        }
        Ok((url, max_steps, levels)) => {
            let _ =
                writeln!(
                s,
                "The same episodes (at most {max_steps} steps) against the real model served by \
                 `scripts/serve-smollm2.sh` at `{url}`: llama-cpp-python with `--n_threads 2`, \
                 which evaluates one request at a time.{}\n",
                match levels.iter().map(|l| l.other_requests).collect::<Option<Vec<u64>>>() {
                    Some(o) if o.iter().all(|n| *n == 0) => " Its log shows no requests from \
                        other clients during the run."
                        .to_string(),
                    Some(o) => format!(
                        " Its log shows {} requests from other clients during the run (by \
                         level: {}), which slowed these figures down.",
                        o.iter().sum::<u64>(),
                        o.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    ),
                    None => " Whether other clients used the server meanwhile is not known \
                        (no `--smollm2-log`)."
                        .to_string(),
                }
            );
            s.push_str(&levels_table(levels, false));
            s.push('\n');
            if let (Some(base), Some(last)) = (levels.first(), levels.last()) {
                let prev = levels.len().checked_sub(2).and_then(|i| levels.get(i));
                let step = prev.map_or(String::new(), |p| {
                    format!(
                        " From N = {} to N = {} ({}x the episodes in flight) requests per second \
                         grew {:.2}x.",
                        p.concurrency,
                        last.concurrency,
                        last.concurrency / p.concurrency.max(1),
                        last.requests_per_sec() / p.requests_per_sec().max(1e-9)
                    )
                });
                let _ = writeln!(
                    s,
                    "With {} episodes in flight the server answered {:.2} requests per second, \
                     {:.2}x its {:.2} with one ({:.0}% of linear), while each reply took {:.2}x \
                     as long ({:.0} ms against {:.0} ms).{step} The server evaluates one request \
                     at a time on the same two cores, so what it gains can only come from the \
                     work around the evaluation (HTTP, JSON, building the schema's grammar) \
                     overlapping another request's, and that gain flattens; past it, more \
                     episodes in flight only wait longer for each reply, and evict each other's \
                     prompt prefix from the server's one cache (docs/MODELS.md). Concurrency \
                     cannot buy throughput the cores do not have: harnessx runs one episode at a \
                     time against an `openai:` model unless told otherwise.\n",
                    last.concurrency,
                    last.requests_per_sec(),
                    ratio(last, base),
                    base.requests_per_sec(),
                    100.0 * ratio(last, base) / last.concurrency as f64,
                    last.mean_latency_ms() / base.mean_latency_ms().max(1e-9),
                    last.mean_latency_ms(),
                    base.mean_latency_ms()
                );
            }
        }
    }
    s
}
