//! Tools: one `serde` struct of typed arguments per tool, an enum per `enum(..)`
//! parameter, the tools' JSON Schemas, and a `Call` enum that turns the runtime's
//! normalized [`ToolCall`](harnessx_runtime::call::ToolCall) into the typed form.
//!
//! The JSON Schemas are computed here, in the compiler ([`tool_json_schema`]), and the
//! generated `tool_schemas()` rebuilds exactly that value, so a caller holding only the IR
//! and a caller holding the compiled crate send the same schema to a model.

use harnessx_runtime::ir::{HarnessIr, ToolIr, TypeIr};
use serde_json::{json, Map, Value};

use super::emit::{Expr, Src};
use super::ir::seq;
use super::lit;
use super::names::{camel, doc_safe, snake, Names};

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
pub fn json_expr(v: &Value) -> Expr {
    match v {
        Value::Null => Expr::atom("serde_json::Value::Null"),
        Value::Bool(b) => Expr::atom(format!("serde_json::Value::Bool({b})")),
        Value::Number(n) => {
            let l = if let Some(u) = n.as_u64() {
                lit::u64(u)
            } else if let Some(i) = n.as_i64() {
                lit::i64(i)
            } else {
                lit::f64(n.as_f64().unwrap_or(f64::NAN))
            };
            Expr::atom(format!("serde_json::Value::from({l})"))
        }
        Value::String(s) => Expr::atom(format!("serde_json::Value::from({})", lit::str(s))),
        Value::Array(items) => Expr::call(
            "serde_json::Value::Array",
            vec![seq(items.iter().map(json_expr))],
        ),
        Value::Object(map) => {
            // Sorted explicitly: `serde_json::Map` iterates in insertion order when some
            // crate in the build enables `preserve_order`, and the output must not change.
            let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            let entries = sorted
                .into_iter()
                .map(|(k, v)| Expr::tuple(vec![Expr::atom(lit::str(k)), json_expr(v)]))
                .collect();
            Expr::call("json_object", vec![Expr::Array(entries)])
        }
    }
}

/// The generated names of one tool, decided up front so that prompts and rules can refer
/// to them and allocation order stays fixed.
struct ToolNames {
    args: String,
    variant: String,
}

pub fn write(ir: &HarnessIr, types: &mut Names, values: &mut Names, out: &mut Src) {
    let call_args_json = values.alloc("call_args_json");
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
    if uses_duration {
        out.doc(" A `duration` argument as a call may carry it: milliseconds, or text such as");
        out.doc(" `2s` (see `DURATION_PATTERN` in the tools' JSON Schemas).");
        out.line("#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]");
        out.line("#[serde(untagged)]");
        out.open("pub enum DurationArg {");
        out.line("Millis(u64),");
        out.line("Text(String),");
        out.close("}");
    }

    for (t, n) in ir.tools.iter().zip(&named) {
        tool(t, &n.args, types, &call_args_json, out);
    }

    let tool_schemas = values.alloc("tool_schemas");
    out.doc(" The JSON Schema of every tool, in declaration order.");
    out.open(&format!("pub fn {tool_schemas}() -> serde_json::Value {{"));
    let schemas = seq(named
        .iter()
        .map(|n| Expr::atom(format!("{}::json_schema()", n.args))));
    out.expr(
        "",
        &Expr::call("serde_json::Value::Array", vec![schemas]),
        "",
    );
    out.close("}");

    out.doc(" A JSON object of the given entries (keys are kept in `serde_json`'s order).");
    out.open("fn json_object<const N: usize>(");
    out.line("entries: [(&str, serde_json::Value); N],");
    out.reopen(") -> serde_json::Value {");
    out.open("serde_json::Value::Object(");
    out.line("entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),");
    out.close(")");
    out.close("}");

    out.doc(" A normalized call's arguments as one JSON object, the form the `*Args`");
    out.doc(" structs deserialize from.");
    out.open(&format!(
        "pub fn {call_args_json}(call: &rt::call::ToolCall) -> serde_json::Value {{"
    ));
    out.open("serde_json::Value::Object(");
    out.line("call.args.iter().map(|a| (a.name.clone(), a.value.clone())).collect(),");
    out.close(")");
    out.close("}");

    out.doc(" A call of one of the harness's tools, with typed arguments.");
    out.line("#[derive(Debug, Clone, PartialEq)]");
    if named.is_empty() {
        out.line("pub enum Call {}");
    } else {
        out.open("pub enum Call {");
        for n in &named {
            out.line(&format!("{}({}),", n.variant, n.args));
        }
        out.close("}");
    }
    out.open("impl Call {");
    out.doc(" The typed form of a normalized call; an error names what did not fit.");
    out.open("pub fn from_call(call: &rt::call::ToolCall) -> Result<Call, String> {");
    out.open("match call.tool.as_str() {");
    for (t, n) in ir.tools.iter().zip(&named) {
        let name = lit::str(&t.name);
        let body = format!(
            "{}::from_call(call).map(Call::{}).map_err(|e| e.to_string())",
            n.args, n.variant
        );
        let arm = format!("{name} => {body},");
        if out.fits(arm.len()) {
            out.line(&arm);
        } else {
            out.open(&format!("{name} => {{"));
            out.line(&body);
            out.close("}");
        }
    }
    out.line("other => Err(format!(\"unknown tool `{}`\", other)),");
    out.close("}");
    out.close("}");
    out.close("}");
}

fn has_duration(t: &TypeIr) -> bool {
    match t {
        TypeIr::Duration => true,
        TypeIr::List(i) | TypeIr::Optional(i) => has_duration(i),
        _ => false,
    }
}

fn tool(t: &ToolIr, args: &str, types: &mut Names, call_args_json: &str, out: &mut Src) {
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
            attrs.push(format!("#[serde(rename = {})]", lit::str(&p.name)));
        }
        if p.is_optional() {
            attrs.push("#[serde(default, skip_serializing_if = \"Option::is_none\")]".to_string());
        }
        field_defs.push((attrs, format!("pub {field}: {ty},")));
    }
    // The enum types, in the order their parameters appear.
    for (variants, name) in t
        .params
        .iter()
        .filter_map(|p| enum_variants(&p.ty))
        .zip(&enums)
    {
        enum_type(name, variants, out);
    }

    out.doc(&format!(" Arguments of the tool `{}`.", doc_safe(&t.name)));
    out.line("#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]");
    out.line("#[serde(deny_unknown_fields)]");
    if field_defs.is_empty() {
        out.line(&format!("pub struct {args} {{}}"));
    } else {
        out.open(&format!("pub struct {args} {{"));
        for (attrs, def) in &field_defs {
            for a in attrs {
                out.line(a);
            }
            out.line(def);
        }
        out.close("}");
    }
    out.open(&format!("impl {args} {{"));
    out.doc(" The tool's name, as the model calls it.");
    out.line(&format!(
        "pub const TOOL: &'static str = {};",
        lit::str(&t.name)
    ));
    out.doc(" The tool's description, verbatim.");
    out.line(&format!(
        "pub const DESCRIPTION: &'static str = {};",
        lit::str(&t.description)
    ));
    out.doc(" The tool's function-calling schema (`name`, `description`, `parameters`).");
    out.open("pub fn json_schema() -> serde_json::Value {");
    out.expr("", &json_expr(&tool_json_schema(t)), "");
    out.close("}");
    out.doc(" The typed arguments of a normalized call of this tool.");
    out.open("pub fn from_call(call: &rt::call::ToolCall) -> Result<Self, serde_json::Error> {");
    out.line(&format!("serde_json::from_value({call_args_json}(call))"));
    out.close("}");
    out.close("}");
}

/// The Rust type of a parameter; `enum_name` names (and records) the enum type of an
/// `enum(..)`, which is at most one per parameter.
fn rust_type(t: &TypeIr, enum_name: &mut dyn FnMut() -> String) -> String {
    match t {
        TypeIr::String => "String".into(),
        TypeIr::Int => "i64".into(),
        TypeIr::Float => "f64".into(),
        TypeIr::Bool => "bool".into(),
        TypeIr::Duration => "DurationArg".into(),
        TypeIr::Tokens => "u64".into(),
        TypeIr::Enum(_) => enum_name(),
        TypeIr::List(inner) => format!("Vec<{}>", rust_type(inner, enum_name)),
        TypeIr::Optional(inner) => format!("Option<{}>", rust_type(inner, enum_name)),
    }
}

fn enum_variants(t: &TypeIr) -> Option<&[String]> {
    match t {
        TypeIr::Enum(vs) => Some(vs),
        TypeIr::List(i) | TypeIr::Optional(i) => enum_variants(i),
        _ => None,
    }
}

fn enum_type(name: &str, variants: &[String], out: &mut Src) {
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
        idents.push(names.alloc(&camel(v, "V")));
        values.push(lit::str(v));
    }
    out.doc(&format!(
        " The values of the `{}` enum parameter.",
        doc_safe(name)
    ));
    out.line(
        "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]",
    );
    if idents.is_empty() {
        out.line(&format!("pub enum {name} {{}}"));
    } else {
        out.open(&format!("pub enum {name} {{"));
        for (id, value) in idents.iter().zip(&values) {
            out.line(&format!("#[serde(rename = {value})]"));
            out.line(&format!("{id},"));
        }
        out.close("}");
    }
    out.open(&format!("impl {name} {{"));
    out.doc(" Every value, in declaration order.");
    let all = Expr::Array(
        idents
            .iter()
            .map(|id| Expr::atom(format!("Self::{id}")))
            .collect(),
    );
    out.expr(
        &format!("pub const ALL: [Self; {}] = ", lit::usize(idents.len())),
        &all,
        ";",
    );
    out.doc(" The value as the model writes it.");
    out.open("pub fn as_str(self) -> &'static str {");
    if idents.is_empty() {
        out.line("match self {}");
    } else {
        out.open("match self {");
        for (id, value) in idents.iter().zip(&values) {
            out.line(&format!("Self::{id} => {value},"));
        }
        out.close("}");
    }
    out.close("}");
    out.close("}");
}
