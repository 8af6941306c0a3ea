//! Prompts: each becomes a struct of exactly the variables its template uses and a render
//! function over it, plus a `_with` form that takes the variables from a closure (the
//! shape of `HookCtx::var` and of the engine's own rendering), and `render_prompt`, which
//! picks a prompt by name.
//!
//! Rendering is concatenation of literal text and variable values, in template order —
//! the same as `harnessx_runtime::template::render`, so both give byte-identical text.

use harnessx_runtime::ir::{HarnessIr, PromptIr, Segment, Var};
use proc_macro2::TokenStream;
use quote::quote;

use super::ir::var;
use super::lit;
use super::names::{camel, doc_safe, ident, snake, Names};

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

pub fn tokens(ir: &HarnessIr, types: &mut Names, values: &mut Names) -> TokenStream {
    let render_prompt = ident(&values.alloc("render_prompt"));
    let mut items = Vec::new();
    let mut arms = Vec::new();
    for p in &ir.prompts {
        let base = snake(&p.name);
        let typed = ident(&values.alloc(&format!("render_{base}")));
        let with = ident(&values.alloc(&format!("render_{base}_with")));
        let vars_ty = ident(&types.alloc(&format!("{}Vars", camel(&p.name, "Prompt"))));
        items.push(prompt_tokens(p, &typed, &with, &vars_ty));
        let name = lit::str(&p.name);
        arms.push(quote!(#name => Some(#with(var)),));
    }
    quote! {
        #(#items)*

        /// Renders the prompt called `name`, taking each variable's text from `var`;
        /// `None` when the harness has no such prompt.
        pub fn #render_prompt(
            name: &str,
            var: &mut dyn FnMut(rt::ir::Var) -> String,
        ) -> Option<String> {
            match name {
                #(#arms)*
                _ => None,
            }
        }
    }
}

fn prompt_tokens(
    p: &PromptIr,
    typed: &proc_macro2::Ident,
    with: &proc_macro2::Ident,
    vars_ty: &proc_macro2::Ident,
) -> TokenStream {
    // The variables the template uses, each once, in `Var::ALL` order.
    let used: Vec<Var> = Var::ALL
        .into_iter()
        .filter(|v| p.template.contains(&Segment::Var(*v)))
        .collect();
    let has_text = used.iter().any(|v| !is_number(*v));
    let lifetime = if has_text { quote!(<'a>) } else { quote!() };
    let any_lifetime = if has_text { quote!(<'_>) } else { quote!() };
    let fields = used.iter().map(|v| {
        let f = ident(field_name(*v));
        let doc = format!(" `{{{{{}}}}}`", v.path());
        if is_number(*v) {
            quote!(#[doc = #doc] pub #f: u32)
        } else {
            quote!(#[doc = #doc] pub #f: &'a str)
        }
    });
    let arms = used.iter().map(|v| {
        let f = ident(field_name(*v));
        let v = var(*v);
        quote!(#v => vars.#f.to_string(),)
    });
    // Every prompt's closure must be total over `Var`; a wildcard is only needed (and
    // only allowed without a lint) when the template does not use every variable.
    let rest = if used.len() < Var::ALL.len() {
        quote!(_ => String::new(),)
    } else {
        quote!()
    };
    let pushes = p.template.iter().map(|seg| match seg {
        Segment::Text(t) => {
            let t = lit::str(t);
            quote!(out.push_str(#t);)
        }
        Segment::Var(v) => {
            let v = var(*v);
            quote!(out.push_str(&var(#v));)
        }
    });
    let vars_param = if used.is_empty() {
        quote!(_vars)
    } else {
        quote!(vars)
    };
    let var_param = if used.is_empty() {
        quote!(_var)
    } else {
        quote!(var)
    };
    let name = doc_safe(&p.name);
    let doc_struct = format!(" The variables of the prompt `{name}`.");
    let doc_typed = format!(" Renders the prompt `{name}`.");
    let doc_with = format!(" Renders the prompt `{name}`, taking each variable's text from `var`.");
    let body_typed = if used.is_empty() {
        quote!(#with(&mut |_| String::new()))
    } else {
        quote! {
            #with(&mut |v| match v {
                #(#arms)*
                #rest
            })
        }
    };
    let init = if p.template.iter().all(|s| matches!(s, Segment::Text(_))) && p.template.len() <= 1
    {
        // A template that is one piece of text (or nothing) needs no buffer.
        match p.template.first() {
            Some(Segment::Text(t)) => {
                let t = lit::str(t);
                quote!(String::from(#t))
            }
            _ => quote!(String::new()),
        }
    } else {
        quote! {
            let mut out = String::new();
            #(#pushes)*
            out
        }
    };
    quote! {
        #[doc = #doc_struct]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct #vars_ty #lifetime {
            #(#fields),*
        }

        #[doc = #doc_typed]
        pub fn #typed(#vars_param: &#vars_ty #any_lifetime) -> String {
            #body_typed
        }

        #[doc = #doc_with]
        pub fn #with(#var_param: &mut dyn FnMut(rt::ir::Var) -> String) -> String {
            #init
        }
    }
}
