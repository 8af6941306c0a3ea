//! Completion: the names that may be written at the cursor, from the schema and from the
//! file's own declarations.
//!
//! - hook names after `on`;
//! - after `when`/`and`/`or`/`not`: the detectors, metrics and match subjects available on
//!   the rule's hook;
//! - at the start of a line in a rule: the actions legal on its hook; after such an action,
//!   its values (`repair json_fix`) and, in parentheses, its arguments and their values;
//! - at the start of a line in a section or tool option block: its fields not yet written;
//!   after `FIELD =`, the field's legal values (declared prompts too, for `context.pin`);
//! - in `call(`: the declared tools;
//! - item keywords and section names at the start of an item; annotations after `@`;
//!   parameter types; template variables inside `{{`.
//!
//! Every item carries the schema's description as documentation. The client filters by
//! the word typed so far.

use harnessx_compiler::schema::{
    self, ArgSpec, DetectorArgs, FieldSpec, FieldType, Hook, HookExt, MessageSpec,
};
use harnessx_syntax::{File, Item};
use lsp_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind};

use crate::context::{self, Context};
use crate::describe;

/// The completion items at byte `offset` of `text`, whose parsed (possibly partial) tree
/// is `file`.
pub fn complete(text: &str, file: &File, offset: usize) -> Vec<CompletionItem> {
    let mut out = Items::default();
    match context::at(text, offset) {
        Context::FileStart => out.keyword("harness", "`harness NAME \"description\" { ... }`"),
        Context::ItemStart => {
            for (kw, doc) in [
                (
                    "on",
                    "a rule: `on HOOK [as NAME] [when CONDITION] { ACTIONS }`",
                ),
                (
                    "tool",
                    "a tool: `tool NAME(PARAM: TYPE, ...) \"description\" { OPTIONS }`",
                ),
                ("prompt", "a prompt: `prompt NAME \"\"\"text\"\"\"`"),
            ] {
                out.keyword(kw, doc);
            }
            let declared = sections(file);
            for s in schema::SECTIONS {
                if !declared.contains(&s.name) {
                    out.add(
                        s.name,
                        CompletionItemKind::MODULE,
                        s.doc,
                        describe::section(s),
                    );
                }
            }
        }
        Context::Annotation => {
            for a in schema::ANNOTATIONS {
                out.add(
                    a.name,
                    CompletionItemKind::PROPERTY,
                    a.doc,
                    describe::annotation(a),
                );
            }
        }
        Context::Hook => {
            for h in Hook::ALL {
                out.add(
                    h.as_str(),
                    CompletionItemKind::EVENT,
                    h.doc(),
                    describe::hook(h),
                );
            }
        }
        Context::RuleHeader => {
            out.keyword(
                "when",
                "`when CONDITION`: the rule fires only when it holds",
            );
            out.keyword("as", "`as NAME`: names the rule (in traces)");
        }
        Context::Condition { hook } => {
            conditions(&mut out, hook.as_deref().and_then(Hook::from_name))
        }
        Context::AfterCondition => {
            out.keyword("and", "both conditions hold");
            out.keyword("or", "either condition holds");
        }
        Context::CallArgument => {
            for t in tools(file) {
                out.add(
                    &t.name.name,
                    CompletionItemKind::REFERENCE,
                    "declared tool",
                    describe::tool(t),
                );
            }
        }
        Context::DetectorArgument { detector } => {
            if let Some(DetectorArgs::Named(args)) = schema::detector(&detector).map(|d| d.args) {
                arg_names(&mut out, &detector, args);
            }
        }
        Context::ParamType => {
            for t in schema::PARAM_TYPES {
                out.add(
                    t,
                    CompletionItemKind::TYPE_PARAMETER,
                    "parameter type",
                    describe::param_type(t),
                );
            }
        }
        Context::Action { hook } => {
            let hook = hook.as_deref().and_then(Hook::from_name);
            for a in schema::ACTIONS {
                if hook.is_none_or(|h| a.hooks.contains(h)) {
                    out.add(
                        a.name,
                        CompletionItemKind::FUNCTION,
                        a.doc,
                        describe::action(a),
                    );
                }
            }
        }
        Context::ActionMessage { action } => {
            if let Some(a) = schema::action(&action) {
                if let MessageSpec::Variant(vs) = a.message {
                    for v in vs {
                        out.add(
                            v,
                            CompletionItemKind::ENUM_MEMBER,
                            a.name,
                            describe::action_variant(v, a),
                        );
                    }
                }
            }
        }
        Context::ActionArgument { action, arg } => {
            let Some(a) = schema::action(&action) else {
                return Vec::new();
            };
            match arg {
                None => arg_names(&mut out, a.name, a.args),
                Some(arg) => {
                    if let Some(FieldType::Enum(vs)) =
                        a.args.iter().find(|x| x.name == arg).map(|x| x.ty)
                    {
                        for v in vs {
                            out.add(
                                v,
                                CompletionItemKind::ENUM_MEMBER,
                                a.name,
                                describe::action_variant(v, a),
                            );
                        }
                    }
                }
            }
        }
        Context::Field { section, present } => {
            let (owner, specs) = owner_fields(section.as_deref());
            for f in specs
                .iter()
                .filter(|f| !present.iter().any(|p| p == f.name))
            {
                out.add(
                    f.name,
                    CompletionItemKind::FIELD,
                    &f.ty.doc(),
                    describe::field(owner, f),
                );
            }
        }
        Context::FieldValue { section, field } => {
            let (owner, specs) = owner_fields(section.as_deref());
            if let Some(f) = specs.iter().find(|f| f.name == field) {
                field_values(&mut out, file, owner, f);
            }
        }
        Context::TemplateVar => {
            for v in schema::TEMPLATE_VARS {
                out.add(
                    v.name,
                    CompletionItemKind::VARIABLE,
                    v.doc,
                    describe::template_var(v),
                );
            }
        }
        Context::Nothing => {}
    }
    out.0
}

#[derive(Default)]
struct Items(Vec<CompletionItem>);

impl Items {
    fn add(&mut self, label: &str, kind: CompletionItemKind, detail: &str, doc: String) {
        self.0.push(CompletionItem {
            label: label.to_string(),
            kind: Some(kind),
            detail: Some(detail.to_string()),
            documentation: Some(Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: doc,
            })),
            ..CompletionItem::default()
        });
    }

    fn keyword(&mut self, kw: &str, doc: &str) {
        self.add(kw, CompletionItemKind::KEYWORD, "keyword", doc.to_string());
    }
}

fn conditions(out: &mut Items, hook: Option<Hook>) {
    let legal = |hooks: schema::HookSet| hook.is_none_or(|h| hooks.contains(h));
    for d in schema::DETECTORS.iter().filter(|d| legal(d.hooks)) {
        out.add(
            d.name,
            CompletionItemKind::FUNCTION,
            d.doc,
            describe::detector(d),
        );
    }
    for m in schema::METRICS.iter().filter(|m| legal(m.hooks)) {
        out.add(
            m.name,
            CompletionItemKind::VARIABLE,
            m.doc,
            describe::metric(m),
        );
    }
    for s in schema::SUBJECTS.iter().filter(|s| legal(s.hooks)) {
        out.add(
            s.name,
            CompletionItemKind::VARIABLE,
            s.doc,
            describe::subject(s),
        );
    }
    out.keyword("not", "negates the condition that follows");
}

fn arg_names(out: &mut Items, owner: &str, args: &[ArgSpec]) {
    for a in args {
        out.add(
            a.name,
            CompletionItemKind::FIELD,
            &a.ty.doc(),
            describe::arg(owner, a),
        );
    }
}

fn owner_fields(section: Option<&str>) -> (&str, &'static [FieldSpec]) {
    match section {
        Some(s) => match schema::section(s) {
            Some(spec) => (spec.name, spec.fields),
            None => (s, &[]),
        },
        None => ("tool", schema::TOOL_OPTIONS),
    }
}

fn field_values(out: &mut Items, file: &File, owner: &str, f: &FieldSpec) {
    match f.ty {
        FieldType::Enum(vs) => {
            for v in vs {
                out.add(
                    v,
                    CompletionItemKind::ENUM_MEMBER,
                    f.name,
                    describe::variant(v, owner, f),
                );
            }
        }
        FieldType::Bool => {
            for v in ["true", "false"] {
                out.add(
                    v,
                    CompletionItemKind::VALUE,
                    f.name,
                    describe::field(owner, f),
                );
            }
        }
        FieldType::RefList(builtin) => {
            for r in builtin {
                out.add(
                    r,
                    CompletionItemKind::CONSTANT,
                    "built-in",
                    describe::pin_ref(r),
                );
            }
            for p in prompts(file) {
                if !builtin.contains(&p.name.name.as_str()) {
                    out.add(
                        &p.name.name,
                        CompletionItemKind::REFERENCE,
                        "declared prompt",
                        describe::prompt(p),
                    );
                }
            }
        }
        _ => {}
    }
}

fn items(file: &File) -> impl Iterator<Item = &Item> {
    file.harness.iter().flat_map(|h| h.items.iter())
}

/// Declared tools, first definitions only (the ones the checker resolves to).
fn tools(file: &File) -> Vec<&harnessx_syntax::Tool> {
    let mut out: Vec<&harnessx_syntax::Tool> = Vec::new();
    for i in items(file) {
        if let Item::Tool(t) = i {
            if !t.name.name.is_empty() && !out.iter().any(|x| x.name.name == t.name.name) {
                out.push(t);
            }
        }
    }
    out
}

fn prompts(file: &File) -> Vec<&harnessx_syntax::Prompt> {
    let mut out: Vec<&harnessx_syntax::Prompt> = Vec::new();
    for i in items(file) {
        if let Item::Prompt(p) = i {
            if !p.name.name.is_empty() && !out.iter().any(|x| x.name.name == p.name.name) {
                out.push(p);
            }
        }
    }
    out
}

fn sections(file: &File) -> Vec<&str> {
    items(file)
        .filter_map(|i| match i {
            Item::Section(s) => Some(s.name.name.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels offered at the `|` in `marked`.
    fn labels(marked: &str) -> Vec<String> {
        let at = marked.find('|').expect("a cursor mark");
        let text = marked.replacen('|', "", 1);
        let file = harnessx_syntax::parse(&text).file;
        complete(&text, &file, at)
            .into_iter()
            .map(|i| i.label)
            .collect()
    }

    const HEAD: &str = "harness h {\n  prompt system \"x\"\n  prompt hint \"y\"\n  tool go(t: string)\n  tool look()\n";

    #[test]
    fn hooks_conditions_and_actions_follow_the_schema() {
        let hooks = labels(&format!("{HEAD}  on |"));
        assert_eq!(hooks.len(), Hook::ALL.len());
        assert!(hooks.contains(&"after_tool".to_string()));

        // `malformed_call` is only available on after_model; `call` not there.
        let conds = labels(&format!("{HEAD}  on after_model when |"));
        assert!(conds.contains(&"malformed_call".to_string()), "{conds:?}");
        assert!(!conds.contains(&"call".to_string()), "{conds:?}");
        let conds = labels(&format!("{HEAD}  on before_tool when step > 2 and |"));
        assert!(conds.contains(&"call".to_string()), "{conds:?}");
        assert!(!conds.contains(&"malformed_call".to_string()), "{conds:?}");

        let actions = labels(&format!("{HEAD}  on after_tool when tool_error {{\n    |"));
        assert!(actions.contains(&"retry".to_string()), "{actions:?}");
        assert!(!actions.contains(&"repair".to_string()), "{actions:?}");
        let read_only = labels(&format!("{HEAD}  on task_end {{\n    |\n  }}\n}}\n"));
        assert_eq!(read_only, vec!["log"]);

        let strategies = labels(&format!("{HEAD}  on after_model {{\n    repair |"));
        assert_eq!(strategies, schema::REPAIR_STRATEGIES);
        let args = labels(&format!("{HEAD}  on after_tool {{\n    retry(|"));
        assert_eq!(args, vec!["max", "backoff"]);
    }

    #[test]
    fn fields_values_and_declared_names() {
        let fields = labels(&format!(
            "{HEAD}  loop {{\n    max_steps = 3\n    |\n  }}\n}}\n"
        ));
        assert_eq!(fields, vec!["strategy", "reflect_every"]);
        let values = labels(&format!("{HEAD}  loop {{\n    strategy = |"));
        assert_eq!(values, schema::STRATEGIES);
        let pins = labels(&format!("{HEAD}  context {{\n    pin = [|"));
        assert!(
            pins.contains(&"hint".to_string()),
            "declared prompt: {pins:?}"
        );
        assert!(pins.contains(&"task.goal".to_string()), "{pins:?}");
        assert_eq!(
            pins.iter().filter(|p| *p == "system").count(),
            1,
            "{pins:?}"
        );
        let tools = labels(&format!("{HEAD}  on before_tool when call(|"));
        assert_eq!(tools, vec!["go", "look"]);
        let options = labels(&format!("{HEAD}  tool x() {{ |"));
        assert_eq!(options, vec!["timeout", "retries", "verifies"]);
        let items = labels(&format!("{HEAD}  loop {{ }}\n  |"));
        assert!(items.contains(&"on".to_string()) && items.contains(&"model".to_string()));
        assert!(
            !items.contains(&"loop".to_string()),
            "already declared: {items:?}"
        );
        let vars = labels(&format!("{HEAD}  prompt p \"Goal: {{{{|"));
        assert!(vars.contains(&"task.goal".to_string()), "{vars:?}");
        assert!(labels(&format!("{HEAD}  # on |")).is_empty());
    }
}
