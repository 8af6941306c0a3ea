//! The real-model arm's section of the report: its results table, the paired comparison,
//! what the evolution changed, and what the numbers do and do not show.

use std::fmt::Write as _;

use harnessx_runtime::ir::Decoding;

use crate::stats::Rate;

use super::plan::{env_label, is_textworld, TWX_GAME, TWX_PARAMS};
use super::real::{decoding_name, RealArm, REAL_FROM_SEED, REAL_FROM_TIER};
use super::stats::paired;

/// Appends the section to `s`.
pub(super) fn render_real(s: &mut String, r: &RealArm) {
    let st = &r.setup;
    let _ = writeln!(s, "## Real-model arm (REAL model, tiny sample)\n");
    let first = r.pairs.first().map_or(0, |p| p.task);
    let last = first + r.pairs.len() as u64 - 1;
    let what = if is_textworld(&st.env) {
        format!(
            "TextWorldExpress games (game `{TWX_GAME}` with `{TWX_PARAMS}`, games 0-{} of the \
             dev fold, i.e. held-out task indices {first}-{last} of evolution seed \
             {REAL_FROM_SEED}, never played in training)",
            r.pairs.len() - 1
        )
    } else {
        format!(
            "{} tasks (held-out tasks {first}-{last} of evolution seed {REAL_FROM_SEED}, never \
             used in training)",
            env_label(&st.env)
        )
    };
    let _ = writeln!(
        s,
        "The seed harness and the harness AEGIS evolved **on the simulation** \
         (sim:{REAL_FROM_TIER}; {}), each run against the real model `{}` on the same {} \
         {what}. Decoding: {}. Under sim:{REAL_FROM_TIER}, on all {} held-out tasks of \
         evolution seed {REAL_FROM_SEED}, the two harnesses score {:.3} (seed) and {:.3} \
         (evolved).\n",
        r.evolved_from,
        st.given,
        r.pairs.len(),
        st.decodings
            .iter()
            .map(|d| match d {
                Decoding::Free => "`free` (the harnesses as written)".to_string(),
                Decoding::Constrained => "`constrained` (both harnesses with `decoding = \
                                          constrained` switched on: the reply must be one of \
                                          the admissible actions, docs/MODELS.md)"
                    .to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        r.held_out_tasks,
        r.sim_held_out.0,
        r.sim_held_out.1,
    );
    let _ = writeln!(
        s,
        "| decoding | harness | solved | success [Wilson 95%] | mean steps | replies | \
         malformed replies | calls executed | the model's most frequent call | model errors | tokens \
         (prompt + completion) | model time (s) | wall time (s) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in &r.rows {
        let rate = row.rate();
        let n = row.outcomes.len().max(1) as f64;
        let steps = row.outcomes.iter().map(|o| f64::from(o.steps)).sum::<f64>() / n;
        let tokens: u64 = row.outcomes.iter().map(|o| o.tokens).sum();
        let model_secs = row.stats.model_ms as f64 / 1000.0;
        let errors = row
            .outcomes
            .iter()
            .filter(|o| o.model_error.is_some())
            .count();
        let top = row.stats.top_call().map_or("-".to_string(), |(c, share)| {
            format!("`{c}` ({:.0}%)", share * 100.0)
        });
        let _ = writeln!(
            s,
            "| {} | {} | {}/{} | {:.2} {} | {steps:.1} | {} | {} | {} | {top} | {errors} | \
             {tokens} | {model_secs:.0} | {:.0} |",
            decoding_name(row.decoding),
            row.harness,
            rate.successes,
            rate.trials,
            rate.value(),
            wilson_text(rate),
            row.stats.replies,
            row.stats.malformed,
            row.stats.tool_calls,
            row.wall_secs,
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "Paired on the same tasks (evolved minus seed; the sign test is exact and two-sided, \
         on the tasks only one harness solved):\n\n\
         | decoding | success difference | solved only by evolved | solved only by seed | \
         sign test p |\n|---|---|---|---|---|"
    );
    for &d in &st.decodings {
        let get = |h: &str| {
            r.rows
                .iter()
                .find(|x| x.decoding == d && x.harness == h)
                .map(|x| x.outcomes.as_slice())
                .unwrap_or(&[])
        };
        let (diff, wins, losses, p) = paired(get("seed"), get("evolved"));
        let _ = writeln!(
            s,
            "| {} | {diff:+.2} | {wins} | {losses} | {p:.3} |",
            decoding_name(d)
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "\"Replies\" counts every model reply (re-asks included); \"malformed\" those the \
         parser did not read as a call before repair; \"calls executed\" the calls that \
         reached the environment (a rule may block one); the most frequent call's share is of \
         the replies read as calls; \"model time\" is the recorded latency of \
         the model calls (stored with each cached response, so it is the same when replayed); \
         \"wall time\" is this run's, which is seconds when the responses come from the cache. \
         An episode that ends on a model error (e.g. a prompt longer than the server's context \
         window) counts as not solved.\n"
    );
    match &st.cache {
        Some(dir) => {
            let _ = writeln!(
                s,
                "Every response was recorded in `{}` (`{}`); rerunning the command replays them \
                 without asking the model again, and `--real-model replay:{}` replays them with \
                 no server at all.\n",
                dir.display(),
                st.spec,
                dir.display()
            );
        }
        None => {
            let _ = writeln!(s, "The model spec was used as given (`{}`).\n", st.spec);
        }
    }
    let _ = writeln!(s, "What the evolution changed (seed to evolved):\n");
    if r.diff.trim().is_empty() {
        let _ = writeln!(
            s,
            "Nothing: AEGIS shipped no harness in this run, so \"evolved\" is the seed \
             harness and the comparison measures nothing but the model's run-to-run \
             variation.\n"
        );
    } else {
        let _ = writeln!(s, "```diff\n{}\n```\n", r.diff.trim_end());
    }
    let _ = writeln!(
        s,
        "What this shows, and what it does not:\n\n\
         - It shows what the two harnesses do with this real model on these tasks: the \
         success counts, whether the replies are calls at all, and what the model chooses.\n\
         - The sample is tiny ({} tasks per harness): the Wilson intervals above are wide, and \
         only a large difference could be told from chance.\n\
         - The evolved harness was selected for the *simulated* model. Any difference here is \
         transfer from sim:{REAL_FROM_TIER} to the real model, not the result of evolving \
         against the real model: this section runs no evolution against the real model \
         (one evaluation of a candidate on {} train episodes of household would take about \
         {:.0} minutes of model time at the speed above, and a run evaluates dozens). \
         Evolution against the real model, on TextWorldExpress, is the separate report \
         BENCHMARKS_REAL.md (`harnessx bench real`).\n\
         - Only the model (and the decoding) differs from the simulated cells: same \
         harnesses, same environment, the first of the same held-out tasks.\n",
        r.pairs.len(),
        r.train_episodes,
        r.train_episodes as f64 * r.model_secs_per_episode() / 60.0,
    );
}

/// Wilson 95% interval as `[lo, hi]`.
fn wilson_text(r: Rate) -> String {
    let (lo, hi) = r.wilson95();
    format!("[{lo:.2}, {hi:.2}]")
}
