//! Attaches the comments found by the lexical pass to AST nodes.
//!
//! Rules (documented in docs/LANGUAGE.md, relied on by the printer):
//! - a comment on the same line after a node's end is that node's `trailing` comment
//!   (the outermost node ending there, if several do);
//! - otherwise it is a `leading` comment of the next node in the innermost block that
//!   contains it;
//! - with no next node in that block it is `dangling` in the block (printed before `}`),
//!   or, after the harness, one of the file's `trailing_comments`.
//!
//! No comment is ever dropped: each lands in exactly one of these places.

use crate::ast::*;
use crate::lex::RawComment;

/// Where an anchor's comments go: a path of indices into the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Harness,
    Item(usize),
    /// field `f` of item `i` (section field or tool option)
    Field(usize, usize),
    /// action `a` of rule item `i`; `fallback` selects its `otherwise` action
    Action(usize, usize, bool),
}

/// A block that can hold comments of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    File,
    Harness,
    Item(usize),
}

struct Anchor {
    span: Span,
    parent: Container,
    slot: Slot,
}

pub(crate) fn attach(file: &mut File, comments: &[RawComment], src: &str) {
    let Some(h) = file.harness.as_mut() else {
        // No tree to hang them on: keep them at file level so nothing is lost.
        file.trailing_comments = comments.iter().map(|c| c.text.clone()).collect();
        return;
    };
    let (anchors, containers) = collect(h);
    for c in comments {
        let at = c.span.start;
        // Trailing: a node that ends on this comment's line, before it.
        let line_start = line_start(src, at);
        let trailing = anchors
            .iter()
            .filter(|a| a.span.end <= at && a.span.end >= line_start)
            .max_by_key(|a| (a.span.end, usize::MAX - a.span.start));
        if let Some(a) = trailing {
            if slot_comments(h, a.slot).trailing.is_none() {
                slot_comments(h, a.slot).trailing = Some(c.text.clone());
                continue;
            }
        }
        // Innermost container holding the comment.
        let container = containers
            .iter()
            .filter(|(_, span)| span.start <= at && at < span.end)
            .min_by_key(|(_, span)| span.end - span.start)
            .map(|(c, _)| *c)
            .unwrap_or(Container::File);
        let next = anchors
            .iter()
            .filter(|a| a.parent == container && a.span.start >= at)
            .min_by_key(|a| a.span.start);
        match next {
            Some(a) => slot_comments(h, a.slot).leading.push(c.text.clone()),
            None => match container {
                Container::File => {
                    if at < h.span.start {
                        h.comments.leading.push(c.text.clone());
                    } else {
                        file.trailing_comments.push(c.text.clone());
                    }
                }
                Container::Harness => h.dangling.push(c.text.clone()),
                Container::Item(i) => match &mut h.items[i] {
                    Item::Section(s) => s.dangling.push(c.text.clone()),
                    Item::Tool(t) => t.dangling.push(c.text.clone()),
                    Item::Rule(r) => r.dangling.push(c.text.clone()),
                    Item::Prompt(p) => p.comments.leading.push(c.text.clone()),
                },
            },
        }
    }
}

/// The offset where the line holding `at` starts.
fn line_start(src: &str, at: usize) -> usize {
    src.get(..at)
        .and_then(|before| before.rfind('\n'))
        .map(|i| i + 1)
        .unwrap_or(0)
}

fn collect(h: &Harness) -> (Vec<Anchor>, Vec<(Container, Span)>) {
    let mut anchors = vec![Anchor {
        span: h.span,
        parent: Container::File,
        slot: Slot::Harness,
    }];
    let mut containers = vec![(Container::Harness, h.span)];
    for (i, item) in h.items.iter().enumerate() {
        anchors.push(Anchor {
            span: item.span(),
            parent: Container::Harness,
            slot: Slot::Item(i),
        });
        let fields: &[Field] = match item {
            Item::Section(s) => {
                containers.push((Container::Item(i), s.span));
                &s.fields
            }
            Item::Tool(t) => match &t.options {
                Some(opts) => {
                    containers.push((Container::Item(i), t.span));
                    opts
                }
                None => &[],
            },
            Item::Rule(r) => {
                containers.push((Container::Item(i), r.span));
                for (a, action) in r.actions.iter().enumerate() {
                    anchors.push(Anchor {
                        span: action.span,
                        parent: Container::Item(i),
                        slot: Slot::Action(i, a, false),
                    });
                    if let Some(f) = &action.otherwise {
                        anchors.push(Anchor {
                            span: f.span,
                            parent: Container::Item(i),
                            slot: Slot::Action(i, a, true),
                        });
                    }
                }
                &[]
            }
            Item::Prompt(_) => &[],
        };
        for (f, field) in fields.iter().enumerate() {
            anchors.push(Anchor {
                span: field.span,
                parent: Container::Item(i),
                slot: Slot::Field(i, f),
            });
        }
    }
    (anchors, containers)
}

fn slot_comments(h: &mut Harness, slot: Slot) -> &mut Comments {
    match slot {
        Slot::Harness => &mut h.comments,
        Slot::Item(i) => h.items[i].comments_mut(),
        Slot::Field(i, f) => match &mut h.items[i] {
            Item::Section(s) => &mut s.fields[f].comments,
            Item::Tool(t) => match &mut t.options {
                Some(opts) => &mut opts[f].comments,
                None => &mut t.comments,
            },
            other => other.comments_mut(),
        },
        Slot::Action(i, a, fallback) => match &mut h.items[i] {
            Item::Rule(r) => {
                let action = &mut r.actions[a];
                match (fallback, action.otherwise.as_mut()) {
                    (true, Some(f)) => &mut f.comments,
                    _ => &mut action.comments,
                }
            }
            other => other.comments_mut(),
        },
    }
}
