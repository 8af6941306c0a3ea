//! Unlimited budgets read as "no limit" in landscape.md, in the over-budget message and in
//! the run summary, never as `u64::MAX` tokens or `f64::MAX` seconds.

use harnessx_evolve::digest::FailureCatalog;
use harnessx_evolve::ledger::{amount, amount_seconds, used_of, Budget, Cost, Ledgers};
use harnessx_evolve::planner::{Bandit, Landscape};

const HUGE: [&str; 3] = [
    "18446744073709551615",
    "1844674407370955",
    "17976931348623157",
];

fn no_huge_numbers(text: &str) {
    for n in HUGE {
        assert!(!text.contains(n), "{n} in\n{text}");
    }
}

#[test]
fn amounts_say_no_limit_for_unlimited_values() {
    assert_eq!(amount(u64::MAX), "no limit");
    assert_eq!(amount(2000), "2000");
    assert_eq!(amount_seconds(f64::MAX), "no limit");
    assert_eq!(amount_seconds(f64::INFINITY), "no limit");
    assert_eq!(amount_seconds(12.25), "12.2");
    assert_eq!(used_of(5, 2000, "episodes"), "5 of 2000 episodes");
    assert_eq!(used_of(5, u64::MAX, "episodes"), "5 episodes (no limit)");
}

#[test]
fn landscape_shows_no_limit_for_unlimited_tokens_and_seconds() {
    // What `harnessx evolve` sets without --budget-tokens: no token or time limit.
    let mut budget = Budget::new(Cost::new(2000, u64::MAX, f64::MAX));
    budget.charge(&Cost::new(60, 12_345, 4.5)).expect("fits");
    // What is left of an unlimited dimension stays unlimited.
    let left = budget.remaining();
    assert_eq!((left.episodes, left.tokens), (1940, u64::MAX));
    assert_eq!(left.seconds, f64::MAX);

    let catalog = FailureCatalog::new(3);
    let bandit = Bandit::new(1, 0.1);
    let ledgers = Ledgers::default();
    let text = Landscape {
        round: 1,
        catalog: &catalog,
        bandit: &bandit,
        proposals: &[],
        ledgers: &ledgers,
        budget: &budget,
        stopped: None,
    }
    .render();
    for needle in [
        "| episodes | 60 | 2000 | 1940 |",
        "| tokens | 12345 | no limit | no limit |",
        "| seconds | 4.5 | no limit | no limit |",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    no_huge_numbers(&text);
}

#[test]
fn the_over_budget_message_shows_no_limit() {
    let mut budget = Budget::new(Cost::new(10, u64::MAX, f64::MAX));
    budget.charge(&Cost::new(8, 500, 1.0)).expect("fits");
    let e = budget
        .charge(&Cost::new(5, 1, 0.0))
        .expect_err("over the episode limit")
        .to_string();
    assert!(
        e.ends_with("left 2 episodes, no limit on tokens, no limit on seconds"),
        "{e}"
    );
    no_huge_numbers(&e);
}
