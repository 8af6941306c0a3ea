//! Writing to the terminal: color choice and pipe-safe printing.

use std::io::{self, IsTerminal, Write};

use crate::ColorChoice;

/// Whether diagnostics (written to standard error) get ANSI colors.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            let no_color = matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty());
            !no_color && io::stderr().is_terminal()
        }
    }
}

/// Writes to standard output. A closed pipe (`harnessx ... | head`) is not an error worth
/// a panic; the text is simply dropped.
pub fn stdout(text: &str) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes to standard error, ignoring failures for the same reason as [`stdout`].
pub fn stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `error: <message>` on standard error, for problems that are not diagnostics.
pub fn error(message: impl std::fmt::Display, color: bool) {
    if color {
        stderr(&format!(
            "\x1b[1;31merror\x1b[0m\x1b[1m:\x1b[0m {message}\n"
        ));
    } else {
        stderr(&format!("error: {message}\n"));
    }
}

/// `1 file`, `2 files`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
