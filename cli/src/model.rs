//! Which model `run` and `evolve` use: `--model` when given, else the backend the harness
//! declares (`model { backend = "..." }`), else the language's default backend
//! (`sim:small`, the default of `model.backend`).

use harnessx_runtime::ir::ModelIr;
use harnessx_syntax::{File, Item, ValueKind};

/// Where the model came from, as the summary line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--model` on the command line.
    Flag,
    /// The harness's `model.backend`.
    Declared,
    /// Neither: the default backend.
    Default,
}

impl Source {
    /// How the summary line says it: `from --model`, `declared by the harness`,
    /// `default (none declared)`.
    pub fn label(self) -> &'static str {
        match self {
            Source::Flag => "from --model",
            Source::Declared => "declared by the harness",
            Source::Default => "default (none declared)",
        }
    }
}

/// The model spec to use and where it came from.
pub fn choose(flag: Option<&str>, file: &File) -> (String, Source) {
    if let Some(spec) = flag {
        return (spec.to_string(), Source::Flag);
    }
    match declared_backend(file) {
        Some(spec) => (spec, Source::Declared),
        None => (ModelIr::default().backend, Source::Default),
    }
}

/// The string the harness gives `model.backend`, if it gives one.
pub fn declared_backend(file: &File) -> Option<String> {
    let harness = file.harness.as_ref()?;
    harness.items.iter().find_map(|item| match item {
        Item::Section(s) if s.name.name == "model" => s
            .fields
            .iter()
            .find(|f| f.name.name == "backend")
            .and_then(|f| match &f.value.kind {
                ValueKind::Str(s) => Some(s.value.clone()),
                _ => None,
            }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(src: &str) -> File {
        harnessx_syntax::parse(src).file
    }

    #[test]
    fn the_flag_then_the_declared_backend_then_the_default() {
        let declared = file("harness h {\n  model { backend = \"sim:large\" }\n}\n");
        let none = file("harness h {\n  loop { max_steps = 3 }\n}\n");
        assert_eq!(
            choose(Some("noisy:0.5"), &declared),
            ("noisy:0.5".into(), Source::Flag)
        );
        assert_eq!(
            choose(None, &declared),
            ("sim:large".into(), Source::Declared)
        );
        assert_eq!(choose(None, &none), ("sim:small".into(), Source::Default));
        let no_backend = file("harness h {\n  model { temperature = 0.5 }\n}\n");
        assert_eq!(choose(None, &no_backend).1, Source::Default);
        let labels = [Source::Flag, Source::Declared, Source::Default].map(Source::label);
        assert_eq!(
            labels,
            [
                "from --model",
                "declared by the harness",
                "default (none declared)"
            ]
        );
    }
}
