//! Tools: one `serde` struct of typed arguments per tool, an enum per `enum(..)`
//! parameter, the tools' JSON Schemas, and a `Call` enum that turns the runtime's
//! normalized [`ToolCall`](harnessx_runtime::call::ToolCall) into the typed form.
//!
//! The JSON Schemas are computed here, in the compiler ([`tool_json_schema`]), and the
//! generated `tool_schemas()` rebuilds exactly that value, so a caller holding only the IR
//! and a caller holding the compiled crate send the same schema to a model.

use harnessx_runtime::ir::{HarnessIr, ToolIr, TypeIr};
use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{json, Map, Value};

use super::ir::seq;
use super::lit;
use super::names::{camel, ident, snake, Names};

/// The pattern of a duration written as text in a call (`500ms`, `2s`, `1m`).
pub const DURATION_PATTERN: &str = "^[0-9]+(ms|s|m)$";

/// One tool as a function-calling schema: `{"name", "description", "parameters"}`, where
/// `parameters` is a JSON Schema object that admits exactly the calls the runtime's
/// `parse::fits` accepts (an optional parameter may be left out).
pub fn tool_json_schema(t: &ToolIr) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &t.params {
        let schema = match &p.ty {
            TypeIr::Optional(inner) => type_schema(inner),
            other => {
                required.push(Value::String(p.name.clone()));
                type_schema(other)
            }
        };
        properties.insert(p.name.clone(), schema);
    }
    json!({
        "name": t.name,
        "description": t.description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        },
    })
}

/// Every tool's schema, in declaration order.
pub fn tool_schemas(ir: &HarnessIr) -> Value {
    Value::Array(ir.tools.iter().map(tool_json_schema).collect())
}

fn type_schema(t: &TypeIr) -> Value {
    match t {
        TypeIr::String => json!({"type": "string"}),
        TypeIr::Int => json!({"type": "integer"}),
        TypeIr::Tokens => json!({"type": "integer", "minimum": 0}),
        TypeIr::Float => json!({"type": "number"}),
        TypeIr::Bool => json!({"type": "boolean"}),
        TypeIr::Duration => json!({"anyOf": [
            {"type": "integer", "minimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ]}),
        TypeIr::Enum(vs) => json!({"type": "string", "enum": vs}),
        TypeIr::List(inner) => json!({"type": "array", "items": type_schema(inner)}),
        TypeIr::Optional(inner) => json!({"anyOf": [type_schema(inner), {"type": "null"}]}),
    }
}

/// Code that evaluates to `v`: `serde_json::Value` constructors and the module's
/// `json_object` helper — no parsing, and no `json!` macro, which recurses per token and
/// would hit the recursion limit on a tool with many parameters.
pub fn json_tokens(v: &Value) -> TokenStream {
    match v {
        Value::Null => quote!(serde_json::Value::Null),
        Value::Bool(b) => quote!(serde_json::Value::Bool(#b)),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                let l = lit::u64(u);
                quote!(serde_json::Value::from(#l))
            } else if let Some(i) = n.as_i64() {
                let l = lit::i64(i);
                quote!(serde_json::Value::from(#l))
            } else {
                let l = lit::f64(n.as_f64().unwrap_or(f64::NAN));
                quote!(serde_json::Value::from(#l))
            }
        }
        Value::String(s) => {
            let l = lit::str(s);
            quote!(serde_json::Value::from(#l))
        }
        Value::Array(items) => {
            let items = seq(items.iter().map(json_tokens));
            quote!(serde_json::Value::Array(#items))
        }
        Value::Object(map) => {
            // Sorted explicitly: `serde_json::Map` iterates in insertion order when some
            // crate in the build enables `preserve_order`, and the output must not change.
            let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let entries = sorted.into_iter().map(|(k, v)| {
                let k = lit::str(k);
                let v = json_tokens(v);
                quote!((#k, #v))
            });
            quote!(json_object([#(#entries),*]))
        }
    }
}

/// The generated names of one tool, decided up front so that prompts and rules can refer
/// to them and allocation order stays fixed.
struct ToolNames {
    args: String,
    variant: String,
}

pub fn tokens(ir: &HarnessIr, types: &mut Names, values: &mut Names) -> TokenStream {
    let call_args_json = ident(&values.alloc("call_args_json"));
    let mut variants = Names::new(&[]);
    let named: Vec<ToolNames> = ir
        .tools
        .iter()
        .map(|t| ToolNames {
            args: types.alloc(&format!("{}Args", camel(&t.name, "Tool"))),
            variant: variants.alloc(&camel(&t.name, "Tool")),
        })
        .collect();

    let uses_duration = ir
        .tools
        .iter()
        .any(|t| t.params.iter().any(|p| has_duration(&p.ty)));
    let duration_def = if uses_duration {
        quote! {
            /// A `duration` argument as a call may carry it: milliseconds, or text such as
            /// `2s` (see `DURATION_PATTERN` in the tools' JSON Schemas).
            #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
            #[serde(untagged)]
            pub enum DurationArg {
                Millis(u64),
                Text(String),
            }
        }
    } else {
        TokenStream::new()
    };

    let mut items = Vec::new();
    for (t, n) in ir.tools.iter().zip(&named) {
        items.push(tool_tokens(t, &n.args, types, &call_args_json));
    }

    let schema_calls = seq(named.iter().map(|n| {
        let a = ident(&n.args);
        quote!(#a::json_schema())
    }));
    let call_variants = named.iter().map(|n| {
        let (v, a) = (ident(&n.variant), ident(&n.args));
        quote!(#v(#a))
    });
    let call_arms = ir.tools.iter().zip(&named).map(|(t, n)| {
        let name = lit::str(&t.name);
        let (v, a) = (ident(&n.variant), ident(&n.args));
        quote! {
            #name => #a::from_call(call).map(Call::#v).map_err(|e| e.to_string()),
        }
    });
    let tool_schemas = ident(&values.alloc("tool_schemas"));

    quote! {
        #duration_def

        #(#items)*

        /// The JSON Schema of every tool, in declaration order.
        pub fn #tool_schemas() -> serde_json::Value {
            serde_json::Value::Array(#schema_calls)
        }

        /// A JSON object of the given entries (keys are kept in `serde_json`'s order).
        fn json_object<const N: usize>(
            entries: [(&str, serde_json::Value); N],
        ) -> serde_json::Value {
            serde_json::Value::Object(
                entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            )
        }

        /// A normalized call's arguments as one JSON object, the form the `*Args`
        /// structs deserialize from.
        pub fn #call_args_json(call: &rt::call::ToolCall) -> serde_json::Value {
            serde_json::Value::Object(
                call.args.iter().map(|a| (a.name.clone(), a.value.clone())).collect(),
            )
        }

        /// A call of one of the harness's tools, with typed arguments.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Call {
            #(#call_variants),*
        }

        impl Call {
            /// The typed form of a normalized call; an error names what did not fit.
            pub fn from_call(call: &rt::call::ToolCall) -> Result<Call, String> {
                match call.tool.as_str() {
                    #(#call_arms)*
                    other => Err(format!("unknown tool `{}`", other)),
                }
            }
        }
    }
}

fn has_duration(t: &TypeIr) -> bool {
    match t {
        TypeIr::Duration => true,
        TypeIr::List(i) | TypeIr::Optional(i) => has_duration(i),
        _ => false,
    }
}

fn tool_tokens(
    t: &ToolIr,
    args_name: &str,
    types: &mut Names,
    call_args_json: &proc_macro2::Ident,
) -> TokenStream {
    let args = ident(args_name);
    let mut fields = Names::new(&[]);
    let mut enums = Vec::new();
    let mut field_defs = Vec::new();
    for p in &t.params {
        let field = fields.alloc(&snake(&p.name));
        let mut enum_name = || {
            types.alloc(&format!(
                "{}{}",
                camel(&t.name, "Tool"),
                camel(&p.name, "Param")
            ))
        };
        let ty = rust_type(&p.ty, &mut || {
            let name = enum_name();
            enums.push(name.clone());
            name
        });
        let mut attrs = Vec::new();
        if field != p.name {
            let original = lit::str(&p.name);
            attrs.push(quote!(#[serde(rename = #original)]));
        }
        if p.is_optional() {
            attrs.push(quote!(#[serde(default, skip_serializing_if = "Option::is_none")]));
        }
        let field = ident(&field);
        field_defs.push(quote! {
            #(#attrs)*
            pub #field: #ty
        });
    }
    // The enum types, in the order their parameters appear.
    let enum_defs = t
        .params
        .iter()
        .filter_map(|p| enum_variants(&p.ty))
        .zip(&enums)
        .map(|(variants, name)| enum_tokens(name, variants));

    let tool = lit::str(&t.name);
    let description = lit::str(&t.description);
    let schema = json_tokens(&tool_json_schema(t));
    let doc = format!(
        " Arguments of the tool `{}`.",
        super::names::doc_safe(&t.name)
    );
    quote! {
        #(#enum_defs)*

        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct #args {
            #(#field_defs),*
        }

        impl #args {
            /// The tool's name, as the model calls it.
            pub const TOOL: &'static str = #tool;
            /// The tool's description, verbatim.
            pub const DESCRIPTION: &'static str = #description;

            /// The tool's function-calling schema (`name`, `description`, `parameters`).
            pub fn json_schema() -> serde_json::Value {
                #schema
            }

            /// The typed arguments of a normalized call of this tool.
            pub fn from_call(call: &rt::call::ToolCall) -> Result<Self, serde_json::Error> {
                serde_json::from_value(#call_args_json(call))
            }
        }
    }
}

/// The Rust type of a parameter; `enum_name` names (and records) the enum type of an
/// `enum(..)`, which is at most one per parameter.
fn rust_type(t: &TypeIr, enum_name: &mut dyn FnMut() -> String) -> TokenStream {
    match t {
        TypeIr::String => quote!(String),
        TypeIr::Int => quote!(i64),
        TypeIr::Float => quote!(f64),
        TypeIr::Bool => quote!(bool),
        TypeIr::Duration => quote!(DurationArg),
        TypeIr::Tokens => quote!(u64),
        TypeIr::Enum(_) => {
            let name = ident(&enum_name());
            quote!(#name)
        }
        TypeIr::List(inner) => {
            let inner = rust_type(inner, enum_name);
            quote!(Vec<#inner>)
        }
        TypeIr::Optional(inner) => {
            let inner = rust_type(inner, enum_name);
            quote!(Option<#inner>)
        }
    }
}

fn enum_variants(t: &TypeIr) -> Option<&[String]> {
    match t {
        TypeIr::Enum(vs) => Some(vs),
        TypeIr::List(i) | TypeIr::Optional(i) => enum_variants(i),
        _ => None,
    }
}

fn enum_tokens(name: &str, variants: &[String]) -> TokenStream {
    let ty = ident(name);
    let mut names = Names::new(&[]);
    let mut seen: Vec<&str> = Vec::new();
    let mut idents = Vec::new();
    let mut values = Vec::new();
    for v in variants {
        // A repeated value is the same value (the checker rejects it in source).
        if seen.contains(&v.as_str()) {
            continue;
        }
        seen.push(v);
        idents.push(ident(&names.alloc(&camel(v, "V"))));
        values.push(lit::str(v));
    }
    let count = lit::usize(idents.len());
    let doc = format!(
        " The values of the `{}` enum parameter.",
        super::names::doc_safe(name)
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum #ty {
            #(
                #[serde(rename = #values)]
                #idents
            ),*
        }

        impl #ty {
            /// Every value, in declaration order.
            pub const ALL: [Self; #count] = [#(Self::#idents),*];

            /// The value as the model writes it.
            pub fn as_str(self) -> &'static str {
                match self {
                    #(Self::#idents => #values),*
                }
            }
        }
    }
}
