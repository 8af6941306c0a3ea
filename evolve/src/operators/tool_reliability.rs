//! `tool_reliability`: raises (or, when exploring, moves) a tool's `timeout` or
//! `retries` inside their bounds, adding the option when the tool has none. Tools named in
//! the planner's evidence are preferred: the failing tool is the one to fix.

use harnessx_compiler::schema::{self, FieldSpec};
use harnessx_syntax::{Field, File, Item, Tool};

use super::bounds::{can_move, draw, field_bounds, to_value, Bounds, Dir};
use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

struct Opt {
    item: usize,
    tool: String,
    spec: &'static FieldSpec,
    dir: Dir,
}

fn option<'a>(t: &'a Tool, name: &str) -> Option<&'a Field> {
    t.options.as_deref()?.iter().find(|f| f.name.name == name)
}

/// Which way a class wants a tool option to move; `None` when it does not care.
fn hint(class: FailureClass, option: &str, present: bool) -> Option<Dir> {
    use FailureClass::*;
    match (class, option) {
        // A timeout where there was none makes calls fail sooner: only raise existing ones.
        (ToolTimeout, "timeout") if present => Some(Dir::Up),
        (ToolTimeout | ToolErrorIgnored, "retries") => Some(Dir::Up),
        (Unknown, "timeout" | "retries") => Some(Dir::Any),
        _ => None,
    }
}

fn current(spec: &FieldSpec, field: Option<&Field>) -> Option<f64> {
    match field {
        Some(f) => f.value.kind.num(),
        None => spec.default.and_then(|l| l.num()),
    }
}

fn options(file: &File, target: &Target) -> Vec<Opt> {
    let Some(h) = node::harness(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (item, i) in h.items.iter().enumerate() {
        let Item::Tool(t) = i else {
            continue;
        };
        if is_frozen(&t.annotations) {
            continue;
        }
        for name in ["timeout", "retries"] {
            let Some(spec) = schema::tool_option(name) else {
                continue;
            };
            let field = option(t, name);
            let Some(dir) = hint(target.class(), name, field.is_some()) else {
                continue;
            };
            let Some(Bounds::Num(iv)) = field_bounds(spec, field) else {
                continue;
            };
            if can_move(&iv, current(spec, field), dir) {
                out.push(Opt {
                    item,
                    tool: t.name.name.clone(),
                    spec,
                    dir,
                });
            }
        }
    }
    if out.iter().any(|o| target.mentions(&o.tool)) {
        out.retain(|o| target.mentions(&o.tool));
    }
    out
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let opt = rng.take(&mut opts)?;
    let mut new = file.clone();
    let Some(Item::Tool(t)) = new.harness.as_mut()?.items.get_mut(opt.item) else {
        return None;
    };
    let field = option(t, opt.spec.name);
    let Some(Bounds::Num(iv)) = field_bounds(opt.spec, field) else {
        return None;
    };
    let cur = current(opt.spec, field);
    let x = draw(rng, &iv, cur, opt.dir)?;
    let kind = to_value(iv.kind, x);
    let path = format!("tools.{}.{}", opt.tool, opt.spec.name);
    let before = field.map_or_else(
        || {
            opt.spec
                .default
                .map_or("unset".into(), |d| format!("{d} (default)"))
        },
        |f| node::show(&f.value.kind),
    );
    let summary = format!("{path} {before} -> {}", node::show(&kind));
    let opts = t.options.get_or_insert_with(Vec::new);
    let change = match opts.iter_mut().find(|f| f.name.name == opt.spec.name) {
        Some(f) => {
            f.value.kind = kind;
            ChangeKind::Modified
        }
        None => {
            opts.push(node::field(opt.spec.name, kind));
            ChangeKind::Inserted
        }
    };
    let (delta, why) = match target.class() {
        FailureClass::Unknown => (0.01, "exploration: tool patience".to_string()),
        c => (
            0.05,
            format!(
                "`{}` gets more room before a failure reaches the model (`{c}`)",
                opt.tool
            ),
        ),
    };
    let edit = Edit::new(new, summary, delta, why).change(change, path);
    Candidate::build(file, target, OperatorId::ToolReliability, edit)
}
