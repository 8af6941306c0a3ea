//! `switch_enum`: changes `loop.strategy`, `context.compaction`, `model.decoding` or
//! `model.offer` to
//! another variant its `@evolve(choices = ..)` (or the schema) allows. The failure class
//! says which variants are worth trying (constrained decoding against malformed calls, a
//! reflecting loop against loops, summarising compaction against context overflow).

use harnessx_compiler::schema::{self, FieldSpec};
use harnessx_syntax::{File, Item, ValueKind};

use super::bounds::{field_bounds, Bounds};
use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// The variants a failure class wants to try, per field.
fn wanted(class: FailureClass) -> &'static [(&'static str, &'static str, &'static [&'static str])] {
    use FailureClass::*;
    match class {
        MalformedCall => &[("model", "decoding", &["constrained"])],
        Loop => &[
            (
                "model",
                "offer",
                &["untried_since_reward", "untried", "untried_since_change"],
            ),
            ("loop", "strategy", &["reflect", "plan_then_act"]),
        ],
        PrematureFinish | ToolErrorIgnored => &[("loop", "strategy", &["reflect"])],
        StepBudget => &[("loop", "strategy", &["react"])],
        ContextOverflow => &[(
            "context",
            "compaction",
            &["summarize_oldest", "drop_observations", "truncate_oldest"],
        )],
        WrongAction => &[
            ("model", "decoding", &["constrained"]),
            ("loop", "strategy", &["plan_then_act"]),
        ],
        ToolTimeout => &[],
        Unknown => &[
            ("model", "decoding", schema::DECODINGS),
            ("model", "offer", schema::OFFERS),
            ("loop", "strategy", schema::STRATEGIES),
            ("context", "compaction", schema::COMPACTIONS),
        ],
    }
}

struct Opt {
    section: &'static str,
    spec: &'static FieldSpec,
    variant: String,
}

fn current(file: &File, section: &str, spec: &FieldSpec) -> Option<String> {
    let h = node::harness(file)?;
    match node::section_field(h, section, spec.name) {
        Some(f) => Some(node::show(&f.value.kind)),
        None => spec.default.map(|d| d.to_string()),
    }
}

fn options(file: &File, target: &Target) -> Vec<Opt> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (section, name, variants) in wanted(target.class()) {
        if node::section(h, section).is_some_and(|s| is_frozen(&s.annotations)) {
            continue;
        }
        let Some(spec) = schema::section(section).and_then(|s| s.field(name)) else {
            continue;
        };
        let field = node::section_field(h, section, name);
        let Some(Bounds::Choices(choices)) = field_bounds(spec, field) else {
            continue;
        };
        let cur = current(file, section, spec);
        for v in variants.iter().filter(|v| choices.iter().any(|c| c == *v)) {
            if cur.as_deref() == Some(*v) || !leaves_reflect_ok(h, name, v) {
                continue;
            }
            out.push(Opt {
                section,
                spec,
                variant: v.to_string(),
            });
        }
    }
    out
}

/// Leaving `reflect` takes a now-pointless `reflect_every` with it, unless it is frozen.
fn leaves_reflect_ok(h: &harnessx_syntax::Harness, field: &str, variant: &str) -> bool {
    let frozen_every = matches!(
        node::section_field(h, "loop", "reflect_every"),
        Some(f) if is_frozen(&f.annotations)
    );
    field != "strategy" || variant == "reflect" || !frozen_every
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

/// The remedy the evidence points at, when one does: a loop under constrained decoding
/// while every admissible action is offered is the model choosing the same offered action
/// again, so stop offering what it already did (the first untried variant in `wanted`)
/// before trying another loop strategy. Otherwise `None`: pick at random.
fn preferred(file: &File, target: &Target, opts: &[Opt]) -> Option<usize> {
    let h = node::harness(file)?;
    let constrained = node::section_field(h, "model", "decoding")
        .is_some_and(|f| node::show(&f.value.kind) == "constrained");
    let offers_all =
        node::section_field(h, "model", "offer").is_none_or(|f| node::show(&f.value.kind) == "all");
    (target.class() == FailureClass::Loop && constrained && offers_all)
        .then(|| opts.iter().position(|o| o.spec.name == "offer"))
        .flatten()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let opt = match preferred(file, target, &opts) {
        Some(i) => opts.swap_remove(i),
        None => rng.take(&mut opts)?,
    };
    let path = format!("{}.{}", opt.section, opt.spec.name);
    let before = current(file, opt.section, opt.spec).unwrap_or_default();
    let summary = format!("{path} {before} -> {}", opt.variant);
    let kind = ValueKind::Ident(opt.variant.clone());

    let mut new = file.clone();
    let nh = new.harness.as_mut()?;
    let mut changes = Vec::new();
    match node::section_index(nh, opt.section) {
        Some(i) => {
            let Item::Section(s) = &mut nh.items[i] else {
                return None;
            };
            match s.fields.iter_mut().find(|f| f.name.name == opt.spec.name) {
                Some(f) => {
                    f.value.kind = kind;
                    changes.push((ChangeKind::Modified, path.clone()));
                }
                None => {
                    s.fields.push(node::field(opt.spec.name, kind));
                    changes.push((ChangeKind::Inserted, path.clone()));
                }
            }
            if opt.spec.name == "strategy" && opt.variant != "reflect" {
                if let Some(k) = s.fields.iter().position(|f| f.name.name == "reflect_every") {
                    s.fields.remove(k);
                    changes.push((ChangeKind::Removed, "loop.reflect_every".to_string()));
                }
            }
        }
        None => {
            let at = node::section_insert_at(nh);
            nh.items.insert(
                at,
                Item::Section(node::new_section(
                    opt.section,
                    vec![node::field(opt.spec.name, kind)],
                )),
            );
            changes.push((ChangeKind::Inserted, opt.section.to_string()));
        }
    }
    let class = target.class();
    let (delta, why) = if class == FailureClass::Unknown {
        (
            0.01,
            format!("exploration: `{}` = {}", opt.spec.name, opt.variant),
        )
    } else {
        (
            0.05,
            format!(
                "`{}` = {} addresses `{class}` failures",
                opt.spec.name, opt.variant
            ),
        )
    };
    let mut edit = Edit::new(new, summary, delta, why);
    for (k, p) in changes {
        edit = edit.change(k, p);
    }
    Candidate::build(file, target, OperatorId::SwitchEnum, edit)
}
