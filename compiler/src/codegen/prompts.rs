//! Prompts: each becomes a struct of exactly the variables its template uses and a render
//! function over it, plus a `_with` form that takes the variables from a closure (the
//! shape of `HookCtx::var` and of the engine's own rendering), and `render_prompt`, which
//! picks a prompt by name.
//!
//! Rendering is concatenation of literal text and variable values, in template order —
//! the same as `harnessx_runtime::template::render`, so both give byte-identical text.

use harnessx_runtime::ir::{HarnessIr, PromptIr, Segment, Var};

use super::emit::{Expr, Src};
use super::ir::var;
use super::lit;
use super::names::{camel, doc_safe, snake, Names};

/// The field of a variable in a prompt's variables struct.
fn field_name(v: Var) -> &'static str {
    match v {
        Var::TaskGoal => "task_goal",
        Var::TaskId => "task_id",
        Var::Step => "step",
        Var::MaxSteps => "max_steps",
        Var::Tools => "tools",
        Var::AdmissibleActions => "admissible_actions",
        Var::Observation => "observation",
        Var::History => "history",
    }
}

/// Counters are typed as the runtime keeps them; everything else is text.
fn is_number(v: Var) -> bool {
    matches!(v, Var::Step | Var::MaxSteps)
}

pub fn write(ir: &HarnessIr, types: &mut Names, values: &mut Names, out: &mut Src) {
    let render_prompt = values.alloc("render_prompt");
    let mut arms = Vec::new();
    for p in &ir.prompts {
        // Snake-cased whole, so a name like `type` (`type_`) leaves no `__` at a seam.
        let typed = values.alloc(&snake(&format!("render_{}", p.name)));
        let with = values.alloc(&snake(&format!("render_{}_with", p.name)));
        let vars_ty = types.alloc(&format!("{}Vars", camel(&p.name, "Prompt")));
        prompt(p, &typed, &with, &vars_ty, out);
        arms.push(format!("{} => Some({with}(var)),", lit::str(&p.name)));
    }
    out.doc(" Renders the prompt called `name`, taking each variable's text from `var`;");
    out.doc(" `None` when the harness has no such prompt.");
    out.open(&format!("pub fn {render_prompt}("));
    out.line("name: &str,");
    out.line("var: &mut dyn FnMut(rt::ir::Var) -> String,");
    out.reopen(") -> Option<String> {");
    out.open("match name {");
    for arm in &arms {
        out.line(arm);
    }
    out.line("_ => None,");
    out.close("}");
    out.close("}");
}

fn prompt(p: &PromptIr, typed: &str, with: &str, vars_ty: &str, out: &mut Src) {
    // The variables the template uses, each once, in `Var::ALL` order.
    let used: Vec<Var> = Var::ALL
        .into_iter()
        .filter(|v| p.template.contains(&Segment::Var(*v)))
        .collect();
    let has_text = used.iter().any(|v| !is_number(*v));
    let (lifetime, any_lifetime) = if has_text { ("<'a>", "<'_>") } else { ("", "") };
    let name = doc_safe(&p.name);

    out.doc(&format!(" The variables of the prompt `{name}`."));
    out.line("#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]");
    if used.is_empty() {
        out.line(&format!("pub struct {vars_ty}{lifetime} {{}}"));
    } else {
        out.open(&format!("pub struct {vars_ty}{lifetime} {{"));
        for v in &used {
            out.doc(&format!(" `{{{{{}}}}}`", v.path()));
            let ty = if is_number(*v) { "u32" } else { "&'a str" };
            out.line(&format!("pub {}: {ty},", field_name(*v)));
        }
        out.close("}");
    }

    out.doc(&format!(" Renders the prompt `{name}`."));
    if used.is_empty() {
        out.open(&format!(
            "pub fn {typed}(_vars: &{vars_ty}{any_lifetime}) -> String {{"
        ));
        out.line(&format!("{with}(&mut |_| String::new())"));
    } else {
        out.open(&format!(
            "pub fn {typed}(vars: &{vars_ty}{any_lifetime}) -> String {{"
        ));
        out.open(&format!("{with}(&mut |v| match v {{"));
        for v in &used {
            out.line(&format!(
                "{} => vars.{}.to_string(),",
                var(*v),
                field_name(*v)
            ));
        }
        // Every prompt's closure must be total over `Var`; a wildcard is only needed (and
        // only allowed without a lint) when the template does not use every variable.
        if used.len() < Var::ALL.len() {
            out.line("_ => String::new(),");
        }
        out.close("})");
    }
    out.close("}");

    out.doc(&format!(
        " Renders the prompt `{name}`, taking each variable's text from `var`."
    ));
    let var_param = if used.is_empty() { "_var" } else { "var" };
    out.open(&format!(
        "pub fn {with}({var_param}: &mut dyn FnMut(rt::ir::Var) -> String) -> String {{"
    ));
    let plain = p.template.iter().all(|s| matches!(s, Segment::Text(_))) && p.template.len() <= 1;
    if plain {
        // A template that is one piece of text (or nothing) needs no buffer.
        match p.template.first() {
            Some(Segment::Text(t)) => out.expr(
                "",
                &Expr::call("String::from", vec![Expr::atom(lit::str(t))]),
                "",
            ),
            _ => out.line("String::new()"),
        }
    } else {
        out.line("let mut out = String::new();");
        for seg in &p.template {
            match seg {
                Segment::Text(t) => out.expr(
                    "",
                    &Expr::call("out.push_str", vec![Expr::atom(lit::str(t))]),
                    ";",
                ),
                Segment::Var(v) => out.line(&format!("out.push_str(&var({}));", var(*v))),
            }
        }
        out.line("out");
    }
    out.close("}");
}
