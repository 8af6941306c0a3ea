//! `swap_fragment`: edits the system prompt one whole line at a time, with sentences from
//! the fragment library: inserts a fragment for the failure class, replaces a fragment
//! already there with another variant of its class, or (for `unknown`, and against
//! `context_overflow`, where every prompt token counts) removes a fragment line. The only
//! operator of the prompt-only baseline arm.

use harnessx_syntax::printer::triple_printable;
use harnessx_syntax::{File, Item, StrStyle};

use super::candidate::{Candidate, Edit, Target};
use super::node::{self, is_frozen};
use super::rng::Rng;
use crate::fragments::fragment_class;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};

/// The prompt this operator edits.
const PROMPT: &str = "system";

#[derive(Debug, Clone)]
enum Op {
    Insert(&'static str),
    Replace(usize, &'static str),
    Remove(usize),
}

fn prompt_index(file: &File) -> Option<usize> {
    let h = node::harness(file)?;
    h.items.iter().position(
        |i| matches!(i, Item::Prompt(p) if p.name.name == PROMPT && !is_frozen(&p.annotations)),
    )
}

fn prompt_text(file: &File) -> Option<&str> {
    match file.harness.as_ref()?.items.get(prompt_index(file)?)? {
        Item::Prompt(p) => Some(p.text.value.as_str()),
        _ => None,
    }
}

fn options(file: &File, target: &Target) -> Vec<Op> {
    let Some(text) = prompt_text(file) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let present = |f: &str| lines.iter().any(|l| l.trim() == f);
    let class = target.class();
    let wanted: Vec<(FailureClass, &'static str)> = if class == FailureClass::Unknown {
        target.phrasing.all_prompt_fragments().collect()
    } else {
        target
            .phrasing
            .prompt_fragments(class)
            .iter()
            .map(|f| (class, *f))
            .collect()
    };
    let mut out = Vec::new();
    let has_class_fragment = lines.iter().any(|l| fragment_class(l) == Some(class));
    for (c, f) in &wanted {
        if present(f) {
            continue;
        }
        // One fragment per class at a time: a second one is a replacement, not an insert.
        if !(has_class_fragment && *c == class && class != FailureClass::Unknown) {
            out.push(Op::Insert(f));
        }
        for (i, l) in lines.iter().enumerate() {
            if fragment_class(l) == Some(*c) {
                out.push(Op::Replace(i, f));
            }
        }
    }
    if matches!(class, FailureClass::Unknown | FailureClass::ContextOverflow) {
        for (i, l) in lines.iter().enumerate() {
            if fragment_class(l).is_some_and(|c| {
                c != FailureClass::ContextOverflow || class == FailureClass::Unknown
            }) {
                out.push(Op::Remove(i));
            }
        }
    }
    out
}

pub fn applicable(file: &File, target: &Target) -> bool {
    !options(file, target).is_empty()
}

pub fn apply(file: &File, rng: &mut Rng, target: &Target) -> Option<Candidate> {
    let mut opts = options(file, target);
    let op = rng.take(&mut opts)?;
    let index = prompt_index(file)?;
    let text = prompt_text(file)?;
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let (summary, delta) = match op {
        Op::Insert(f) => {
            // After the last non-empty line, so a trailing blank line stays last.
            let at = lines
                .iter()
                .rposition(|l| !l.trim().is_empty())
                .map_or(0, |i| i + 1);
            lines.insert(at, f.to_string());
            (format!("prompt system: + {f:?}"), 0.03)
        }
        Op::Replace(i, f) => {
            let old = std::mem::replace(lines.get_mut(i)?, f.to_string());
            (format!("prompt system: {:?} -> {f:?}", old.trim()), 0.02)
        }
        Op::Remove(i) => {
            let old = lines.remove(i);
            (format!("prompt system: - {:?}", old.trim()), 0.0)
        }
    };
    let value = lines.join("\n");
    let mut new = file.clone();
    let Some(Item::Prompt(p)) = new.harness.as_mut()?.items.get_mut(index) else {
        return None;
    };
    // Several lines read best triple-quoted; keep the plain style when the text cannot be.
    let style = if value.contains('\n') && triple_printable(&value) {
        StrStyle::Triple
    } else {
        p.text.style
    };
    p.text = node::str_lit(&value);
    p.text.style = style;
    let why = match target.class() {
        FailureClass::Unknown => "exploration: prompt wording".to_string(),
        c => format!("an explicit instruction against `{c}`"),
    };
    let edit = Edit::new(new, summary, delta, why)
        .change(ChangeKind::Modified, format!("prompts.{PROMPT}.text"));
    Candidate::build(file, target, OperatorId::SwapFragment, edit)
}
