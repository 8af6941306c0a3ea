//! `loopback-bench`: the concurrency benchmark and the chaos run against an
//! OpenAI-compatible loopback server (`harnessx_benches::loopback`), each writing its own
//! section of docs/BENCHMARKS.md.
//!
//! Exits 0 on success, 1 when a run fails or falls short (results that differ across
//! levels, a chaos batch that lost or changed an episode), 2 on bad usage.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

use harnessx_benches::chaos::{self, ChaosConfig};
use harnessx_benches::concurrency::{self, ClientArgs, Level, Report};
use harnessx_benches::loopback::{LoopbackServer, ServerConfig};
use harnessx_runtime::doc_sections::write_section;

const USAGE: &str = "\
Usage:
  loopback-bench concurrency [--levels 1,8,64,256,1024,4096] [--delay-ms 200] [--max-steps 8]
                             [--tasks-per-slot 8] [--smollm2-url URL] [--smollm2-levels 1,2,4,8]
                             [--smollm2-log FILE] [--out FILE]
  loopback-bench chaos [--episodes 1000] [--concurrency 64] [--out FILE]

`concurrency` runs key_door episodes against a loopback server that answers every request
after --delay-ms, with N episodes in flight for each N of --levels (each level in a process
of its own), and with --smollm2-url also against that server (`scripts/serve-smollm2.sh`;
--smollm2-log: its log, to count other clients' requests during the run).
`chaos` runs a batch with and without 20% injected faults and compares them. Both print
Markdown; --out writes it as their section of FILE (e.g. docs/BENCHMARKS.md) in place.
Build with --release: the figures are the client's, and a debug build is several times
slower.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("concurrency") => run_concurrency(&args),
        Some("chaos") => run_chaos(&args),
        Some("client") => run_client(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => Err(Usage("expected `concurrency` or `chaos`".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Usage(e)) if e.starts_with("usage: ") => {
            eprintln!("{}\n\n{USAGE}", &e["usage: ".len()..]);
            ExitCode::from(2)
        }
        Err(Usage(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error message; one starting `usage: ` is a usage error (exit 2).
struct Usage(String);

impl From<String> for Usage {
    fn from(s: String) -> Usage {
        Usage(s)
    }
}

/// `--name VALUE` options after the subcommand.
struct Opts(Vec<(String, String)>);

impl Opts {
    fn parse(args: &[String], known: &[&str]) -> Result<Opts, Usage> {
        let mut out = Vec::new();
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .filter(|n| known.contains(n))
                .ok_or_else(|| Usage(format!("usage: unknown argument `{a}`")))?;
            let v = it
                .next()
                .ok_or_else(|| Usage(format!("usage: `{a}` needs a value")))?;
            out.push((name.to_string(), v.clone()));
        }
        Ok(Opts(out))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Usage> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| Usage(format!("usage: `--{name} {v}`: not a number"))),
        }
    }

    fn list(&self, name: &str, default: &[usize]) -> Result<Vec<usize>, Usage> {
        match self.get(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .map(|x| x.trim().parse::<usize>().ok().filter(|n| *n > 0))
                .collect::<Option<Vec<_>>>()
                .filter(|l| !l.is_empty())
                .ok_or_else(|| Usage(format!("usage: `--{name} {v}`: expected N,N,... (N ≥ 1)"))),
        }
    }
}

fn command_line(args: &[String]) -> String {
    let mut s = "cargo run --release -p harnessx-benches --bin loopback-bench --".to_string();
    for a in args {
        s.push(' ');
        if a.contains([' ', '#', '?', '&']) {
            s.push_str(&format!("'{a}'"));
        } else {
            s.push_str(a);
        }
    }
    s
}

fn emit(out: Option<&str>, section: &str, text: &str) -> Result<(), Usage> {
    print!("{text}");
    if let Some(path) = out {
        write_section(&PathBuf::from(path), section, text)
            .map_err(|e| Usage(format!("`{path}`: {e}")))?;
        eprintln!("wrote section `{section}` of {path}");
    }
    Ok(())
}

fn run_concurrency(args: &[String]) -> Result<(), Usage> {
    let o = Opts::parse(
        args,
        &[
            "levels",
            "delay-ms",
            "max-steps",
            "tasks-per-slot",
            "smollm2-url",
            "smollm2-levels",
            "smollm2-log",
            "out",
        ],
    )?;
    let levels = o.list("levels", &[1, 8, 64, 256, 1024, 4096])?;
    let delay_ms: u64 = o.num("delay-ms", 200)?;
    let max_steps: u32 = o.num("max-steps", 8)?;
    let per_slot: u64 = o.num("tasks-per-slot", 8)?;
    let server = LoopbackServer::start(ServerConfig::answering_after(Duration::from_millis(
        delay_ms,
    )))
    .map_err(|e| format!("loopback server: {e}"))?;
    let mut loopback = Vec::new();
    for &n in &levels {
        let a = ClientArgs {
            url: server.url().to_string(),
            model: "loopback".into(),
            concurrency: n,
            tasks: (per_slot * n as u64).max(concurrency::COMMON_TASKS),
            max_steps,
            timeout_ms: 60_000,
            seed: 1,
        };
        loopback.push(level(&a, true)?);
    }
    drop(server);
    let base = loopback
        .first()
        .map(|l| l.digest.clone())
        .unwrap_or_default();
    let differ = loopback.iter().any(|l| l.digest != base);

    let smollm2 = match o.get("smollm2-url") {
        None => Err("no `--smollm2-url` given (`url=$(scripts/serve-smollm2.sh)` first)".into()),
        Some(url) => {
            let steps = 4;
            let mut v = Vec::new();
            settle();
            for n in o.list("smollm2-levels", &[1, 2, 4, 8])? {
                let a = ClientArgs {
                    url: url.to_string(),
                    model: "smollm2".into(),
                    concurrency: n,
                    tasks: 4 * n as u64,
                    max_steps: steps,
                    timeout_ms: 300_000,
                    seed: 1,
                };
                let log = o.get("smollm2-log");
                let before = log.map(logged_requests).transpose()?;
                let mut l = level(&a, false)?;
                if let (Some(log), Some(before)) = (log, before) {
                    let during = logged_requests(log)?.saturating_sub(before);
                    l.other_requests = Some(during.saturating_sub(l.requests));
                }
                v.push(l);
            }
            Ok((url.to_string(), steps, v))
        }
    };
    let report = Report {
        command: command_line(args),
        delay_ms,
        max_steps,
        tasks_per_slot: per_slot,
        loopback,
        smollm2,
    };
    emit(o.get("out"), "concurrency", &concurrency::render(&report))?;
    if differ {
        return Err(Usage(
            "the levels' results differ: more episodes in flight changed the episodes".into(),
        ));
    }
    Ok(())
}

/// Waits, at most five minutes, until the one-minute load average is below the cores
/// plus one. The loopback levels before leave thousands of threads' worth of load in that
/// trailing average (4,096 runnable at the largest level), and the real-model levels would
/// otherwise start on a machine that looks busy, and be reported at that load, when the
/// cores are already idle.
fn settle() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while let Some(load) = concurrency::load_average() {
        if load < cores + 1.0 || std::time::Instant::now() >= deadline {
            break;
        }
        eprintln!(
            "waiting for the load average ({load:.1}) to fall below {}",
            cores + 1.0
        );
        std::thread::sleep(std::time::Duration::from_secs(10));
    }
}

/// Chat-completion requests a llama-cpp-python server's log records so far.
fn logged_requests(path: &str) -> Result<u64, Usage> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("`{path}`: {e}"))?;
    Ok(text.matches("\"POST /v1/chat/completions").count() as u64)
}

/// One level, in a child process; `server_cpu`: this process serves, so its CPU time
/// during the level is the loopback server's.
fn level(a: &ClientArgs, server_cpu: bool) -> Result<Level, Usage> {
    eprintln!(
        "level: {} in flight, {} episodes against {}",
        a.concurrency, a.tasks, a.url
    );
    let load = concurrency::load_average();
    let cpu0 = concurrency::process_cpu_seconds("self");
    let exe = std::env::current_exe().map_err(|e| format!("this program's path: {e}"))?;
    let json = serde_json::to_string(a).map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("client")
        .arg(json)
        .output()
        .map_err(|e| format!("starting the client: {e}"))?;
    if !out.status.success() {
        return Err(Usage(format!(
            "the client at {} in flight failed: {}",
            a.concurrency,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut l: Level =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("the client's report: {e}"))?;
    if server_cpu {
        l.server_cpu_seconds = Some(concurrency::process_cpu_seconds("self") - cpu0);
    }
    l.load_average = load;
    eprintln!(
        "  {:.1} s, {:.1} requests/s, {:.1} MB peak",
        l.seconds,
        l.requests_per_sec(),
        l.peak_rss_kb as f64 / 1024.0
    );
    Ok(l)
}

fn run_client(args: &[String]) -> Result<(), Usage> {
    let [json] = args else {
        return Err(Usage("usage: client JSON".into()));
    };
    let a: ClientArgs = serde_json::from_str(json).map_err(|e| format!("client args: {e}"))?;
    let l = concurrency::run_client(&a)?;
    println!("{}", serde_json::to_string(&l).map_err(|e| e.to_string())?);
    Ok(())
}

fn run_chaos(args: &[String]) -> Result<(), Usage> {
    let o = Opts::parse(args, &["episodes", "concurrency", "out"])?;
    let mut cfg = ChaosConfig::new(o.num("episodes", 1_000)?);
    cfg.concurrency = o.num("concurrency", 64)?;
    let report = chaos::run(&cfg)?;
    emit(
        o.get("out"),
        "chaos",
        &chaos::render(&report, &command_line(args)),
    )?;
    if !report.problems.is_empty() {
        return Err(Usage(format!(
            "the chaos run fell short: {}",
            report.problems.join("; ")
        )));
    }
    Ok(())
}
