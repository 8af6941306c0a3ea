//! Lowering: a checked AST becomes a [`HarnessIr`], the plain data that both the
//! interpreter and the code generator consume.
//!
//! Lowering runs only on files the checker accepted, so it does not re-validate; but it
//! never panics either. Whatever it cannot represent (a missing header, a name that does not
//! resolve, a number that does not fit the IR's integer type) becomes an internal-error
//! diagnostic with code [`codes::LOWERING_FAILED`], because reaching it means the checker let
//! something through that it should have rejected.
//!
//! Every absent value is filled from the language tables in [`crate::schema`] — the same
//! tables the checker and the docs read — so "what the docs say the default is" and "what
//! runs" cannot drift apart. Where the IR's own documented defaults (`Default` impls in
//! `harnessx_runtime::ir`) disagree with the tables, the tables win; the unit test
//! `defaults_come_from_the_schema` pins this.
//!
//! The first definition wins when a section, prompt or tool is repeated (the checker
//! reports the repetition; this mirrors its `Ctx`). Items keep source order.

use harnessx_runtime::ir::{
    ActionIr, ActionKind, ActionOffer, CmpOp, Compaction, CondIr, ContextIr, Decoding, HarnessIr,
    Hook, LoopIr, Metric, ModelIr, ParamIr, PinRef, PromptIr, RepairStrategy, RuleIr, Segment,
    Strategy, Subject, Template, ToolIr, TypeIr, Var,
};
use harnessx_syntax::{
    Action, Arg, Cond, CondKind, Field, File, Item, Rule, Span, StrLit, Tool, TypeExpr, TypeKind,
    Value, ValueKind,
};

use crate::check::codes;
use crate::diagnostic::Diagnostic;
use crate::schema::{self, HookExt, Lit};

/// Re-exported so that users of [`lower`] need not depend on the runtime crate to name it.
pub use harnessx_runtime::ir::HarnessIr as Ir;

/// Lowers a checked file. Returns every problem found, not just the first.
pub fn lower(file: &File) -> Result<HarnessIr, Vec<Diagnostic>> {
    let Some(h) = &file.harness else {
        return Err(vec![internal(file.span, "the file has no harness header")]);
    };
    let mut cx = Lower { errors: Vec::new() };
    let section = |name: &str| {
        h.items.iter().find_map(|i| match i {
            Item::Section(s) if s.name.name == name => Some(s.fields.as_slice()),
            _ => None,
        })
    };
    let model = cx.model(section("model").unwrap_or(&[]));
    let loop_ = cx.loop_(section("loop").unwrap_or(&[]));
    let context = cx.context(section("context").unwrap_or(&[]));

    let mut prompts: Vec<PromptIr> = Vec::new();
    let mut tools: Vec<ToolIr> = Vec::new();
    let mut rules: Vec<RuleIr> = Vec::new();
    for item in &h.items {
        match item {
            Item::Prompt(p) if !prompts.iter().any(|x| x.name == p.name.name) => {
                let template = cx.template(&p.text);
                prompts.push(PromptIr {
                    name: p.name.name.clone(),
                    template,
                });
            }
            Item::Tool(t) if !tools.iter().any(|x| x.name == t.name.name) => {
                tools.push(cx.tool(t));
            }
            Item::Rule(r) => {
                if let Some(rule) = cx.rule(r) {
                    rules.push(rule);
                }
            }
            _ => {}
        }
    }

    let ir = HarnessIr {
        name: h.name.name.clone(),
        description: h
            .description
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_default(),
        model,
        prompts,
        tools,
        loop_,
        context,
        rules,
    };
    if cx.errors.is_empty() {
        Ok(ir)
    } else {
        Err(cx.errors)
    }
}

/// Parse + check + lower in one go: `Err` carries the checker's diagnostics when it found
/// errors (warnings alone do not stop lowering), else lowering's own.
pub fn lower_source(src: &str) -> Result<HarnessIr, Vec<Diagnostic>> {
    let out = crate::check_source(src);
    if out.has_errors() {
        return Err(out.diagnostics);
    }
    lower(&out.file)
}

fn internal(span: Span, what: impl Into<String>) -> Diagnostic {
    Diagnostic::error(
        codes::LOWERING_FAILED,
        format!("internal compiler error: {}", what.into()),
        span,
        "the checker accepted this, but it cannot be lowered",
    )
    .with_note("this is a bug in the harnessx checker; please report it with this file")
}

struct Lower {
    errors: Vec<Diagnostic>,
}

/// A field's value as the checker typed it, or the schema's default.
enum Got<'a> {
    Value(&'a Value),
    Default(Lit),
    Unset,
}

impl Lower {
    fn fail(&mut self, span: Span, what: impl Into<String>) {
        self.errors.push(internal(span, what));
    }

    fn get<'a>(
        &mut self,
        fields: &'a [Field],
        specs: &'static [schema::FieldSpec],
        name: &str,
    ) -> Got<'a> {
        if let Some(f) = fields.iter().find(|f| f.name.name == name) {
            return Got::Value(&f.value);
        }
        match specs
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.default)
        {
            Some(lit) => Got::Default(lit),
            None => Got::Unset,
        }
    }

    // ---- typed readers: each accepts the written value or the schema's default -------

    fn str_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<String> {
        match got {
            Got::Value(v) => match &v.kind {
                ValueKind::Str(s) => Some(s.value.clone()),
                _ => self.mismatch(v.span, what, "a string"),
            },
            Got::Default(Lit::Str(s)) => Some(s.to_string()),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    fn int_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<i64> {
        match got {
            Got::Value(v) => match v.kind {
                ValueKind::Int(i) => Some(i),
                _ => self.mismatch(v.span, what, "an integer"),
            },
            Got::Default(Lit::Int(i)) => Some(i),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    fn float_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<f64> {
        match got {
            Got::Value(v) => match v.kind {
                ValueKind::Float(x) => Some(x),
                // The checker accepts an int literal for a float field (`temperature = 1`).
                ValueKind::Int(i) => Some(i as f64),
                _ => self.mismatch(v.span, what, "a number"),
            },
            Got::Default(Lit::Float(x)) => Some(x),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    fn ms_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<u64> {
        match got {
            Got::Value(v) => match v.kind {
                ValueKind::Duration(d) => self.fit_u64(d.as_millis(), v.span, what),
                _ => self.mismatch(v.span, what, "a duration"),
            },
            Got::Default(Lit::DurationMs(ms)) => Some(ms),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    fn tokens_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<u64> {
        match got {
            Got::Value(v) => match v.kind {
                ValueKind::Tokens(t) => Some(t),
                _ => self.mismatch(v.span, what, "a token count"),
            },
            Got::Default(Lit::Tokens(t)) => Some(t),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    fn bool_field(&mut self, got: Got<'_>, span: Span, what: &str) -> Option<bool> {
        match got {
            Got::Value(v) => match v.kind {
                ValueKind::Bool(b) => Some(b),
                _ => self.mismatch(v.span, what, "a boolean"),
            },
            Got::Default(Lit::Bool(b)) => Some(b),
            Got::Default(_) => self.bad_default(span, what),
            Got::Unset => None,
        }
    }

    /// A bare variant name, mapped through `parse`.
    fn variant_field<T>(
        &mut self,
        got: Got<'_>,
        span: Span,
        what: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Option<T> {
        let (name, at) = match got {
            Got::Value(v) => match &v.kind {
                ValueKind::Ident(n) => (n.clone(), v.span),
                _ => return self.mismatch(v.span, what, "a name"),
            },
            Got::Default(Lit::Variant(n)) => (n.to_string(), span),
            Got::Default(_) => return self.bad_default(span, what),
            Got::Unset => return None,
        };
        let parsed = parse(&name);
        if parsed.is_none() {
            self.fail(at, format!("`{name}` is not a known value of {what}"));
        }
        parsed
    }

    fn mismatch<T>(&mut self, span: Span, what: &str, expected: &str) -> Option<T> {
        self.fail(span, format!("{what} should be {expected}"));
        None
    }

    fn bad_default<T>(&mut self, span: Span, what: &str) -> Option<T> {
        self.fail(
            span,
            format!("the language table's default for {what} has the wrong type"),
        );
        None
    }

    fn fit_u64(&mut self, n: u128, span: Span, what: &str) -> Option<u64> {
        match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => self.mismatch(span, what, "at most u64::MAX"),
        }
    }

    fn fit_u32(&mut self, n: Option<i64>, span: Span, what: &str) -> Option<u32> {
        let n = n?;
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => self.mismatch(span, what, "a non-negative 32-bit integer"),
        }
    }

    fn fit_u64_i(&mut self, n: Option<i64>, span: Span, what: &str) -> Option<u64> {
        let n = n?;
        match u64::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => self.mismatch(span, what, "a non-negative integer"),
        }
    }

    // ---- sections -----------------------------------------------------------------------

    fn model(&mut self, fields: &[Field]) -> ModelIr {
        const F: &[schema::FieldSpec] = schema::MODEL_FIELDS;
        let span = fields.first().map(|f| f.span).unwrap_or_default();
        let mut m = ModelIr::default();
        let g = self.get(fields, F, "backend");
        if let Some(v) = self.str_field(g, span, "`model.backend`") {
            m.backend = v;
        }
        let g = self.get(fields, F, "temperature");
        if let Some(v) = self.float_field(g, span, "`model.temperature`") {
            m.temperature = v;
        }
        let g = self.get(fields, F, "max_tokens");
        let n = self.int_field(g, span, "`model.max_tokens`");
        if let Some(v) = self.fit_u32(n, span, "`model.max_tokens`") {
            m.max_tokens = v;
        }
        let g = self.get(fields, F, "top_p");
        m.top_p = self.float_field(g, span, "`model.top_p`");
        let g = self.get(fields, F, "decoding");
        if let Some(v) = self.variant_field(g, span, "`model.decoding`", decoding) {
            m.decoding = v;
        }
        let g = self.get(fields, F, "offer");
        if let Some(v) = self.variant_field(g, span, "`model.offer`", offer) {
            m.offer = v;
        }
        let g = self.get(fields, F, "api_key_env");
        m.api_key_env = self.str_field(g, span, "`model.api_key_env`");
        let g = self.get(fields, F, "seed");
        let n = self.int_field(g, span, "`model.seed`");
        m.seed = self.fit_u64_i(n, span, "`model.seed`");
        let g = self.get(fields, F, "timeout");
        m.timeout_ms = self.ms_field(g, span, "`model.timeout`");
        let g = self.get(fields, F, "context_window");
        m.context_window = self.tokens_field(g, span, "`model.context_window`");
        let g = self.get(fields, F, "requests_per_second");
        m.requests_per_second = self.float_field(g, span, "`model.requests_per_second`");
        let g = self.get(fields, F, "tokens_per_minute");
        let n = self.int_field(g, span, "`model.tokens_per_minute`");
        m.tokens_per_minute = self.fit_u64_i(n, span, "`model.tokens_per_minute`");
        m
    }

    fn loop_(&mut self, fields: &[Field]) -> LoopIr {
        const F: &[schema::FieldSpec] = schema::LOOP_FIELDS;
        let span = fields.first().map(|f| f.span).unwrap_or_default();
        let mut l = LoopIr::default();
        let g = self.get(fields, F, "max_steps");
        let n = self.int_field(g, span, "`loop.max_steps`");
        if let Some(v) = self.fit_u32(n, span, "`loop.max_steps`") {
            l.max_steps = v;
        }
        let g = self.get(fields, F, "strategy");
        if let Some(v) = self.variant_field(g, span, "`loop.strategy`", strategy) {
            l.strategy = v;
        }
        let g = self.get(fields, F, "reflect_every");
        let n = self.int_field(g, span, "`loop.reflect_every`");
        l.reflect_every = self.fit_u32(n, span, "`loop.reflect_every`");
        l
    }

    fn context(&mut self, fields: &[Field]) -> ContextIr {
        const F: &[schema::FieldSpec] = schema::CONTEXT_FIELDS;
        let span = fields.first().map(|f| f.span).unwrap_or_default();
        let mut c = ContextIr::default();
        let g = self.get(fields, F, "budget");
        if let Some(v) = self.tokens_field(g, span, "`context.budget`") {
            c.budget_tokens = v;
        }
        let g = self.get(fields, F, "compaction");
        if let Some(v) = self.variant_field(g, span, "`context.compaction`", compaction) {
            c.compaction = v;
        }
        match self.get(fields, F, "pin") {
            Got::Value(v) => match &v.kind {
                ValueKind::List(items) => {
                    c.pin = Vec::new();
                    for item in items {
                        match &item.kind {
                            ValueKind::Ident(n) => c.pin.push(pin_ref(n)),
                            _ => self.fail(item.span, "a `pin` entry should be a name"),
                        }
                    }
                }
                _ => self.fail(v.span, "`context.pin` should be a list"),
            },
            Got::Default(Lit::Refs(refs)) => c.pin = refs.iter().map(|r| pin_ref(r)).collect(),
            Got::Default(_) => self.fail(span, "the default of `context.pin` is not a list"),
            Got::Unset => c.pin = Vec::new(),
        }
        let g = self.get(fields, F, "keep_last");
        let n = self.int_field(g, span, "`context.keep_last`");
        if let Some(v) = self.fit_u32(n, span, "`context.keep_last`") {
            c.keep_last = v;
        }
        c
    }

    // ---- tools ----------------------------------------------------------------------------

    fn tool(&mut self, t: &Tool) -> ToolIr {
        const F: &[schema::FieldSpec] = schema::TOOL_OPTIONS;
        let opts: &[Field] = t.options.as_deref().unwrap_or(&[]);
        let span = t.name.span;
        let mut params = Vec::new();
        for p in &t.params {
            if let Some(ty) = self.ty(&p.ty) {
                params.push(ParamIr::new(p.name.name.clone(), ty));
            }
        }
        let mut tool = ToolIr::new(t.name.name.clone(), params);
        tool.description = t
            .description
            .as_ref()
            .map(|d| d.value.clone())
            .unwrap_or_default();
        let g = self.get(opts, F, "timeout");
        tool.timeout_ms = self.ms_field(g, span, "the tool's `timeout`");
        let g = self.get(opts, F, "retries");
        let n = self.int_field(g, span, "the tool's `retries`");
        tool.retries = self.fit_u32(n, span, "the tool's `retries`").unwrap_or(0);
        let g = self.get(opts, F, "verifies");
        tool.verifies = self
            .bool_field(g, span, "the tool's `verifies`")
            .unwrap_or(false);
        tool
    }

    fn ty(&mut self, t: &TypeExpr) -> Option<TypeIr> {
        Some(match &t.kind {
            TypeKind::Named(n) => match n.as_str() {
                "string" => TypeIr::String,
                "int" => TypeIr::Int,
                "float" => TypeIr::Float,
                "bool" => TypeIr::Bool,
                "duration" => TypeIr::Duration,
                "tokens" => TypeIr::Tokens,
                other => {
                    self.fail(t.span, format!("unknown parameter type `{other}`"));
                    return None;
                }
            },
            TypeKind::List(inner) => TypeIr::List(Box::new(self.ty(inner)?)),
            TypeKind::Optional(inner) => TypeIr::Optional(Box::new(self.ty(inner)?)),
            TypeKind::Enum(vs) => TypeIr::Enum(vs.iter().map(|v| v.value.clone()).collect()),
        })
    }

    // ---- templates -------------------------------------------------------------------------

    /// Splits a string literal's decoded value into text and variables.
    ///
    /// The parser found the holes in the *source* text (`s.vars`); the value is decoded.
    /// A hole's inside never holds an escape (see `harnessx_syntax::parser::holes`), so
    /// every source hole reads the same in the value, and scanning the value with the
    /// same rule finds all of them — plus any that escapes produced (`\u{7b}\u{7b}step}}`
    /// is text in the source, but `{{step}}` in the value). [`source_holes`] picks out the
    /// source's own; a literal without holes is simply one text segment.
    fn template(&mut self, s: &StrLit) -> Template {
        if s.vars.is_empty() {
            return if s.value.is_empty() {
                Vec::new()
            } else {
                vec![Segment::Text(s.value.clone())]
            };
        }
        let Some(chosen) = source_holes(s) else {
            self.fail(
                s.span,
                "the `{{..}}` holes of this string cannot be told apart from braces written \
                 as escapes; write those braces some other way",
            );
            return Vec::new();
        };
        let mut out: Template = Vec::new();
        let mut at = 0;
        for (start, end, path) in chosen {
            let Some(var) = Var::from_path(&path) else {
                self.fail(s.span, format!("unknown template variable `{path}`"));
                return Vec::new();
            };
            push_text(&mut out, &s.value[at..start]);
            out.push(Segment::Var(var));
            at = end;
        }
        push_text(&mut out, &s.value[at..]);
        out
    }

    // ---- rules -------------------------------------------------------------------------------

    fn rule(&mut self, r: &Rule) -> Option<RuleIr> {
        let Some(hook) = Hook::from_name(&r.hook.name) else {
            self.fail(r.hook.span, format!("unknown hook `{}`", r.hook.name));
            return None;
        };
        let when = match &r.when {
            None => None,
            Some(c) => Some(self.cond(c)?),
        };
        let mut actions = Vec::new();
        for a in &r.actions {
            if let Some(a) = self.action(a) {
                actions.push(a);
            }
        }
        Some(RuleIr {
            name: r.name.as_ref().map(|n| n.name.clone()),
            hook,
            when,
            actions,
        })
    }

    fn cond(&mut self, c: &Cond) -> Option<CondIr> {
        Some(match &c.kind {
            CondKind::And(cs) => CondIr::And(self.conds(cs)?),
            CondKind::Or(cs) => CondIr::Or(self.conds(cs)?),
            CondKind::Not(inner) => CondIr::Not(Box::new(self.cond(inner)?)),
            CondKind::Detector { name, args } => match name.name.as_str() {
                "malformed_call" => CondIr::MalformedCall,
                "tool_error" => CondIr::ToolError,
                "tool_timeout" => CondIr::ToolTimeout,
                "verified" => CondIr::Verified,
                "repeated_action" => {
                    let spec = schema::REPEATED_ACTION_ARGS;
                    let window = self.int_arg(args, spec, "window", c.span)?;
                    let count = self.int_arg(args, spec, "count", c.span)?;
                    CondIr::RepeatedAction {
                        window: self.fit_u32(Some(window), c.span, "`window`")?,
                        count: self.fit_u32(Some(count), c.span, "`count`")?,
                    }
                }
                "call" => match args.first().map(|a| &a.value.kind) {
                    Some(ValueKind::Ident(tool)) => CondIr::Call(tool.clone()),
                    _ => {
                        self.fail(c.span, "`call` needs a tool name");
                        return None;
                    }
                },
                other => {
                    self.fail(name.span, format!("unknown detector `{other}`"));
                    return None;
                }
            },
            CondKind::Compare { metric, op, value } => {
                let Some(m) = metric_of(&metric.name) else {
                    self.fail(metric.span, format!("unknown metric `{}`", metric.name));
                    return None;
                };
                let n = match value.kind {
                    ValueKind::Int(i) => i,
                    ValueKind::Tokens(t) => match i64::try_from(t) {
                        Ok(t) => t,
                        Err(_) => return self.mismatch(value.span, "a comparison", "smaller"),
                    },
                    _ => return self.mismatch(value.span, "a comparison", "an integer"),
                };
                CondIr::Compare {
                    metric: m,
                    op: cmp_op(*op),
                    value: n,
                }
            }
            CondKind::Matches { subject, pattern } => {
                let Some(s) = subject_of(&subject.name) else {
                    self.fail(subject.span, format!("unknown subject `{}`", subject.name));
                    return None;
                };
                CondIr::Matches {
                    subject: s,
                    pattern: pattern.value.clone(),
                }
            }
        })
    }

    fn conds(&mut self, cs: &[Cond]) -> Option<Vec<CondIr>> {
        let mut out = Vec::with_capacity(cs.len());
        for c in cs {
            out.push(self.cond(c)?);
        }
        Some(out)
    }

    fn action(&mut self, a: &Action) -> Option<ActionIr> {
        let spec = match schema::action(&a.name.name) {
            Some(s) => s.args,
            None => {
                self.fail(a.name.span, format!("unknown action `{}`", a.name.name));
                return None;
            }
        };
        let kind = match a.name.name.as_str() {
            "log" => ActionKind::Log(self.message(a)?),
            "inject" => ActionKind::Inject(self.message(a)?),
            "block" => ActionKind::Block(self.message(a)?),
            "stop" => ActionKind::Stop(self.message(a)?),
            "reprompt" => {
                let message = self.message(a)?;
                let max = self.int_arg(&a.args, spec, "max", a.span)?;
                ActionKind::Reprompt {
                    message,
                    max: self.fit_u32(Some(max), a.span, "`max`")?,
                }
            }
            "retry" => {
                let max = self.int_arg(&a.args, spec, "max", a.span)?;
                let backoff = self.ms_arg(&a.args, spec, "backoff", a.span)?;
                ActionKind::Retry {
                    max: self.fit_u32(Some(max), a.span, "`max`")?,
                    backoff_ms: backoff,
                }
            }
            // Without `strategy`, `compact` has no default of its own: the IR's `None`
            // means "the context's strategy", as the language table documents.
            "compact" => match Self::arg(&a.args, "strategy").map(|v| &v.kind) {
                None => ActionKind::Compact(None),
                Some(ValueKind::Ident(n)) => match compaction(n) {
                    Some(s) => ActionKind::Compact(Some(s)),
                    None => {
                        self.fail(a.span, format!("unknown compaction strategy `{n}`"));
                        return None;
                    }
                },
                Some(_) => return self.mismatch(a.span, "`strategy`", "a name"),
            },
            "repair" => {
                let name = match a.message.as_ref().map(|m| &m.kind) {
                    Some(ValueKind::Ident(n)) => n.as_str(),
                    _ => {
                        self.fail(a.span, "`repair` needs a strategy");
                        return None;
                    }
                };
                let Some(s) = repair_strategy(name) else {
                    self.fail(a.span, format!("unknown repair strategy `{name}`"));
                    return None;
                };
                ActionKind::Repair(s)
            }
            other => {
                self.fail(a.name.span, format!("action `{other}` has no lowering"));
                return None;
            }
        };
        let mut out = ActionIr::new(kind);
        if let Some(fallback) = &a.otherwise {
            out.fallback = Some(Box::new(self.action(fallback)?));
        }
        Some(out)
    }

    fn message(&mut self, a: &Action) -> Option<Template> {
        match a.message.as_ref().map(|m| &m.kind) {
            Some(ValueKind::Str(s)) => Some(self.template(s)),
            _ => {
                self.fail(a.span, format!("`{}` needs a message", a.name.name));
                None
            }
        }
    }

    fn arg<'a>(args: &'a [Arg], name: &str) -> Option<&'a Value> {
        args.iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))
            .map(|a| &a.value)
    }

    /// The table's default of an argument; an argument without one must be handled by
    /// its caller, so reaching `None` here is an internal error.
    fn arg_default(&mut self, specs: &[schema::ArgSpec], name: &str, span: Span) -> Option<Lit> {
        let d = specs
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.default);
        if d.is_none() {
            self.fail(
                span,
                format!("the language table has no default for `{name}`"),
            );
        }
        d
    }

    fn int_arg(
        &mut self,
        args: &[Arg],
        specs: &[schema::ArgSpec],
        name: &str,
        span: Span,
    ) -> Option<i64> {
        match Self::arg(args, name) {
            Some(v) => match v.kind {
                ValueKind::Int(i) => Some(i),
                _ => self.mismatch(v.span, &format!("`{name}`"), "an integer"),
            },
            None => match self.arg_default(specs, name, span)? {
                Lit::Int(i) => Some(i),
                _ => self.bad_default(span, &format!("`{name}`")),
            },
        }
    }

    fn ms_arg(
        &mut self,
        args: &[Arg],
        specs: &[schema::ArgSpec],
        name: &str,
        span: Span,
    ) -> Option<u64> {
        match Self::arg(args, name) {
            Some(v) => match v.kind {
                ValueKind::Duration(d) => self.fit_u64(d.as_millis(), v.span, name),
                _ => self.mismatch(v.span, &format!("`{name}`"), "a duration"),
            },
            None => match self.arg_default(specs, name, span)? {
                Lit::DurationMs(ms) => Some(ms),
                _ => self.bad_default(span, &format!("`{name}`")),
            },
        }
    }
}

fn push_text(out: &mut Template, text: &str) {
    if !text.is_empty() {
        out.push(Segment::Text(text.to_string()));
    }
}

/// The holes of `s.value` (byte ranges and paths) that are the source's holes, or `None`
/// when that is ambiguous.
///
/// A triple-quoted string has no escapes, so its value has exactly the source's holes. In
/// a plain string, escapes may add holes; the source's are the in-order choice of value
/// holes with the source's paths such that each stretch of text between them can be
/// written in exactly as many source bytes as the source has there ([`SourceLengths`]).
/// If exactly one choice fits, it is the answer.
fn source_holes(s: &StrLit) -> Option<Vec<(usize, usize, String)>> {
    let found = harnessx_syntax::parser::holes(&s.value);
    let wanted: Vec<&str> = s.vars.iter().map(|v| v.path.as_str()).collect();
    let paths: Vec<&str> = found.iter().map(|h| h.2.as_str()).collect();
    // The value's holes include the source's, in order: the same count means the same
    // holes. A triple-quoted string has no escapes, so it never has more.
    if paths == wanted || s.style == harnessx_syntax::StrStyle::Triple {
        return (paths == wanted).then_some(found);
    }
    // Source offsets relative to the text between the quotes.
    let raw_start = s.span.start + 1;
    let raw_len = s.span.end.checked_sub(s.span.start + 2)?;
    let raw: Vec<(usize, usize)> = s
        .vars
        .iter()
        .map(|v| {
            Some((
                v.span.start.checked_sub(raw_start)?,
                v.span.end.checked_sub(raw_start)?,
            ))
        })
        .collect::<Option<_>>()?;

    let mut align = Align {
        s,
        found: &found,
        raw: &raw,
        raw_len,
        lengths: SourceLengths::new(&s.value),
        picked: Vec::new(),
        solutions: Vec::new(),
        dead: std::collections::BTreeSet::new(),
    };
    align.search(0, 0, 0);
    let solutions = align.solutions;
    match solutions.as_slice() {
        [one] => Some(one.iter().map(|&j| found[j].clone()).collect()),
        _ => None,
    }
}

/// How many bytes of plain-string source can write a stretch of decoded text, as prefix
/// sums over the text's byte offsets (on char boundaries), exactly:
///
/// - each character has a cheapest form `m`: itself, or for `"`, `\` and a line break
///   (which cannot appear raw) its two-byte escape;
/// - a tab or carriage return may also take one byte more (`\t`, `\r`);
/// - any character may be written `\u{HEX}` with any number of leading zeros: every
///   length from `4 + significant hex digits` up.
///
/// So `n` characters can be written in exactly the lengths `[base, base + flex]` and
/// `[base + d, ∞)`, where `base` is the sum of the `m`, `flex` the number of tabs and
/// carriage returns, and `d` the smallest `\u` surcharge over the stretch.
struct SourceLengths {
    base: Vec<usize>,
    flex: Vec<usize>,
    /// `surcharge[d][i]`: characters before byte `i` whose `\u` form costs `d` more.
    surcharge: Vec<Vec<usize>>,
}

/// The largest `\u` surcharge: `\u{10ffff}` (10 bytes) for a 4-byte character is 6 more.
const MAX_SURCHARGE: usize = 8;

impl SourceLengths {
    fn new(value: &str) -> Self {
        let n = value.len() + 1;
        let mut base = vec![0; n];
        let mut flex = vec![0; n];
        let mut surcharge = vec![vec![0; n]; MAX_SURCHARGE + 1];
        let (mut b, mut f) = (0, 0);
        let mut counts = [0usize; MAX_SURCHARGE + 1];
        for (i, c) in value.char_indices() {
            let m = match c {
                '"' | '\\' | '\n' => 2,
                c => c.len_utf8(),
            };
            let digits = (32 - (c as u32).leading_zeros()).div_ceil(4).max(1) as usize;
            let d = (4 + digits).saturating_sub(m).min(MAX_SURCHARGE);
            b += m;
            f += usize::from(matches!(c, '\t' | '\r'));
            counts[d] += 1;
            for at in i + 1..=i + c.len_utf8() {
                base[at] = b;
                flex[at] = f;
                for (row, count) in surcharge.iter_mut().zip(counts) {
                    row[at] = count;
                }
            }
        }
        SourceLengths {
            base,
            flex,
            surcharge,
        }
    }

    /// The fewest source bytes for value bytes `a..b` (a lower bound that grows with `b`).
    fn min(&self, a: usize, b: usize) -> usize {
        self.base[b] - self.base[a]
    }

    /// Can value bytes `a..b` be written in exactly `len` source bytes?
    fn fits(&self, a: usize, b: usize, len: usize) -> bool {
        if a == b {
            return len == 0;
        }
        let base = self.min(a, b);
        if len < base {
            return false;
        }
        if len <= base + (self.flex[b] - self.flex[a]) {
            return true;
        }
        (0..=MAX_SURCHARGE)
            .find(|&d| self.surcharge[d][b] > self.surcharge[d][a])
            .is_some_and(|d| len >= base + d)
    }
}

/// The search of [`source_holes`]: depth-first over the choices of value holes, stopping
/// at the second complete one (two mean the choice is ambiguous).
struct Align<'a> {
    s: &'a StrLit,
    found: &'a [(usize, usize, String)],
    raw: &'a [(usize, usize)],
    raw_len: usize,
    lengths: SourceLengths,
    picked: Vec<usize>,
    solutions: Vec<Vec<usize>>,
    /// `(k, from)` states known to lead nowhere (`at` follows from `from`), so the search
    /// stays polynomial on strings with many look-alike holes.
    dead: std::collections::BTreeSet<(usize, usize)>,
}

impl Align<'_> {
    /// Match source hole `k` and those after it to value holes `from..`, the value text
    /// before them starting at byte `at`.
    fn search(&mut self, k: usize, from: usize, at: usize) {
        if self.solutions.len() >= 2 || self.dead.contains(&(k, from)) {
            return;
        }
        let before = self.solutions.len();
        let raw_prev_end = if k == 0 { 0 } else { self.raw[k - 1].1 };
        if k == self.raw.len() {
            let len = self.raw_len.saturating_sub(raw_prev_end);
            if self.lengths.fits(at, self.s.value.len(), len) {
                self.solutions.push(self.picked.clone());
            } else {
                self.dead.insert((k, from));
            }
            return;
        }
        let (rs, re) = self.raw[k];
        let gap = rs.saturating_sub(raw_prev_end);
        for j in from..self.found.len() {
            let (ds, de) = (self.found[j].0, self.found[j].1);
            // Later holes only lengthen the text before them: once it is too long for the
            // source gap, no later choice fits either.
            if self.lengths.min(at, ds) > gap {
                break;
            }
            if self.found[j].2 != self.s.vars[k].path || de - ds != re - rs {
                continue;
            }
            if !self.lengths.fits(at, ds, gap) {
                continue;
            }
            self.picked.push(j);
            self.search(k + 1, j + 1, de);
            self.picked.pop();
        }
        if self.solutions.len() == before {
            self.dead.insert((k, from));
        }
    }
}

// ---- name tables: source spelling → IR enum ------------------------------------------------

fn offer(name: &str) -> Option<ActionOffer> {
    match name {
        "all" => Some(ActionOffer::All),
        "untried" => Some(ActionOffer::Untried),
        "untried_since_reward" => Some(ActionOffer::UntriedSinceReward),
        "untried_since_change" => Some(ActionOffer::UntriedSinceChange),
        _ => None,
    }
}

fn decoding(name: &str) -> Option<Decoding> {
    match name {
        "free" => Some(Decoding::Free),
        "constrained" => Some(Decoding::Constrained),
        _ => None,
    }
}

fn strategy(name: &str) -> Option<Strategy> {
    match name {
        "react" => Some(Strategy::React),
        "plan_then_act" => Some(Strategy::PlanThenAct),
        "reflect" => Some(Strategy::Reflect),
        _ => None,
    }
}

fn compaction(name: &str) -> Option<Compaction> {
    match name {
        "none" => Some(Compaction::None),
        "truncate_oldest" => Some(Compaction::TruncateOldest),
        "summarize_oldest" => Some(Compaction::SummarizeOldest),
        "drop_observations" => Some(Compaction::DropObservations),
        _ => None,
    }
}

fn repair_strategy(name: &str) -> Option<RepairStrategy> {
    match name {
        "extract_action" => Some(RepairStrategy::ExtractAction),
        "fuzzy_match" => Some(RepairStrategy::FuzzyMatch),
        "json_fix" => Some(RepairStrategy::JsonFix),
        _ => None,
    }
}

/// The built-in references (`task.goal`, `tools`, `admissible_actions`) have their own
/// variants; any other name (`system`, a declared prompt) is a prompt.
fn pin_ref(name: &str) -> PinRef {
    match name {
        "task.goal" => PinRef::TaskGoal,
        "tools" => PinRef::Tools,
        "admissible_actions" => PinRef::AdmissibleActions,
        _ => PinRef::Prompt(name.to_string()),
    }
}

fn metric_of(name: &str) -> Option<Metric> {
    match name {
        "step" => Some(Metric::Step),
        "context_tokens" => Some(Metric::ContextTokens),
        "tokens_used" => Some(Metric::TokensUsed),
        "consecutive_errors" => Some(Metric::ConsecutiveErrors),
        _ => None,
    }
}

fn subject_of(name: &str) -> Option<Subject> {
    match name {
        "output" => Some(Subject::Output),
        "observation" => Some(Subject::Observation),
        "goal" => Some(Subject::Goal),
        _ => None,
    }
}

fn cmp_op(op: harnessx_syntax::CmpOp) -> CmpOp {
    use harnessx_syntax::CmpOp as S;
    match op {
        S::Lt => CmpOp::Lt,
        S::Le => CmpOp::Le,
        S::Gt => CmpOp::Gt,
        S::Ge => CmpOp::Ge,
        S::Eq => CmpOp::Eq,
        S::Ne => CmpOp::Ne,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(src: &str) -> HarnessIr {
        match lower_source(src) {
            Ok(ir) => ir,
            Err(d) => panic!("did not lower: {d:#?}"),
        }
    }

    const MINIMAL: &str = r#"harness m { prompt system "hi {{task.goal}}!" tool act(c: string) }"#;

    /// Absent fields take the defaults of `schema.rs`, the language's single table.
    #[test]
    fn defaults_come_from_the_schema() {
        let ir = lowered(MINIMAL);
        let d = |fields: &[schema::FieldSpec], n: &str| {
            fields.iter().find(|f| f.name == n).and_then(|f| f.default)
        };
        assert_eq!(
            Some(Lit::Float(ir.model.temperature)),
            d(schema::MODEL_FIELDS, "temperature")
        );
        assert_eq!(
            Some(Lit::Int(i64::from(ir.model.max_tokens))),
            d(schema::MODEL_FIELDS, "max_tokens")
        );
        assert_eq!(
            ir.model.top_p.map(Lit::Float),
            d(schema::MODEL_FIELDS, "top_p")
        );
        assert_eq!(
            ir.model.timeout_ms.map(Lit::DurationMs),
            d(schema::MODEL_FIELDS, "timeout")
        );
        assert_eq!(ir.model.seed, None);
        assert_eq!(ir.model.api_key_env, None);
        assert_eq!(
            ir.model.requests_per_second.map(Lit::Float),
            d(schema::MODEL_FIELDS, "requests_per_second")
        );
        assert_eq!(
            ir.model.tokens_per_minute.map(|n| Lit::Int(n as i64)),
            d(schema::MODEL_FIELDS, "tokens_per_minute")
        );
        assert_eq!(
            Some(Lit::Int(i64::from(ir.loop_.max_steps))),
            d(schema::LOOP_FIELDS, "max_steps")
        );
        assert_eq!(
            ir.loop_.reflect_every.map(|n| Lit::Int(i64::from(n))),
            d(schema::LOOP_FIELDS, "reflect_every")
        );
        assert_eq!(
            Some(Lit::Tokens(ir.context.budget_tokens)),
            d(schema::CONTEXT_FIELDS, "budget")
        );
        assert_eq!(
            Some(Lit::Int(i64::from(ir.context.keep_last))),
            d(schema::CONTEXT_FIELDS, "keep_last")
        );
        assert_eq!(
            ir.context.pin,
            vec![PinRef::Prompt("system".into()), PinRef::TaskGoal]
        );
        let t = &ir.tools[0];
        assert_eq!(
            t.timeout_ms.map(Lit::DurationMs),
            d(schema::TOOL_OPTIONS, "timeout")
        );
        assert_eq!(t.retries, 0);
        assert!(!t.verifies);
    }

    /// The schema and the IR's documented defaults agree; should one of them change, this
    /// test says which value drifted.
    #[test]
    fn schema_defaults_agree_with_the_ir_defaults() {
        let ir = lowered(MINIMAL);
        assert_eq!(ir.model, ModelIr::default());
        assert_eq!(ir.context, ContextIr::default());
        let l = LoopIr::default();
        assert_eq!(ir.loop_.max_steps, l.max_steps);
        assert_eq!(ir.loop_.strategy, l.strategy);
        assert_eq!(
            ir.loop_.effective_reflect_every(),
            l.effective_reflect_every()
        );
        let t = ToolIr::new("act", Vec::new());
        assert_eq!(
            (
                ir.tools[0].timeout_ms,
                ir.tools[0].retries,
                ir.tools[0].verifies
            ),
            (t.timeout_ms, t.retries, t.verifies)
        );
    }

    #[test]
    fn templates_split_into_segments() {
        let ir = lowered(MINIMAL);
        assert_eq!(
            ir.prompts[0].template,
            vec![
                Segment::Text("hi ".into()),
                Segment::Var(Var::TaskGoal),
                Segment::Text("!".into()),
            ]
        );
    }

    #[test]
    fn strings_without_holes_stay_verbatim() {
        let src = r#"harness m {
            prompt system "\u{7b}\u{7b}step}} \" {{"
            tool act(c: string) "d {{step}} \u{0}"
        }"#;
        let ir = lowered(src);
        assert_eq!(
            ir.prompts[0].template,
            vec![Segment::Text("{{step}} \" {{".into())]
        );
        // Tool descriptions are plain text: no splitting at all.
        assert_eq!(ir.tools[0].description, "d {{step}} \u{0}");
    }

    #[test]
    fn escaped_braces_next_to_a_variable_stay_text() {
        let src = r#"harness m {
            prompt system "\u{7b}\u{7b}step}} {{step}} \"\n{{ task.goal }}\u{7b}\u{7b}step}}"
            prompt p2 "{{step}}\u{7b}\u{7b}step}}"
            tool a(c: string)
        }"#;
        let ir = lowered(src);
        assert_eq!(
            ir.prompts[0].template,
            vec![
                Segment::Text("{{step}} ".into()),
                Segment::Var(Var::Step),
                Segment::Text(" \"\n".into()),
                Segment::Var(Var::TaskGoal),
                Segment::Text("{{step}}".into()),
            ]
        );
        assert_eq!(
            ir.prompts[1].template,
            vec![Segment::Var(Var::Step), Segment::Text("{{step}}".into())]
        );
    }

    #[test]
    fn ambiguous_escaped_braces_are_reported_not_guessed() {
        let src = r#"harness m { prompt system "\u{0041}\u{0041}{{step}}\u{7b}\u{7b}step}}X" tool a(c: string) }"#;
        let errs = lower_source(src).expect_err("ambiguous");
        assert!(
            errs.iter().all(|d| d.code == codes::LOWERING_FAILED),
            "{errs:#?}"
        );
    }

    #[test]
    fn many_holes_lower_quickly() {
        let body = "{{step}}\\u{7b}\\u{7b}step}}".repeat(200);
        let src = format!("harness m {{ prompt system \"{body}\" tool a(c: string) }}");
        let ir = lowered(&src);
        let vars = ir.prompts[0]
            .template
            .iter()
            .filter(|s| matches!(s, Segment::Var(_)))
            .count();
        assert_eq!(vars, 200);
    }

    #[test]
    fn actions_get_their_defaults() {
        let src = r#"harness m {
            prompt system "s"
            tool act(c: string)
            on after_tool when tool_error { retry }
            on after_model when malformed_call { reprompt "again" }
            on before_model when repeated_action { compact }
        }"#;
        let ir = lowered(src);
        assert_eq!(
            ir.rules[0].actions[0].kind,
            ActionKind::Retry {
                max: 2,
                backoff_ms: 100
            }
        );
        assert_eq!(
            ir.rules[1].actions[0].kind,
            ActionKind::Reprompt {
                message: vec![Segment::Text("again".into())],
                max: 1
            }
        );
        assert_eq!(
            ir.rules[2].when,
            Some(CondIr::RepeatedAction {
                window: 4,
                count: 3
            })
        );
        assert_eq!(ir.rules[2].actions[0].kind, ActionKind::Compact(None));
    }

    #[test]
    fn no_header_is_a_diagnostic_not_a_panic() {
        let errs = lower(&File::default()).expect_err("no header");
        assert_eq!(errs[0].code, codes::LOWERING_FAILED);
    }
}
