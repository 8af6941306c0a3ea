//! harnessx-syntax: the `.harness` language's grammar, AST, parser and printer.
//!
//! Architecture invariant: this crate knows nothing of what the language *means* (which
//! hooks exist, which fields a section has) and nothing of the runtime. It turns text into
//! a tree and a tree back into text. Meaning lives in `harnessx-compiler`.

pub mod ast;
pub mod comments;
pub mod error;
pub mod lex;
pub mod parser;
pub mod paths;
pub mod printer;

pub use ast::*;
pub use error::{SyntaxError, SyntaxErrorKind};
pub use parser::{parse, Parsed};
pub use paths::{node_paths, NodeRef};
pub use printer::{format_source, print, without_spans};
