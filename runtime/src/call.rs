//! Tool calls as data, and their canonical text form.
//!
//! A [`ToolCall`] is always *normalized*: its arguments are named, in the tool's parameter
//! order, and omitted optional parameters are absent. Two calls are the same action exactly
//! when they are equal, which is what `repeated_action` compares.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ir::{ParamIr, ToolIr, TypeIr};

/// A tool as the model and the environment see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub params: Vec<ParamIr>,
}

impl From<&ToolIr> for ToolSpec {
    fn from(t: &ToolIr) -> Self {
        ToolSpec {
            name: t.name.clone(),
            description: t.description.clone(),
            params: t.params.clone(),
        }
    }
}

impl ToolSpec {
    /// `name(p: string, q: int?) — description`, the line used by `{{tools}}`.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, type_name(&p.ty)))
            .collect();
        let mut s = format!("{}({})", self.name, params.join(", "));
        if !self.description.is_empty() {
            s.push_str(" — ");
            s.push_str(&self.description);
        }
        s
    }
}

/// The source spelling of a type: `string`, `[int]`, `string?`, `enum("a", "b")`.
pub fn type_name(ty: &TypeIr) -> String {
    match ty {
        TypeIr::String => "string".into(),
        TypeIr::Int => "int".into(),
        TypeIr::Float => "float".into(),
        TypeIr::Bool => "bool".into(),
        TypeIr::Duration => "duration".into(),
        TypeIr::Tokens => "tokens".into(),
        TypeIr::Enum(vs) => {
            let vs: Vec<String> = vs.iter().map(|v| json_string(v)).collect();
            format!("enum({})", vs.join(", "))
        }
        TypeIr::List(t) => format!("[{}]", type_name(t)),
        TypeIr::Optional(t) => format!("{}?", type_name(t)),
    }
}

/// One named argument.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallArg {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub tool: String,
    pub args: Vec<CallArg>,
}

impl ToolCall {
    pub fn new(tool: impl Into<String>) -> Self {
        ToolCall {
            tool: tool.into(),
            args: Vec::new(),
        }
    }

    pub fn arg(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.args.push(CallArg {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|a| a.name == name).map(|a| &a.value)
    }

    /// The string value of an argument, if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The canonical text: `go("desk 1")`. Arguments are positional while they follow the
    /// tool's parameter order without gaps, keyword (`key=value`) after the first omitted
    /// parameter. Without `spec` every argument is positional. The text parses back to the
    /// same call (see `crate::parse`).
    pub fn render(&self, spec: Option<&[ParamIr]>) -> String {
        let mut parts = Vec::with_capacity(self.args.len());
        let mut positional = true;
        for (i, a) in self.args.iter().enumerate() {
            if let Some(params) = spec {
                if params.get(i).map(|p| p.name.as_str()) != Some(a.name.as_str()) {
                    positional = false;
                }
            }
            let v = render_value(&a.value);
            if positional {
                parts.push(v);
            } else {
                parts.push(format!("{}={}", a.name, v));
            }
        }
        format!("{}({})", self.tool, parts.join(", "))
    }
}

/// A value in call syntax: JSON scalars and lists; objects are written as JSON.
pub fn render_value(v: &Value) -> String {
    match v {
        Value::String(s) => json_string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(render_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_positional_then_keyword() {
        let params = vec![
            ParamIr::new("query", TypeIr::String),
            ParamIr::new("limit", TypeIr::Optional(Box::new(TypeIr::Int))),
            ParamIr::new(
                "tags",
                TypeIr::Optional(Box::new(TypeIr::List(Box::new(TypeIr::String)))),
            ),
        ];
        let c = ToolCall::new("search")
            .arg("query", "a \"b\"")
            .arg("tags", vec!["x"]);
        assert_eq!(c.render(Some(&params)), r#"search("a \"b\"", tags=["x"])"#);
        let c = ToolCall::new("search").arg("query", "q").arg("limit", 3);
        assert_eq!(c.render(Some(&params)), r#"search("q", 3)"#);
        assert_eq!(ToolCall::new("look").render(None), "look()");
    }

    #[test]
    fn signatures() {
        let spec = ToolSpec {
            name: "notify".into(),
            description: "Send".into(),
            params: vec![
                ParamIr::new("channel", TypeIr::Enum(vec!["email".into(), "sms".into()])),
                ParamIr::new("n", TypeIr::Optional(Box::new(TypeIr::Int))),
            ],
        };
        assert_eq!(
            spec.signature(),
            r#"notify(channel: enum("email", "sms"), n: int?) — Send"#
        );
    }
}
