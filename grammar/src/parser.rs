//! Source text → [`File`]. Never panics; never stops at the first error.
//!
//! 1. [`lex::scan`] finds comments and splits the harness body into chunks of whole items.
//! 2. Each chunk is parsed by pest (`items_eoi`) and lowered by one function per construct.
//!    A chunk that fails to parse contributes one error and no items; the others go on.
//! 3. Comments are attached to nodes ([`crate::comments`]).

use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

use crate::ast::*;
use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::lex;

#[derive(Parser)]
#[grammar = "harness.pest"]
pub struct HarnessParser;

/// The result of parsing: a tree (possibly partial) and every syntax error found.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub file: File,
    pub errors: Vec<SyntaxError>,
}

/// Parses a whole `.harness` source. Always returns a tree; check `errors`.
pub fn parse(src: &str) -> Parsed {
    let layout = lex::scan(src);
    let mut errors = layout.errors.clone();
    let mut harness = None;

    if let Some(header) = layout.header {
        let text = &src[header.start..header.end];
        match HarnessParser::parse(Rule::header_eoi, text) {
            Ok(mut pairs) => {
                let mut b = Builder::new(header.start, &mut errors);
                let header_pair = first_inner(pairs.next(), Rule::header);
                if let Some(h) = header_pair {
                    harness = Some(b.header(h, src.len()));
                }
            }
            Err(e) => errors.push(pest_error(e, header.start, text)),
        }
    }

    if let Some(h) = harness.as_mut() {
        for chunk in &layout.chunks {
            if chunk.poisoned {
                continue;
            }
            let text = &src[chunk.span.start..chunk.span.end];
            match HarnessParser::parse(Rule::items_eoi, text) {
                Ok(pairs) => {
                    let mut b = Builder::new(chunk.span.start, &mut errors);
                    for pair in pairs.flatten().filter(|p| p.as_rule() == Rule::item) {
                        if let Some(item) = b.item(pair) {
                            h.items.push(item);
                        }
                    }
                }
                Err(e) => errors.push(pest_error(e, chunk.span.start, text)),
            }
        }
        h.span = Span::new(
            h.span.start,
            layout.close.map(|c| c.end).unwrap_or(src.len()),
        );
    }

    let mut file = File {
        harness,
        trailing_comments: Vec::new(),
        span: Span::new(0, src.len()),
    };
    crate::comments::attach(&mut file, &layout.comments, src);
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    Parsed { file, errors }
}

fn first_inner(pair: Option<Pair<'_, Rule>>, wanted: Rule) -> Option<Pair<'_, Rule>> {
    pair?.into_inner().find(|p| p.as_rule() == wanted)
}

/// Human names for grammar rules, used in "expected ..." messages.
fn rule_name(r: &Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident | Rule::ident_raw | Rule::path => "a name",
        Rule::string | Rule::plain_string | Rule::triple_string => "a string",
        Rule::value | Rule::scalar | Rule::range => "a value",
        Rule::int | Rule::digits => "an integer",
        Rule::float => "a number",
        Rule::duration => "a duration like `2s`",
        Rule::tokens => "a token count like `1500 tokens`",
        Rule::bool => "`true` or `false`",
        Rule::list => "a list",
        Rule::item => "an item (`model`, `prompt`, `tool`, `loop`, `context`, `on`)",
        Rule::annotation => "an annotation like `@frozen`",
        Rule::field => "a field `name = value`",
        Rule::action_stmt | Rule::action => "an action",
        Rule::otherwise | Rule::kw_otherwise => "`otherwise`",
        Rule::cond | Rule::or_expr | Rule::and_expr | Rule::unary | Rule::primary => "a condition",
        Rule::compare | Rule::matches | Rule::detector => "a condition",
        Rule::cmp_op => "a comparison operator",
        Rule::params | Rule::param => "a parameter `name: type`",
        Rule::type_expr | Rule::type_base | Rule::type_name | Rule::list_type | Rule::enum_type => {
            "a type"
        }
        Rule::optional_mark => "`?`",
        Rule::args | Rule::arg | Rule::named_arg => "an argument",
        Rule::tool_options => "`{`",
        Rule::rule_name | Rule::kw_as => "`as`",
        Rule::rule_when | Rule::kw_when => "`when`",
        Rule::kw_harness => "`harness`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not | Rule::not_op => "`not`",
        Rule::kw_matches => "`matches`",
        Rule::EOI => "the end of the item",
        _ => return None,
    })
}

/// The token at `pos` in `text`, for "found ..." in messages, and its length in bytes.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return ("the end of the item".into(), 0);
    };
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        let len = word.len();
        (format!("`{word}`"), len)
    } else if c == '\n' || c == '\r' {
        ("the end of the line".into(), 0)
    } else {
        (format!("`{c}`"), c.len_utf8())
    }
}

/// Converts a pest error in a chunk at `offset` into a [`SyntaxError`].
fn pest_error(e: pest::error::Error<Rule>, offset: usize, text: &str) -> SyntaxError {
    use pest::error::{ErrorVariant, InputLocation};
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((a, _)) => a,
    };
    let (found, width) = found_at(text, pos);
    let (message, label) = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = Vec::new();
            for name in positives.iter().filter_map(rule_name) {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            let expected = match names.split_last() {
                None => None,
                Some((only, [])) => Some(only.to_string()),
                Some((last, rest)) => Some(format!("{} or {last}", rest.join(", "))),
            };
            match expected {
                None => (format!("unexpected {found}"), "unexpected here".to_string()),
                Some(exp) => (
                    format!("expected {exp}, found {found}"),
                    format!("expected {exp}"),
                ),
            }
        }
        ErrorVariant::CustomError { message } => (message.clone(), message.clone()),
    };
    SyntaxError {
        kind: SyntaxErrorKind::Unexpected,
        span: Span::new(offset + pos, offset + pos + width),
        message,
        label: Some(label),
        help: None,
    }
}

/// Lowers pest pairs of one chunk to AST nodes, shifting spans by the chunk's offset.
struct Builder<'e> {
    offset: usize,
    errors: &'e mut Vec<SyntaxError>,
}

impl<'e> Builder<'e> {
    fn new(offset: usize, errors: &'e mut Vec<SyntaxError>) -> Self {
        Builder { offset, errors }
    }

    /// The pair's span without trailing whitespace and comments. pest's implicit skip
    /// before an optional tail that then does not match (`tool a()` + `tool_options?`,
    /// `detector`'s `(args)?`, `and_expr`'s `(and x)*`) stays inside the pair, so
    /// `tool a() # note` would otherwise span the comment, which then could not be
    /// attached as the tool's trailing comment.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let start = s.start() + self.offset;
        Span::new(start, start + tokens_end(s.as_str()))
    }

    fn error(&mut self, kind: SyntaxErrorKind, span: Span, message: String, help: Option<&str>) {
        self.errors.push(SyntaxError {
            kind,
            span,
            message,
            label: None,
            help: help.map(str::to_string),
        });
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn header(&mut self, pair: Pair<'_, Rule>, _src_len: usize) -> Harness {
        let span = self.span(&pair);
        let mut name = None;
        let mut description = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => description = Some(self.string(p)),
                _ => {}
            }
        }
        Harness {
            name: name.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            description,
            items: Vec::new(),
            dangling: Vec::new(),
            comments: Comments::default(),
            span,
        }
    }

    fn item(&mut self, pair: Pair<'_, Rule>) -> Option<Item> {
        let span = self.span(&pair);
        let mut annotations = Vec::new();
        let mut item = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotation => annotations.push(self.annotation(p)),
                Rule::section => item = Some(Item::Section(self.section(p))),
                Rule::prompt => item = Some(Item::Prompt(self.prompt(p))),
                Rule::tool => item = Some(Item::Tool(self.tool(p))),
                Rule::rule => item = Some(Item::Rule(self.rule(p))),
                _ => {}
            }
        }
        let mut item = item?;
        match &mut item {
            Item::Section(s) => (s.annotations, s.span) = (annotations, span),
            Item::Prompt(x) => (x.annotations, x.span) = (annotations, span),
            Item::Tool(x) => (x.annotations, x.span) = (annotations, span),
            Item::Rule(x) => (x.annotations, x.span) = (annotations, span),
        }
        Some(item)
    }

    fn section(&mut self, pair: Pair<'_, Rule>) -> Section {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: section starts with ident"));
        let fields = inner
            .filter(|p| p.as_rule() == Rule::field)
            .map(|p| self.field(p))
            .collect();
        Section {
            annotations: Vec::new(),
            name,
            fields,
            dangling: Vec::new(),
            comments: Comments::default(),
            span,
        }
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> Field {
        let span = self.span(&pair);
        let mut annotations = Vec::new();
        let mut name = None;
        let mut value = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::annotation => annotations.push(self.annotation(p)),
                Rule::ident => name = Some(self.ident(p)),
                Rule::field_value => value = p.into_inner().next().map(|v| self.value(v)),
                _ => {}
            }
        }
        let name = name.unwrap_or(Ident {
            name: String::new(),
            span,
        });
        let value = value.unwrap_or(Value {
            kind: ValueKind::Bool(false),
            span,
        });
        Field {
            name,
            value,
            annotations,
            comments: Comments::default(),
            span,
        }
    }

    fn prompt(&mut self, pair: Pair<'_, Rule>) -> Prompt {
        let span = self.span(&pair);
        let mut name = None;
        let mut text = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::string => text = Some(self.string(p)),
                _ => {}
            }
        }
        Prompt {
            annotations: Vec::new(),
            name: name.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            text: text.unwrap_or_else(|| empty_str(span)),
            comments: Comments::default(),
            span,
        }
    }

    fn tool(&mut self, pair: Pair<'_, Rule>) -> Tool {
        let span = self.span(&pair);
        let mut name = None;
        let mut params = Vec::new();
        let mut description = None;
        let mut options = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::params => {
                    for param in p.into_inner().filter(|p| p.as_rule() == Rule::param) {
                        params.push(self.param(param));
                    }
                }
                Rule::string => description = Some(self.string(p)),
                Rule::tool_options => {
                    options = Some(
                        p.into_inner()
                            .filter(|p| p.as_rule() == Rule::field)
                            .map(|p| self.field(p))
                            .collect(),
                    )
                }
                _ => {}
            }
        }
        Tool {
            annotations: Vec::new(),
            name: name.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            params,
            description,
            options,
            dangling: Vec::new(),
            comments: Comments::default(),
            span,
        }
    }

    fn param(&mut self, pair: Pair<'_, Rule>) -> Param {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("grammar: param starts with ident"));
        let ty = match inner.next() {
            Some(t) => self.type_expr(t),
            None => TypeExpr {
                kind: TypeKind::Named(String::new()),
                span,
            },
        };
        Param { name, ty, span }
    }

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut base = None;
        let mut optional = false;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::type_base => base = Some(self.type_base(p)),
                Rule::optional_mark => optional = true,
                _ => {}
            }
        }
        let base = base.unwrap_or(TypeExpr {
            kind: TypeKind::Named(String::new()),
            span,
        });
        if optional {
            TypeExpr {
                kind: TypeKind::Optional(Box::new(base)),
                span,
            }
        } else {
            base
        }
    }

    fn type_base(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let kind = match pair.into_inner().next() {
            Some(p) => match p.as_rule() {
                Rule::list_type => match p.into_inner().next() {
                    Some(t) => TypeKind::List(Box::new(self.type_expr(t))),
                    None => TypeKind::Named(String::new()),
                },
                Rule::enum_type => TypeKind::Enum(
                    p.into_inner()
                        .filter(|p| p.as_rule() == Rule::string)
                        .map(|p| self.string(p))
                        .collect(),
                ),
                _ => TypeKind::Named(p.as_str().to_string()),
            },
            None => TypeKind::Named(String::new()),
        };
        TypeExpr { kind, span }
    }

    fn rule(&mut self, pair: Pair<'_, Rule>) -> crate::ast::Rule {
        let span = self.span(&pair);
        let mut hook = None;
        let mut name = None;
        let mut when = None;
        let mut actions = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => hook = Some(self.ident(p)),
                Rule::rule_name => {
                    name = p
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::ident)
                        .map(|p| self.ident(p))
                }
                Rule::rule_when => {
                    when = p
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::cond)
                        .map(|p| self.cond(p))
                }
                Rule::action_stmt => actions.push(self.action_stmt(p)),
                _ => {}
            }
        }
        crate::ast::Rule {
            annotations: Vec::new(),
            hook: hook.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            name,
            when,
            actions,
            dangling: Vec::new(),
            comments: Comments::default(),
            span,
        }
    }

    fn action_stmt(&mut self, pair: Pair<'_, Rule>) -> Action {
        let mut primary = None;
        let mut fallback = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::action => primary = Some(self.action(p)),
                Rule::otherwise => {
                    fallback = p
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::action)
                        .map(|p| Box::new(self.action(p)))
                }
                _ => {}
            }
        }
        let mut action = primary.expect("grammar: action_stmt starts with action");
        action.otherwise = fallback;
        action
    }

    fn action(&mut self, pair: Pair<'_, Rule>) -> Action {
        let span = self.span(&pair);
        let mut name = None;
        let mut args = Vec::new();
        let mut message = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::action_args => args = self.args_in(p),
                Rule::action_message => {
                    if let Some(v) = p.into_inner().next() {
                        message = Some(self.scalar_kind(v));
                    }
                }
                _ => {}
            }
        }
        Action {
            name: name.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            args,
            message,
            otherwise: None,
            comments: Comments::default(),
            span,
        }
    }

    fn args_in(&mut self, pair: Pair<'_, Rule>) -> Vec<Arg> {
        match pair.into_inner().find(|p| p.as_rule() == Rule::args) {
            Some(args) => args
                .into_inner()
                .filter(|p| p.as_rule() == Rule::arg)
                .map(|p| self.arg(p))
                .collect(),
            None => Vec::new(),
        }
    }

    fn arg(&mut self, pair: Pair<'_, Rule>) -> Arg {
        let span = self.span(&pair);
        let inner = pair.into_inner().next().expect("grammar: arg has content");
        match inner.as_rule() {
            Rule::named_arg => {
                let mut parts = inner.into_inner();
                let name = self.ident(parts.next().expect("grammar: named arg has name"));
                let value = self.value(parts.next().expect("grammar: named arg has value"));
                Arg {
                    name: Some(name),
                    value,
                    span,
                }
            }
            _ => Arg {
                name: None,
                value: self.value(inner),
                span,
            },
        }
    }

    fn annotation(&mut self, pair: Pair<'_, Rule>) -> Annotation {
        let span = self.span(&pair);
        let mut name = None;
        let mut args = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::ident => name = Some(self.ident(p)),
                Rule::annotation_args => args = self.args_in(p),
                _ => {}
            }
        }
        Annotation {
            name: name.unwrap_or(Ident {
                name: String::new(),
                span,
            }),
            args,
            span,
        }
    }

    // ---- conditions ----

    fn cond(&mut self, pair: Pair<'_, Rule>) -> Cond {
        // cond → or_expr
        match pair.into_inner().next() {
            Some(p) => self.or_expr(p),
            None => unreachable_cond(),
        }
    }

    fn or_expr(&mut self, pair: Pair<'_, Rule>) -> Cond {
        let span = self.span(&pair);
        let mut parts: Vec<Cond> = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::and_expr)
            .map(|p| self.and_expr(p))
            .collect();
        if parts.len() == 1 {
            parts.pop().unwrap_or_else(unreachable_cond)
        } else {
            Cond {
                kind: CondKind::Or(parts),
                span,
            }
        }
    }

    fn and_expr(&mut self, pair: Pair<'_, Rule>) -> Cond {
        let span = self.span(&pair);
        let mut parts: Vec<Cond> = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::unary)
            .map(|p| self.unary(p))
            .collect();
        if parts.len() == 1 {
            parts.pop().unwrap_or_else(unreachable_cond)
        } else {
            Cond {
                kind: CondKind::And(parts),
                span,
            }
        }
    }

    fn unary(&mut self, pair: Pair<'_, Rule>) -> Cond {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let Some(first) = inner.next() else {
            return unreachable_cond();
        };
        match first.as_rule() {
            Rule::not_op => {
                let operand = match inner.next() {
                    Some(p) => self.unary(p),
                    None => unreachable_cond(),
                };
                Cond {
                    kind: CondKind::Not(Box::new(operand)),
                    span,
                }
            }
            _ => self.primary(first),
        }
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Cond {
        let span = self.span(&pair);
        let Some(inner) = pair.into_inner().next() else {
            return unreachable_cond();
        };
        match inner.as_rule() {
            Rule::cond => self.cond(inner),
            Rule::compare => {
                let mut parts = inner.into_inner();
                let metric = self.ident(parts.next().expect("grammar: compare has metric"));
                let op = match parts.next().map(|p| p.as_str()) {
                    Some("<") => CmpOp::Lt,
                    Some("<=") => CmpOp::Le,
                    Some(">") => CmpOp::Gt,
                    Some(">=") => CmpOp::Ge,
                    Some("==") => CmpOp::Eq,
                    _ => CmpOp::Ne,
                };
                let value = self.value(parts.next().expect("grammar: compare has value"));
                Cond {
                    kind: CondKind::Compare { metric, op, value },
                    span,
                }
            }
            Rule::matches => {
                let mut subject = None;
                let mut pattern = None;
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::ident => subject = Some(self.ident(p)),
                        Rule::string => pattern = Some(self.string(p)),
                        _ => {}
                    }
                }
                Cond {
                    kind: CondKind::Matches {
                        subject: subject.unwrap_or(Ident {
                            name: String::new(),
                            span,
                        }),
                        pattern: pattern.unwrap_or_else(|| empty_str(span)),
                    },
                    span,
                }
            }
            _ => {
                // detector
                let mut name = None;
                let mut args = Vec::new();
                for p in inner.into_inner() {
                    match p.as_rule() {
                        Rule::ident => name = Some(self.ident(p)),
                        Rule::args => {
                            args = p
                                .into_inner()
                                .filter(|p| p.as_rule() == Rule::arg)
                                .map(|p| self.arg(p))
                                .collect()
                        }
                        _ => {}
                    }
                }
                Cond {
                    kind: CondKind::Detector {
                        name: name.unwrap_or(Ident {
                            name: String::new(),
                            span,
                        }),
                        args,
                    },
                    span,
                }
            }
        }
    }

    // ---- values ----

    fn value(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        let inner = match pair.as_rule() {
            Rule::value => pair.into_inner().next(),
            _ => Some(pair),
        };
        let Some(inner) = inner else {
            return Value {
                kind: ValueKind::Bool(false),
                span,
            };
        };
        match inner.as_rule() {
            Rule::range => {
                let mut parts = inner.into_inner();
                let lo = parts.next().map(|p| self.scalar(p));
                let hi = parts.next().map(|p| self.scalar(p));
                match (lo, hi) {
                    (Some(lo), Some(hi)) => Value {
                        kind: ValueKind::Range(Box::new(lo), Box::new(hi)),
                        span,
                    },
                    _ => Value {
                        kind: ValueKind::Bool(false),
                        span,
                    },
                }
            }
            Rule::list => Value {
                kind: ValueKind::List(
                    inner
                        .into_inner()
                        .filter(|p| p.as_rule() == Rule::value)
                        .map(|p| self.value(p))
                        .collect(),
                ),
                span,
            },
            Rule::scalar => self.scalar(inner),
            _ => self.scalar_kind(inner),
        }
    }

    fn scalar(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        match pair.into_inner().next() {
            Some(p) => self.scalar_kind(p),
            None => Value {
                kind: ValueKind::Bool(false),
                span,
            },
        }
    }

    /// One of string | duration | tokens | float | int | bool | path.
    fn scalar_kind(&mut self, pair: Pair<'_, Rule>) -> Value {
        let span = self.span(&pair);
        let text = pair.as_str();
        let kind = match pair.as_rule() {
            Rule::string => ValueKind::Str(self.string(pair)),
            Rule::bool => ValueKind::Bool(text == "true"),
            Rule::int => ValueKind::Int(self.int(text, span)),
            Rule::float => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => ValueKind::Float(f),
                _ => {
                    self.error(
                        SyntaxErrorKind::NumberOutOfRange,
                        span,
                        format!("`{text}` is too large for a number"),
                        None,
                    );
                    ValueKind::Float(0.0)
                }
            },
            Rule::duration => {
                let digits_len = text.bytes().take_while(u8::is_ascii_digit).count();
                let (digits, unit) = text.split_at(digits_len);
                let unit = match unit {
                    "ms" => DurationUnit::Ms,
                    "s" => DurationUnit::S,
                    _ => DurationUnit::M,
                };
                let amount = self.unsigned(digits, span);
                ValueKind::Duration(Duration { amount, unit })
            }
            Rule::tokens => {
                let digits = text.split_whitespace().next().unwrap_or("0");
                if digits.starts_with('-') {
                    self.error(
                        SyntaxErrorKind::NumberOutOfRange,
                        span,
                        "a token count cannot be negative".into(),
                        None,
                    );
                    ValueKind::Tokens(0)
                } else {
                    ValueKind::Tokens(self.unsigned(digits, span))
                }
            }
            _ => ValueKind::Ident(text.to_string()),
        };
        Value { kind, span }
    }

    fn int(&mut self, text: &str, span: Span) -> i64 {
        match text.parse::<i64>() {
            Ok(v) => v,
            Err(_) => {
                self.error(
                    SyntaxErrorKind::NumberOutOfRange,
                    span,
                    format!("`{text}` does not fit in a 64-bit integer"),
                    Some("integers range from -9223372036854775808 to 9223372036854775807"),
                );
                0
            }
        }
    }

    fn unsigned(&mut self, text: &str, span: Span) -> u64 {
        match text.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                self.error(
                    SyntaxErrorKind::NumberOutOfRange,
                    span,
                    format!("`{text}` is too large"),
                    Some("the largest amount is 18446744073709551615"),
                );
                0
            }
        }
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> StrLit {
        let span = self.span(&pair);
        let inner = match pair.as_rule() {
            Rule::string => pair.into_inner().next(),
            _ => Some(pair),
        };
        let Some(inner) = inner else {
            return empty_str(span);
        };
        let style = if inner.as_rule() == Rule::triple_string {
            StrStyle::Triple
        } else {
            StrStyle::Plain
        };
        let Some(body) = inner.into_inner().next() else {
            return empty_str(span);
        };
        let raw = body.as_str();
        let raw_start = body.as_span().start() + self.offset;
        let value = match style {
            StrStyle::Triple => dedent(raw),
            StrStyle::Plain => self.unescape(raw, raw_start),
        };
        let vars = template_vars(raw, raw_start);
        StrLit {
            value,
            style,
            vars,
            span,
        }
    }

    fn unescape(&mut self, raw: &str, raw_start: usize) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((j, e)) = chars.next() else {
                break;
            };
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                'u' => {
                    // \u{XXXX}
                    let rest = &raw[j + 1..];
                    let decoded = rest.strip_prefix('{').and_then(|r| {
                        let close = r.find('}')?;
                        let hex = &r[..close];
                        let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)?;
                        Some((ch, close + 2))
                    });
                    match decoded {
                        Some((ch, len)) => {
                            out.push(ch);
                            for _ in 0..len {
                                chars.next();
                            }
                        }
                        None => self.error(
                            SyntaxErrorKind::InvalidEscape,
                            Span::new(raw_start + i, raw_start + j + 1),
                            "invalid unicode escape".into(),
                            Some("write a code point in hex, like `\\u{e9}`"),
                        ),
                    }
                }
                other => self.error(
                    SyntaxErrorKind::InvalidEscape,
                    Span::new(raw_start + i, raw_start + j + other.len_utf8()),
                    format!("unknown escape `\\{other}`"),
                    Some("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t`, `\\r` and `\\u{..}`"),
                ),
            }
        }
        out
    }
}

/// The end of the last token in `text`, which starts at a token boundary: trailing
/// whitespace and comments are excluded; strings are skipped whole, so a `#` inside one
/// is not taken for a comment.
fn tokens_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut at, mut end) = (0, 0);
    while let Some(&b) = bytes.get(at) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => at += 1,
            b'#' => at = text[at..].find('\n').map_or(bytes.len(), |n| at + n),
            b'"' => {
                at = lex::string_end(text, at);
                end = at;
            }
            _ => {
                at += 1;
                end = at;
            }
        }
    }
    end
}

fn unreachable_cond() -> Cond {
    // The grammar guarantees each condition rule has content; should pest ever hand us an
    // empty pair, fall back to a detector with no name, which the checker rejects, rather
    // than panic on user input.
    Cond {
        kind: CondKind::Detector {
            name: Ident {
                name: String::new(),
                span: Span::default(),
            },
            args: Vec::new(),
        },
        span: Span::default(),
    }
}

fn empty_str(span: Span) -> StrLit {
    StrLit {
        value: String::new(),
        style: StrStyle::Plain,
        vars: Vec::new(),
        span,
    }
}

/// Finds every `{{ path }}` hole in a string's raw source text. `raw_start` is the
/// absolute offset of `raw`. See [`holes`] for what counts as a hole.
pub fn template_vars(raw: &str, raw_start: usize) -> Vec<TemplateVar> {
    holes(raw)
        .into_iter()
        .map(|(start, end, path)| TemplateVar {
            path,
            span: Span::new(raw_start + start, raw_start + end),
        })
        .collect()
}

/// The `{{ path }}` holes of a text: `(start, end, trimmed path)`, left to right.
///
/// A hole's inside holds no `{`, `}`, `\`, `"` or control character (so no escape and no
/// line break; a `"` is escaped in a plain string): that way a hole reads the same in the
/// source and in the decoded value, and the
/// printer can write every string back with exactly the holes it had. Anything else —
/// `{{` without `}}`, or `\u{7b}\u{7b}x}}` — is literal text.
pub fn holes(text: &str) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let open = from + found;
        let inside = &text[open + 2..];
        let Some(close) = inside.find("}}") else {
            break;
        };
        let content = &inside[..close];
        if content
            .chars()
            .any(|c| matches!(c, '{' | '}' | '\\' | '"') || c.is_control())
        {
            // Not a hole here; a hole may still start at the next `{`.
            from = open + 1;
            continue;
        }
        let end = open + 2 + close + 2;
        out.push((open, end, content.trim().to_string()));
        from = end;
    }
    out
}

/// The value of a triple-quoted string, from its raw text between the quotes.
///
/// - a first line holding only whitespace is dropped (the text usually starts on the line
///   after `"""`), and so is a last line holding only whitespace (the closing `"""`'s
///   indentation);
/// - the smallest indentation (counted in characters, spaces and tabs alike) of the
///   non-blank lines is removed from every line;
/// - blank lines become empty.
///
/// The printer re-indents the value, and `dedent` of that gives the value back.
pub fn dedent(raw: &str) -> String {
    let mut lines: Vec<&str> = raw.split('\n').collect();
    if lines.len() > 1 && lines[0].trim().is_empty() {
        lines.remove(0);
    }
    if lines.len() > 1 && lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let indent_of = |l: &str| l.chars().take_while(|c| *c == ' ' || *c == '\t').count();
    let min = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let out: Vec<String> = lines
        .iter()
        .map(|l| {
            let l = l.strip_suffix('\r').unwrap_or(l);
            if l.trim().is_empty() {
                String::new()
            } else {
                l.chars().skip(min).collect()
            }
        })
        .collect();
    out.join("\n")
}
