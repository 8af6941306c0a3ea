//! Chat messages and the runtime's token estimate: the vocabulary shared by the context
//! window ([`crate::context`]) and the models ([`crate::models`]), kept apart so that
//! neither imports the other.

use serde::{Deserialize, Serialize};

/// Fixed per-message overhead of the token estimate.
pub const PER_MESSAGE_TOKENS: u64 = 4;

/// `ceil(chars / 4) + 4` (see [`crate::context`]).
pub fn estimate_tokens(text: &str) -> u64 {
    let chars = text.chars().count() as u64;
    chars.div_ceil(4) + PER_MESSAGE_TOKENS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}
