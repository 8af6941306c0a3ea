//! Stable, human-readable paths for the nodes of a harness, so the evolver (and tools that
//! report on a file) can name a node independently of its byte offsets.
//!
//! # Scheme
//!
//! | path                                  | node                                        |
//! |---------------------------------------|---------------------------------------------|
//! | `harness`, `harness.description`      | the harness, its description                |
//! | `model`, `loop.max_steps`             | a section by name, one of its fields        |
//! | `prompts.system`, `prompts.system.text` | a prompt by name, its text                |
//! | `tools.go`, `tools.go.description`    | a tool by name, its description             |
//! | `tools.go.params.target`              | a tool parameter                            |
//! | `tools.go.timeout`                    | a tool option field                         |
//! | `rules[2]`                            | the third rule (index among rules only)     |
//! | `rules[2].when`                       | its condition                               |
//! | `….and[i]`, `….or[i]`, `….not`        | condition operands                          |
//! | `….count`, `….args[0]`                | detector arguments, named or positional     |
//! | `….value`, `….pattern`                | a comparison's value, a `matches` pattern   |
//! | `rules[2].actions[0]`                 | an action                                   |
//! | `….max`, `….args[0]`, `….message`     | its arguments and bare message              |
//! | `….otherwise`                         | its fallback action (same sub-paths)        |
//! | `loop.max_steps@evolve`               | an annotation of any annotated node         |
//! | `loop.max_steps@evolve.range`         | an annotation argument (`.args[i]` if bare) |
//!
//! Paths name things by what they are called, so they survive edits elsewhere in the file;
//! only rules (which need not be named) are addressed by position. A name is not unique in
//! an invalid file (two `model` sections, a section called `tools`, a tool option called
//! `description`, an action argument called `message`): all such nodes are listed under
//! the same path and [`find`] returns the first in source order.

use crate::ast::*;

/// A reference to any addressable node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NodeRef<'a> {
    Harness(&'a Harness),
    Section(&'a Section),
    Field(&'a Field),
    Prompt(&'a Prompt),
    Tool(&'a Tool),
    Param(&'a Param),
    Rule(&'a Rule),
    Cond(&'a Cond),
    Action(&'a Action),
    Arg(&'a Arg),
    Annotation(&'a Annotation),
    Value(&'a Value),
    Str(&'a StrLit),
}

impl NodeRef<'_> {
    pub fn span(&self) -> Span {
        match self {
            NodeRef::Harness(n) => n.span,
            NodeRef::Section(n) => n.span,
            NodeRef::Field(n) => n.span,
            NodeRef::Prompt(n) => n.span,
            NodeRef::Tool(n) => n.span,
            NodeRef::Param(n) => n.span,
            NodeRef::Rule(n) => n.span,
            NodeRef::Cond(n) => n.span,
            NodeRef::Action(n) => n.span,
            NodeRef::Arg(n) => n.span,
            NodeRef::Annotation(n) => n.span,
            NodeRef::Value(n) => n.span,
            NodeRef::Str(n) => n.span,
        }
    }
}

/// Every addressable node with its path, in source order (parents before children).
pub fn nodes(file: &File) -> Vec<(String, NodeRef<'_>)> {
    let mut w = Walker::default();
    if let Some(h) = &file.harness {
        w.harness(h);
    }
    w.out
}

/// Every node's path and span, in source order.
pub fn node_paths(file: &File) -> Vec<(String, Span)> {
    nodes(file)
        .into_iter()
        .map(|(path, node)| (path, node.span()))
        .collect()
}

/// The node at `path`, if any.
pub fn find_node<'a>(file: &'a File, path: &str) -> Option<NodeRef<'a>> {
    nodes(file)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, node)| node)
}

/// The span of the node at `path`, if any.
pub fn find(file: &File, path: &str) -> Option<Span> {
    find_node(file, path).map(|n| n.span())
}

#[derive(Default)]
struct Walker<'a> {
    out: Vec<(String, NodeRef<'a>)>,
}

impl<'a> Walker<'a> {
    fn push(&mut self, path: String, node: NodeRef<'a>) {
        self.out.push((path, node));
    }

    fn harness(&mut self, h: &'a Harness) {
        self.push("harness".into(), NodeRef::Harness(h));
        if let Some(d) = &h.description {
            self.push("harness.description".into(), NodeRef::Str(d));
        }
        let mut rules = 0;
        for item in &h.items {
            match item {
                Item::Section(s) => self.section(s),
                Item::Prompt(p) => self.prompt(p),
                Item::Tool(t) => self.tool(t),
                Item::Rule(r) => {
                    self.rule(r, rules);
                    rules += 1;
                }
            }
        }
    }

    fn annotations(&mut self, owner: &str, annotations: &'a [Annotation]) {
        for a in annotations {
            let path = format!("{owner}@{}", a.name.name);
            self.push(path.clone(), NodeRef::Annotation(a));
            self.args(&path, &a.args);
        }
    }

    /// Named arguments as `owner.name`, positional ones as `owner.args[i]` (counting all
    /// arguments, so an index matches the written position).
    fn args(&mut self, owner: &str, args: &'a [Arg]) {
        for (i, a) in args.iter().enumerate() {
            let path = match &a.name {
                Some(n) => format!("{owner}.{}", n.name),
                None => format!("{owner}.args[{i}]"),
            };
            self.push(path, NodeRef::Arg(a));
        }
    }

    fn section(&mut self, s: &'a Section) {
        let path = s.name.name.clone();
        self.push(path.clone(), NodeRef::Section(s));
        self.annotations(&path, &s.annotations);
        self.fields(&path, &s.fields);
    }

    fn fields(&mut self, owner: &str, fields: &'a [Field]) {
        for f in fields {
            let path = format!("{owner}.{}", f.name.name);
            self.push(path.clone(), NodeRef::Field(f));
            self.annotations(&path, &f.annotations);
        }
    }

    fn prompt(&mut self, p: &'a Prompt) {
        let path = format!("prompts.{}", p.name.name);
        self.push(path.clone(), NodeRef::Prompt(p));
        self.annotations(&path, &p.annotations);
        self.push(format!("{path}.text"), NodeRef::Str(&p.text));
    }

    fn tool(&mut self, t: &'a Tool) {
        let path = format!("tools.{}", t.name.name);
        self.push(path.clone(), NodeRef::Tool(t));
        self.annotations(&path, &t.annotations);
        for p in &t.params {
            self.push(format!("{path}.params.{}", p.name.name), NodeRef::Param(p));
        }
        if let Some(d) = &t.description {
            self.push(format!("{path}.description"), NodeRef::Str(d));
        }
        if let Some(opts) = &t.options {
            self.fields(&path, opts);
        }
    }

    fn rule(&mut self, r: &'a Rule, index: usize) {
        let path = format!("rules[{index}]");
        self.push(path.clone(), NodeRef::Rule(r));
        self.annotations(&path, &r.annotations);
        if let Some(c) = &r.when {
            self.cond(format!("{path}.when"), c);
        }
        for (i, a) in r.actions.iter().enumerate() {
            self.action(format!("{path}.actions[{i}]"), a);
        }
    }

    fn cond(&mut self, path: String, c: &'a Cond) {
        self.push(path.clone(), NodeRef::Cond(c));
        match &c.kind {
            CondKind::And(ops) => self.operands(&path, "and", ops),
            CondKind::Or(ops) => self.operands(&path, "or", ops),
            CondKind::Not(op) => self.cond(format!("{path}.not"), op),
            CondKind::Detector { args, .. } => self.args(&path, args),
            CondKind::Compare { value, .. } => {
                self.push(format!("{path}.value"), NodeRef::Value(value))
            }
            CondKind::Matches { pattern, .. } => {
                self.push(format!("{path}.pattern"), NodeRef::Str(pattern))
            }
        }
    }

    fn operands(&mut self, path: &str, op: &str, ops: &'a [Cond]) {
        for (i, c) in ops.iter().enumerate() {
            self.cond(format!("{path}.{op}[{i}]"), c);
        }
    }

    fn action(&mut self, path: String, a: &'a Action) {
        self.push(path.clone(), NodeRef::Action(a));
        if let Some(m) = &a.message {
            self.push(format!("{path}.message"), NodeRef::Value(m));
        }
        self.args(&path, &a.args);
        if let Some(f) = &a.otherwise {
            self.action(format!("{path}.otherwise"), f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    const SRC: &str = r#"harness h "d" {
  loop {
    max_steps = 30 @evolve(range = 10..60)
  }
  prompt system "hi"
  tool go(target: string) "walk" { timeout = 2s }
  on after_model when malformed_call {
    repair extract_action
  }
  @frozen
  on before_tool when repeated_action(window = 4, count = 3) and not (a or step >= 2) {
    retry(max = 2, 1s)
    otherwise reprompt "x"
  }
}
"#;

    fn text_at(path: &str) -> Option<String> {
        let parsed = parse(SRC);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        find(&parsed.file, path).map(|s| SRC[s.start..s.end].to_string())
    }

    #[test]
    fn finds_nodes_by_path() {
        let cases = [
            ("loop.max_steps", "max_steps = 30 @evolve(range = 10..60)"),
            ("loop.max_steps@evolve", "@evolve(range = 10..60)"),
            ("loop.max_steps@evolve.range", "range = 10..60"),
            ("prompts.system.text", "\"hi\""),
            ("tools.go.params.target", "target: string"),
            ("tools.go.timeout", "timeout = 2s"),
            ("tools.go.description", "\"walk\""),
            ("rules[0].when", "malformed_call"),
            ("rules[0].actions[0].message", "extract_action"),
            ("rules[1]@frozen", "@frozen"),
            ("rules[1].when.and[0].count", "count = 3"),
            ("rules[1].when.and[1].not.or[1].value", "2"),
            ("rules[1].actions[0].max", "max = 2"),
            ("rules[1].actions[0].args[1]", "1s"),
            ("rules[1].actions[0].otherwise.message", "\"x\""),
        ];
        for (path, text) in cases {
            assert_eq!(text_at(path).as_deref(), Some(text), "{path}");
        }
        assert_eq!(text_at("rules[2]"), None);
        assert_eq!(text_at("tools.nope"), None);
    }

    #[test]
    fn paths_are_unique_in_a_valid_file() {
        let parsed = parse(SRC);
        let paths = node_paths(&parsed.file);
        let mut names: Vec<&String> = paths.iter().map(|(p, _)| p).collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total);
    }
}
