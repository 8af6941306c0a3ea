//! Hover: the documentation and legal values of the name under the cursor, from the
//! schema (via [`crate::describe`]), or the declaration of a tool or prompt it refers to.

use harnessx_compiler::schema::{self, Hook, HookExt, MessageSpec};
use harnessx_syntax::{File, Item};

use crate::describe;
use crate::locate::{self, Target};

/// The Markdown to show for the thing at `offset`, and the byte span it covers. `None`
/// for a name the language does not know (the diagnostics already say so) or for no name.
pub fn hover(file: &File, offset: usize) -> Option<(String, harnessx_syntax::Span)> {
    let target = locate::at(file, offset)?;
    let text = match target {
        Target::Hook(i) => describe::hook(Hook::from_name(&i.name)?),
        Target::RuleName(i) => {
            let hook = locate::hook_at(file, offset).map_or("?", |h| h.as_str());
            format!("**rule** `{}` on `{hook}`", i.name)
        }
        Target::Action(i) => describe::action(schema::action(&i.name)?),
        Target::ArgName { owner, name } => {
            let args = match (schema::action(owner), schema::detector(owner)) {
                (Some(a), _) => a.args,
                (_, Some(d)) => match d.args {
                    schema::DetectorArgs::Named(args) => args,
                    _ => &[],
                },
                _ => &[],
            };
            describe::arg(owner, args.iter().find(|a| a.name == name.name)?)
        }
        Target::ActionValue { action, name, .. } => {
            let spec = schema::action(action)?;
            let known = match spec.message {
                MessageSpec::Variant(vs) => vs.contains(&name),
                _ => false,
            } || spec.args.iter().any(|a| match a.ty {
                schema::FieldType::Enum(vs) => vs.contains(&name),
                _ => false,
            });
            if !known {
                return None;
            }
            describe::action_variant(name, spec)
        }
        Target::Detector(i) => describe::detector(schema::detector(&i.name)?),
        Target::Metric(i) => describe::metric(schema::metric(&i.name)?),
        Target::Subject(i) => describe::subject(schema::subject(&i.name)?),
        Target::ToolRef { name, .. } => describe::tool(declared_tool(file, name)?),
        Target::Section(i) => describe::section(schema::section(&i.name)?),
        Target::Field { section, name } => match section {
            Some(s) => describe::field(s, schema::section(s)?.field(&name.name)?),
            None => describe::field("tool", schema::tool_option(&name.name)?),
        },
        Target::FieldValue {
            section,
            field,
            name,
            ..
        } => {
            let (owner, spec) = match section {
                Some(s) => (s, schema::section(s)?.field(field)?),
                None => ("tool", schema::tool_option(field)?),
            };
            match spec.ty {
                schema::FieldType::Enum(vs) if vs.contains(&name) => {
                    describe::variant(name, owner, spec)
                }
                _ => return None,
            }
        }
        Target::PinRef { name, .. } => match declared_prompt(file, name) {
            Some(p) => describe::prompt(p),
            None if schema::PIN_REFS.contains(&name) => describe::pin_ref(name),
            None => return None,
        },
        Target::ToolDef(t) => describe::tool(t),
        Target::PromptDef(p) => describe::prompt(p),
        Target::Annotation(i) => describe::annotation(schema::annotation(&i.name)?),
        Target::TemplateVar(v) => describe::template_var(schema::template_var(&v.path)?),
        Target::ParamType { name, .. } => {
            if !schema::PARAM_TYPES.contains(&name) {
                return None;
            }
            describe::param_type(name)
        }
    };
    Some((text, target.span()))
}

/// The first declaration of tool `name` (the one the checker resolves to).
pub fn declared_tool<'a>(file: &'a File, name: &str) -> Option<&'a harnessx_syntax::Tool> {
    items(file).find_map(|i| match i {
        Item::Tool(t) if t.name.name == name => Some(t),
        _ => None,
    })
}

/// The first declaration of prompt `name`.
pub fn declared_prompt<'a>(file: &'a File, name: &str) -> Option<&'a harnessx_syntax::Prompt> {
    items(file).find_map(|i| match i {
        Item::Prompt(p) if p.name.name == name => Some(p),
        _ => None,
    })
}

fn items(file: &File) -> impl Iterator<Item = &Item> {
    file.harness.iter().flat_map(|h| h.items.iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = include_str!("../../examples/household.harness");

    fn hover_at(needle: &str, delta: usize) -> String {
        let file = harnessx_syntax::parse(SRC).file;
        let at = SRC.find(needle).unwrap_or_else(|| panic!("{needle}")) + delta;
        hover(&file, at).map(|(t, _)| t).unwrap_or_default()
    }

    #[test]
    fn hover_explains_each_kind_of_name_from_the_schema() {
        let hook = hover_at("after_model as", 3);
        assert!(hook.contains(Hook::AfterModel.doc()), "{hook}");
        assert!(hook.contains("`repair`"), "actions legal there: {hook}");
        assert!(
            !hook.contains("`retry`"),
            "retry is after_tool only: {hook}"
        );

        let action = hover_at("reprompt \"", 0);
        assert!(
            action.contains(schema::action("reprompt").unwrap().doc),
            "{action}"
        );
        assert!(
            action.contains("`max`: int [1, 5], default `1`"),
            "{action}"
        );

        let detector = hover_at("malformed_call", 5);
        assert!(detector.contains(schema::detector("malformed_call").unwrap().doc));

        let field = hover_at("strategy =", 2);
        assert!(
            field.contains("one of `react`, `plan_then_act`, `reflect`"),
            "{field}"
        );
        assert!(field.contains("Default: `react`"), "{field}");

        let value = hover_at("= react", 3);
        assert!(
            value.starts_with("`react` — a value of `loop.strategy`"),
            "{value}"
        );

        let section = hover_at("context {", 0);
        assert!(section.contains("`keep_last`"), "{section}");

        let option = hover_at("verifies = true", 1);
        assert!(option.contains("tool option"), "{option}");

        let tool = hover_at("tool take", 6);
        assert!(
            tool.contains("take(object: string, source: string)"),
            "{tool}"
        );
        assert!(tool.contains("Pick up an object"), "{tool}");

        let pin = hover_at("pin = [system]", 8);
        assert!(pin.contains("**prompt** `system`"), "{pin}");

        let var = hover_at("{{task.goal}}", 3);
        assert!(var.contains("the task's goal"), "{var}");

        let ann = hover_at("@evolve(range = 0.0", 2);
        assert!(ann.contains("annotation"), "{ann}");

        let ty = hover_at("target: string", 9);
        assert!(ty.contains("tool parameter type"), "{ty}");

        let rule = hover_at("reask", 2);
        assert!(rule.contains("**rule** `reask` on `after_model`"), "{rule}");
    }

    #[test]
    fn hover_on_repair_strategies_calls_and_unknown_names() {
        let src = "harness h {\n  prompt system \"x\"\n  tool go(t: string)\n  on after_model when malformed_call {\n    repair json_fix\n  }\n  on before_tool when call(go) {\n    compact(strategy = drop_observations)\n    bogus_action\n  }\n}\n";
        let file = harnessx_syntax::parse(src).file;
        let at = |needle: &str| src.find(needle).unwrap() + 1;
        let text = |needle: &str| hover(&file, at(needle)).map(|(t, _)| t);
        assert!(text("json_fix")
            .unwrap()
            .contains("`json_fix` — a value for `repair`"));
        assert!(text("go) {").unwrap().contains("**tool** `go(t: string)`"));
        assert!(text("drop_observations").unwrap().contains("`compact`"));
        assert!(text("strategy = drop")
            .unwrap()
            .contains("argument of `compact`"));
        assert_eq!(text("bogus_action"), None);
        assert_eq!(text("harness h"), None);
    }
}
