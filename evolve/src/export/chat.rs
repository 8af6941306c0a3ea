//! One episode's trace as an OpenAI chat conversation: the messages that entered the
//! context, in order, with each executed call as an assistant `tool_calls` entry and the
//! observation that followed it as the `tool` message answering it (docs/EXPORT.md).
//!
//! The conversation is the full log, as the model would see it without compaction:
//! compaction's `summary` messages stand for messages that are still in the log, so they
//! are left out. An assistant reply that produced no call (it did not parse and was not
//! repaired) or whose call a `block` rule refused stays in the conversation as context,
//! with `weight: 0` so fine-tuning does not learn it.

use harnessx_runtime::call::ToolSpec;
use harnessx_runtime::context::MsgKind;
use harnessx_runtime::message::Role;
use harnessx_runtime::models::openai::{params_schema, J};
use harnessx_runtime::parse::parse_call;
use harnessx_runtime::trace::{EventKind, TraceEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message of the OpenAI chat format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Absent on an assistant message that is a tool call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ChatToolCall>,
    /// On a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// `0` on an assistant message fine-tuning should not learn (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatToolCall {
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    pub function: ChatFunction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatFunction {
    pub name: String,
    /// The arguments object, as JSON text (the API's convention).
    pub arguments: String,
}

impl ChatMessage {
    fn text(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.into(),
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
            weight: None,
        }
    }
}

/// One entry of the chat format's `tools` list: `{"type": "function", "function": {name,
/// description, parameters}}`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatTool {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ChatToolFunction,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatToolFunction {
    pub name: String,
    pub description: String,
    /// The JSON schema of the arguments object, as the `openai:` backend sends it.
    pub parameters: J,
}

/// The harness's tools as the chat format's `tools` list.
pub fn tools_json(tools: &[ToolSpec]) -> Vec<ChatTool> {
    tools
        .iter()
        .map(|t| ChatTool {
            kind: "function",
            function: ChatToolFunction {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: params_schema(t),
            },
        })
        .collect()
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        // The runtime does not push tool-role messages; one with no call to answer could
        // not be a `tool` message (which needs a `tool_call_id`), so it reads as user text,
        // as the `openai:` backend sends it.
        Role::Tool => "user",
    }
}

/// An executed call's arguments object, by the tool's parameter names.
fn arguments(call_text: &str, tools: &[ToolSpec]) -> Result<(String, String), String> {
    let call = parse_call(call_text, tools)
        .map_err(|e| format!("the executed call `{call_text}` does not match the tools: {e}"))?;
    let mut args = Map::new();
    for a in &call.args {
        args.insert(a.name.clone(), a.value.clone());
    }
    Ok((call.tool, Value::Object(args).to_string()))
}

/// The conversation of one episode (see the module docs). `tools` are the harness's tools,
/// used to name a call's arguments; a call that does not match them is an error (the
/// tools given are not the harness's).
pub fn conversation(events: &[TraceEvent], tools: &[ToolSpec]) -> Result<Vec<ChatMessage>, String> {
    let mut out: Vec<ChatMessage> = Vec::new();
    // The newest assistant message not yet matched with a call, and whether a
    // `call_parsed` followed it (it was an acting reply, not a plan).
    let mut open_reply: Option<usize> = None;
    let mut parsed_after_reply = false;
    // The newest well-formed call the engine parsed (or repaired) from a reply.
    let mut last_call: Option<String> = None;
    // The id of the executed call still waiting for the observation that answers it.
    let mut awaiting: Option<String> = None;
    let mut calls = 0u32;
    let close_reply = |out: &mut Vec<ChatMessage>, idx: Option<usize>, parsed: bool| {
        // A reply that led to no call: context only.
        if let (Some(i), true) = (idx, parsed) {
            out[i].weight = Some(0);
        }
    };
    for e in events {
        match &e.kind {
            EventKind::Message {
                role,
                kind,
                content,
                ..
            } => {
                if *kind == MsgKind::Summary {
                    continue;
                }
                if *role == Role::Assistant {
                    close_reply(&mut out, open_reply.take(), parsed_after_reply);
                    // A new reply before the observation: the call's result never entered
                    // the context, so nothing answers it (the next observation is not its).
                    awaiting = None;
                    out.push(ChatMessage::text("assistant", content));
                    open_reply = Some(out.len() - 1);
                    parsed_after_reply = false;
                    continue;
                }
                if *role == Role::User && *kind == MsgKind::Observation {
                    if let Some(id) = awaiting.take() {
                        out.push(ChatMessage {
                            role: "tool".into(),
                            content: Some(content.clone()),
                            tool_calls: Vec::new(),
                            tool_call_id: Some(id),
                            weight: None,
                        });
                        continue;
                    }
                }
                // The observation after a reply that made no call ("Invalid action ...")
                // is an ordinary user message.
                out.push(ChatMessage::text(role_name(*role), content));
            }
            EventKind::CallParsed { call, .. } => {
                parsed_after_reply = true;
                last_call.clone_from(call);
            }
            EventKind::ToolCall { call, attempt, .. } if *attempt == 1 => {
                if let Some(i) = open_reply.take() {
                    let id = format!("call_{}", calls);
                    calls += 1;
                    let (name, arguments) = arguments(call, tools)?;
                    out[i] = ChatMessage {
                        role: "assistant".into(),
                        content: None,
                        tool_calls: vec![ChatToolCall {
                            id: id.clone(),
                            kind: "function".into(),
                            function: ChatFunction { name, arguments },
                        }],
                        tool_call_id: None,
                        weight: None,
                    };
                    awaiting = Some(id);
                }
            }
            EventKind::ToolResult { blocked: true, .. } => {
                // The harness refused the call before it ran: the model made it (it is
                // shown), but it is not a call to learn.
                if let (Some(i), Some(call)) = (open_reply, last_call.as_deref()) {
                    open_reply = None;
                    let id = format!("call_{}", calls);
                    calls += 1;
                    let (name, arguments) = arguments(call, tools)?;
                    out[i] = ChatMessage {
                        role: "assistant".into(),
                        content: None,
                        tool_calls: vec![ChatToolCall {
                            id: id.clone(),
                            kind: "function".into(),
                            function: ChatFunction { name, arguments },
                        }],
                        tool_call_id: None,
                        weight: Some(0),
                    };
                    awaiting = Some(id);
                }
            }
            _ => {}
        }
    }
    close_reply(&mut out, open_reply, parsed_after_reply);
    Ok(out)
}
