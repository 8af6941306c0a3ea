//! What the simulated model reads in a request: everything here is derived from the
//! request's messages, tool list and decoding mode — the text a real model would see —
//! never from the environment's hidden state. (The expert action, the one piece of
//! hidden knowledge the simulation uses, is handled in [`super`].)
//!
//! # Messages by role and position
//!
//! Messages are grouped into *turns*: a turn is the run of non-assistant messages that
//! follows one of the model's replies (the messages before its first reply are the
//! *preamble*). Each non-assistant message is one of three things, told apart by its role
//! and its position, never by its wording:
//!
//! - an **instruction**: a system message. Its effect fades with its distance from the end
//!   of the context (the prompt tokens after it): `exp(-distance / instruction_reach)`.
//! - a **note**: a message the harness added in a turn besides the environment's answer.
//!   After a reply that carried no call at all, after a `finish` call (an episode does not
//!   go on after a finish the environment accepted), or after a plan, nothing of the turn
//!   came from the environment, so every message of it is a note. Otherwise one message
//!   of the turn is the environment's answer — the one that reads least like an
//!   instruction (fewest topic words, the first on a tie) — and the others are notes. A
//!   note's effect fades by `note_decay` per turn of age.
//! - an **observation**: the environment's answer (and the preamble's user messages). It
//!   has no instruction effect; the model reads it for names, errors and what its last
//!   call did.
//!
//! # What a message is about
//!
//! A note is read in the light of its *situation*: what the model's own reply before it
//! did — no call (format), a `finish` (finishing too early), a call it had already made
//! (a loop), a call the environment reported as failed (an error), a call with no visible
//! effect (a wrong action). Its words shift that reading: each sentence is matched against
//! broad topic lexicons ([`lexicon`]: stems and phrases, many per topic, so a paraphrase
//! lands on the same topic), with the situation's topic counting double. A note with no
//! topic words still acts on its situation's topic, at `generic_note_share`. An
//! instruction has no situation: only its words say what it is about.
//!
//! Every message's effect is scaled by its **specificity**: the share of a sentence's
//! concrete references — a declared tool's name, a call example, a quoted string, a number,
//! a word of the goal — `spec_floor + (1 - spec_floor) * min(1, references / 2)`.
//! The effects of all messages on a topic combine as independent chances:
//! `1 - prod(1 - s)`.

use crate::call::{ToolCall, ToolSpec};
use crate::ir::TypeIr;
use crate::message::{estimate_tokens, Role};
use crate::models::{request_tokens, ModelRequest};
use crate::parse::parse_call;
use crate::repair::extract_action;

/// What a harness message can be about. Each topic acts on one part of the policy (see
/// docs/SIM_MODEL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Answer with one well-formed call.
    Format,
    /// Stop repeating yourself.
    Loop,
    /// Do not finish before the goal holds; check first.
    FinishCaution,
    /// Time is short: finish.
    Urgency,
    /// A call failed: read the error, retry or change it.
    Error,
    /// Use actions and names that exist here.
    Grounding,
}

impl Topic {
    pub const ALL: [Topic; 6] = [
        Topic::Format,
        Topic::Loop,
        Topic::FinishCaution,
        Topic::Urgency,
        Topic::Error,
        Topic::Grounding,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Topic::Format => "format",
            Topic::Loop => "loop",
            Topic::FinishCaution => "finish caution",
            Topic::Urgency => "urgency",
            Topic::Error => "error",
            Topic::Grounding => "grounding",
        }
    }
}

/// The words and phrases that say a sentence is about `topic`. An entry with a space or
/// punctuation in it is a phrase (a substring of the lowercased sentence); any other entry
/// is a stem (the start of a word). Each entry counts once per sentence.
pub fn lexicon(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Format => &[
            "format",
            "syntax",
            "repl",
            "respon",
            "answer",
            "writ",
            "output",
            "parse",
            "well-formed",
            "exactly one",
            "only one",
            "one action",
            "one call",
            "one tool",
            "single",
            "nothing else",
            "nothing more",
            "no other text",
            "no explanation",
            "no commentary",
            "just the",
            "only the",
            "call alone",
            "alone",
            "e.g.",
            "for example",
            "such as",
            "like ",
            "in the form",
            "shaped",
            "expected",
            "quot",
            "parenthes",
        ],
        Topic::Loop => &[
            "repeat",
            "repetit",
            "same",
            "differen",
            "another",
            "other",
            "else",
            "stuck",
            "loop",
            "circle",
            "already",
            "tried",
            "vary",
            "change your approach",
            "switch",
            "progress",
            "nowhere",
            "did not work",
            "didn't work",
            "did not help",
            "not working",
            "over and over",
            "keep doing",
            "new one",
            "something new",
            "new move",
        ],
        Topic::FinishCaution => &[
            "verif",
            "check",
            "confirm",
            "make sure",
            "ensure",
            "double-check",
            "premature",
            "too early",
            "too soon",
            "not yet",
            "hold on",
            "until you",
            "before you finish",
            "before finishing",
            "before ending",
            "before you end",
            "before declaring",
            "before you stop",
            "condition",
            "satisf",
            "really",
            "every part",
        ],
        Topic::Urgency => &[
            "few steps",
            "steps left",
            "steps remain",
            "turns left",
            "turns remain",
            "remaining",
            "step limit",
            "limit",
            "budget",
            "running out",
            "out of steps",
            "hurry",
            "quick",
            "efficien",
            "soon",
            "now",
            "immediately",
            "right away",
            "wrap",
            "with what you have",
            "nearly up",
            "almost",
            "handful",
            "close to the",
            "conclude",
            "bring the task to an end",
        ],
        Topic::Error => &[
            "error",
            "fail",
            "broke",
            "went wrong",
            "problem",
            "exception",
            "timed out",
            "timeout",
            "too long",
            "out of time",
            "in time",
            "time limit",
            "no answer came",
            "did not respond",
            "no response",
            "unavailable",
            "rejected",
            "retry",
            "try again",
            "once more",
            "did not succeed",
            "didn't succeed",
            "did not go through",
            "unsuccessful",
            "fix",
            "correct the",
            "adjust",
            "repair",
            "modify",
        ],
        Topic::Grounding => &[
            "exact name",
            "exactly as",
            "as written",
            "as they appear",
            "word for word",
            "precise name",
            "the way the",
            "observation",
            "description",
            "possible",
            "available",
            "admissible",
            "valid action",
            "valid option",
            "valid command",
            "choose one of",
            "one of:",
            "one of these",
            "pick from",
            "option",
            "listed",
            "spell",
            "cannot",
            "can't",
            "not something you can",
            "names that appear",
        ],
    }
}

/// Topic words per topic in one sentence.
fn topic_hits(sentence: &str) -> [u32; 6] {
    let mut s = sentence.to_lowercase();
    let mut hits = [0u32; 6];
    // Phrases first; the words of a phrase found are used up, so "nothing else" is a
    // format phrase and not also the loop word "else".
    for t in Topic::ALL {
        for entry in lexicon(t).iter().filter(|e| is_phrase(e)) {
            if s.contains(entry) {
                hits[t.index()] += 1;
                s = s.replace(entry, " ");
            }
        }
    }
    let words: Vec<&str> = s
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    for t in Topic::ALL {
        for entry in lexicon(t).iter().filter(|e| !is_phrase(e)) {
            if words.iter().any(|w| w.starts_with(entry)) {
                hits[t.index()] += 1;
            }
        }
    }
    hits
}

fn is_phrase(entry: &str) -> bool {
    entry.chars().any(|c| !c.is_alphanumeric())
}

fn sentences_of(text: &str) -> Vec<&str> {
    sentences(text)
}

/// Verbs an instruction opens with (the environment describes; the harness tells).
const IMPERATIVES: &[&str] = &[
    "read", "change", "try", "use", "choose", "pick", "write", "reply", "answer", "send", "give",
    "check", "verify", "make", "do", "don't", "keep", "remember", "select", "go", "consider",
    "work", "decide", "figure", "fix", "spell", "copy", "refer", "only", "please", "stay", "wrap",
    "end", "finish", "bring", "first", "hold", "confirm", "modify", "alter", "vary", "ask",
    "simplify", "think", "ponder", "never", "prefer", "call", "avoid", "stop", "put", "respond",
    "output", "look", "take",
];

/// Whether a sentence opens with an imperative verb (or a negation of one).
fn opens_with_imperative(sentence: &str) -> bool {
    let first = sentence
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .find(|w| !w.is_empty())
        .map(str::to_lowercase);
    first.is_some_and(|w| IMPERATIVES.contains(&w.as_str()))
}

/// The sentences of a message: split at line ends and at `.`, `!`, `?`, `;` followed by
/// a space (so `e.g.` and call examples stay whole).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            let end = matches!(bytes[i], b'.' | b'!' | b'?' | b';')
                && bytes.get(i + 1).is_none_or(|b| *b == b' ');
            if end {
                // `e.g.` is an abbreviation, not a sentence end.
                let before = &line[start..=i];
                if !before.to_lowercase().ends_with("e.g.") {
                    out.push(before.trim());
                    start = i + 1;
                }
            }
        }
        out.push(line[start..].trim());
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Words too common to make a goal word a concrete reference.
const STOPWORDS: &[&str] = &[
    "the", "and", "with", "from", "into", "that", "this", "then", "them", "your", "their", "some",
    "about", "each", "every", "onto", "there", "where", "which", "have", "what",
];

/// The content words of the goal line: at least four letters, not a stopword.
pub fn goal_words(goal: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in goal
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4 && !STOPWORDS.contains(w))
    {
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// How concrete a sentence is: its distinct references — a declared tool's name followed
/// by `(`, a quoted string, a number, a goal word.
fn references(sentence: &str, tools: &[ToolSpec], goal_words: &[String]) -> usize {
    let s = sentence.to_lowercase();
    let mut n = 0;
    n += tools
        .iter()
        .filter(|t| s.contains(&format!("{}(", t.name.to_lowercase())))
        .count();
    n += s.matches('"').count() / 2;
    n += s
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .count()
        .min(2);
    n += goal_words
        .iter()
        .filter(|g| {
            s.split(|c: char| !c.is_alphanumeric())
                .any(|w| w == g.as_str())
        })
        .count();
    n
}

/// One message as the model reads it, whatever its position: per sentence, its topic words
/// and its specificity. Computed once per (text, tools, goal) and cached per thread, since
/// every request of an episode repeats most of the previous one's messages.
#[derive(Debug, Clone, PartialEq)]
struct Analysis {
    sentences: Vec<([u32; 6], f64)>,
    /// How much the message reads like an instruction: its topic words other than error
    /// words (which the environment's own failure reports carry too), plus its sentences
    /// that open with an imperative. The environment's answer is the turn's message with
    /// the fewest.
    cues: u32,
    /// The message's specificity: that of its most concrete sentence.
    spec: f64,
}

impl Analysis {
    fn of(text: &str, tools: &[ToolSpec], goal_words: &[String], spec_floor: f64) -> Analysis {
        let sentences: Vec<([u32; 6], f64)> = sentences(text)
            .into_iter()
            .map(|s| (topic_hits(s), specificity(s, tools, goal_words, spec_floor)))
            .collect();
        let cues = sentences
            .iter()
            .map(|(h, _)| {
                Topic::ALL
                    .iter()
                    .filter(|t| **t != Topic::Error)
                    .map(|t| h[t.index()])
                    .sum::<u32>()
            })
            .sum::<u32>()
            + sentences_of(text)
                .iter()
                .filter(|s| opens_with_imperative(s))
                .count() as u32;
        let spec = sentences
            .iter()
            .map(|(_, s)| *s)
            .fold(spec_floor.clamp(0.0, 1.0), f64::max);
        Analysis {
            sentences,
            cues,
            spec,
        }
    }
}

thread_local! {
    static ANALYSES: std::cell::RefCell<std::collections::HashMap<u64, std::rc::Rc<Analysis>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Entries kept per thread before the cache starts over.
const CACHE_LIMIT: usize = 20_000;

/// The analysis of `text` in a request with these tools and goal, from the cache.
fn analysis(
    text: &str,
    context_key: u64,
    tools: &[ToolSpec],
    goal_words: &[String],
    spec_floor: f64,
) -> std::rc::Rc<Analysis> {
    let key = crate::rng::hash_str(context_key ^ spec_floor.to_bits(), text);
    ANALYSES.with(|cache| {
        if let Some(a) = cache.borrow().get(&key) {
            return a.clone();
        }
        let a = std::rc::Rc::new(Analysis::of(text, tools, goal_words, spec_floor));
        let mut c = cache.borrow_mut();
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, a.clone());
        a
    })
}

/// How a message is read: how strongly it speaks to each topic.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Hints([f64; 6]);

impl Hints {
    pub fn get(&self, t: Topic) -> f64 {
        self.0[t.index()]
    }

    /// Combine another message's effect as an independent chance.
    fn absorb(&mut self, t: Topic, s: f64) {
        let s = s.clamp(0.0, 1.0);
        let v = &mut self.0[t.index()];
        *v = 1.0 - (1.0 - *v) * (1.0 - s);
    }
}

/// The reading parameters a tier sets (see [`super::SimParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadParams {
    pub note_decay: f64,
    pub instruction_reach_tokens: f64,
    pub instruction_strength: f64,
    pub generic_note_share: f64,
    pub spec_floor: f64,
}

/// What the model's reply before a turn did, as the model knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Situation {
    /// No reply before it: the preamble.
    Start,
    /// A plan.
    Plan,
    /// A reply with no call in it at all.
    NoCall,
    /// A reply that was not a bare call but had one in it (the harness may have
    /// recovered it).
    Sloppy,
    /// A call of the finishing tool.
    Finish,
    /// A call the environment answered with a failure.
    Error,
    /// A call it had already made in this context.
    Repeat,
    /// A call whose subject the answer does not mention (no visible effect).
    NoEffect,
    /// A call that did something.
    Fine,
}

impl Situation {
    fn topic(self) -> Option<Topic> {
        match self {
            Situation::NoCall | Situation::Sloppy => Some(Topic::Format),
            Situation::Finish => Some(Topic::FinishCaution),
            Situation::Error => Some(Topic::Error),
            Situation::Repeat => Some(Topic::Loop),
            Situation::NoEffect => Some(Topic::Grounding),
            Situation::Start | Situation::Plan | Situation::Fine => None,
        }
    }

    /// Nothing in the turn came from the environment.
    fn all_notes(self) -> bool {
        matches!(
            self,
            Situation::NoCall | Situation::Finish | Situation::Plan
        )
    }
}

/// Error reports in observations: how the model notices that a call failed.
pub const ERROR_WORDS: &[&str] = &["error", "timed out", "failed", "unavailable", "rate limit"];
/// A request for a plan (the engine's default plan prompt says both).
pub const PLAN_WORDS: &[&str] = &["plan"];
pub const NO_CALL_WORDS: &[&str] = &["do not call", "don't call", "before acting"];
/// A request to reflect.
pub const REFLECT_WORDS: &[&str] = &["reflect"];
/// The prefix of the model's own plan replies; a plan in the context raises competence.
pub const PLAN_PREFIX: &str = "Plan:";
/// Tool names the model treats as a way to check its work before finishing.
/// The first one the harness declares, in this order, is used.
pub const VERIFY_TOOLS: &[&str] = &[
    "examine", "check", "verify", "inspect", "look", "status", "fetch", "get", "read",
];
/// Tool names that end an episode.
pub const FINISH_TOOLS: &[&str] = &["finish", "submit", "answer", "done"];

fn any(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| t.contains(w))
}

/// The features of one request the policy depends on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Prompt tokens under the runtime's estimate.
    pub tokens: u64,
    /// The goal line seen at the start of the episode still appears somewhere.
    pub goal_present: bool,
    /// The last message asks for a plan (and for no call).
    pub plan_requested: bool,
    /// One of the model's own plans is still in the context.
    pub plan_in_context: bool,
    /// The current turn asks for a reflection.
    pub reflect_now: bool,
    /// How strongly the harness's instructions and notes speak to each topic now.
    pub hints: Hints,
    /// The current turn reports a tool failure.
    pub last_error: bool,
    /// The model's own earlier calls still in the context, oldest first (a malformed
    /// reply counts with the call buried in it, as the model knows what it meant).
    pub calls: Vec<ToolCall>,
    /// All message text, lowercased, for grounding checks.
    pub visible: String,
    /// The choices of the declared tools' `enum` parameters, lowercased: part of the
    /// schema the model is given, so seen.
    pub choices: Vec<String>,
    /// The expert's call, in the harness's canonical syntax, appears in the current turn.
    pub expert_listed: bool,
    /// Share of the goal's content words that the model's own calls have named: how far
    /// along it believes it is.
    pub progress: f64,
    /// The current turn's text names the subject of the model's last call: that call
    /// visibly did something.
    pub last_effect: bool,
}

/// One turn: the reply before it (an assistant message index) and its messages.
struct Turn {
    reply: Option<usize>,
    messages: Vec<usize>,
    /// 0 for the current turn.
    age: usize,
}

fn turns_of(req: &ModelRequest) -> Vec<Turn> {
    let mut turns = vec![Turn {
        reply: None,
        messages: Vec::new(),
        age: 0,
    }];
    for (i, m) in req.messages.iter().enumerate() {
        if m.role == Role::Assistant {
            turns.push(Turn {
                reply: Some(i),
                messages: Vec::new(),
                age: 0,
            });
        } else if let Some(t) = turns.last_mut() {
            t.messages.push(i);
        }
    }
    let n = turns.len();
    for (k, t) in turns.iter_mut().enumerate() {
        t.age = n - 1 - k;
    }
    turns
}

/// Whether `call` is a call of a tool that ends the episode.
pub fn is_finish(call: &ToolCall) -> bool {
    FINISH_TOOLS.contains(&call.tool.as_str())
}

impl Reading {
    /// Read `req`. `goal` is the goal line the model saw at the start of the episode.
    pub fn of(
        req: &ModelRequest,
        goal: Option<&str>,
        expert_text: Option<&str>,
        rp: &ReadParams,
    ) -> Reading {
        let mut r = Reading {
            tokens: request_tokens(req),
            ..Reading::default()
        };
        let lower: Vec<String> = req
            .messages
            .iter()
            .map(|m| m.content.to_lowercase())
            .collect();
        r.visible = lower.join("\n");
        r.choices = req
            .tools
            .iter()
            .flat_map(|t| &t.params)
            .filter_map(|p| match &p.ty {
                TypeIr::Enum(vs) => Some(vs.iter().map(|v| v.to_lowercase())),
                _ => None,
            })
            .flatten()
            .collect();
        r.goal_present = goal.is_some_and(|g| {
            let g = g.to_lowercase();
            lower.iter().any(|m| m.contains(&g))
        });
        let goal_words = goal.map(goal_words).unwrap_or_default();
        let mut context_key = crate::rng::hash_str(0x7265_6164, &goal_words.join(" "));
        for t in &req.tools {
            context_key = crate::rng::hash_str(context_key, &t.name);
        }
        let analyses: Vec<std::rc::Rc<Analysis>> = req
            .messages
            .iter()
            .map(|m| {
                if m.role == Role::Assistant {
                    std::rc::Rc::new(Analysis {
                        sentences: Vec::new(),
                        cues: 0,
                        spec: 0.0,
                    })
                } else {
                    analysis(
                        &m.content,
                        context_key,
                        &req.tools,
                        &goal_words,
                        rp.spec_floor,
                    )
                }
            })
            .collect();

        // Tokens after each message: its distance from the end of the context.
        let sizes: Vec<u64> = req
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .collect();
        let mut after = vec![0u64; sizes.len()];
        let mut acc = 0u64;
        for i in (0..sizes.len()).rev() {
            after[i] = acc;
            acc += sizes[i];
        }

        let turns = turns_of(req);
        let mut calls_so_far: Vec<ToolCall> = Vec::new();
        for turn in &turns {
            let situation = match turn.reply {
                None => Situation::Start,
                Some(i) => {
                    let text = &req.messages[i].content;
                    let sit =
                        self::situation(text, &req.tools, &calls_so_far, turn, &lower, &analyses);
                    if text.trim_start().starts_with(PLAN_PREFIX) {
                        r.plan_in_context = true;
                    } else if let Some(c) = own_call(text, &req.tools) {
                        calls_so_far.push(c);
                    }
                    sit
                }
            };
            let notes = note_indices(turn, situation, &analyses);
            for &i in &turn.messages {
                let m = &req.messages[i];
                let t = &lower[i];
                if turn.age == 0 {
                    r.expert_listed |= expert_text.is_some_and(|e| m.content.contains(e));
                    // The engine's "Invalid action (...)" note may quote the model's own
                    // "Reflection:" back; that is not a request to reflect.
                    r.reflect_now |= any(t, REFLECT_WORDS) && !t.contains("invalid action");
                }
                let instruction = m.role == Role::System;
                let note = notes.contains(&i);
                // Only the environment's answer reports whether the call failed: a note
                // that says "failed" speaks about it, it does not report it.
                if turn.age == 0 && !note && !instruction {
                    r.last_error |= situation != Situation::NoCall && any(t, ERROR_WORDS);
                }
                if !(instruction || note) {
                    continue;
                }
                let weight = if note {
                    rp.note_decay.clamp(0.0, 1.0).powi(turn.age as i32)
                } else {
                    let reach = rp.instruction_reach_tokens.max(1.0);
                    rp.instruction_strength * (-(after[i] as f64) / reach).exp()
                };
                let sit_topic = if note { situation.topic() } else { None };
                read_message(&analyses[i], weight, sit_topic, rp, &mut r.hints);
            }
        }
        r.calls = calls_so_far;
        r.progress = progress(&r.calls, &goal_words);
        r.last_effect = turns.last().is_some_and(|t| {
            t.reply.is_some()
                && r.calls.last().and_then(subject_of).is_some_and(|s| {
                    let s = s.to_lowercase();
                    t.messages.iter().any(|&i| lower[i].contains(&s))
                })
        });
        r.plan_requested = req.messages.last().is_some_and(|m| {
            let t = m.content.to_lowercase();
            m.role != Role::Assistant && any(&t, PLAN_WORDS) && any(&t, NO_CALL_WORDS)
        });
        r
    }

    /// How many of its calls before the last one repeat the last one back to back (0 when
    /// the last two differ).
    pub fn repeat_run(&self) -> usize {
        let Some(last) = self.calls.last() else {
            return 0;
        };
        self.calls
            .iter()
            .rev()
            .skip(1)
            .take_while(|c| *c == last)
            .count()
    }

    /// The model's previous call, if one is still in the context.
    pub fn last_call(&self) -> Option<&ToolCall> {
        self.calls.last()
    }

    /// Every string argument of `call` is grounded in the context: the model has seen the
    /// names it would need to write this call. A choice of a declared `enum` parameter is
    /// always seen. A short argument (a name such as
    /// `"apple 1"` or `"T-1042"`) must appear verbatim; composed text — at least
    /// [`COMPOSED_WORDS`] words, such as a search query or a message — is written in the
    /// model's own words, so only the words in it that carry a digit (ids, numbers: what
    /// cannot be guessed) must appear.
    pub fn grounded(&self, call: &ToolCall) -> bool {
        call.args.iter().all(|a| match a.value.as_str() {
            Some(s) => self.grounded_text(s),
            None => true,
        })
    }

    fn grounded_text(&self, s: &str) -> bool {
        let s = s.to_lowercase();
        if self.visible.contains(&s) || self.choices.contains(&s) {
            return true;
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        words.len() >= COMPOSED_WORDS
            && words
                .iter()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
                .all(|w| self.visible.contains(w))
    }
}

/// What the model's reply at `text` did, judged from the reply and the turn after it.
fn situation(
    text: &str,
    tools: &[ToolSpec],
    earlier: &[ToolCall],
    turn: &Turn,
    lower: &[String],
    analyses: &[std::rc::Rc<Analysis>],
) -> Situation {
    if text.trim_start().starts_with(PLAN_PREFIX) {
        return Situation::Plan;
    }
    let Some(call) = own_call(text, tools) else {
        return Situation::NoCall;
    };
    if is_finish(&call) {
        return Situation::Finish;
    }
    if parse_call(text, tools).is_err() {
        return Situation::Sloppy;
    }
    // Only the environment's answer says what the call did.
    let answer = answer_index(turn, analyses);
    if answer.is_some_and(|i| any(&lower[i], ERROR_WORDS)) {
        return Situation::Error;
    }
    if earlier.contains(&call) {
        return Situation::Repeat;
    }
    let effect = subject_of(&call).is_none_or(|s| {
        let s = s.to_lowercase();
        answer.is_some_and(|i| lower[i].contains(&s))
    });
    if effect {
        Situation::Fine
    } else {
        Situation::NoEffect
    }
}

/// The messages of `turn` that are the harness's notes (see the module docs).
fn note_indices(
    turn: &Turn,
    situation: Situation,
    analyses: &[std::rc::Rc<Analysis>],
) -> Vec<usize> {
    if turn.reply.is_none() {
        return Vec::new();
    }
    if situation.all_notes() {
        return turn.messages.clone();
    }
    let answer = answer_index(turn, analyses);
    turn.messages
        .iter()
        .copied()
        .filter(|&i| Some(i) != answer)
        .collect()
}

/// The environment's answer in a turn after a call that went through: the message that
/// reads least like an instruction (the first on a tie).
fn answer_index(turn: &Turn, analyses: &[std::rc::Rc<Analysis>]) -> Option<usize> {
    turn.messages
        .iter()
        .copied()
        .min_by_key(|&i| (analyses[i].cues, i))
}

/// Adds one message's effect to `hints`: its topic words (the situation's counting
/// [`SITUATION_WEIGHT`] times) share `weight` times its specificity; a note without topic
/// words acts on its situation's topic at `generic_note_share`. One message is one push,
/// however many sentences say it.
fn read_message(
    a: &Analysis,
    weight: f64,
    situation: Option<Topic>,
    rp: &ReadParams,
    hints: &mut Hints,
) {
    let mut hits = [0.0f64; 6];
    for (h, _) in &a.sentences {
        for t in Topic::ALL {
            hits[t.index()] += f64::from(h[t.index()]);
        }
    }
    if let Some(t) = situation {
        hits[t.index()] *= SITUATION_WEIGHT;
    }
    let total: f64 = hits.iter().sum();
    if total <= 0.0 {
        if let Some(t) = situation {
            hints.absorb(t, weight * a.spec * rp.generic_note_share);
        }
        return;
    }
    for t in Topic::ALL {
        let share = hits[t.index()] / total;
        if share > 0.0 {
            hints.absorb(t, weight * a.spec * share);
        }
    }
}

/// How much more a topic word counts when it is about the note's situation: context
/// disambiguates ("try another tool" after an error is about the error).
pub const SITUATION_WEIGHT: f64 = 3.0;

/// `spec_floor + (1 - spec_floor) * min(1, references / 2)`.
fn specificity(sentence: &str, tools: &[ToolSpec], goal_words: &[String], floor: f64) -> f64 {
    let refs = references(sentence, tools, goal_words) as f64;
    let floor = floor.clamp(0.0, 1.0);
    floor + (1.0 - floor) * (refs / 2.0).min(1.0)
}

/// Share of `goal_words` named by some string argument of `calls`.
fn progress(calls: &[ToolCall], goal_words: &[String]) -> f64 {
    if goal_words.is_empty() {
        return 0.0;
    }
    let named = goal_words
        .iter()
        .filter(|g| {
            calls.iter().any(|c| {
                c.args.iter().any(|a| {
                    a.value.as_str().is_some_and(|v| {
                        v.to_lowercase()
                            .split(|ch: char| !ch.is_alphanumeric())
                            .any(|w| w == g.as_str())
                    })
                })
            })
        })
        .count();
    named as f64 / goal_words.len() as f64
}

/// The first short string argument of a call: the thing it acts on.
pub fn subject_of(c: &ToolCall) -> Option<&str> {
    c.args.iter().find_map(|a| {
        let s = a.value.as_str()?;
        (s.split_whitespace().count() < COMPOSED_WORDS && !s.trim().is_empty()).then_some(s)
    })
}

/// An argument of this many words or more is composed text, not a name (see
/// [`Reading::grounded`]).
pub const COMPOSED_WORDS: usize = 4;

/// The call a reply of the model's own amounts to, as the model meant it.
fn own_call(text: &str, tools: &[ToolSpec]) -> Option<ToolCall> {
    parse_call(text, tools)
        .ok()
        .or_else(|| extract_action(text, tools))
}

/// Markers that introduce the goal, in order of preference: a `goal:` anywhere in the
/// request wins over a `task:`.
pub const GOAL_MARKERS: &[&str] = &["goal:", "task:"];

/// The goal line of a request: the text after the first `goal:` marker (any case) up to
/// the end of its line, if at least three characters long; failing that, the same after a
/// `task:` marker. This is how the model learns the goal at the start of an episode: the
/// engine states it in the system prompt (`Your goal: ...`) or in a `Goal: ...` message,
/// and a system prompt that embeds `{{task.goal}}` without either marker still has the
/// environment's first observation, which environments introduce as `Task: ...`.
pub fn goal_line(req: &ModelRequest) -> Option<String> {
    GOAL_MARKERS.iter().find_map(|marker| {
        req.messages.iter().find_map(|m| {
            // ASCII lowercasing keeps byte offsets, so `at` indexes the original text too.
            let at = m.content.to_ascii_lowercase().find(marker)?;
            let rest = m.content.get(at + marker.len()..)?;
            let line = rest.lines().next().unwrap_or("").trim();
            (line.chars().count() >= 3).then(|| line.to_string())
        })
    })
}

/// How one text is read as a note in a situation, for tests and docs: the effect it would
/// have on each topic as the only note of the current turn.
pub fn note_effect(
    text: &str,
    situation_topic: Option<Topic>,
    rp: &ReadParams,
    tools: &[ToolSpec],
    goal: &str,
) -> Hints {
    let mut h = Hints::default();
    let a = Analysis::of(text, tools, &goal_words(goal), rp.spec_floor);
    read_message(&a, 1.0, situation_topic, rp, &mut h);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_call_examples_and_abbreviations_whole() {
        assert_eq!(
            sentences("Answer with one call, e.g. go(\"table 1\"). Then stop.\nNext line"),
            vec![
                "Answer with one call, e.g. go(\"table 1\").",
                "Then stop.",
                "Next line"
            ]
        );
    }

    #[test]
    fn topics_come_from_stems_and_phrases() {
        let h = topic_hits("You keep doing the same thing. Do something else.");
        assert!(h[Topic::Loop.index()] >= 2, "{h:?}");
        let h = topic_hits("Make sure the goal is really met before finishing.");
        assert!(h[Topic::FinishCaution.index()] >= 2, "{h:?}");
        assert_eq!(
            topic_hits("You open the drawer 1. In it you see a key."),
            [0; 6]
        );
    }

    #[test]
    fn goal_words_skip_short_and_common_words() {
        assert_eq!(
            goal_words("put a clean apple in the fridge"),
            vec!["clean", "apple", "fridge"]
        );
    }
}
