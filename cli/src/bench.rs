//! `harnessx bench evolution`: runs the evolution benchmark of `harnessx-evolve` and prints
//! what it wrote. The benchmark itself lives in `harnessx_evolve::bench`.

use harnessx_evolve::bench::{evolution, BenchArgs};

use crate::exit;
use crate::output;

pub fn bench_evolution(a: &BenchArgs, color: bool) -> u8 {
    match evolution(a) {
        Ok(text) => {
            output::stdout(&text);
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}

/// `harnessx bench real`: the real-model benchmark, with progress lines on stderr.
pub fn bench_real(a: crate::BenchRealArgs, color: bool) -> u8 {
    use harnessx_evolve::realbench::{run, RealArm, RealBenchArgs, Setting};
    let parsed = (|| -> Result<RealBenchArgs, String> {
        let settings = a
            .settings
            .iter()
            .map(|s| Setting::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let arms = match &a.arms {
            Some(list) => list
                .iter()
                .map(|s| RealArm::parse(s.trim()))
                .collect::<Result<Vec<_>, _>>()?,
            None => RealArm::ALL.to_vec(),
        };
        Ok(RealBenchArgs {
            model: a.model.clone(),
            cache: a.cache.clone(),
            harness: a.harness.clone(),
            settings,
            arms,
            train_tasks: a.train_tasks,
            held_out_tasks: a.held_out_tasks,
            budget_episodes: a.budget_episodes,
            rounds: a.rounds,
            candidates: a.candidates,
            seeds: a.seeds,
            env_override: a.train_env.clone().zip(a.held_out_env.clone()),
            work: a.work.clone(),
            out: a.out.clone(),
            command: std::iter::once("harnessx".to_string())
                .chain(std::env::args().skip(1))
                .collect::<Vec<_>>()
                .join(" "),
        })
    })();
    let args = match parsed {
        Ok(args) => args,
        Err(e) => {
            output::error(e, color);
            return exit::USAGE_OR_IO;
        }
    };
    let started = std::time::Instant::now();
    let mut log = |line: &str| {
        eprintln!("[{:>5.0} s] {line}", started.elapsed().as_secs_f64());
    };
    match run(&args, &mut log) {
        Ok(r) => {
            output::stdout(&format!(
                "wrote {} ({:.0} s{})\n",
                args.out.display(),
                r.seconds,
                if r.simulated { "; SIMULATED model" } else { "" }
            ));
            exit::OK
        }
        Err(e) => {
            output::error(e, color);
            exit::FAILED
        }
    }
}
