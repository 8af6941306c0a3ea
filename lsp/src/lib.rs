//! harnessx-lsp: a Language Server for `.harness` files, over standard input and output.
//!
//! `harnessx lsp` runs [`run_stdio`]. Everything the server says comes from the compiler
//! crates: diagnostics from `harnessx_compiler::check_source`, formatting from the
//! canonical printer. This crate only maps byte spans to the protocol's positions and
//! the requests to those calls.
//!
//! Modules:
//! - [`server`]: the handshake, the open documents, one handler per request;
//! - [`position`]: byte offsets ⇄ line and UTF-16 column;
//! - [`diagnostics`]: the checker's diagnostics as LSP diagnostics;
//! - [`format`]: formatting through the printer;
//! - [`locate`]: what is at an offset of the (partial) tree;
//! - [`describe`]: Markdown for the language's names, from the schema;
//! - [`hover`]: the description of the name under the cursor;
//! - [`context`]: what may be written at the cursor, read from the tokens before it;
//! - [`completion`]: the names for that context, from the schema and the declarations;
//! - [`navigate`]: definitions and references of tools, prompts and named rules.

pub mod completion;
pub mod context;
pub mod describe;
pub mod diagnostics;
pub mod format;
pub mod hover;
pub mod locate;
pub mod navigate;
pub mod position;
pub mod server;

pub use server::{capabilities, run_stdio};
