//! harnessx-evolve: AEGIS, the evolution loop (see docs/ARCHITECTURE.md).
//!
//! - [`manifest`]: the failure classes, the operator ids, and the manifest each candidate
//!   carries (operator, class, changed node paths with their printed text before and
//!   after, evidence, predicted impact).
//! - [`operators`]: the Evolver's typed AST operators (numbers and enums within their
//!   `@evolve` bounds, rules from a rule library inserted, removed, re-actioned or tuned,
//!   prompt fragments, tool timeouts and retries, context pins), their class mapping for
//!   the planner, candidate verification, and provenance comments.
//! - [`fragments`]: the instruction sentences and rule messages per failure class.
//! - [`digest`]: the Digester: each failed episode's failure class with evidence, from its
//!   trace; the persistent failure catalog and when a round is actionable.
//! - [`proposer`]: the open-ended proposer (`--proposer`): a model asked for a whole new
//!   version of the harness from the source, a schema-generated language reference, the
//!   failure catalog and the evolvable fields' bounds; replies parsed, checked, repaired
//!   and held to `@frozen` and the bounds before they become a candidate.
//! - [`planner`]: the Thompson-sampling bandit over (operator, failure class) arms that
//!   picks each round's proposals, how a run chooses them ([`planner::Arm`]: AEGIS,
//!   prompt-only, random mutation search), and the `landscape.md` writer.
//! - [`ledger`]: ship and reject ledgers, per-operator hit rates, the budget with hard
//!   limits, atomic JSON files.
//! - [`stats`]: the gate's paired tests (exact sign test, seeded paired bootstrap), the
//!   seesaw rule, Wilson intervals, the seeded generator.
//! - [`gate`]: the Critic / Gate (checker, codegen, batched build, smoke run, paired
//!   evaluation on the parent's train pairs, significance and the seesaw rule).
//! - [`round`], [`run`]: one round and a whole run (seed evaluation, rounds, held-out);
//!   [`checkpoint`]: the state after each round, for `resume`.
//! - [`emit`]: shipped sources with provenance, diffs, `lineage.json` with the Pareto front.
//! - [`arms`]: the benchmark's arms (seed, random mutation search, prompt-only, AEGIS,
//!   expert), each run at one budget and one gate.
//! - [`bench`]: the evolution benchmark (`harnessx bench evolution`): its plan, the
//!   simulated cells, the real-model arm, statistics, plots and the Markdown report.
//! - [`report`], [`svg`]: `report.md` with hand-written SVG plots; [`progress`]: bars.
//! - [`traces`]: where a run keeps the traces of its evaluations (`traces/<id>/<split>/`).
//! - [`review`]: `harnessx review`, the static review site of a run (`DIR/review/`).
//! - [`export`]: `harnessx export`, episodes as SFT or preference training data;
//!   [`secrets`]: the values of secret-bearing variables, redacted from what is written.
//!   [`error`]: a run's error, an unwritable output told apart from every other cause.
//!
//! # Layering
//!
//! Modules depend one way, from the bottom up; a module imports only modules of the
//! layers below its own (tests included):
//!
//! 1. `manifest`, `stats`, `svg`, `secrets`, `error` (no imports from this crate);
//! 2. `traces` (its writes fail with `error`'s `OutputError`), `ledger`, `fragments`;
//! 3. `digest`, `gate`;
//! 4. `operators`;
//! 5. `proposer`;
//! 6. `planner` (the bandit, the arms and their proposals);
//! 7. `checkpoint`;
//! 8. `emit`;
//! 9. `round`;
//! 10. `run`, `progress`;
//! 11. `arms`, `report`, `export`;
//! 12. `realbench`, `review`;
//! 13. `bench` (its real-model arm table is `realbench`'s).

pub mod arms;
pub mod bench;
pub mod checkpoint;
pub mod digest;
pub mod emit;
pub mod error;
pub mod export;
pub mod fragments;
pub mod gate;
pub mod ledger;
pub mod manifest;
pub mod operators;
pub mod planner;
pub mod progress;
pub mod proposer;
pub mod realbench;
pub mod report;
pub mod review;
pub mod round;
pub mod run;
pub mod secrets;
pub mod stats;
pub mod svg;
pub mod traces;
