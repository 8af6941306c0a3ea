//! The abstract syntax tree of a `.harness` file.
//!
//! Every node carries a [`Span`] (byte offsets into the source, half-open). Spans are
//! *bytes*, never chars: codespan-reporting converts them to line/column itself, so
//! non-ASCII text is reported at the right column.
//!
//! The tree is purely syntactic: it records what was written, not whether it makes
//! sense. Unknown hooks, fields, detectors and actions are all representable here and
//! are rejected later by the checker (`harnessx-compiler`), which can then suggest a
//! correction with a precise span.
//!
//! Nodes that can carry comments have a [`Comments`] field; the parser attaches every
//! comment of the source to exactly one node (or to a block's `dangling` list, or to the
//! file's `trailing_comments`), so the printer never loses one.

use serde::{Deserialize, Serialize};

/// A half-open byte range `[start, end)` into the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
    pub fn contains(self, offset: usize) -> bool {
        self.start <= offset && offset < self.end
    }
    pub fn shifted(self, by: usize) -> Span {
        Span::new(self.start + by, self.end + by)
    }
}

/// Comments attached to a node: full-line comments directly above it, and one comment
/// at the end of its last line. The text excludes the leading `#` and trailing
/// whitespace, so `# hi` is stored as `" hi"` and printed back unchanged.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Comments {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leading: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing: Option<String>,
}

impl Comments {
    pub fn is_empty(&self) -> bool {
        self.leading.is_empty() && self.trailing.is_none()
    }
}

/// A name as written: `go`, `after_model`, `repeated_action`, or a dotted path such as
/// `task.goal` (only where the grammar allows dots: values and template variables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole source file. `harness` is `None` only when the file had no parsable header
/// (the parser then also reports an error).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct File {
    pub harness: Option<Harness>,
    /// Comments after the closing `}` of the harness.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trailing_comments: Vec<String>,
    pub span: Span,
}

/// `harness NAME "description"? { ITEM* }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harness {
    pub name: Ident,
    pub description: Option<StrLit>,
    pub items: Vec<Item>,
    /// Comments inside the body after the last item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<String>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// One top-level item of a harness body, in source order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum Item {
    Section(Section),
    Prompt(Prompt),
    Tool(Tool),
    Rule(Rule),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Section(s) => s.span,
            Item::Prompt(p) => p.span,
            Item::Tool(t) => t.span,
            Item::Rule(r) => r.span,
        }
    }
    pub fn annotations(&self) -> &[Annotation] {
        match self {
            Item::Section(s) => &s.annotations,
            Item::Prompt(p) => &p.annotations,
            Item::Tool(t) => &t.annotations,
            Item::Rule(r) => &r.annotations,
        }
    }
    pub fn comments(&self) -> &Comments {
        match self {
            Item::Section(s) => &s.comments,
            Item::Prompt(p) => &p.comments,
            Item::Tool(t) => &t.comments,
            Item::Rule(r) => &r.comments,
        }
    }
    pub fn comments_mut(&mut self) -> &mut Comments {
        match self {
            Item::Section(s) => &mut s.comments,
            Item::Prompt(p) => &mut p.comments,
            Item::Tool(t) => &mut t.comments,
            Item::Rule(r) => &mut r.comments,
        }
    }
}

/// `NAME { FIELD* }` — `model`, `loop`, `context`, or any other name (the checker
/// rejects unknown sections with a suggestion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub fields: Vec<Field>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<String>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// `NAME = VALUE ANNOTATION*` inside a section or a tool's option block.
/// Annotations on fields are written after the value: `max_steps = 30 @evolve(range = 10..60)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: Ident,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// `prompt NAME STRING`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub text: StrLit,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// `tool NAME(PARAM, ...) "description"? { FIELD* }?`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    pub name: Ident,
    pub params: Vec<Param>,
    pub description: Option<StrLit>,
    /// `None` when the tool has no `{ ... }` block at all.
    pub options: Option<Vec<Field>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<String>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// `NAME: TYPE`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeExpr {
    pub kind: TypeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeKind {
    /// `string`, `int`, `float`, `bool`, `duration`, `tokens` — or an unknown name,
    /// which the checker rejects.
    Named(String),
    /// `[T]`
    List(Box<TypeExpr>),
    /// `T?`
    Optional(Box<TypeExpr>),
    /// `enum("a", "b")`
    Enum(Vec<StrLit>),
}

/// `on HOOK (as NAME)? (when COND)? { ACTION* }`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
    pub hook: Ident,
    pub name: Option<Ident>,
    pub when: Option<Cond>,
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<String>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// A condition: detectors, comparisons and regex matches combined with `and`/`or`/`not`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cond {
    pub kind: CondKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CondKind {
    /// `a and b and c` (at least two operands).
    And(Vec<Cond>),
    /// `a or b or c` (at least two operands).
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// `malformed_call`, `repeated_action(window = 4, count = 3)`, `call(finish)`.
    Detector {
        name: Ident,
        args: Vec<Arg>,
    },
    /// `step >= 20`, `context_tokens > 1200`.
    Compare {
        metric: Ident,
        op: CmpOp,
        value: Value,
    },
    /// `output matches "regex"`.
    Matches {
        subject: Ident,
        pattern: StrLit,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

/// `NAME ( ARGS )? MESSAGE?` then optionally `otherwise ACTION` on the following line:
/// the fallback runs when this action cannot take effect (e.g. `repair` found no call,
/// `retry` ran out of attempts).
///
/// The bare `message` argument must start on the same line as the action's name, so
/// `compact` followed by a newline and `inject "x"` are two actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub name: Ident,
    /// Arguments in parentheses: `retry(max = 2, backoff = 100ms)`.
    pub args: Vec<Arg>,
    /// The bare argument after the name: `inject "text"`, `repair extract_action`.
    pub message: Option<Value>,
    pub otherwise: Option<Box<Action>>,
    #[serde(default, skip_serializing_if = "Comments::is_empty")]
    pub comments: Comments,
    pub span: Span,
}

/// `NAME = VALUE` or a positional `VALUE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Value,
    pub span: Span,
}

/// `@NAME` or `@NAME(ARGS)`: `@frozen`, `@evolve(range = 10..60)`, `@evolve(choices = [a, b])`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Str(StrLit),
    Int(i64),
    /// Always printed with a `.` or exponent so it re-parses as a float.
    Float(f64),
    Bool(bool),
    Duration(Duration),
    /// `1500 tokens`
    Tokens(u64),
    /// A bare (possibly dotted) name: an enum variant such as `react`, or a reference such
    /// as `task.goal`.
    Ident(String),
    List(Vec<Value>),
    /// `LO..HI` (only meaningful inside `@evolve(range = ..)`).
    Range(Box<Value>, Box<Value>),
}

impl ValueKind {
    /// A number literal's value in its base unit (milliseconds for a duration, a count
    /// for tokens), for range comparisons; `None` for anything that is not a number.
    pub fn num(&self) -> Option<f64> {
        match self {
            ValueKind::Int(i) => Some(*i as f64),
            ValueKind::Float(x) => Some(*x),
            ValueKind::Duration(d) => Some(d.as_millis() as f64),
            ValueKind::Tokens(t) => Some(*t as f64),
            _ => None,
        }
    }
}

/// `100ms`, `2s`, `1m`. Kept in the unit it was written in, so printing is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duration {
    pub amount: u64,
    pub unit: DurationUnit,
}

impl Duration {
    pub fn as_millis(self) -> u128 {
        let factor: u128 = match self.unit {
            DurationUnit::Ms => 1,
            DurationUnit::S => 1_000,
            DurationUnit::M => 60_000,
        };
        self.amount as u128 * factor
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    Ms,
    S,
    M,
}

impl DurationUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            DurationUnit::Ms => "ms",
            DurationUnit::S => "s",
            DurationUnit::M => "m",
        }
    }
}

/// A string literal, already decoded.
///
/// `vars` lists every `{{ path }}` found in the literal's source text with its span, so
/// the checker can point at an unknown template variable precisely. Every string literal
/// is a template; only the checker decides where variables are allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrLit {
    pub value: String,
    pub style: StrStyle,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<TemplateVar>,
    pub span: Span,
}

/// How a string was written. The printer keeps the style, so a triple-quoted prompt
/// stays one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrStyle {
    /// `"..."` with escapes `\" \\ \n \t \r \u{...}`; no raw newlines.
    Plain,
    /// `"""..."""`: raw (no escapes), dedented (see `parser::dedent`).
    Triple,
}

/// `{{ task.goal }}` inside a string: the trimmed path and the span of the whole `{{..}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateVar {
    pub path: String,
    pub span: Span,
}
