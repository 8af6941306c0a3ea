//! The writer of generated Rust: formatted source, line by line.
//!
//! A harness module is written straight as text, laid out the way `prettyplease` lays
//! out Rust (four-space indents, items one after another, a 100-column margin for
//! expressions), instead of being built as a token stream, parsed with `syn` and printed:
//! that round trip cost over 80% of codegen time. What the generated code *says* is
//! pinned by the snapshot tests and by `codegen_build.rs`, which compiles it.
//!
//! The no-injection rule of [`super`] holds by construction here too: text from a harness
//! reaches the output only through [`super::lit`] (one literal token, escaped by
//! `proc_macro2`) or as an identifier made by [`super::names`]; doc comments carry only
//! fixed text and [`super::names::doc_safe`] names.

/// The margin that decides whether an expression fits on one line.
const WIDTH: usize = 100;

/// Formatted Rust source under construction.
#[derive(Debug, Default)]
pub struct Src {
    out: String,
    indent: usize,
}

impl Src {
    pub fn new() -> Src {
        Src::default()
    }

    /// Makes room for `additional` more bytes of output.
    pub fn reserve(&mut self, additional: usize) {
        self.out.reserve(additional);
    }

    fn pad(&mut self) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
    }

    /// One line at the current indentation. `text` must not contain a newline.
    pub fn line(&mut self, text: &str) {
        self.pad();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// One line from pieces, at the current indentation.
    pub fn parts(&mut self, parts: &[&str]) {
        self.pad();
        for p in parts {
            self.out.push_str(p);
        }
        self.out.push('\n');
    }

    /// A line that opens a block (`impl X {`): what follows is indented one more level.
    pub fn open(&mut self, text: &str) {
        self.line(text);
        self.indent += 1;
    }

    /// A line that closes the innermost block (`}`, `})`, `},`).
    pub fn close(&mut self, text: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(text);
    }

    /// A line that closes a block and opens the next at the same level (`} else {`,
    /// `) -> T {`).
    pub fn reopen(&mut self, text: &str) {
        self.close(text);
        self.indent += 1;
    }

    /// `/// text` (the text starts with its own space, as rustdoc sees it).
    pub fn doc(&mut self, text: &str) {
        self.parts(&["///", text]);
    }

    /// `//! text`.
    pub fn inner_doc(&mut self, text: &str) {
        self.parts(&["//!", text]);
    }

    /// `prefix EXPR suffix` on one line when it fits the margin, else `expr` broken over
    /// several lines (see [`Expr`]), starting with `prefix` and ending with `suffix`.
    pub fn expr(&mut self, prefix: &str, e: &Expr, suffix: &str) {
        let used = self.indent * 4 + prefix.len() + suffix.len();
        if e.fits(WIDTH.saturating_sub(used)) {
            self.pad();
            self.out.push_str(prefix);
            e.write_flat(&mut self.out);
            self.out.push_str(suffix);
            self.out.push('\n');
            return;
        }
        match e {
            Expr::Atom(s) => self.parts(&[prefix, s, suffix]),
            Expr::Call(head, args) => match args.as_slice() {
                // A single argument that can break hugs the parentheses:
                // `Some(Box::new(X {` .. `}))`, `Vec::from([` .. `])`.
                [single] if !head.is_empty() && !matches!(single, Expr::Atom(_)) => {
                    let open = format!("{prefix}{head}(");
                    let close = format!("){suffix}");
                    self.expr(&open, single, &close);
                }
                _ => {
                    self.parts_open(&[prefix, head, "("]);
                    for a in args {
                        self.expr("", a, ",");
                    }
                    self.close_parts(&[")", suffix]);
                }
            },
            Expr::Struct(path, fields) => {
                self.parts_open(&[prefix, path, " {"]);
                for (name, value) in fields {
                    let field = format!("{name}: ");
                    self.expr(&field, value, ",");
                }
                self.close_parts(&["}", suffix]);
            }
            Expr::Array(items) => {
                self.parts_open(&[prefix, "["]);
                for item in items {
                    self.expr("", item, ",");
                }
                self.close_parts(&["]", suffix]);
            }
        }
    }

    /// The column where text written on a new line starts.
    pub fn column(&self) -> usize {
        self.indent * 4
    }

    /// Whether a line of `len` bytes fits the margin at the current indentation.
    pub fn fits(&self, len: usize) -> bool {
        self.column() + len <= WIDTH
    }

    /// Indents what follows one more level (a continuation such as `.as_ref()`).
    pub fn indent(&mut self) {
        self.indent += 1;
    }

    /// Undoes [`Src::indent`].
    pub fn dedent(&mut self) {
        self.indent = self.indent.saturating_sub(1);
    }

    /// [`Src::expr`], then indent what follows (for `if !EXPR {`).
    pub fn expr_open(&mut self, prefix: &str, e: &Expr, suffix: &str) {
        self.expr(prefix, e, suffix);
        self.indent += 1;
    }

    fn parts_open(&mut self, parts: &[&str]) {
        self.parts(parts);
        self.indent += 1;
    }

    fn close_parts(&mut self, parts: &[&str]) {
        self.indent = self.indent.saturating_sub(1);
        self.parts(parts);
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// An expression of generated code, laid out by [`Src::expr`]: on one line when it fits,
/// else one argument, field or element per line with trailing commas.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Never broken: a literal, a path, `String::from("..")`.
    Atom(String),
    /// `head(args)`; a single argument that is not an atom hugs the parentheses when
    /// broken: `Vec::from([` .. `])`. An empty head makes a tuple: `(a, b)`.
    Call(String, Vec<Expr>),
    /// `path { field: value, .. }`.
    Struct(String, Vec<(&'static str, Expr)>),
    /// `[items]`.
    Array(Vec<Expr>),
}

impl Expr {
    pub fn atom(s: impl Into<String>) -> Expr {
        Expr::Atom(s.into())
    }

    pub fn call(head: impl Into<String>, args: Vec<Expr>) -> Expr {
        Expr::Call(head.into(), args)
    }

    pub fn tuple(items: Vec<Expr>) -> Expr {
        Expr::Call(String::new(), items)
    }

    /// Whether the one-line form fits the margin when it starts at `column` and is
    /// followed by `tail` more bytes.
    pub fn fits_at(&self, column: usize, tail: usize) -> bool {
        self.fits(WIDTH.saturating_sub(column + tail))
    }

    /// The one-line form.
    pub fn flat(&self) -> String {
        let mut s = String::new();
        self.write_flat(&mut s);
        s
    }

    /// Whether the one-line form is at most `budget` bytes long.
    fn fits(&self, budget: usize) -> bool {
        self.flat_len(budget).is_some()
    }

    /// The one-line form's length, or `None` as soon as it exceeds `budget`.
    fn flat_len(&self, budget: usize) -> Option<usize> {
        fn list(items: &[Expr], mut len: usize, budget: usize) -> Option<usize> {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    len += 2;
                }
                len += item.flat_len(budget.checked_sub(len)?)?;
            }
            (len <= budget).then_some(len)
        }
        let len = match self {
            Expr::Atom(s) => s.len(),
            Expr::Call(head, args) => list(args, head.len() + 2, budget)?,
            Expr::Struct(path, fields) if fields.is_empty() => path.len() + 3,
            Expr::Struct(path, fields) => {
                let mut len = path.len() + 4;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        len += 2;
                    }
                    len += name.len() + 2;
                    len += value.flat_len(budget.checked_sub(len)?)?;
                }
                len
            }
            Expr::Array(items) => list(items, 2, budget)?,
        };
        (len <= budget).then_some(len)
    }

    fn write_flat(&self, out: &mut String) {
        fn list(items: &[Expr], out: &mut String) {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                item.write_flat(out);
            }
        }
        match self {
            Expr::Atom(s) => out.push_str(s),
            Expr::Call(head, args) => {
                out.push_str(head);
                out.push('(');
                list(args, out);
                out.push(')');
            }
            Expr::Struct(path, fields) if fields.is_empty() => {
                out.push_str(path);
                out.push_str(" {}");
            }
            Expr::Struct(path, fields) => {
                out.push_str(path);
                out.push_str(" { ");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(name);
                    out.push_str(": ");
                    value.write_flat(out);
                }
                out.push_str(" }");
            }
            Expr::Array(items) => {
                out.push('[');
                list(items, out);
                out.push(']');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_expressions_stay_on_one_line() {
        let e = Expr::call(
            "Some",
            vec![Expr::Struct(
                "P".into(),
                vec![("a", Expr::atom("1u32")), ("b", Expr::atom("None"))],
            )],
        );
        let mut s = Src::new();
        s.expr("let x = ", &e, ";");
        assert_eq!(s.finish(), "let x = Some(P { a: 1u32, b: None });\n");
    }

    #[test]
    fn long_expressions_break_one_item_per_line() {
        let long = Expr::atom(format!("\"{}\"", "x".repeat(90)));
        let e = Expr::call(
            "Vec::from",
            vec![Expr::Array(vec![long.clone(), Expr::atom("y")])],
        );
        let mut s = Src::new();
        s.open("fn f() {");
        s.expr("", &e, "");
        s.close("}");
        let want = format!(
            "fn f() {{\n    Vec::from([\n        {},\n        y,\n    ])\n}}\n",
            "\"".to_string() + &"x".repeat(90) + "\""
        );
        assert_eq!(s.finish(), want);
    }
}
