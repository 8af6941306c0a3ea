// Starts `harnessx lsp` for .harness files. Plain JavaScript, so there is nothing to
// build: `npm install` in this folder fetches the one dependency, the language client.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('harnessx').get('server.path') || 'harnessx';
  const serverOptions = { command, args: ['lsp'] };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'harness' },
      { scheme: 'untitled', language: 'harness' },
    ],
  };
  client = new LanguageClient('harnessx', 'harnessx language server', serverOptions, clientOptions);
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
