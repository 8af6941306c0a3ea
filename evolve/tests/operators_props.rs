//! Property tests: random operator sequences over the examples (and a fixture), with
//! random items and fields frozen. Every candidate must check clean, print in canonical
//! form, leave every `@frozen` node byte-identical, and keep numbers within bounds; no
//! candidate may be dropped by verification.

use harnessx_compiler::schema::{self, EvolveDefault, FieldSpec, FieldType};
use harnessx_compiler::{check_file, Severity};
use harnessx_evolve::manifest::{ChangeKind, FailureClass, OperatorId};
use harnessx_evolve::operators::candidate::{frozen_snapshot, same_value};
use harnessx_evolve::operators::{try_propose, NoCandidate, Rng, Target};
use harnessx_syntax::paths::find;
use harnessx_syntax::{parse, print, Annotation, Field, File, Ident, Item, Span, ValueKind};
use proptest::prelude::*;

const FIXTURE: &str = r#"harness fixture {
  model {
    backend = "sim:small"
    temperature = 0.5 @evolve
    top_p = 0.9 @evolve(range = 0.8..0.95)
  }

  prompt system "Act. Goal: {{task.goal}}"

  tool act(command: string) { retries = 2 @evolve(range = 1..3) }
  tool submit(answer: string)

  loop {
    max_steps = 12 @evolve(range = 8..16)
    strategy = reflect @evolve(choices = [reflect, plan_then_act])
    reflect_every = 4
  }

  on before_model when context_tokens > 900 tokens {
    compact
  }

  on step_start when consecutive_errors >= 3 {
    stop "too many errors"
  }
}
"#;

fn bases() -> Vec<File> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut srcs: Vec<String> = ["household", "flaky_api", "minimal"]
        .iter()
        .filter_map(|n| std::fs::read_to_string(format!("{dir}/{n}.harness")).ok())
        .collect();
    srcs.push(FIXTURE.to_string());
    let files: Vec<File> = srcs
        .iter()
        .map(|s| parse(s))
        .filter(|p| p.errors.is_empty() && errors(&p.file).is_empty())
        .map(|p| p.file)
        .collect();
    assert!(!files.is_empty());
    files
}

fn errors(file: &File) -> Vec<String> {
    check_file(file)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

fn frozen() -> Annotation {
    Annotation {
        name: Ident {
            name: "frozen".into(),
            span: Span::default(),
        },
        args: Vec::new(),
        span: Span::default(),
    }
}

fn has(anns: &[Annotation], name: &str) -> bool {
    anns.iter().any(|a| a.name.name == name)
}

/// Freezes the items whose bit is set in `items` and the fields (without `@evolve`) whose
/// running index has its bit set in `fields`.
fn freeze(mut file: File, items: u64, fields: u64) -> File {
    let Some(h) = file.harness.as_mut() else {
        return file;
    };
    let mut k = 0;
    for (i, item) in h.items.iter_mut().enumerate() {
        let freeze_item = items >> (i % 64) & 1 == 1;
        let fs: Option<&mut Vec<Field>> = match item {
            Item::Section(s) => Some(&mut s.fields),
            Item::Tool(t) => t.options.as_mut(),
            _ => None,
        };
        for f in fs.into_iter().flatten() {
            if fields >> (k % 64) & 1 == 1
                && !has(&f.annotations, "evolve")
                && !has(&f.annotations, "frozen")
            {
                f.annotations.push(frozen());
            }
            k += 1;
        }
        let anns = match item {
            Item::Section(s) => &mut s.annotations,
            Item::Prompt(p) => &mut p.annotations,
            Item::Tool(t) => &mut t.annotations,
            Item::Rule(r) => &mut r.annotations,
        };
        if freeze_item && !has(anns, "frozen") {
            anns.push(frozen());
        }
    }
    file
}

/// `(owner, field)` pairs of sections and tool options with their specs.
fn fields(file: &File) -> Vec<(String, &Field, &'static FieldSpec)> {
    let mut out = Vec::new();
    for item in &file.harness.as_ref().unwrap().items {
        let (owner, fs, specs): (String, &[Field], &[FieldSpec]) = match item {
            Item::Section(s) => match schema::section(&s.name.name) {
                Some(spec) => (s.name.name.clone(), &s.fields, spec.fields),
                None => continue,
            },
            Item::Tool(t) => (
                format!("tools.{}", t.name.name),
                t.options.as_deref().unwrap_or(&[]),
                schema::TOOL_OPTIONS,
            ),
            _ => continue,
        };
        for f in fs {
            if let Some(spec) = specs.iter().find(|s| s.name == f.name.name) {
                out.push((owner.clone(), f, spec));
            }
        }
    }
    out
}

/// Independent of the operators' own bounds code: every field with explicit `@evolve`
/// bounds is inside them, and every field that changed is inside the bounds that apply.
fn check_bounds(parent: &File, child: &File) -> Result<(), String> {
    let before = fields(parent);
    for (owner, f, spec) in fields(child) {
        let path = format!("{owner}.{}", f.name.name);
        let old = before
            .iter()
            .find(|(o, g, _)| *o == owner && g.name.name == f.name.name);
        let unchanged = old.is_some_and(|(_, g, _)| same_value(&g.value, &f.value));
        let ev = f.annotations.iter().find(|a| a.name.name == "evolve");
        let arg = |n: &str| {
            ev.and_then(|a| {
                a.args
                    .iter()
                    .find(|x| x.name.as_ref().is_some_and(|i| i.name == n))
            })
        };
        if let Some(range) = arg("range") {
            let ValueKind::Range(lo, hi) = &range.value.kind else {
                continue;
            };
            let x = f.value.kind.num().ok_or(path.clone())?;
            if x < lo.kind.num().unwrap() || x > hi.kind.num().unwrap() {
                return Err(format!("{path} = {x} outside its @evolve range"));
            }
        } else if let Some(choices) = arg("choices") {
            let ValueKind::List(cs) = &choices.value.kind else {
                continue;
            };
            if !cs.iter().any(|c| c.kind == f.value.kind) {
                return Err(format!("{path} not among its choices"));
            }
        } else if !unchanged {
            if old.is_some_and(|(_, g, _)| has(&g.annotations, "frozen")) {
                return Err(format!("{path} is frozen"));
            }
            match (spec.evolve, spec.ty) {
                (EvolveDefault::Range(lo, hi), _) => {
                    let x = f.value.kind.num().ok_or(path.clone())?;
                    if x < lo.num().unwrap() || x > hi.num().unwrap() {
                        return Err(format!("{path} = {x} outside the built-in bounds"));
                    }
                }
                (EvolveDefault::AnyVariant, FieldType::Enum(_)) | (EvolveDefault::AnySubset, _) => {
                }
                _ => return Err(format!("{path} is not evolvable")),
            }
        }
    }
    Ok(())
}

fn step(
    parent: &File,
    op: OperatorId,
    class: FailureClass,
    seed: u64,
) -> Result<Option<File>, String> {
    let target = Target::new(class).with_evidence(vec![format!("seed {seed}")]);
    let c = match try_propose(parent, &target, op, &mut Rng::seed(seed)) {
        Ok(c) => c,
        Err(NoCandidate::Rejected(r)) => return Err(format!("{op} for {class} dropped: {r:?}")),
        Err(_) => return Ok(None),
    };
    let errs = errors(&c.file);
    if !errs.is_empty() {
        return Err(format!("{op} for {class}: {errs:?}\n{}", c.source));
    }
    if print(&parse(&c.source).file) != c.source || print(&c.file) != c.source {
        return Err(format!("{op} for {class}: not fmt-stable\n{}", c.source));
    }
    if frozen_snapshot(parent) != frozen_snapshot(&c.file) {
        return Err(format!(
            "{op} for {class}: a frozen node changed\n{}",
            c.source
        ));
    }
    check_bounds(parent, &c.file).map_err(|e| format!("{op} for {class}: {e}\n{}", c.source))?;
    for ch in &c.manifest.changes {
        let (file, exists) = match ch.kind {
            ChangeKind::Removed => (parent, ch.before.is_some()),
            _ => (&c.file, ch.after.is_some()),
        };
        if find(file, &ch.path).is_none() || !exists {
            return Err(format!("{op}: change path {} does not resolve", ch.path));
        }
    }
    for p in &c.manifest.changed_paths {
        if find(&c.file, p).is_none() {
            return Err(format!("{op}: changed item {p} does not resolve"));
        }
    }
    Ok(Some(c.file))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_operator_sequences_keep_every_guarantee(
        base in 0usize..4,
        items in any::<u64>(),
        items2 in any::<u64>(),
        field_bits in any::<u64>(),
        field_bits2 in any::<u64>(),
        steps in prop::collection::vec((0usize..9, 0usize..9, any::<u64>()), 1..=5),
    ) {
        let bases = bases();
        // Two masks ANDed: about a quarter of the items and fields end up frozen.
        let original = freeze(bases[base % bases.len()].clone(), items & items2, field_bits & field_bits2);
        prop_assert!(errors(&original).is_empty(), "{:?}", errors(&original));
        let frozen = frozen_snapshot(&original);
        let mut cur = original;
        for (op, class, seed) in steps {
            let op = OperatorId::ALL[op];
            let class = FailureClass::ALL[class];
            match step(&cur, op, class, seed) {
                Ok(Some(next)) => cur = next,
                Ok(None) => {}
                Err(e) => prop_assert!(false, "{}", e),
            }
            prop_assert_eq!(&frozen_snapshot(&cur), &frozen);
        }
    }
}

/// Every operator against every class on every base, 6 seeds each: no drops, and the
/// operators do produce candidates.
#[test]
fn sweep_has_no_drops() {
    let mut produced = 0;
    let mut drops = Vec::new();
    for base in bases() {
        for class in FailureClass::ALL {
            for op in OperatorId::ALL {
                for seed in 0..6 {
                    match step(&base, op, class, seed) {
                        Ok(Some(_)) => produced += 1,
                        Ok(None) => {}
                        Err(e) => drops.push(e),
                    }
                }
            }
        }
    }
    assert!(
        drops.is_empty(),
        "{} drops, first: {}",
        drops.len(),
        drops[0]
    );
    assert!(produced > 400, "{produced}");
}
