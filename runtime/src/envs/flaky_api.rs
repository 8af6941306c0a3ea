//! `flaky_api`: multi-step tool use against a ticketing API that misbehaves on a seeded
//! schedule.
//!
//! # Tasks
//!
//! The task index fixes a set of 12–18 tickets (id, title, customer, status, priority,
//! assignee) and a goal about exactly one of them, "the open ticket from CUSTOMER about
//! TOPIC". Distractors share the topic (other customers), the customer (other topics),
//! or both (an older, *closed* duplicate), so an agent has to `fetch` to be sure. Four
//! families, `task % 4`:
//!
//! | family | update | notify | answer |
//! |---|---|---|---|
//! | escalate | `priority=urgent` | `sms` mentioning the id | the id |
//! | close | `status=closed` | `email` mentioning the id | the id |
//! | reassign | `assignee=NAME`, `status=pending` | `email` mentioning the id | the id |
//! | lookup | — | — | the assignee's name |
//!
//! **Success** is checked at `finish(answer)` on the final state: the target has the
//! required field values and is otherwise unchanged, every other ticket is as it started, exactly the required
//! notifications were sent (one, or none for lookup — a notification cannot be unsent,
//! and a duplicate counts), and the answer equals the expected one (case and surrounding
//! whitespace, quotes and a final period ignored).
//!
//! # Tools
//!
//! As in `examples/flaky_api.harness`: `search(query, limit?)` (every query word must
//! occur, as a substring, in the title or customer; results show id, title and customer, not status;
//! `limit` defaults to 5, at most 20), `fetch(id)`, `update(id, fields)` (each field
//! `key=value`, keys `status`, `priority`, `assignee`), `notify(channel, message)`,
//! `finish(answer)`. Bad arguments (unknown id, bad field, empty message) are permanent
//! `Error`s: retrying them fails the same way.
//!
//! # Faults
//!
//! Every call except `finish` draws from a schedule fixed by `(task, seed)` and indexed by
//! the call's position in the episode (retries count — they are calls):
//!
//! - **transient** (`Error`, "503 ... try again"): no effect; the next call never fails,
//!   so one retry succeeds (it may be slow);
//! - **rate limit** (`Error`, "429 ..."): this call and the next 1–2 calls are refused
//!   whatever they are; the environment cannot see the engine's clock, so "waiting" is
//!   counted in calls: a retry budget of 3 gets through any window;
//! - **slow**: the call *works* but takes 1.5–6 s. A harness with a tool `timeout` below
//!   that sees a timeout after `timeout` ms and can retry (the server already applied the
//!   call: `update` is idempotent, `notify` is not — a blind retry of a slow `notify`
//!   sends it twice); without a timeout it waits the full latency on the virtual clock.
//!
//! Other calls take 40–250 ms. At most [`MAX_FAILING_CALLS`] calls of an episode fail
//! (transient or rate limited), so the expert always finishes within [`STEP_LIMIT`].

use std::collections::BTreeSet;

use serde_json::Value;

use crate::call::{ToolCall, ToolSpec};
use crate::env::{Env, FailureKind, Observation, StepOutcome, ToolFailure};
use crate::ir::{ParamIr, TypeIr};
use crate::rng::SplitMix;

/// The example harness's `max_steps`; the expert needs at most 5 calls plus faults.
pub const STEP_LIMIT: u32 = 20;
/// Failing calls per episode, at most.
pub const MAX_FAILING_CALLS: usize = 6;
/// Calls covered by the fault schedule; later calls never fail and are fast.
const SCHEDULE_LEN: usize = 64;

const CUSTOMERS: [&str; 16] = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Foods",
    "Hooli",
    "Vandelay Imports",
    "Soylent Labs",
    "Tyrell Systems",
    "Wonka Retail",
    "Cyberdyne",
    "Oscorp",
    "Gringotts Bank",
    "Monarch Travel",
    "Pied Piper",
];
const TOPICS: [&str; 16] = [
    "payment failed at checkout",
    "cannot reset password",
    "invoice shows wrong amount",
    "export to csv times out",
    "login page is blank",
    "duplicate charge on card",
    "shipping label missing",
    "api key was revoked",
    "report totals do not match",
    "email notifications delayed",
    "mobile app crashes on start",
    "refund not received",
    "search returns no results",
    "two factor code never arrives",
    "dashboard loads slowly",
    "account locked after update",
];
const STAFF: [&str; 8] = [
    "alice", "bilal", "chen", "dana", "emeka", "farah", "goran", "hana",
];
/// The fields `update` can set.
const FIELDS: [&str; 3] = ["status", "priority", "assignee"];
const STATUSES: [&str; 3] = ["open", "pending", "closed"];
const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Escalate,
    Close,
    Reassign,
    Lookup,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: String,
    pub title: &'static str,
    pub customer: &'static str,
    pub status: &'static str,
    pub priority: &'static str,
    pub assignee: &'static str,
}

impl Ticket {
    fn field(&self, key: &str) -> Option<&'static str> {
        match key {
            "status" => Some(self.status),
            "priority" => Some(self.priority),
            "assignee" => Some(self.assignee),
            _ => None,
        }
    }

    fn set(&mut self, key: &str, value: &'static str) {
        match key {
            "status" => self.status = value,
            "priority" => self.priority = value,
            _ => self.assignee = value,
        }
    }

    fn render(&self) -> String {
        format!(
            "{}\ntitle: {}\ncustomer: {}\nstatus: {}\npriority: {}\nassignee: {}",
            self.id, self.title, self.customer, self.status, self.priority, self.assignee
        )
    }
}

/// What the task asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub family: Family,
    /// Index of the target ticket.
    pub target: usize,
    /// Field values the target must end with, in the order the expert sets them.
    pub fields: Vec<(&'static str, &'static str)>,
    /// The notification channel, if one is required.
    pub channel: Option<&'static str>,
    pub answer: String,
    pub goal: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Transient,
    RateLimited,
    Slow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Notification {
    channel: String,
    message: String,
}

#[derive(Debug, Clone)]
pub struct FlakyApi {
    initial: Vec<Ticket>,
    tickets: Vec<Ticket>,
    spec: Spec,
    schedule: Vec<(Fault, u64)>,
    calls: usize,
    /// Ids a successful search has shown, and ids fetched: what a non-omniscient agent
    /// would know, which the expert respects.
    seen: BTreeSet<String>,
    fetched: BTreeSet<String>,
    sent: Vec<Notification>,
    done: bool,
    success: bool,
}

impl Default for FlakyApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FlakyApi {
    /// An environment showing task 0 until the first [`Env::reset`].
    pub fn new() -> Self {
        let mut env = FlakyApi {
            initial: Vec::new(),
            tickets: Vec::new(),
            spec: generate(0).1,
            schedule: Vec::new(),
            calls: 0,
            seen: BTreeSet::new(),
            fetched: BTreeSet::new(),
            sent: Vec::new(),
            done: false,
            success: false,
        };
        env.reset(0, 0);
        env
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    fn observe(&self, text: impl Into<String>) -> Observation {
        Observation {
            text: text.into(),
            goal: self.spec.goal.clone(),
            admissible: Vec::new(),
        }
    }

    fn ok(&self, text: impl Into<String>, changed: bool, latency_ms: u64) -> StepOutcome {
        StepOutcome {
            observation: self.observe(text),
            reward: if self.done && self.success { 1.0 } else { 0.0 },
            done: self.done,
            success: self.success,
            error: None,
            state_changed: changed,
            latency_ms,
        }
    }

    fn fail(&self, text: impl Into<String>, latency_ms: u64) -> StepOutcome {
        let text = text.into();
        StepOutcome {
            error: Some(ToolFailure {
                kind: FailureKind::Error,
                message: text.clone(),
            }),
            state_changed: false,
            ..self.ok(text, false, latency_ms)
        }
    }

    fn ticket(&self, id: &str) -> Option<usize> {
        let id = id.trim();
        self.tickets
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(id))
    }

    fn search(&mut self, call: &ToolCall, latency: u64) -> StepOutcome {
        let query = call.get_str("query").unwrap_or("").to_lowercase();
        let words: Vec<&str> = query.split_whitespace().collect();
        if words.is_empty() {
            return self.fail("400 Bad Request: empty query.", latency);
        }
        let limit = match call.get("limit") {
            None | Some(Value::Null) => 5,
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 => n.min(20) as usize,
                _ => return self.fail("400 Bad Request: limit must be at least 1.", latency),
            },
        };
        let hits: Vec<usize> = (0..self.tickets.len())
            .filter(|&i| {
                let t = &self.tickets[i];
                let hay = format!("{} {}", t.title, t.customer).to_lowercase();
                words.iter().all(|w| hay.contains(w))
            })
            .collect();
        let mut lines = vec![format!("{} result(s)", hits.len())];
        for &i in hits.iter().take(limit) {
            let t = &self.tickets[i];
            lines.push(format!("{} | {} | {}", t.id, t.title, t.customer));
            self.seen.insert(t.id.clone());
        }
        if hits.len() > limit {
            lines.push(format!("({} more; raise `limit`)", hits.len() - limit));
        }
        self.ok(lines.join("\n"), false, latency)
    }

    fn fetch(&mut self, call: &ToolCall, latency: u64) -> StepOutcome {
        let id = call.get_str("id").unwrap_or("");
        match self.ticket(id) {
            Some(i) => {
                self.fetched.insert(self.tickets[i].id.clone());
                self.ok(self.tickets[i].render(), false, latency)
            }
            None => self.fail(format!("404 Not Found: no ticket {id:?}."), latency),
        }
    }

    fn update(&mut self, call: &ToolCall, latency: u64) -> StepOutcome {
        let id = call.get_str("id").unwrap_or("");
        let Some(i) = self.ticket(id) else {
            return self.fail(format!("404 Not Found: no ticket {id:?}."), latency);
        };
        let fields: Vec<&str> = match call.get("fields") {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if fields.is_empty() {
            return self.fail("400 Bad Request: no fields to update.", latency);
        }
        // Validate everything before changing anything: a request applies whole or not.
        let mut changes = Vec::new();
        for f in &fields {
            match parse_field(f) {
                Some(kv) => changes.push(kv),
                None => {
                    return self.fail(
                        format!(
                            "400 Bad Request: bad field {f:?} (use key=value; keys status, \
                             priority, assignee)."
                        ),
                        latency,
                    )
                }
            }
        }
        let before = self.tickets[i].clone();
        for (k, v) in changes {
            self.tickets[i].set(k, v);
        }
        let changed = self.tickets[i] != before;
        let text = format!("Updated.\n{}", self.tickets[i].render());
        self.ok(text, changed, latency)
    }

    fn notify(&mut self, call: &ToolCall, latency: u64) -> StepOutcome {
        let channel = call.get_str("channel").unwrap_or("");
        let message = call.get_str("message").unwrap_or("").trim();
        if !matches!(channel, "email" | "sms") {
            return self.fail(
                format!("400 Bad Request: unknown channel {channel:?}."),
                latency,
            );
        }
        if message.is_empty() {
            return self.fail("400 Bad Request: empty message.", latency);
        }
        self.sent.push(Notification {
            channel: channel.into(),
            message: message.into(),
        });
        self.ok(format!("Sent by {channel}."), true, latency)
    }

    /// What ticket `i` must look like at the end: as it started, plus the required
    /// fields on the target.
    fn desired(&self, i: usize) -> Ticket {
        let mut t = self.initial[i].clone();
        if i == self.spec.target {
            for &(k, v) in &self.spec.fields {
                t.set(k, v);
            }
        }
        t
    }

    /// Whether the final state and `answer` satisfy the task.
    fn judge(&self, answer: &str) -> bool {
        let s = &self.spec;
        let tickets_ok = (0..self.tickets.len()).all(|i| self.tickets[i] == self.desired(i));
        let notes_ok = match s.channel {
            None => self.sent.is_empty(),
            Some(c) => self.sent.len() == 1 && self.notified(c),
        };
        tickets_ok && notes_ok && normalize(answer) == normalize(&s.answer)
    }

    /// `update(id, [key=value, ...])` turning ticket `i` into what it should be, if it
    /// is not already.
    fn repair(&self, i: usize) -> Option<ToolCall> {
        let (now, want) = (&self.tickets[i], self.desired(i));
        let fields: Vec<String> = FIELDS
            .into_iter()
            .filter(|k| now.field(k) != want.field(k))
            .map(|k| format!("{k}={}", want.field(k).unwrap_or("")))
            .collect();
        (!fields.is_empty()).then(|| {
            ToolCall::new("update")
                .arg("id", now.id.clone())
                .arg("fields", fields)
        })
    }

    /// A notification on `channel` mentioning the target's id was sent.
    fn notified(&self, channel: &str) -> bool {
        let id = self.tickets[self.spec.target].id.to_lowercase();
        self.sent
            .iter()
            .any(|n| n.channel == channel && n.message.to_lowercase().contains(&id))
    }

    /// The expert's next call: put back any other ticket that was changed, search until
    /// the target has been seen, fetch it, update it to what it should be, notify,
    /// finish.
    fn plan(&self) -> ToolCall {
        let s = &self.spec;
        let others = (0..self.tickets.len()).filter(|&i| i != s.target);
        if let Some(fix) = others.filter_map(|i| self.repair(i)).next() {
            return fix;
        }
        let target = &self.tickets[s.target];
        if !self.seen.contains(&target.id) {
            // Title words and the customer narrow it to the target and its closed
            // duplicate, which fits the default limit.
            let query = format!("{} {}", target.title, target.customer);
            return ToolCall::new("search").arg("query", query);
        }
        if !self.fetched.contains(&target.id) {
            return ToolCall::new("fetch").arg("id", target.id.clone());
        }
        if let Some(update) = self.repair(s.target) {
            return update;
        }
        if let Some(c) = s.channel.filter(|c| !self.notified(c)) {
            let message = format!("Ticket {} ({}) has been handled.", target.id, target.title);
            return ToolCall::new("notify")
                .arg("channel", c)
                .arg("message", message);
        }
        ToolCall::new("finish").arg("answer", s.answer.clone())
    }
}

impl Env for FlakyApi {
    fn reset(&mut self, task: u64, seed: u64) -> Observation {
        let (tickets, spec) = generate(task);
        *self = FlakyApi {
            initial: tickets.clone(),
            tickets,
            spec,
            schedule: schedule(task, seed),
            calls: 0,
            seen: BTreeSet::new(),
            fetched: BTreeSet::new(),
            sent: Vec::new(),
            done: false,
            success: false,
        };
        self.observe(format!(
            "You have a ticketing API: search, fetch, update, notify, finish.\nTask: {}",
            self.spec.goal
        ))
    }

    fn step(&mut self, call: &ToolCall) -> StepOutcome {
        if self.done {
            return self.fail("409 Conflict: the episode is over.", 0);
        }
        if call.tool == "finish" {
            // Reporting back is not an API call: it never fails.
            self.done = true;
            self.success = self.judge(call.get_str("answer").unwrap_or(""));
            let text = if self.success {
                "Task complete."
            } else {
                "Task failed."
            };
            return self.ok(text, false, 10);
        }
        let (fault, latency) = self
            .schedule
            .get(self.calls)
            .copied()
            .unwrap_or((Fault::None, 100));
        self.calls += 1;
        match fault {
            Fault::Transient => {
                return self.fail(
                    "503 Service Unavailable: transient error, try again.",
                    latency,
                )
            }
            Fault::RateLimited => {
                return self.fail(
                    "429 Too Many Requests: rate limited, retry in a moment.",
                    latency,
                )
            }
            Fault::Slow | Fault::None => {}
        }
        match call.tool.as_str() {
            "search" => self.search(call, latency),
            "fetch" => self.fetch(call, latency),
            "update" => self.update(call, latency),
            "notify" => self.notify(call, latency),
            other => self.fail(format!("404 Not Found: no tool `{other}`."), latency),
        }
    }

    fn tools(&self) -> Vec<ToolSpec> {
        tools()
    }

    fn expert(&self) -> Option<ToolCall> {
        (!self.done).then(|| self.plan())
    }
}

/// The tools of `examples/flaky_api.harness`, same names, parameters and types.
pub fn tools() -> Vec<ToolSpec> {
    let spec = |name: &str, description: &str, params: Vec<ParamIr>| ToolSpec {
        name: name.into(),
        description: description.into(),
        params,
    };
    let s = |n: &str| ParamIr::new(n, TypeIr::String);
    vec![
        spec(
            "search",
            "Search records",
            vec![
                s("query"),
                ParamIr::new("limit", TypeIr::Optional(Box::new(TypeIr::Int))),
            ],
        ),
        spec("fetch", "Fetch one record by id", vec![s("id")]),
        spec(
            "update",
            "Update fields of a record",
            vec![
                s("id"),
                ParamIr::new("fields", TypeIr::List(Box::new(TypeIr::String))),
            ],
        ),
        spec(
            "notify",
            "Send a notification",
            vec![
                ParamIr::new("channel", TypeIr::Enum(vec!["email".into(), "sms".into()])),
                s("message"),
            ],
        ),
        spec("finish", "Report the result", vec![s("answer")]),
    ]
}

/// `key=value` with a known key and an allowed value.
fn parse_field(f: &str) -> Option<(&'static str, &'static str)> {
    let (k, v) = f.split_once('=')?;
    let (k, v) = (k.trim().to_lowercase(), v.trim().to_lowercase());
    let pick = |vals: &[&'static str]| vals.iter().copied().find(|x| *x == v);
    match k.as_str() {
        "status" => Some(("status", pick(&STATUSES)?)),
        "priority" => Some(("priority", pick(&PRIORITIES)?)),
        "assignee" => Some(("assignee", pick(&STAFF)?)),
        _ => None,
    }
}

fn normalize(s: &str) -> String {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '.'))
        .to_lowercase()
}

/// Salts of the two streams (see [`SplitMix::keyed`]).
const TASK_SALT: u64 = 0x666c_616b_795f_7461; // "flaky_ta"
const FAULT_SALT: u64 = 0x666c_616b_795f_6661; // "flaky_fa"

/// The tickets and the task of index `task`.
fn generate(task: u64) -> (Vec<Ticket>, Spec) {
    let mut rng = SplitMix::keyed(task, TASK_SALT);
    let customer = *rng.pick(&CUSTOMERS);
    let topic = *rng.pick(&TOPICS);
    let other = |rng: &mut SplitMix, items: &[&'static str], not: &str| loop {
        let x = *rng.pick(items);
        if x != not {
            break x;
        }
    };
    // (title, customer, forced status) of every ticket; the target first.
    let mut rows: Vec<(&'static str, &'static str, Option<&'static str>)> = vec![
        (topic, customer, Some("open")),
        (topic, customer, Some("closed")),
    ];
    for _ in 0..rng.range(2, 3) {
        rows.push((topic, other(&mut rng, &CUSTOMERS, customer), None));
    }
    for _ in 0..rng.range(1, 3) {
        rows.push((other(&mut rng, &TOPICS, topic), customer, None));
    }
    let total = rng.range(12, 18);
    while rows.len() < total {
        let c = other(&mut rng, &CUSTOMERS, customer);
        rows.push((other(&mut rng, &TOPICS, topic), c, None));
    }
    rng.shuffle(&mut rows);

    // Distinct four-digit ids, listed in id order as a real API would.
    let mut ids: BTreeSet<u32> = BTreeSet::new();
    while ids.len() < rows.len() {
        ids.insert(1000 + rng.below(9000) as u32);
    }
    let ids: Vec<u32> = ids.into_iter().collect();
    let tickets: Vec<Ticket> = rows
        .iter()
        .zip(&ids)
        .map(|(&(title, customer, status), id)| {
            let status = status.unwrap_or_else(|| *rng.pick(&STATUSES));
            // Never `urgent` at the start, so escalating always changes something.
            let priority = *rng.pick(&PRIORITIES[..3]);
            let assignee = *rng.pick(&STAFF);
            Ticket {
                id: format!("T-{id}"),
                title,
                customer,
                status,
                priority,
                assignee,
            }
        })
        .collect();
    let target = tickets
        .iter()
        .position(|t| t.title == topic && t.customer == customer && t.status == "open")
        .unwrap_or(0);

    let t = &tickets[target];
    let about = format!("the open ticket from {} about \"{}\"", customer, topic);
    let family = [
        Family::Escalate,
        Family::Close,
        Family::Reassign,
        Family::Lookup,
    ][(task % 4) as usize];
    let (fields, channel, answer, goal) = match family {
        Family::Escalate => (
            vec![("priority", "urgent")],
            Some("sms"),
            t.id.clone(),
            format!(
                "Find {about}, set its priority to urgent, send an sms that mentions its id, \
                 then finish with the ticket id."
            ),
        ),
        Family::Close => (
            vec![("status", "closed")],
            Some("email"),
            t.id.clone(),
            format!(
                "Find {about}, close it (status closed), send an email that mentions its id, \
                 then finish with the ticket id."
            ),
        ),
        Family::Reassign => {
            let to = other(&mut rng, &STAFF, t.assignee);
            (
                vec![("assignee", to), ("status", "pending")],
                Some("email"),
                t.id.clone(),
                format!(
                    "Find {about}, assign it to {to} and set its status to pending, send an \
                     email that mentions its id, then finish with the ticket id."
                ),
            )
        }
        Family::Lookup => (
            Vec::new(),
            None,
            t.assignee.to_string(),
            format!("Who is assigned to {about}? Change nothing and finish with their name."),
        ),
    };
    let spec = Spec {
        family,
        target,
        fields,
        channel,
        answer,
        goal,
    };
    (tickets, spec)
}

/// The fault and latency of each of the first [`SCHEDULE_LEN`] calls of an episode.
fn schedule(task: u64, seed: u64) -> Vec<(Fault, u64)> {
    let mut rng = SplitMix::keyed(task ^ crate::rng::mix(seed), FAULT_SALT);
    let mut out = Vec::with_capacity(SCHEDULE_LEN);
    let mut failing = 0;
    while out.len() < SCHEDULE_LEN {
        let fast = 40 + rng.below(211) as u64;
        let after_failure = out
            .last()
            .is_some_and(|(f, _)| matches!(f, Fault::Transient | Fault::RateLimited));
        let u = rng.below(100);
        // Right after a failure only slow or clean calls: one retry after a transient
        // error succeeds, and rate-limit windows never run into each other.
        if after_failure {
            out.push(if u < 12 {
                (Fault::Slow, 1500 + rng.below(4501) as u64)
            } else {
                (Fault::None, fast)
            });
        } else if u < 12 && failing < MAX_FAILING_CALLS {
            out.push((Fault::Transient, fast));
            failing += 1;
        } else if u < 18 && failing + 3 <= MAX_FAILING_CALLS {
            for _ in 0..rng.range(2, 3) {
                out.push((Fault::RateLimited, 20));
                failing += 1;
            }
        } else if u < 30 {
            out.push((Fault::Slow, 1500 + rng.below(4501) as u64));
        } else {
            out.push((Fault::None, fast));
        }
    }
    out.truncate(SCHEDULE_LEN);
    out
}
