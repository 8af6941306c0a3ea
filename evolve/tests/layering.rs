//! The crate's modules depend one way (the layering in src/lib.rs): every `crate::` path
//! in a module, tests included, names a module of a lower layer.

use std::path::Path;

/// src/lib.rs's layers, lowest first.
const LAYERS: &[&[&str]] = &[
    &["manifest", "stats", "svg", "secrets", "error"],
    &["traces", "ledger", "fragments"],
    &["digest", "gate"],
    &["operators"],
    &["proposer"],
    &["planner"],
    &["checkpoint"],
    &["emit"],
    &["round"],
    &["run", "progress"],
    &["arms", "report", "export"],
    &["realbench", "review"],
    &["bench"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules named by `crate::` paths in `text`, comments left out.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let before = line[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue; // `harnessx_crate::`, not this crate
            }
            let rest = &line[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                // `crate::{a::X, b}`: on one line in this crate.
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .filter_map(|p| p.trim().split("::").next())
                    .collect(),
                None => rest.split("::").next().into_iter().collect(),
            };
            for n in names {
                let n: String = n
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !n.is_empty() {
                    out.push(n);
                }
            }
        }
    }
    out
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" {
            continue;
        }
        let Some(own) = layer(&top) else {
            bad.push(format!("{}: module `{top}` is in no layer", rel.display()));
            continue;
        };
        seen.push(top.clone());
        for m in imports(&std::fs::read_to_string(f).unwrap()) {
            if m == top {
                continue;
            }
            match layer(&m) {
                Some(l) if l < own => {}
                _ => bad.push(format!("{}: `{top}` imports `{m}`", rel.display())),
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
    for l in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(seen.iter().any(|s| s == l), "no module `{l}` in src/");
    }
}
