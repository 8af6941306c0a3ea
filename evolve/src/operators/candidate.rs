//! What an operator hands back: the candidate tree, its canonical source and its manifest;
//! and the checks every candidate must pass before anyone sees it.

use harnessx_compiler::schema::{self, FieldSpec};
use harnessx_compiler::{check_file, Severity};
use harnessx_syntax::paths::find;
use harnessx_syntax::printer::strip_key;
use harnessx_syntax::{parse, print, Comments, Field, File, Harness, Item, Span, Value};

use super::bounds::{field_bounds, Bounds};
use super::node::{self, is_frozen, owner_item_path};
use crate::fragments::Phrasing;
use crate::manifest::{Change, ChangeKind, FailureClass, Impact, Manifest, OperatorId};

/// What a candidate is for: the failure class and the planner's evidence for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Target {
    pub class: Option<FailureClass>,
    pub evidence: Vec<String>,
    /// The wording of the messages and prompt fragments the operators insert.
    pub phrasing: Phrasing,
}

impl Target {
    pub fn new(class: FailureClass) -> Target {
        Target {
            class: Some(class),
            evidence: Vec::new(),
            phrasing: Phrasing::Library,
        }
    }

    pub fn with_phrasing(mut self, phrasing: Phrasing) -> Target {
        self.phrasing = phrasing;
        self
    }

    pub fn with_evidence(mut self, evidence: Vec<String>) -> Target {
        self.evidence = evidence;
        self
    }

    pub fn class(&self) -> FailureClass {
        self.class.unwrap_or(FailureClass::Unknown)
    }

    /// Does some evidence line name `word` (a tool name, say) as a whole word?
    pub fn mentions(&self, word: &str) -> bool {
        self.evidence.iter().any(|e| {
            e.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w == word)
        })
    }
}

/// One proposed harness.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The tree parsed back from `source`, so its spans point into `source`.
    pub file: File,
    /// Canonical source, from the printer.
    pub source: String,
    pub manifest: Manifest,
}

/// What an operator changed, before printing.
pub struct Edit {
    pub file: File,
    /// `(kind, path)`: paths in the parent for `Modified`/`Removed`, in the edited file for
    /// `Inserted`.
    pub changes: Vec<(ChangeKind, String)>,
    pub summary: String,
    pub predicted: Impact,
}

impl Edit {
    pub fn new(file: File, summary: impl Into<String>, delta: f64, why: impl Into<String>) -> Edit {
        Edit {
            file,
            changes: Vec::new(),
            summary: summary.into(),
            predicted: Impact {
                summary: why.into(),
                success_delta: delta,
            },
        }
    }

    pub fn change(mut self, kind: ChangeKind, path: impl Into<String>) -> Edit {
        self.changes.push((kind, path.into()));
        self
    }
}

impl Candidate {
    /// Prints the edited tree, parses it back, and records each change's printed text.
    /// `None` if the printed text does not parse (an operator bug; never expected).
    pub fn build(parent: &File, target: &Target, op: OperatorId, edit: Edit) -> Option<Candidate> {
        let parent_src = print(parent);
        let parent_re = parse(&parent_src);
        let source = print(&edit.file);
        let parsed = parse(&source);
        if !parsed.errors.is_empty() || !parent_re.errors.is_empty() {
            return None;
        }
        let mut changes = Vec::new();
        let mut items: Vec<String> = Vec::new();
        for (kind, path) in edit.changes {
            let before = match kind {
                ChangeKind::Inserted => None,
                _ => snippet(&parent_src, &parent_re.file, &path),
            };
            let after = match kind {
                ChangeKind::Removed => None,
                _ => snippet(&source, &parsed.file, &path),
            };
            if kind != ChangeKind::Removed {
                let item = owner_item_path(&path);
                if !items.contains(&item) {
                    items.push(item);
                }
            }
            changes.push(Change {
                kind,
                path,
                before,
                after,
            });
        }
        // Source order, so provenance comments and reports read top to bottom.
        if let Some(h) = &parsed.file.harness {
            items.sort_by_key(|p| node::item_index(h, p).unwrap_or(usize::MAX));
        }
        let manifest = Manifest {
            operator: op,
            class: target.class(),
            summary: edit.summary,
            changes,
            changed_paths: items,
            evidence: target.evidence.clone(),
            predicted: edit.predicted,
            rationale: None,
        };
        Some(Candidate {
            file: parsed.file,
            source,
            manifest,
        })
    }
}

/// The printed text of the node at `path`, continuation lines dedented to its column.
fn snippet(src: &str, file: &File, path: &str) -> Option<String> {
    let Span { start, end } = find(file, path)?;
    let text = src.get(start..end)?;
    let col = start - src[..start].rfind('\n').map_or(0, |i| i + 1);
    let pad = " ".repeat(col);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_prefix(pad.as_str()).unwrap_or(l))
        .collect();
    Some(lines.join("\n"))
}

/// Why a built candidate was dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    CheckErrors(Vec<String>),
    NewWarnings(Vec<String>),
    NotFmtStable,
    FrozenChanged,
    OutOfBounds(String),
    NoChange,
}

/// Every guarantee of a candidate, re-checked: the checker finds no error and no new
/// warning, the source is in canonical form, `@frozen` nodes print identically, changed
/// fields are inside their bounds, and something did change.
pub fn verify(parent: &File, cand: &Candidate) -> Result<(), Rejection> {
    let diags = check_file(&cand.file);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(Rejection::CheckErrors(errors));
    }
    let warnings = |ds: &[harnessx_compiler::Diagnostic]| -> Vec<String> {
        let mut w: Vec<String> = ds
            .iter()
            .filter(|d| d.severity != Severity::Error)
            .map(|d| format!("{} {}", d.code, d.message))
            .collect();
        w.sort();
        w
    };
    let before = warnings(&check_file(parent));
    let mut after = warnings(&diags);
    after.retain(|w| !before.contains(w));
    if !after.is_empty() {
        return Err(Rejection::NewWarnings(after));
    }
    // `cand.file` is the parse of `cand.source`, so printing it checks the round trip.
    if print(&cand.file) != cand.source {
        return Err(Rejection::NotFmtStable);
    }
    if frozen_snapshot(parent) != frozen_snapshot(&cand.file) {
        return Err(Rejection::FrozenChanged);
    }
    bounds_respected(parent, &cand.file).map_err(Rejection::OutOfBounds)?;
    if print(parent) == cand.source {
        return Err(Rejection::NoChange);
    }
    Ok(())
}

/// The printed form of every `@frozen` item and field, in source order.
pub fn frozen_snapshot(file: &File) -> Vec<String> {
    let Some(h) = &file.harness else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in &h.items {
        if is_frozen(item.annotations()) {
            out.push(print_alone(item.clone()));
            continue;
        }
        let (owner, fields): (String, &[Field]) = match item {
            Item::Section(s) => (s.name.name.clone(), &s.fields),
            Item::Tool(t) => (
                format!("tools.{}", t.name.name),
                t.options.as_deref().unwrap_or(&[]),
            ),
            _ => continue,
        };
        for f in fields.iter().filter(|f| is_frozen(&f.annotations)) {
            let alone = Item::Section(node::new_section("s", vec![f.clone()]));
            out.push(format!("{owner}: {}", print_alone(alone)));
        }
    }
    out
}

/// One item printed on its own (in a throwaway harness), for comparisons.
fn print_alone(item: Item) -> String {
    let h = Harness {
        name: node::ident("h"),
        description: None,
        items: vec![item],
        dangling: Vec::new(),
        comments: Comments::default(),
        span: Span::default(),
    };
    print(&File {
        harness: Some(h),
        trailing_comments: Vec::new(),
        span: Span::default(),
    })
}

/// Every section field and tool option whose value differs from the parent's (or is new)
/// lies within its evolve bounds.
pub fn bounds_respected(parent: &File, child: &File) -> Result<(), String> {
    let (Some(p), Some(c)) = (&parent.harness, &child.harness) else {
        return Ok(());
    };
    for (owner, _, fields, specs) in field_groups(c) {
        let before = field_groups(p)
            .into_iter()
            .find(|(o, ..)| *o == owner)
            .map(|(_, _, f, _)| f)
            .unwrap_or(&[]);
        for f in fields {
            let old = before.iter().find(|x| x.name.name == f.name.name);
            if old.is_some_and(|o| same_value(&o.value, &f.value)) {
                continue;
            }
            let Some(spec) = specs.iter().find(|s| s.name == f.name.name) else {
                continue;
            };
            let path = format!("{owner}.{}", f.name.name);
            // Bounds come from the parent's annotations: an operator may not widen them.
            match field_bounds(spec, old.or(Some(f))) {
                None => return Err(format!("{path} is not evolvable")),
                Some(Bounds::Num(iv)) => match f.value.kind.num() {
                    Some(x) if iv.contains(x) => {}
                    _ => return Err(format!("{path} left {}..{}", iv.lo, iv.hi)),
                },
                Some(Bounds::Choices(cs)) => match &f.value.kind {
                    harnessx_syntax::ValueKind::Ident(v) if cs.contains(v) => {}
                    _ => return Err(format!("{path} is not one of its choices")),
                },
                Some(Bounds::Subset(_)) => {}
            }
        }
    }
    Ok(())
}

/// Equal as written, whatever the spans (a re-parsed candidate has new ones).
pub fn same_value(a: &Value, b: &Value) -> bool {
    let bare = |v: &Value| {
        let mut j = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
        strip_key(&mut j, "span");
        j
    };
    bare(a) == bare(b)
}

/// A section or tool: its key (`loop`, `tools.NAME`), the item, its fields, their schema.
pub(crate) type FieldGroup<'a> = (String, &'a Item, &'a [Field], &'static [FieldSpec]);

/// Sections and tools by key, with their fields and schema.
pub(crate) fn field_groups(h: &Harness) -> Vec<FieldGroup<'_>> {
    h.items
        .iter()
        .filter_map(|i| match i {
            Item::Section(s) => {
                let spec = schema::section(&s.name.name)?;
                Some((s.name.name.clone(), i, s.fields.as_slice(), spec.fields))
            }
            Item::Tool(t) => Some((
                format!("tools.{}", t.name.name),
                i,
                t.options.as_deref().unwrap_or(&[]),
                schema::TOOL_OPTIONS,
            )),
            _ => None,
        })
        .collect()
}
