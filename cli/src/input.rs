//! Turning command-line arguments into sources (files, directories, standard input).

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Where one source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Stdin,
    File(PathBuf),
}

/// One source to process: its origin and the name shown in messages.
#[derive(Debug, Clone)]
pub struct Input {
    pub origin: Origin,
    pub name: String,
}

/// A problem with one argument or file, already phrased for the user.
#[derive(Debug, Clone)]
pub struct InputError {
    pub name: String,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

/// Expands arguments: `-` is standard input, a directory stands for every `*.harness`
/// file below it (sorted, hidden entries skipped), anything else is a file path (checked
/// when it is read). Errors while walking a directory are returned beside the inputs.
pub fn expand(args: &[String]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        if arg == "-" {
            inputs.push(Input {
                origin: Origin::Stdin,
                name: "<stdin>".into(),
            });
            continue;
        }
        let path = PathBuf::from(arg);
        if path.is_dir() {
            let before = inputs.len();
            walk(&path, &mut inputs, &mut errors);
            if inputs.len() == before {
                errors.push(InputError {
                    name: arg.clone(),
                    message: "directory contains no .harness files".into(),
                });
            }
        } else {
            inputs.push(Input {
                name: arg.clone(),
                origin: Origin::File(path),
            });
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<InputError>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(InputError {
                name: dir.display().to_string(),
                message: format!("cannot read directory: {}", describe(&e)),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            walk(&path, inputs, errors);
        } else if path.extension().is_some_and(|e| e == "harness") {
            inputs.push(Input {
                name: path.display().to_string(),
                origin: Origin::File(path),
            });
        }
    }
}

/// Reads a whole source as UTF-8 text.
pub fn read(input: &Input) -> Result<String, InputError> {
    let fail = |message: String| InputError {
        name: input.name.clone(),
        message,
    };
    match &input.origin {
        Origin::Stdin => {
            let mut buf = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| fail(format!("cannot read standard input: {}", describe(&e))))?;
            String::from_utf8(buf).map_err(|_| fail("standard input is not valid UTF-8".into()))
        }
        Origin::File(path) => {
            if path.is_dir() {
                return Err(fail("is a directory".into()));
            }
            let bytes =
                fs::read(path).map_err(|e| fail(format!("cannot read file: {}", describe(&e))))?;
            String::from_utf8(bytes).map_err(|e| {
                fail(format!(
                    "file is not valid UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ))
            })
        }
    }
}

/// An IO error's cause in words, without the "(os error N)" suffix people do not need.
pub fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("harnessx-cli-unit-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        dir
    }

    #[test]
    fn directories_expand_to_sorted_harness_files() {
        let dir = scratch("walk");
        fs::create_dir_all(dir.join("sub")).expect("mkdir");
        fs::write(dir.join("b.harness"), "").expect("write");
        fs::write(dir.join("a.harness"), "").expect("write");
        fs::write(dir.join("notes.txt"), "").expect("write");
        fs::write(dir.join("sub/c.harness"), "").expect("write");
        let (inputs, errors) = expand(&[dir.display().to_string()]);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<_> = inputs
            .iter()
            .map(|i| match &i.origin {
                Origin::File(p) => p
                    .strip_prefix(&dir)
                    .expect("under dir")
                    .display()
                    .to_string(),
                Origin::Stdin => "-".into(),
            })
            .collect();
        assert_eq!(names, ["a.harness", "b.harness", "sub/c.harness"]);
        fs::remove_dir_all(&dir).ok();
    }
}
