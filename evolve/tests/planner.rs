//! The planner's bandit (determinism, forced exploration, learning, weighting), the
//! ledgers and budget, and landscape.md.

use std::collections::BTreeMap;
use std::path::PathBuf;

use harnessx_evolve::digest::Diagnosis;
use harnessx_evolve::digest::{Evidence, FailureCatalog, Verdict};
use harnessx_evolve::ledger::{Budget, BudgetError, Cost, LedgerEntry, Ledgers, Scores};
use harnessx_evolve::manifest::FailureClass;
use harnessx_evolve::planner::{operator_arms, write_landscape, Bandit, Landscape, Pick};
use proptest::prelude::*;

use FailureClass::*;

const TABLE: [(&str, FailureClass); 7] = [
    ("insert_rule", Loop),
    ("tune_rule", Loop),
    ("swap_fragment", Loop),
    ("insert_rule", MalformedCall),
    ("switch_enum", MalformedCall),
    ("add_pin", ContextOverflow),
    ("set_number", StepBudget),
];

/// A catalog with `n` failures of each given class.
fn catalog(counts: &[(FailureClass, u64)]) -> FailureCatalog {
    let mut c = FailureCatalog::new(3);
    for &(class, n) in counts {
        for i in 0..n {
            c.record(&Verdict::Failed(Diagnosis {
                class,
                evidence: Evidence {
                    trace: None,
                    task: i,
                    seed: 0,
                    step: 1,
                    excerpt: "look() | again".into(),
                    note: String::new(),
                },
            }));
        }
    }
    c
}

#[test]
fn proposals_are_deterministic_distinct_and_only_for_present_classes() {
    let cat = catalog(&[(Loop, 5), (MalformedCall, 2)]);
    let mut b = Bandit::new(42, 0.1);
    for (op, class) in &TABLE[..5] {
        b.record(op, *class, op.len() % 2 == 0);
    }
    let a = b.propose(3, &TABLE, &cat, 4);
    assert_eq!(a, b.propose(3, &TABLE, &cat, 4));
    assert_eq!(a.len(), 4);
    let mut arms: Vec<(&str, FailureClass)> =
        a.iter().map(|p| (p.operator.as_str(), p.class)).collect();
    arms.sort();
    arms.dedup();
    assert_eq!(arms.len(), 4, "distinct");
    assert!(a.iter().all(|p| matches!(p.class, Loop | MalformedCall)));
    // More slots than eligible arms: every eligible arm, once.
    assert_eq!(b.propose(3, &TABLE, &cat, 10).len(), 5);
    assert!(b
        .propose(3, &TABLE, &FailureCatalog::default(), 4)
        .is_empty());
}

#[test]
fn every_arm_is_tried_before_exploitation() {
    let cat = catalog(&[(Loop, 6), (MalformedCall, 3), (StepBudget, 1)]);
    let mut b = Bandit::new(1, 0.0);
    let first = b.propose(0, &TABLE, &cat, 4);
    assert!(first.iter().all(|p| p.pick == Pick::Forced));
    // The most frequent class first, table order within it.
    let ops: Vec<(&str, FailureClass)> = first
        .iter()
        .map(|p| (p.operator.as_str(), p.class))
        .collect();
    assert_eq!(
        ops,
        [
            ("insert_rule", Loop),
            ("tune_rule", Loop),
            ("swap_fragment", Loop),
            ("insert_rule", MalformedCall)
        ]
    );
    for p in &first {
        b.record(&p.operator, p.class, true); // even if they all ship...
    }
    let second = b.propose(1, &TABLE, &cat, 4);
    // ...the two untried arms still come first.
    let forced: Vec<&str> = second
        .iter()
        .filter(|p| p.pick == Pick::Forced)
        .map(|p| p.operator.as_str())
        .collect();
    assert_eq!(forced, ["switch_enum", "set_number"]);
    assert!(second[2..].iter().all(|p| p.pick == Pick::Thompson));
}

#[test]
fn the_bandit_learns_which_arm_ships() {
    let cat = catalog(&[(Loop, 4), (MalformedCall, 4)]);
    let mut b = Bandit::new(9, 0.1);
    for (op, class) in &TABLE[..5] {
        for _ in 0..30 {
            b.record(op, *class, *op == "switch_enum");
        }
    }
    let mut picks: BTreeMap<String, u32> = BTreeMap::new();
    for round in 0..300 {
        for p in b.propose(round, &TABLE, &cat, 1) {
            *picks.entry(p.operator).or_default() += 1;
        }
    }
    let best = picks.get("switch_enum").copied().unwrap_or(0);
    assert!(best > 250, "{picks:?}");
    assert!(picks.len() > 1, "epsilon still explores: {picks:?}");
}

#[test]
fn online_learning_converges_on_the_good_arm() {
    // Simulated gate: arm `tune_rule` ships 80% of the time, the others 10%.
    let cat = catalog(&[(Loop, 10)]);
    let mut b = Bandit::new(5, 0.05);
    let mut world = harnessx_evolve::stats::SeededRng::new(77);
    let mut late = BTreeMap::<String, u32>::new();
    for round in 0..400 {
        for p in b.propose(round, &TABLE, &cat, 1) {
            let rate = if p.operator == "tune_rule" { 0.8 } else { 0.1 };
            b.record(&p.operator, p.class, world.next_f64() < rate);
            if round >= 200 {
                *late.entry(p.operator).or_default() += 1;
            }
        }
    }
    assert!(
        late.get("tune_rule").copied().unwrap_or(0) > 170,
        "{late:?}"
    );
}

#[test]
fn frequent_classes_are_preferred_at_equal_posteriors() {
    let table = [("a", Loop), ("b", MalformedCall)];
    let cat = catalog(&[(Loop, 9), (MalformedCall, 1)]);
    let mut b = Bandit::new(3, 0.0);
    b.record("a", Loop, true);
    b.record("b", MalformedCall, true);
    let a = (0..200)
        .filter(|&r| b.propose(r, &table, &cat, 1)[0].operator == "a")
        .count();
    assert!(a > 170, "{a}");
}

#[test]
fn epsilon_one_always_explores() {
    let cat = catalog(&[(Loop, 3)]);
    let mut b = Bandit::new(3, 1.0);
    for (op, class) in &TABLE[..3] {
        b.record(op, *class, false);
    }
    assert!(b
        .propose(0, &TABLE, &cat, 3)
        .iter()
        .all(|p| p.pick == Pick::Explore));
}

#[test]
fn operator_arms_cover_every_class_but_unknown() {
    let arms = operator_arms();
    for class in FailureClass::ALL {
        let covered = arms.iter().any(|a| a.1 == class);
        assert_eq!(covered, class != Unknown, "{class:?}");
    }
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hx-planner-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn entry(round: u32, operator: &str, reason: &str) -> LedgerEntry {
    LedgerEntry {
        round,
        operator: operator.into(),
        class: Loop,
        candidate: format!("r{round}-{operator}"),
        reason: reason.into(),
        scores: Scores {
            parent: 0.4,
            candidate: 0.55,
        },
        p_value: Some(0.02),
        cost: Cost::new(48, 12_000, 3.5),
    }
}

#[test]
fn state_persists_and_landscape_sections_are_replaced() {
    let dir = tmp("persist");
    let mut b = Bandit::new(8, 0.1);
    b.record("tune_rule", Loop, true);
    b.record("insert_rule", Loop, false);
    b.save(&dir.join("bandit.json")).expect("save");
    assert_eq!(Bandit::load(&dir.join("bandit.json")).expect("load"), b);

    let mut l = Ledgers::default();
    l.ship(entry(1, "tune_rule", "sign test p = 0.02"));
    l.reject(entry(1, "insert_rule", "seesaw: task 4 regressed"));
    l.reject(entry(2, "insert_rule", "not significant"));
    let rates = l.hit_rates();
    assert_eq!(
        (rates["insert_rule"].shipped, rates["insert_rule"].rejected),
        (0, 2)
    );
    assert_eq!(rates["tune_rule"].rate(), 1.0);
    assert_eq!(l.rejects_in(2).count(), 1);
    l.save(&dir.join("ledgers.json")).expect("save");
    assert_eq!(Ledgers::load(&dir.join("ledgers.json")).expect("load"), l);
    assert_eq!(
        Ledgers::load_or_default(&dir.join("none.json")).expect("empty"),
        Ledgers::default()
    );

    let mut budget = Budget::new(Cost::new(100, 50_000, 60.0));
    budget.charge(&Cost::new(48, 12_000, 3.5)).expect("fits");
    budget.save(&dir.join("budget.json")).expect("save");
    assert_eq!(
        Budget::load(&dir.join("budget.json")).expect("load"),
        budget
    );

    let cat = catalog(&[(Loop, 3), (MalformedCall, 1)]);
    let proposals = b.propose(2, &TABLE, &cat, 2);
    let page = |round, stopped| {
        Landscape {
            round,
            catalog: &cat,
            bandit: &b,
            proposals: &proposals,
            ledgers: &l,
            budget: &budget,
            stopped,
        }
        .render()
    };
    let path = dir.join("landscape.md");
    write_landscape(&path, 2, &page(2, None)).expect("write");
    write_landscape(
        &path,
        1,
        &page(1, Some("no failure class reaches 2 episodes")),
    )
    .expect("write");
    write_landscape(&path, 2, &page(2, None)).expect("rewrite");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(text.starts_with("# AEGIS landscape"));
    assert_eq!(text.matches("## Round 2").count(), 1, "{text}");
    let (r1, r2) = (text.find("## Round 1"), text.find("## Round 2"));
    assert!(r1 < r2 && r1.is_some(), "rounds in order");
    for needle in [
        "| loop | 3 | 75% |",
        "look() \\| again",
        "| tune_rule | loop | 1 | 0 | 0.667 |",
        "| insert_rule | 0 | 2 | 0% |",
        "| episodes | 48 | 100 | 52 |",
        "Stopped early: no failure class",
        "forced exploration",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn budget_refuses_what_it_cannot_afford() {
    let mut b = Budget::new(Cost::new(10, 1000, 5.0));
    assert!(b.can_afford(&Cost::new(10, 1000, 5.0)));
    assert!(!b.can_afford(&Cost::new(11, 0, 0.0)));
    b.charge(&Cost::new(6, 100, 1.0)).expect("fits");
    let e = b.charge(&Cost::new(5, 100, 1.0));
    assert!(matches!(e, Err(BudgetError::Exceeded { .. })), "{e:?}");
    assert_eq!(
        b.used,
        Cost::new(6, 100, 1.0),
        "a refused charge spends nothing"
    );
    assert!(e
        .map_err(|e| e.to_string())
        .unwrap_err()
        .contains("left 4 episodes"));
    assert!(matches!(
        b.charge(&Cost::new(0, 0, -1.0)),
        Err(BudgetError::InvalidCost(_))
    ));
    assert!(!b.can_afford(&Cost::new(0, 0, f64::NAN)));
    assert_eq!(b.remaining(), Cost::new(4, 900, 4.0));
}

proptest! {
    #[test]
    fn budget_is_never_exceeded(
        charges in proptest::collection::vec((0u64..30, 0u64..5000, 0.0f64..20.0), 0..60),
    ) {
        let limit = Cost::new(100, 40_000, 90.0);
        let mut b = Budget::new(limit);
        for (e, t, s) in charges {
            let c = Cost::new(e, t, s);
            let could = b.can_afford(&c);
            prop_assert_eq!(b.charge(&c).is_ok(), could);
            prop_assert!(b.used.episodes <= limit.episodes);
            prop_assert!(b.used.tokens <= limit.tokens);
            prop_assert!(b.used.seconds <= limit.seconds);
        }
    }
}
