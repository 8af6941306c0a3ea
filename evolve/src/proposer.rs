//! The open-ended proposer (`harnessx evolve --proposer SPEC`): a model is shown the
//! parent harness, a short language reference generated from the schema, the round's
//! failure catalog with trace excerpts and the evolvable fields with their bounds, and is
//! asked for a whole new version of the harness.
//!
//! # One proposal
//!
//! 1. The first request holds a system message (the reply format and the limits) and one
//!    user message built by [`prompt`].
//! 2. The reply is split into its `RATIONALE:` line and the harness (the first fenced
//!    block that mentions `harness`, else the text from a line starting `harness` to the
//!    last `}`), then parsed and checked (`harnessx_compiler::check_source`).
//! 3. A harness that checks is compared with the parent ([`violations`]): `@frozen` items
//!    and fields unchanged, tools' names and parameters unchanged, `@frozen`/`@evolve`
//!    annotations neither added nor removed, no field removed whose default lies outside
//!    its bounds; then it is made a [`Candidate`] (canonical source, a manifest with item
//!    level changes and provenance `proposer`) and re-verified like every operator's
//!    candidate (`crate::operators::verify`: no new warning, values within their
//!    `@evolve` bounds, a real change).
//! 4. Anything short of a candidate — check errors (rendered as the CLI renders them), a
//!    policy violation, no change — goes back to the model in a repair request (the
//!    system message, the failure, the model's last harness and the limits; not the whole
//!    first prompt, so small context windows suffice), up to [`ProposerConfig::repairs`]
//!    times. After that the slot is rejected with the last reason; the run goes on.
//!
//! Nothing here panics on a model's reply: every string is cut on character boundaries,
//! and the parser and checker accept any text.
//!
//! # Determinism
//!
//! Requests depend only on the parent, the round's catalog and a seed derived from the
//! run seed, the round and the slot, and the model is built afresh for every proposal
//! (a `scripted:` proposer starts from its first reply in every round). So with a
//! `cache:DIR:SPEC` proposer a resumed run sends the same requests and gets the recorded
//! replies: it asks the model nothing twice.

use crate::error::OutputError;
use std::fmt::Write as _;
use std::path::Path;

use harnessx_compiler::render::render_text;
use harnessx_compiler::schema::{self, DetectorArgs, FieldSpec, MessageSpec};
use harnessx_compiler::{check_source, Severity};
use harnessx_runtime::ir::Decoding;
use harnessx_runtime::message::{Message, Role};
use harnessx_runtime::models::spec::ModelSpec;
use harnessx_runtime::models::{Model, ModelError, ModelRequest};
use harnessx_syntax::printer::strip_key;
use harnessx_syntax::{print, Field, File, Harness, Item};
use serde::{Deserialize, Serialize};

use crate::digest::{class_name, FailureCatalog};
use crate::ledger::save_json;
use crate::manifest::{ChangeKind, FailureClass, OperatorId};
use crate::operators::bounds::{field_bounds, to_value, Bounds};
use crate::operators::candidate::{field_groups, verify, Candidate, Edit, Rejection, Target};
use crate::operators::node::{is_frozen, item_path, rule_items, show};

/// How the proposer is asked. Stored in the checkpoint's config, so `resume` asks the
/// same model the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposerConfig {
    /// A model spec (`openai:…`, `cache:DIR:SPEC`, `replay:DIR`, `scripted:PATH`).
    pub model: String,
    /// Repair requests after the first reply (so `repairs + 1` replies at most).
    #[serde(default = "default_repairs")]
    pub repairs: u32,
    /// The longest reply asked for: a whole harness.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
}

pub const DEFAULT_REPAIRS: u32 = 2;

fn default_repairs() -> u32 {
    DEFAULT_REPAIRS
}

fn default_max_tokens() -> u32 {
    640
}

fn default_temperature() -> f64 {
    0.2
}

impl ProposerConfig {
    pub fn new(model: impl Into<String>) -> ProposerConfig {
        ProposerConfig {
            model: model.into(),
            repairs: DEFAULT_REPAIRS,
            max_tokens: default_max_tokens(),
            temperature: default_temperature(),
        }
    }

    /// The model spec, parsed (a `scripted:` file is read here).
    pub fn model_spec(&self) -> Result<ModelSpec, String> {
        ModelSpec::parse(&self.model, |p| {
            std::fs::read_to_string(p).map_err(|e| format!("`{p}`: {e}"))
        })
        .map_err(|e| format!("--proposer: {e}"))
    }
}

/// What the proposer did over a run (kept in the checkpoint, so exact after a resume).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerStats {
    /// Proposals asked for (one per round the proposer took a slot).
    pub proposals: u64,
    /// Replies received (first replies and repairs).
    pub replies: u64,
    /// Replies whose harness parsed and checked with no error.
    pub replies_checked: u64,
    /// First replies that checked.
    pub first_checked: u64,
    /// Proposals that became a candidate for the gate.
    pub candidates: u64,
    /// Proposals that ended with a model error.
    pub model_errors: u64,
}

impl ProposerStats {
    pub fn add(&mut self, o: &ProposerStats) {
        self.proposals += o.proposals;
        self.replies += o.replies;
        self.replies_checked += o.replies_checked;
        self.first_checked += o.first_checked;
        self.candidates += o.candidates;
        self.model_errors += o.model_errors;
    }

    /// One line for summaries, e.g. "proposer: 2 of 3 proposals became candidates; 4 of
    /// 6 replies checked (2 of 3 first replies)".
    pub fn line(&self) -> String {
        format!(
            "proposer: {} of {} proposals became candidates; {} of {} replies checked ({} of {} first replies){}",
            self.candidates,
            self.proposals,
            self.replies_checked,
            self.replies,
            self.first_checked,
            self.proposals,
            if self.model_errors > 0 {
                format!("; {} model errors", self.model_errors)
            } else {
                String::new()
            }
        )
    }
}

/// One reply and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub reply: String,
    /// `candidate`, or why not (check errors, a policy violation, a model error).
    pub verdict: String,
}

/// The outcome of one proposal.
#[derive(Debug, Clone)]
pub struct Proposed {
    /// The candidate, or why the slot is rejected.
    pub result: Result<Candidate, String>,
    /// The first request's messages (what the model was shown).
    pub prompt: Vec<Message>,
    pub attempts: Vec<Attempt>,
    pub stats: ProposerStats,
}

/// The reply format and limits, the same in every request.
pub const SYSTEM: &str = "You edit agent harnesses written in the harnessx language. A harness \
wraps a language model that solves tasks by calling tools: prompts, a step loop, context \
settings, and rules that fire at hooks. Improve the harness so fewer episodes fail.\n\
Reply in exactly this form:\n\
RATIONALE: <one sentence: what you change and why>\n\
```harness\n<the complete new harness>\n```\n\
Keep every @frozen item and field exactly as it is, keep the tools' names and parameters, \
keep numbers and choices inside the bounds listed, and change little.";

/// Asks the model for a new version of `parent` (see the module docs). `seed` seeds the
/// requests; `target` is the class and evidence the manifest records.
pub fn propose(
    model: &ModelSpec,
    cfg: &ProposerConfig,
    parent: &File,
    catalog: &FailureCatalog,
    target: &Target,
    seed: u64,
) -> Proposed {
    propose_with(&mut *model.build(), cfg, parent, catalog, target, seed)
}

/// [`propose`] with a model already built (tests pass their own).
pub fn propose_with(
    m: &mut dyn Model,
    cfg: &ProposerConfig,
    parent: &File,
    catalog: &FailureCatalog,
    target: &Target,
    seed: u64,
) -> Proposed {
    let mut stats = ProposerStats {
        proposals: 1,
        ..ProposerStats::default()
    };
    let first = vec![
        msg(Role::System, SYSTEM),
        msg(Role::User, &prompt(parent, catalog)),
    ];
    let mut first = first;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut messages = first.clone();
    let mut rationale: Option<String> = None;
    let mut last = String::from("no reply");
    let mut shortened = false;
    let mut i = 0;
    while i <= cfg.repairs {
        let req = request(cfg, messages.clone(), seed.wrapping_add(u64::from(i)));
        let reply = match m.complete(&req) {
            Ok(r) => r.text,
            // The first prompt overflows the model's context: once more without the
            // language reference (the repairs carry the checker's messages instead).
            Err(ModelError::ContextOverflow(e)) if i == 0 && !shortened => {
                shortened = true;
                attempts.push(Attempt {
                    reply: String::new(),
                    verdict: format!("the prompt overflows the model's context ({e}); asked again without the language reference"),
                });
                first = vec![
                    msg(Role::System, SYSTEM),
                    msg(Role::User, &prompt_with(parent, catalog, false)),
                ];
                messages = first.clone();
                continue;
            }
            Err(e) => {
                stats.model_errors += 1;
                last = format!("the proposer model failed: {e}");
                attempts.push(Attempt {
                    reply: String::new(),
                    verdict: last.clone(),
                });
                break;
            }
        };
        stats.replies += 1;
        let (why, text) = split_reply(&reply);
        rationale = why.or(rationale);
        let judged = judge(parent, &text, target);
        if judged.checked {
            stats.replies_checked += 1;
            if i == 0 {
                stats.first_checked += 1;
            }
        }
        match judged.result {
            Ok(mut cand) => {
                let why = rationale
                    .clone()
                    .unwrap_or_else(|| "no rationale given".into());
                cand.manifest.rationale = Some(one_line(&why, 200));
                cand.manifest.predicted.summary = one_line(&why, 200);
                attempts.push(Attempt {
                    reply,
                    verdict: "candidate".into(),
                });
                stats.candidates += 1;
                return Proposed {
                    result: Ok(cand),
                    prompt: first,
                    attempts,
                    stats,
                };
            }
            Err(feedback) => {
                last = first_line(&feedback);
                attempts.push(Attempt {
                    reply,
                    verdict: feedback.clone(),
                });
                messages = vec![
                    msg(Role::System, SYSTEM),
                    msg(Role::User, &repair_prompt(parent, &text, &feedback)),
                ];
            }
        }
        i += 1;
    }
    let n = attempts.len();
    Proposed {
        result: Err(format!(
            "proposer: no usable harness after {n} {}; last: {last}",
            if n == 1 { "reply" } else { "replies" }
        )),
        prompt: first,
        attempts,
        stats,
    }
}

/// Writes one proposal's prompt and attempts to `dir/proposer/<id>.json`, for review and
/// for measuring how often the model's harnesses check.
pub fn write_transcript(dir: &Path, id: &str, p: &Proposed) -> Result<(), OutputError> {
    #[derive(Serialize)]
    struct Transcript<'a> {
        id: &'a str,
        prompt: &'a [Message],
        attempts: &'a [Attempt],
        result: String,
    }
    let path = dir.join("proposer").join(format!("{id}.json"));
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| OutputError(format!("`{}`: {e}", d.display())))?;
    }
    let t = Transcript {
        id,
        prompt: &p.prompt,
        attempts: &p.attempts,
        result: match &p.result {
            Ok(c) => format!("candidate: {}", c.manifest.summary),
            Err(e) => e.clone(),
        },
    };
    save_json(&path, &t).map_err(|e| OutputError(format!("`{}`: {e}", path.display())))
}

fn msg(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.to_string(),
    }
}

fn request(cfg: &ProposerConfig, messages: Vec<Message>, seed: u64) -> ModelRequest {
    ModelRequest {
        messages,
        tools: Vec::new(),
        temperature: cfg.temperature,
        max_tokens: cfg.max_tokens,
        top_p: None,
        decoding: Decoding::Free,
        seed,
        admissible: Vec::new(),
        expert: None,
    }
}

// ---------------------------------------------------------------------------------------
// replies

/// The reply's rationale (its `RATIONALE:` line, if any) and its harness text.
pub fn split_reply(reply: &str) -> (Option<String>, String) {
    let text = harness_text(reply);
    // A one-line reply (`RATIONALE: … harness h { … }`) ends its rationale at the harness.
    let before = match (fenced(reply), harness_start(reply)) {
        (None, Some(at)) => &reply[..at],
        _ => reply,
    };
    let rationale = before.lines().find_map(|l| {
        let t = l.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '#' | '*' | '-'));
        let head = t.get(..9)?;
        if !head.eq_ignore_ascii_case("rationale") {
            return None;
        }
        let rest = t[9..].trim_start_matches(|c: char| c == '*' || c == ':' || c.is_whitespace());
        let rest = rest.trim();
        (!rest.is_empty()).then(|| one_line(rest, 200))
    });
    (rationale, text)
}

/// The first fenced block that mentions `harness`.
fn fenced(reply: &str) -> Option<&str> {
    let mut rest = reply;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        // The fence's info string (```harness) runs to the end of its line.
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let (block, next) = match body.find("```") {
            Some(close) => (&body[..close], &body[close + 3..]),
            None => (body, ""),
        };
        if block.contains("harness") {
            return Some(block);
        }
        rest = next;
    }
    None
}

/// Where `harness NAME {` (or `harness NAME "…"`) starts: the keyword at the start of the
/// text or after white space.
fn harness_start(reply: &str) -> Option<usize> {
    reply.match_indices("harness").map(|(i, _)| i).find(|&i| {
        let before_ok = reply[..i]
            .chars()
            .next_back()
            .is_none_or(char::is_whitespace);
        let rest = &reply[i + "harness".len()..];
        let Some(after_kw) = rest.strip_prefix(|c: char| c.is_whitespace()) else {
            return false;
        };
        let after_kw = after_kw.trim_start();
        let name_len = after_kw
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after_kw.len());
        let tail = after_kw[name_len..].trim_start();
        before_ok && name_len > 0 && (tail.starts_with('{') || tail.starts_with('"'))
    })
}

/// The harness in a reply: the first fenced block mentioning `harness`, else the text
/// from `harness NAME {` to the last `}`, else the whole reply.
fn harness_text(reply: &str) -> String {
    if let Some(block) = fenced(reply) {
        return block.trim().to_string() + "\n";
    }
    match harness_start(reply) {
        Some(s) => {
            let tail = &reply[s..];
            let end = tail.rfind('}').map_or(tail.len(), |i| i + 1);
            tail[..end].trim().to_string() + "\n"
        }
        None => reply.to_string(),
    }
}

/// `s` on one line, control characters dropped, at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

fn first_line(s: &str) -> String {
    one_line(s.lines().next().unwrap_or(""), 300)
}

/// At most `max` bytes of `s`, cut on a character boundary, with a note when cut.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... cut]", &s[..end])
}

struct Judged {
    /// Parsed and checked with no error.
    checked: bool,
    /// The candidate, or the feedback for the model.
    result: Result<Candidate, String>,
}

/// What the proposer's harness `text` is worth as a child of `parent`.
fn judge(parent: &File, text: &str, target: &Target) -> Judged {
    let checked = check_source(text);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .take(6)
        .cloned()
        .collect();
    if !errors.is_empty() || checked.file.harness.is_none() {
        let n = checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        let rendered = render_text("proposed.harness", text, &errors, false);
        let head = if checked.file.harness.is_none() {
            "the reply holds no harness (expected `harness NAME { ... }` in a ```harness block)"
                .to_string()
        } else {
            format!("the harness does not check: {n} error(s)")
        };
        return Judged {
            checked: false,
            result: Err(format!("{head}\n{}", cut(&rendered, 1800))),
        };
    }
    Judged {
        checked: true,
        result: candidate(parent, checked.file, target),
    }
}

/// A checked `child` as a candidate of `parent`, or why it may not be one.
fn candidate(parent: &File, mut child: File, target: &Target) -> Result<Candidate, String> {
    // The harness's name and description are the parent's: they name the lineage.
    if let (Some(p), Some(c)) = (&parent.harness, child.harness.as_mut()) {
        c.name = p.name.clone();
        c.description = p.description.clone();
    }
    let bad = violations(parent, &child);
    if !bad.is_empty() {
        return Err(format!(
            "the harness breaks the limits:\n{}",
            bad.iter()
                .map(|b| format!("- {b}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    let changes = diff_items(parent, &child);
    if changes.is_empty() {
        return Err("the harness is the same as the current one: change something".into());
    }
    let what: Vec<String> = changes
        .iter()
        .map(|(k, p)| match k {
            ChangeKind::Modified => p.clone(),
            ChangeKind::Inserted => format!("{p} (new)"),
            ChangeKind::Removed => format!("{p} (removed)"),
        })
        .collect();
    let mut edit = Edit::new(
        child,
        format!("proposer edits {}", what.join(", ")),
        0.0,
        "",
    );
    edit.changes = changes;
    let cand = Candidate::build(parent, target, OperatorId::Proposer, edit)
        .ok_or("the printed harness does not parse back (a printer bug)")?;
    match verify(parent, &cand) {
        Ok(()) => Ok(cand),
        Err(r) => Err(match r {
            Rejection::CheckErrors(es) => format!("the harness does not check: {}", es.join("; ")),
            Rejection::NewWarnings(ws) => format!(
                "the harness adds checker warnings (fix them): {}",
                ws.join("; ")
            ),
            Rejection::NotFmtStable => "the printed harness is not stable (a printer bug)".into(),
            Rejection::FrozenChanged => "an @frozen item or field changed".into(),
            Rejection::OutOfBounds(why) => format!("a value is out of its bounds: {why}"),
            Rejection::NoChange => {
                "the harness is the same as the current one: change something".into()
            }
        }),
    }
}

// ---------------------------------------------------------------------------------------
// comparing the proposed tree with the parent

/// An AST node as JSON without spans or comments: equal when the code is.
fn bare<T: Serialize>(node: &T) -> serde_json::Value {
    let mut j = serde_json::to_value(node).unwrap_or(serde_json::Value::Null);
    for k in ["span", "comments", "dangling"] {
        strip_key(&mut j, k);
    }
    j
}

/// One item printed alone, for messages.
fn item_text(item: &Item) -> String {
    let h = Harness {
        name: crate::operators::node::ident("h"),
        description: None,
        items: vec![item.clone()],
        dangling: Vec::new(),
        comments: Default::default(),
        span: Default::default(),
    };
    let printed = print(&File {
        harness: Some(h),
        trailing_comments: Vec::new(),
        span: Default::default(),
    });
    // Drop the throwaway `harness h {` and `}` lines and the indentation.
    let lines: Vec<&str> = printed.lines().collect();
    let inner = lines.get(1..lines.len().saturating_sub(1)).unwrap_or(&[]);
    inner
        .iter()
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `child` may not do to `parent` (empty when nothing): see the module docs. Values
/// out of bounds are caught afterwards by `verify`.
pub fn violations(parent: &File, child: &File) -> Vec<String> {
    let (Some(p), Some(c)) = (&parent.harness, &child.harness) else {
        return vec!["no harness".into()];
    };
    let mut out = Vec::new();
    // @frozen items: the same code somewhere in the child.
    for (i, item) in p.items.iter().enumerate() {
        if is_frozen(item.annotations()) && !c.items.iter().any(|x| bare(x) == bare(item)) {
            out.push(format!(
                "`{}` is @frozen: keep it exactly as it was:\n{}",
                item_path(p, i).unwrap_or_default(),
                item_text(item)
            ));
        }
    }
    // Tools are the environment's: the same names and parameters.
    let sig = |h: &Harness| -> Vec<serde_json::Value> {
        h.items
            .iter()
            .filter_map(|i| match i {
                Item::Tool(t) => Some(bare(&(&t.name, &t.params))),
                _ => None,
            })
            .collect()
    };
    if sig(p) != sig(c) {
        let tools: Vec<String> = p
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Tool(_) => Some(item_text(i).lines().next().unwrap_or("").to_string()),
                _ => None,
            })
            .collect();
        out.push(format!(
            "the tools belong to the environment: keep their names and parameters, in order: {}",
            tools.join("; ")
        ));
    }
    // Fields: frozen ones unchanged, annotations unchanged, removals only to a default
    // inside the bounds.
    let child_owners = field_groups(c);
    for (owner, item, fields, specs) in field_groups(p) {
        if is_frozen(item.annotations()) {
            continue; // checked as a whole above
        }
        let theirs = child_owners
            .iter()
            .find(|(o, ..)| *o == owner)
            .map(|(_, _, f, _)| *f)
            .unwrap_or(&[]);
        for f in fields {
            let name = &f.name.name;
            let path = format!("{owner}.{name}");
            let other = theirs.iter().find(|x| x.name.name == *name);
            if is_frozen(&f.annotations) && other.is_none_or(|o| bare(o) != bare(f)) {
                out.push(format!("`{path}` is @frozen: keep it as it was"));
                continue;
            }
            match other {
                Some(o) if bare(&o.annotations) != bare(&f.annotations) => out.push(format!(
                    "`{path}`: keep its annotations (@evolve, @frozen) as they were"
                )),
                Some(_) => {}
                None => {
                    if let Some(why) = removal(specs, f, &path) {
                        out.push(why);
                    }
                }
            }
        }
    }
    for (owner, _, fields, _) in &child_owners {
        let before = field_groups(p)
            .into_iter()
            .find(|(o, ..)| o == owner)
            .map(|(_, _, f, _)| f)
            .unwrap_or(&[]);
        for f in fields.iter() {
            let new = !before.iter().any(|b| b.name.name == f.name.name);
            if new && !f.annotations.is_empty() {
                out.push(format!(
                    "`{owner}.{}`: do not add @evolve or @frozen annotations",
                    f.name.name
                ));
            }
        }
    }
    out
}

/// Why removing field `f` (which resets it to its default) is not allowed, if it is not.
fn removal(specs: &[FieldSpec], f: &Field, path: &str) -> Option<String> {
    let spec = specs.iter().find(|s| s.name == f.name.name)?;
    let keep = || Some(format!("`{path}` is not evolvable: keep it"));
    match (field_bounds(spec, Some(f)), spec.default) {
        (None, _) => keep(),
        (Some(_), None) => None, // unset is allowed
        (Some(Bounds::Num(iv)), Some(d)) => match d.num() {
            Some(x) if iv.contains(x) => None,
            _ => Some(format!(
                "removing `{path}` resets it to its default {d}, outside its bounds {}",
                bounds_text(&Bounds::Num(iv))
            )),
        },
        (Some(Bounds::Choices(cs)), Some(d)) => {
            if cs.iter().any(|c| *c == d.to_string()) {
                None
            } else {
                Some(format!(
                    "removing `{path}` resets it to {d}, not one of its choices"
                ))
            }
        }
        (Some(Bounds::Subset(_)), _) => None,
    }
}

/// Item-level changes from `parent` to `child`: `(kind, path)`, paths in the parent for
/// `Modified` and `Removed`, in the child for `Inserted` (as `Candidate::build` reads them).
fn diff_items(parent: &File, child: &File) -> Vec<(ChangeKind, String)> {
    let (Some(p), Some(c)) = (&parent.harness, &child.harness) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Sections, prompts and tools: by path.
    let keyed = |h: &Harness| -> Vec<(String, serde_json::Value)> {
        (0..h.items.len())
            .filter(|i| !matches!(h.items[*i], Item::Rule(_)))
            .filter_map(|i| Some((item_path(h, i)?, bare(&h.items[i]))))
            .collect()
    };
    let (pk, ck) = (keyed(p), keyed(c));
    for (path, v) in &pk {
        match ck.iter().find(|(q, _)| q == path) {
            Some((_, w)) if w != v => out.push((ChangeKind::Modified, path.clone())),
            Some(_) => {}
            None => out.push((ChangeKind::Removed, path.clone())),
        }
    }
    for (path, _) in &ck {
        if !pk.iter().any(|(q, _)| q == path) {
            out.push((ChangeKind::Inserted, path.clone()));
        }
    }
    // Rules: unchanged ones matched in order (longest common subsequence), then the rest
    // paired by name, then in order; a pair at another index is a remove and an insert.
    let rules = |h: &Harness| -> Vec<(Option<String>, serde_json::Value)> {
        rule_items(h)
            .into_iter()
            .filter_map(|i| match &h.items[i] {
                Item::Rule(r) => Some((r.name.as_ref().map(|n| n.name.clone()), bare(r))),
                _ => None,
            })
            .collect()
    };
    let (pr, cr) = (rules(p), rules(c));
    let (n, m) = (pr.len(), cr.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if pr[i].1 == cr[j].1 {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut pm, mut cm) = (vec![false; n], vec![false; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if pr[i].1 == cr[j].1 {
            pm[i] = true;
            cm[j] = true;
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    let mut pairs = Vec::new();
    for i in 0..n {
        let Some(name) = pr[i].0.as_ref().filter(|_| !pm[i]) else {
            continue;
        };
        if let Some(j) = (0..m).find(|&j| !cm[j] && cr[j].0.as_ref() == Some(name)) {
            pm[i] = true;
            cm[j] = true;
            pairs.push((i, j));
        }
    }
    let (rest_p, rest_c): (Vec<usize>, Vec<usize>) = (
        (0..n).filter(|&i| !pm[i]).collect(),
        (0..m).filter(|&j| !cm[j]).collect(),
    );
    for (&i, &j) in rest_p.iter().zip(&rest_c) {
        pairs.push((i, j));
    }
    for &(i, j) in &pairs {
        if i == j {
            out.push((ChangeKind::Modified, format!("rules[{i}]")));
        } else {
            out.push((ChangeKind::Removed, format!("rules[{i}]")));
            out.push((ChangeKind::Inserted, format!("rules[{j}]")));
        }
    }
    for &i in rest_p.iter().skip(rest_c.len()) {
        out.push((ChangeKind::Removed, format!("rules[{i}]")));
    }
    for &j in rest_c.iter().skip(rest_p.len()) {
        out.push((ChangeKind::Inserted, format!("rules[{j}]")));
    }
    out
}

// ---------------------------------------------------------------------------------------
// what the model is shown

/// The first request's user message: the harness, the failures, what may change, and the
/// language reference.
pub fn prompt(parent: &File, catalog: &FailureCatalog) -> String {
    prompt_with(parent, catalog, true)
}

/// [`prompt`], with or without the language reference.
fn prompt_with(parent: &File, catalog: &FailureCatalog, with_reference: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Current harness\n```harness\n{}```\n", print(parent));
    s.push_str(&failures(catalog));
    s.push('\n');
    s.push_str(&limits(parent));
    if with_reference {
        s.push('\n');
        s.push_str(&reference());
    }
    s.push_str(
        "\nWrite the RATIONALE line, then the complete new harness in a ```harness block.\n",
    );
    s
}

fn repair_prompt(parent: &File, text: &str, feedback: &str) -> String {
    format!(
        "Your harness was not accepted:\n{}\n\nYour harness:\n```harness\n{}\n```\n\n{}\n\
         Reply again in the same form: the RATIONALE line, then the complete fixed harness in a \
         ```harness block.\n",
        feedback.trim_end(),
        cut(text.trim_end(), 6000),
        limits(parent)
    )
}

/// What each class means, in a few words, for the model.
fn class_hint(c: FailureClass) -> &'static str {
    match c {
        FailureClass::MalformedCall => "replies that are not one valid tool call",
        FailureClass::Loop => "the same call repeated",
        FailureClass::ToolErrorIgnored => "a failed tool call was not retried",
        FailureClass::ToolTimeout => "tool calls timed out",
        FailureClass::StepBudget => "ran out of steps while making progress",
        FailureClass::PrematureFinish => "declared the task done too early",
        FailureClass::ContextOverflow => "the prompt outgrew the context or lost the goal",
        FailureClass::WrongAction => "calls the environment rejected, or no progress",
        FailureClass::Unknown => "no known pattern",
    }
}

/// The failure catalog: counts per class, most frequent first, with up to two trace
/// excerpts each (four classes at most).
pub fn failures(catalog: &FailureCatalog) -> String {
    let mut s = format!(
        "# Failures\n{} of {} train episodes failed.\n",
        catalog.failures, catalog.episodes
    );
    for (class, n) in catalog.ranked().into_iter().take(4) {
        let _ = writeln!(s, "- {} ({n}): {}", class_name(class), class_hint(class));
        if let Some(e) = catalog.classes.get(&class) {
            for ev in e.evidence.iter().take(2) {
                let _ = writeln!(
                    s,
                    "  task {} step {}: {}: {}",
                    ev.task,
                    ev.step,
                    one_line(&ev.note, 120),
                    one_line(&ev.excerpt, 160)
                );
            }
        }
    }
    s
}

fn bounds_text(b: &Bounds) -> String {
    match b {
        Bounds::Num(iv) => format!(
            "{}..{}",
            show(&to_value(iv.kind, iv.lo)),
            show(&to_value(iv.kind, iv.hi))
        ),
        Bounds::Choices(cs) => format!("one of {}", cs.join(", ")),
        Bounds::Subset(rs) => format!("a list of {} or prompt names", rs.join(", ")),
    }
}

/// The evolvable fields with their current values and bounds, the frozen items, and what
/// never changes.
pub fn limits(parent: &File) -> String {
    let mut s = String::from("# What you may change\n");
    let Some(h) = &parent.harness else {
        return s;
    };
    // One line per (owner group, field, value, bounds): tools with the same option value
    // share a line, `tools.{a,b}.retries`.
    let mut lines: Vec<(Vec<String>, String)> = Vec::new();
    let mut field_lines = |owner: &str, present: Option<&[Field]>, specs: &[FieldSpec]| {
        for spec in specs {
            let f = present.and_then(|fs| fs.iter().find(|f| f.name.name == spec.name));
            let Some(b) = field_bounds(spec, f) else {
                continue;
            };
            let now = f.map_or_else(
                || {
                    spec.default
                        .map_or("unset".into(), |d| format!("{d} (default)"))
                },
                |f| show(&f.value.kind),
            );
            let rest = format!("{} = {now}; {}", spec.name, bounds_text(&b));
            let tool = owner.starts_with("tools.");
            match lines
                .iter_mut()
                .find(|(o, r)| tool && *r == rest && o[0].starts_with("tools."))
            {
                Some((owners, _)) => owners.push(owner.to_string()),
                None => lines.push((vec![owner.to_string()], rest)),
            }
        }
    };
    for sec in schema::SECTIONS {
        let item = h
            .items
            .iter()
            .find(|i| matches!(i, Item::Section(x) if x.name.name == sec.name));
        if item.is_some_and(|i| is_frozen(i.annotations())) {
            continue;
        }
        let fields = match item {
            Some(Item::Section(x)) => Some(x.fields.as_slice()),
            _ => None,
        };
        field_lines(sec.name, fields, sec.fields);
    }
    for item in &h.items {
        if let Item::Tool(t) = item {
            if !is_frozen(&t.annotations) {
                field_lines(
                    &format!("tools.{}", t.name.name),
                    Some(t.options.as_deref().unwrap_or(&[])),
                    schema::TOOL_OPTIONS,
                );
            }
        }
    }
    for (owners, rest) in &lines {
        let owner = match owners.as_slice() {
            [one] => one.clone(),
            many => format!(
                "tools.{{{}}}",
                many.iter()
                    .map(|o| o.trim_start_matches("tools."))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let _ = writeln!(s, "- {owner}.{rest}");
    }
    s.push_str("- prompts and rules: edit, add or remove any that is not @frozen\n");
    let frozen: Vec<String> = (0..h.items.len())
        .filter(|i| is_frozen(h.items[*i].annotations()))
        .filter_map(|i| item_path(h, i))
        .collect();
    if !frozen.is_empty() {
        let _ = writeln!(s, "Frozen, keep exactly: {}", frozen.join(", "));
    }
    s.push_str("Never change: the tools' names and parameters, model.backend, annotations.\n");
    s
}

/// The language reference the model needs, generated from the schema (the same tables
/// docs/LANGUAGE.md is generated from), kept short: the item forms, the hooks, each
/// condition and action with the hooks where it is legal, the prompt variables.
pub fn reference() -> String {
    let writable = schema::HookSet::of(
        &schema::Hook::ALL
            .into_iter()
            .filter(|h| !h.is_read_only())
            .collect::<Vec<_>>(),
    );
    let hooks = |set: schema::HookSet| -> String {
        if set == schema::HookSet::ALL {
            "any hook".into()
        } else if set == writable {
            "any but step_end, task_end".into()
        } else {
            set.iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let names = |it: &mut dyn Iterator<Item = &'static str>| it.collect::<Vec<_>>().join(", ");
    let mut s = String::from(
        "# Language\n\
         harness NAME \"description\" { ITEMS }. Items: `loop { FIELD = VALUE }` (also model, \
         context); `prompt NAME \"\"\"text with {{vars}}\"\"\"`; `tool NAME(PARAM: TYPE) \"what it \
         does\"`; rules `on HOOK [as NAME] [when CONDITION] { one ACTION per line }`.\n",
    );
    let ro: Vec<&str> = schema::Hook::ALL
        .iter()
        .filter(|h| h.is_read_only())
        .map(|h| h.as_str())
        .collect();
    let _ = writeln!(
        s,
        "Hooks, in order: {} ({}: `log` only).",
        names(&mut schema::Hook::ALL.iter().map(|h| h.as_str())),
        ro.join(", ")
    );
    s.push_str("Conditions, combined with and, or, not [legal hooks]:\n");
    for d in schema::DETECTORS {
        let form = match d.args {
            DetectorArgs::None => d.name.to_string(),
            DetectorArgs::Tool => format!("{}(TOOL)", d.name),
            DetectorArgs::Named(args) => format!(
                "{}({})",
                d.name,
                names(&mut args.iter().map(|a| a.name)).replace(", ", " = N, ") + " = N"
            ),
        };
        // The names say what they detect; `repeated_action` is explained by its form.
        let _ = writeln!(s, "- {form} [{}]", hooks(d.hooks));
    }
    let _ = writeln!(
        s,
        "- counts {} compared: `step >= 5` (>, <, <=, ==, != too)",
        names(&mut schema::METRICS.iter().map(|m| m.name))
    );
    let _ = writeln!(
        s,
        "- texts {}: `output matches \"REGEX\"`",
        names(&mut schema::SUBJECTS.iter().map(|m| m.name))
    );
    s.push_str("Actions [legal hooks]:\n");
    for a in schema::ACTIONS {
        let usage = match a.message {
            MessageSpec::Variant(vs) => a.usage.replace("STRATEGY", &vs.join("|")),
            _ => a.usage.replace("  |  ", " or "),
        };
        let fallback = if a.can_fail {
            "; may be followed by `otherwise ACTION`"
        } else {
            ""
        };
        let _ = writeln!(s, "- {usage} [{}]: {}{fallback}", hooks(a.hooks), a.doc);
    }
    let _ = writeln!(
        s,
        "Prompt variables: {}.",
        schema::TEMPLATE_VARS
            .iter()
            .map(|v| format!("{{{{{}}}}}", v.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_split_into_rationale_and_harness() {
        let r = "Sure.\n**Rationale:** keep the goal in view\n```harness\nharness h {\n}\n```\nok";
        let (why, text) = split_reply(r);
        assert_eq!(why.as_deref(), Some("keep the goal in view"));
        assert_eq!(text, "harness h {\n}\n");
        let (why, text) = split_reply("RATIONALE: x\nharness h { a }\ntrailing");
        assert_eq!(why.as_deref(), Some("x"));
        assert_eq!(text, "harness h { a }\n");
        // One line, as a `scripted:` file holds it.
        let (why, text) = split_reply("RATIONALE: more steps harness h \"d\" { a } ok");
        assert_eq!(why.as_deref(), Some("more steps"));
        assert_eq!(text, "harness h \"d\" { a }\n");
        let (why, text) = split_reply("no harness here");
        assert_eq!(why, None);
        assert_eq!(text, "no harness here");
        // A fence that never closes, multi-byte text: no panic.
        let (_, text) = split_reply("```harness\nharness é {");
        assert_eq!(text, "harness é {\n");
        let (_, text) = split_reply("the harness: harness é { x");
        assert_eq!(text, "harness é { x\n");
        for s in [
            "",
            "```",
            "rationale",
            "RATIONALE:",
            "é```é",
            "harness",
            "}harness",
        ] {
            let _ = split_reply(s);
        }
    }

    #[test]
    fn cutting_respects_character_boundaries() {
        let s = "ééééé";
        assert!(cut(s, 3).starts_with('é'));
        assert_eq!(cut(s, 100), s);
    }

    #[test]
    fn the_reference_is_short_and_generated() {
        let r = reference();
        for d in schema::DETECTORS {
            assert!(r.contains(d.name));
        }
        for a in schema::ACTIONS {
            assert!(r.contains(a.name));
        }
        assert!(r.len() < 4000, "{} chars", r.len());
    }
}
