//! The server loop: the LSP handshake, the open documents, and one handler per request.
//!
//! Single-threaded and synchronous: every request is answered from the document's
//! current text before the next message is read. Checking a file of a few thousand lines
//! takes milliseconds, so there is nothing to gain from a thread pool, and answers can
//! never refer to a stale version. Documents are synced whole (`TextDocumentSyncKind::FULL`);
//! a ranged change from a client that sends one anyway is applied too.
//!
//! A handler that panics (a bug: the parser and checker are property-tested never to)
//! answers its request with an internal error instead of taking the server down.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, LogMessage,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    Completion, Formatting, GotoDefinition, HoverRequest, References, Request as _,
};
use lsp_types::{
    CompletionOptions, CompletionParams, CompletionResponse, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DocumentFormattingParams,
    GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverContents, HoverParams,
    HoverProviderCapability, Location, LogMessageParams, MarkupContent, MarkupKind, MessageType,
    OneOf, PublishDiagnosticsParams, ReferenceParams, ServerCapabilities, ServerInfo,
    TextDocumentContentChangeEvent, TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit,
    Url,
};
use serde_json::Value as Json;

use crate::position::LineIndex;
use crate::{completion, diagnostics, format, hover, navigate};

/// Runs the server on standard input and output until the client says `exit`.
pub fn run_stdio() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    serve(&connection)?;
    // The writer thread must flush the last responses before the process ends.
    drop(connection);
    io_threads
        .join()
        .map_err(|e| format!("language server I/O failed: {e}"))
}

/// What the server can do, as announced in the `initialize` response.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        document_formatting_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            // A space after `on`, `when` or an action; `(` of arguments; `[` of a list;
            // `{` of a template hole; `@` of an annotation.
            trigger_characters: Some([" ", "(", "[", "{", "@", ","].map(String::from).to_vec()),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

fn serve(connection: &Connection) -> Result<(), String> {
    let init = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo {
            name: "harnessx".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    let handshake = |e: lsp_server::ProtocolError| format!("language server handshake failed: {e}");
    let (id, _client) = connection.initialize_start().map_err(handshake)?;
    connection.initialize_finish(id, init).map_err(handshake)?;
    let mut server = Server::default();
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                let is_shutdown = connection
                    .handle_shutdown(&req)
                    .map_err(|e| format!("language server shutdown failed: {e}"))?;
                if is_shutdown {
                    return Ok(());
                }
                let response = server.request(req);
                send(connection, response.into())?;
            }
            Message::Notification(n) => {
                for out in server.notification(n) {
                    send(connection, out.into())?;
                }
            }
            Message::Response(_) => {} // the server sends no requests
        }
    }
    Ok(())
}

fn send(connection: &Connection, msg: Message) -> Result<(), String> {
    connection
        .sender
        .send(msg)
        .map_err(|_| "the client closed the connection".to_string())
}

/// One open document.
struct Document {
    text: String,
    version: i32,
}

impl Document {
    fn offset(&self, position: lsp_types::Position) -> usize {
        LineIndex::new(&self.text).offset(&self.text, position)
    }

    fn range(&self, span: harnessx_syntax::Span) -> lsp_types::Range {
        LineIndex::new(&self.text).range(&self.text, span.start, span.end)
    }
}

#[derive(Default)]
struct Server {
    documents: HashMap<Url, Document>,
}

/// The error answered for a request the server cannot serve.
struct Failure {
    code: ErrorCode,
    message: String,
}

impl Failure {
    fn invalid_params(message: impl Into<String>) -> Self {
        Failure {
            code: ErrorCode::InvalidParams,
            message: message.into(),
        }
    }
}

type Reply = Result<Json, Failure>;

impl Server {
    fn request(&mut self, req: Request) -> Response {
        let id = req.id.clone();
        let method = req.method.clone();
        let reply = catch_unwind(AssertUnwindSafe(|| self.dispatch(req))).unwrap_or_else(|_| {
            Err(Failure {
                code: ErrorCode::InternalError,
                message: format!("internal error in `{method}` (a bug in harnessx)"),
            })
        });
        match reply {
            Ok(result) => Response::new_ok(id, result),
            Err(f) => Response::new_err(id, f.code as i32, f.message),
        }
    }

    fn dispatch(&mut self, req: Request) -> Reply {
        match req.method.as_str() {
            Formatting::METHOD => {
                let p: DocumentFormattingParams = params(req.params)?;
                let doc = self.document(&p.text_document.uri)?;
                Ok(match format::edits(&doc.text) {
                    Ok(edits) => to_json(edits),
                    Err(why) => {
                        // `fmt` refuses such a file too; the diagnostics already say why.
                        eprintln!(
                            "harnessx lsp: not formatting {}: {why}",
                            p.text_document.uri
                        );
                        Json::Null
                    }
                })
            }
            HoverRequest::METHOD => {
                let p: HoverParams = params(req.params)?;
                let at = p.text_document_position_params;
                let doc = self.document(&at.text_document.uri)?;
                let offset = doc.offset(at.position);
                let file = harnessx_syntax::parse(&doc.text).file;
                Ok(match hover::hover(&file, offset) {
                    Some((markdown, span)) => to_json(Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: markdown,
                        }),
                        range: Some(doc.range(span)),
                    }),
                    None => Json::Null,
                })
            }
            Completion::METHOD => {
                let p: CompletionParams = params(req.params)?;
                let at = p.text_document_position;
                let doc = self.document(&at.text_document.uri)?;
                let offset = doc.offset(at.position);
                let file = harnessx_syntax::parse(&doc.text).file;
                let items = completion::complete(&doc.text, &file, offset);
                Ok(to_json(CompletionResponse::Array(items)))
            }
            GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = params(req.params)?;
                let at = p.text_document_position_params;
                let uri = at.text_document.uri;
                let doc = self.document(&uri)?;
                let file = harnessx_syntax::parse(&doc.text).file;
                Ok(match navigate::definition(&file, doc.offset(at.position)) {
                    Some(span) => to_json(GotoDefinitionResponse::Scalar(Location::new(
                        uri.clone(),
                        doc.range(span),
                    ))),
                    None => Json::Null,
                })
            }
            References::METHOD => {
                let p: ReferenceParams = params(req.params)?;
                let at = p.text_document_position;
                let uri = at.text_document.uri;
                let doc = self.document(&uri)?;
                let file = harnessx_syntax::parse(&doc.text).file;
                let spans = navigate::references(
                    &file,
                    doc.offset(at.position),
                    p.context.include_declaration,
                );
                let locations: Vec<Location> = spans
                    .into_iter()
                    .map(|s| Location::new(uri.clone(), doc.range(s)))
                    .collect();
                Ok(to_json(locations))
            }
            other => Err(Failure {
                code: ErrorCode::MethodNotFound,
                message: format!("`{other}` is not supported by the harnessx language server"),
            }),
        }
    }

    fn document(&self, uri: &Url) -> Result<&Document, Failure> {
        self.documents
            .get(uri)
            .ok_or_else(|| Failure::invalid_params(format!("{uri} is not open")))
    }

    /// Handles a notification; returns the notifications to send back.
    fn notification(&mut self, n: Notification) -> Vec<Notification> {
        let method = n.method.clone();
        catch_unwind(AssertUnwindSafe(|| self.notify(n))).unwrap_or_else(|_| {
            vec![log(
                MessageType::ERROR,
                format!("internal error in `{method}` (a bug in harnessx)"),
            )]
        })
    }

    fn notify(&mut self, n: Notification) -> Vec<Notification> {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Ok(p) = params::<DidOpenTextDocumentParams>(n.params) else {
                    return vec![log(MessageType::ERROR, "malformed didOpen".into())];
                };
                let doc = p.text_document;
                self.documents.insert(
                    doc.uri.clone(),
                    Document {
                        text: doc.text,
                        version: doc.version,
                    },
                );
                vec![self.publish(&doc.uri)]
            }
            DidChangeTextDocument::METHOD => {
                let Ok(p) = params::<DidChangeTextDocumentParams>(n.params) else {
                    return vec![log(MessageType::ERROR, "malformed didChange".into())];
                };
                let uri = p.text_document.uri;
                let Some(doc) = self.documents.get_mut(&uri) else {
                    return vec![log(
                        MessageType::WARNING,
                        format!("{uri} changed before it was opened"),
                    )];
                };
                for change in p.content_changes {
                    apply(&mut doc.text, change);
                }
                doc.version = p.text_document.version;
                vec![self.publish(&uri)]
            }
            DidCloseTextDocument::METHOD => {
                let Ok(p) = params::<DidCloseTextDocumentParams>(n.params) else {
                    return vec![log(MessageType::ERROR, "malformed didClose".into())];
                };
                let uri = p.text_document.uri;
                self.documents.remove(&uri);
                // A closed file's squiggles go away with it.
                vec![publish(PublishDiagnosticsParams::new(
                    uri,
                    Vec::new(),
                    None,
                ))]
            }
            _ => Vec::new(), // `initialized`, `$/cancelRequest`, settings: nothing to do
        }
    }

    fn publish(&self, uri: &Url) -> Notification {
        let doc = &self.documents[uri];
        let diags = diagnostics::diagnostics(uri, &doc.text);
        publish(PublishDiagnosticsParams::new(
            uri.clone(),
            diags,
            Some(doc.version),
        ))
    }
}

/// Applies one content change: the whole text, or a range of it.
fn apply(text: &mut String, change: TextDocumentContentChangeEvent) {
    match change.range {
        None => *text = change.text,
        Some(range) => {
            let index = LineIndex::new(text);
            let start = index.offset(text, range.start);
            let end = index.offset(text, range.end).max(start);
            text.replace_range(start..end, &change.text);
        }
    }
}

fn publish(p: PublishDiagnosticsParams) -> Notification {
    Notification::new(PublishDiagnostics::METHOD.to_string(), p)
}

fn log(typ: MessageType, message: String) -> Notification {
    Notification::new(
        LogMessage::METHOD.to_string(),
        LogMessageParams { typ, message },
    )
}

fn params<P: serde::de::DeserializeOwned>(value: Json) -> Result<P, Failure> {
    serde_json::from_value(value).map_err(|e| Failure::invalid_params(e.to_string()))
}

fn to_json<T: serde::Serialize>(value: T) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// The one edit that turns `text` into `formatted` (none when they are equal).
pub(crate) fn whole_text_edit(text: &str, formatted: String) -> Vec<TextEdit> {
    if text == formatted {
        return Vec::new();
    }
    let index = LineIndex::new(text);
    vec![TextEdit::new(index.range(text, 0, text.len()), formatted)]
}
