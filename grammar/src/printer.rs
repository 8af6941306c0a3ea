//! [`File`] → canonical source text: what `harnessx fmt` writes and what the evolver emits.
//!
//! There is exactly one canonical form, so two equal trees always print the same text and
//! an edited tree diffs minimally against its source. Guarantees, for every file the parser
//! accepts without errors:
//!
//! - `parse(print(f))` equals `f` except for spans and template variables (see Limits);
//! - `print` is idempotent: `print(parse(print(f))) == print(f)`;
//! - every comment is kept.
//!
//! # Layout
//!
//! - Two spaces per indentation level; the file ends with one newline.
//! - `harness NAME "description" {` … `}`. Leading comments of the harness above it, its
//!   trailing comment after its `}`, then `file.trailing_comments` on their own lines.
//! - Items keep their source order, separated by one blank line — except that consecutive
//!   one-line tools, and consecutive one-line prompts, stay together. "One-line" means the
//!   item prints on a single line, annotations included, its own leading and trailing
//!   comments excluded.
//! - Comments: `leading` ones on their own lines directly above the node (above an item's
//!   annotations); `trailing` after the node's last line (`x = 1 # note`); `dangling` ones
//!   before the block's `}`. Harness-level dangling comments are set off from the last item
//!   by a blank line, like an item. A comment prints as `#` followed by its text verbatim.
//! - Item annotations each on their own line above the item; field annotations after the
//!   value: `max_steps = 30 @evolve(range = 10..60)`. `@name()` prints as `@name`.
//! - Blocks (sections, tool options, rules) with content are multi-line; an empty block
//!   without dangling comments prints `{}`. A tool's option block goes on the tool's line,
//!   `{ timeout = 2s }`, when it holds exactly one field that prints on one line and there
//!   are no comments in it. `options: None` prints no block, `Some(vec![])` prints `{}`; if a
//!   tool without a block has dangling comments, a block is printed to hold them.
//! - Rules: `on HOOK as NAME when COND {`, one action per line, an `otherwise` fallback on
//!   the line below its action at the same indentation.
//! - Conditions: an `and`/`or` operand of `and`, `or` or `not` is parenthesised, nothing
//!   else is, so the tree re-parses exactly (the parser never flattens `(a and b) and c`).
//! - Empty argument lists print no parentheses: `call`, `retry`, `@frozen`.
//! - Floats print in Rust's shortest round-trip decimal form, with `.0` appended when that
//!   has no `.` (`1.0`, `0.0000001`); they never use an exponent.
//!
//! # Strings
//!
//! Plain strings escape `\\`, `"`, `\n`, `\t`, `\r` and other control characters (as
//! `\u{..}`). Triple-quoted strings keep their style: `"""`, a newline, each line of the
//! value indented one level deeper than the line holding the opening quotes (empty lines
//! stay empty), and the closing `"""` on its own line — so [`crate::parser::dedent`] of
//! the printed text gives the value back. A value that `dedent` cannot give back — one
//! containing `"""`, a line of only whitespace, a line ending in `\r`, or whose non-blank
//! lines all start with a space or tab — prints as a plain escaped string instead.
//!
//! # Limits
//!
//! Some trees have no source form; they print as the closest text, which does not re-parse
//! to the same tree: names that are not identifiers (empty, keywords), an `and`/`or` with
//! fewer than two operands, an `otherwise` fallback that has its own fallback, `T??`
//! types, `enum()` without variants, non-finite floats (printed `0.0`), and values the
//! grammar does not allow in that place (a list as an action message, a range as a range
//! end). The parser never produces such trees.
//!
//! Template variables (`StrLit::vars`) are not printed but recomputed from the printed
//! text, so their paths can change where the source text differed from the value: a `{{`
//! written with `\u{7b}` escapes becomes a template variable, and a `{{ .. }}` spanning
//! lines of a triple-quoted string gets the new indentation inside its path.

use crate::ast::*;
use crate::error::SyntaxError;
use crate::parser::parse;

/// Spaces per indentation level.
const INDENT: usize = 2;

/// Prints a file in canonical form.
pub fn print(file: &File) -> String {
    let mut p = Printer::default();
    p.file(file);
    p.out
}

/// Parses `src` and prints it in canonical form, or returns the syntax errors.
pub fn format_source(src: &str) -> Result<String, Vec<SyntaxError>> {
    let parsed = parse(src);
    if parsed.errors.is_empty() {
        Ok(print(&parsed.file))
    } else {
        Err(parsed.errors)
    }
}

/// The tree as JSON with every `"span"` key removed, for comparing trees whose text
/// positions differ (a file and its formatted form).
pub fn without_spans(file: &File) -> serde_json::Value {
    let mut v = serde_json::to_value(file).unwrap_or(serde_json::Value::Null);
    strip_key(&mut v, "span");
    v
}

/// Removes `key` from every object in `v`, recursively.
pub fn strip_key(v: &mut serde_json::Value, key: &str) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|x| strip_key(x, key));
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|x| strip_key(x, key)),
        _ => {}
    }
}

#[derive(Default)]
struct Printer {
    out: String,
    /// Current indentation, in spaces.
    indent: usize,
}

impl Printer {
    /// Writes `text` as one line (or several, for triple strings) at the current indent,
    /// followed by the trailing comment, if any.
    fn line(&mut self, text: &str, trailing: Option<&String>) {
        self.out.push_str(&" ".repeat(self.indent));
        self.out.push_str(text);
        if let Some(c) = trailing {
            self.out.push_str(" #");
            self.out.push_str(c);
        }
        self.out.push('\n');
    }

    fn comment_lines(&mut self, comments: &[String]) {
        for c in comments {
            self.line(&format!("#{c}"), None);
        }
    }

    fn file(&mut self, file: &File) {
        if let Some(h) = &file.harness {
            self.harness(h);
        }
        self.comment_lines(&file.trailing_comments);
    }

    fn harness(&mut self, h: &Harness) {
        self.comment_lines(&h.comments.leading);
        let mut head = format!("harness {}", h.name.name);
        if let Some(d) = &h.description {
            head.push(' ');
            head.push_str(&str_lit(d, self.indent));
        }
        if h.items.is_empty() && h.dangling.is_empty() {
            self.line(&format!("{head} {{}}"), h.comments.trailing.as_ref());
            return;
        }
        self.line(&format!("{head} {{"), None);
        self.indent += INDENT;
        self.items(&h.items);
        if !h.dangling.is_empty() && !h.items.is_empty() {
            self.out.push('\n');
        }
        self.comment_lines(&h.dangling);
        self.indent -= INDENT;
        self.line("}", h.comments.trailing.as_ref());
    }

    fn items(&mut self, items: &[Item]) {
        let mut prev: Option<(&Item, bool)> = None;
        for item in items {
            let one_line = !self.item_text(item).contains('\n');
            if let Some((p, p_one_line)) = prev {
                if !(p_one_line && one_line && same_kind_groups(p, item)) {
                    self.out.push('\n');
                }
            }
            self.item(item);
            prev = Some((item, one_line));
        }
    }

    /// The item's text without its own leading and trailing comments (which do not change
    /// its layout), to decide whether it fits on one line.
    fn item_text(&self, item: &Item) -> String {
        let mut p = Printer {
            out: String::new(),
            indent: self.indent,
        };
        let mut bare = item.clone();
        *bare.comments_mut() = Comments::default();
        p.item(&bare);
        p.out.trim_end_matches('\n').to_string()
    }

    fn item(&mut self, item: &Item) {
        self.comment_lines(&item.comments().leading);
        for a in item.annotations() {
            self.line(&annotation(a, self.indent), None);
        }
        match item {
            Item::Section(s) => self.section(s),
            Item::Prompt(p) => self.prompt(p),
            Item::Tool(t) => self.tool(t),
            Item::Rule(r) => self.rule(r),
        }
    }

    fn section(&mut self, s: &Section) {
        let head = &s.name.name;
        if s.fields.is_empty() && s.dangling.is_empty() {
            self.line(&format!("{head} {{}}"), s.comments.trailing.as_ref());
            return;
        }
        self.line(&format!("{head} {{"), None);
        self.block_fields(&s.fields, &s.dangling);
        self.line("}", s.comments.trailing.as_ref());
    }

    /// Fields and dangling comments one level deeper than the current indent.
    fn block_fields(&mut self, fields: &[Field], dangling: &[String]) {
        self.indent += INDENT;
        for f in fields {
            self.comment_lines(&f.comments.leading);
            self.line(&field(f, self.indent), f.comments.trailing.as_ref());
        }
        self.comment_lines(dangling);
        self.indent -= INDENT;
    }

    fn prompt(&mut self, p: &Prompt) {
        let text = format!("prompt {} {}", p.name.name, str_lit(&p.text, self.indent));
        self.line(&text, p.comments.trailing.as_ref());
    }

    fn tool(&mut self, t: &Tool) {
        let params: Vec<String> = t.params.iter().map(|p| param(p, self.indent)).collect();
        let mut head = format!("tool {}({})", t.name.name, params.join(", "));
        if let Some(d) = &t.description {
            head.push(' ');
            head.push_str(&str_lit(d, self.indent));
        }
        let trailing = t.comments.trailing.as_ref();
        match (&t.options, t.dangling.is_empty()) {
            (None, true) => self.line(&head, trailing),
            (Some(opts), true) if opts.is_empty() => self.line(&format!("{head} {{}}"), trailing),
            (Some(opts), true) if inline_options(opts, self.indent) => {
                let f = field(&opts[0], self.indent);
                self.line(&format!("{head} {{ {f} }}"), trailing);
            }
            (opts, _) => {
                self.line(&format!("{head} {{"), None);
                self.block_fields(opts.as_deref().unwrap_or(&[]), &t.dangling);
                self.line("}", trailing);
            }
        }
    }

    fn rule(&mut self, r: &Rule) {
        let mut head = format!("on {}", r.hook.name);
        if let Some(n) = &r.name {
            head.push_str(" as ");
            head.push_str(&n.name);
        }
        if let Some(c) = &r.when {
            head.push_str(" when ");
            head.push_str(&cond(c, self.indent));
        }
        if r.actions.is_empty() && r.dangling.is_empty() {
            self.line(&format!("{head} {{}}"), r.comments.trailing.as_ref());
            return;
        }
        self.line(&format!("{head} {{"), None);
        self.indent += INDENT;
        for a in &r.actions {
            self.action(a, "");
        }
        self.comment_lines(&r.dangling);
        self.indent -= INDENT;
        self.line("}", r.comments.trailing.as_ref());
    }

    /// An action line (prefixed by `otherwise ` for a fallback), then its fallback.
    fn action(&mut self, a: &Action, prefix: &str) {
        self.comment_lines(&a.comments.leading);
        let text = format!("{prefix}{}", action_head(a, self.indent));
        self.line(&text, a.comments.trailing.as_ref());
        if let Some(f) = &a.otherwise {
            self.action(f, "otherwise ");
        }
    }
}

/// Tools and prompts that print on one line stay grouped without blank lines.
fn same_kind_groups(a: &Item, b: &Item) -> bool {
    matches!(
        (a, b),
        (Item::Tool(_), Item::Tool(_)) | (Item::Prompt(_), Item::Prompt(_))
    )
}

/// Does a tool's option block fit inline: `{ timeout = 2s }`?
fn inline_options(opts: &[Field], indent: usize) -> bool {
    match opts {
        [f] => f.comments.is_empty() && !field(f, indent).contains('\n'),
        _ => false,
    }
}

// ---- inline constructs: each takes the indent of the line it is printed on, which
// ---- triple-quoted strings need to place their lines.

fn field(f: &Field, indent: usize) -> String {
    let mut s = format!("{} = {}", f.name.name, value(&f.value, indent));
    for a in &f.annotations {
        s.push(' ');
        s.push_str(&annotation(a, indent));
    }
    s
}

fn annotation(a: &Annotation, indent: usize) -> String {
    format!("@{}{}", a.name.name, paren_args(&a.args, indent))
}

/// `(a, b = 1)`, or nothing for an empty list.
fn paren_args(args: &[Arg], indent: usize) -> String {
    if args.is_empty() {
        String::new()
    } else {
        format!("({})", arg_list(args, indent))
    }
}

fn arg_list(args: &[Arg], indent: usize) -> String {
    let parts: Vec<String> = args.iter().map(|a| arg(a, indent)).collect();
    parts.join(", ")
}

fn arg(a: &Arg, indent: usize) -> String {
    match &a.name {
        Some(n) => format!("{} = {}", n.name, value(&a.value, indent)),
        None => value(&a.value, indent),
    }
}

fn param(p: &Param, indent: usize) -> String {
    format!("{}: {}", p.name.name, type_expr(&p.ty, indent))
}

fn type_expr(t: &TypeExpr, indent: usize) -> String {
    match &t.kind {
        TypeKind::Named(n) => n.clone(),
        TypeKind::List(inner) => format!("[{}]", type_expr(inner, indent)),
        TypeKind::Optional(inner) => format!("{}?", type_expr(inner, indent)),
        TypeKind::Enum(variants) => {
            let vs: Vec<String> = variants.iter().map(|v| str_lit(v, indent)).collect();
            format!("enum({})", vs.join(", "))
        }
    }
}

/// `name`, `name(args)`, `name message`, `name(args) message`.
fn action_head(a: &Action, indent: usize) -> String {
    let mut s = format!("{}{}", a.name.name, paren_args(&a.args, indent));
    if let Some(m) = &a.message {
        s.push(' ');
        s.push_str(&value(m, indent));
    }
    s
}

fn cond(c: &Cond, indent: usize) -> String {
    match &c.kind {
        CondKind::And(ops) => join_operands(ops, " and ", indent),
        CondKind::Or(ops) => join_operands(ops, " or ", indent),
        CondKind::Not(op) => format!("not {}", operand(op, indent)),
        CondKind::Detector { name, args } => format!("{}{}", name.name, paren_args(args, indent)),
        CondKind::Compare {
            metric,
            op,
            value: v,
        } => {
            format!("{} {} {}", metric.name, op.as_str(), value(v, indent))
        }
        CondKind::Matches { subject, pattern } => {
            format!("{} matches {}", subject.name, str_lit(pattern, indent))
        }
    }
}

fn join_operands(ops: &[Cond], sep: &str, indent: usize) -> String {
    let parts: Vec<String> = ops.iter().map(|o| operand(o, indent)).collect();
    parts.join(sep)
}

/// An operand of `and`/`or`/`not`: parenthesised when it is itself an `and`/`or`, so the
/// parser rebuilds the same nesting.
fn operand(c: &Cond, indent: usize) -> String {
    match c.kind {
        CondKind::And(_) | CondKind::Or(_) => format!("({})", cond(c, indent)),
        _ => cond(c, indent),
    }
}

fn value(v: &Value, indent: usize) -> String {
    match &v.kind {
        ValueKind::Str(s) => str_lit(s, indent),
        ValueKind::Int(i) => i.to_string(),
        ValueKind::Float(f) => float(*f),
        ValueKind::Bool(b) => b.to_string(),
        ValueKind::Duration(d) => format!("{}{}", d.amount, d.unit.as_str()),
        ValueKind::Tokens(n) => format!("{n} tokens"),
        ValueKind::Ident(name) => name.clone(),
        ValueKind::List(items) => {
            let parts: Vec<String> = items.iter().map(|x| value(x, indent)).collect();
            format!("[{}]", parts.join(", "))
        }
        ValueKind::Range(lo, hi) => format!("{}..{}", value(lo, indent), value(hi, indent)),
    }
}

/// A float that re-parses as a float: the grammar wants digits, `.`, digits. Rust's
/// `Display` never uses an exponent and gives the shortest text that round-trips.
pub fn float(f: f64) -> String {
    if !f.is_finite() {
        return "0.0".into();
    }
    let s = f.to_string();
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

fn str_lit(s: &StrLit, indent: usize) -> String {
    let literal = literal_holes(s);
    match s.style {
        StrStyle::Triple if literal.is_empty() && triple_printable(&s.value) => {
            triple(&s.value, indent)
        }
        _ => plain_keeping_holes(&s.value, &literal),
    }
}

/// Starts of the `{{..}}` in the value that are *not* template holes: braces that were
/// written escaped (`\u{7b}\u{7b}x}}`). The value's holes are matched in order with the
/// holes found in the source (`s.vars`); the ones left over were literal text.
fn literal_holes(s: &StrLit) -> Vec<usize> {
    let mut vars = s.vars.iter().peekable();
    let mut literal = Vec::new();
    for (start, _, path) in crate::parser::holes(&s.value) {
        if vars.peek().is_some_and(|v| v.path == path) {
            vars.next();
        } else {
            literal.push(start);
        }
    }
    literal
}

/// [`plain`], with the first `{` of each literal `{{..}}` escaped so it stays literal.
fn plain_keeping_holes(value: &str, literal: &[usize]) -> String {
    if literal.is_empty() {
        return plain(value);
    }
    let mut out = String::from("\"");
    let mut from = 0;
    for &at in literal {
        let piece = plain(&value[from..at]);
        out.push_str(&piece[1..piece.len() - 1]);
        out.push_str("\\u{7b}");
        from = at + 1;
    }
    let piece = plain(&value[from..]);
    out.push_str(&piece[1..piece.len() - 1]);
    out.push('"');
    out
}

/// `"..."` with escapes for what cannot appear raw (or would be invisible).
pub fn plain(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Can `value` be printed triple-quoted so that `parser::dedent` gives it back?
pub fn triple_printable(value: &str) -> bool {
    if value.contains("\"\"\"") {
        return false;
    }
    let lines: Vec<&str> = value.split('\n').collect();
    // dedent empties whitespace-only lines and drops a final `\r`.
    if lines
        .iter()
        .any(|l| (!l.is_empty() && l.trim().is_empty()) || l.ends_with('\r'))
    {
        return false;
    }
    // dedent removes the indentation common to all non-blank lines.
    let all_indented = lines
        .iter()
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with([' ', '\t']));
    !all_indented || lines.iter().all(|l| l.is_empty())
}

/// `"""`, the value's lines one level deeper than `indent`, `"""` at `indent`.
fn triple(value: &str, indent: usize) -> String {
    let pad = " ".repeat(indent + INDENT);
    let mut out = String::from("\"\"\"\n");
    for line in value.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent));
    out.push_str("\"\"\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::dedent;

    fn raw_of(printed: &str) -> &str {
        &printed[3..printed.len() - 3]
    }

    #[test]
    fn triple_round_trips_through_dedent() {
        for v in [
            "",
            "a",
            "\n",
            "\nabc",
            "abc\n",
            "a\n\nb",
            "a  \n\tb",
            "x\n  y",
            "café ✓\n{{task.goal}}",
        ] {
            assert!(triple_printable(v), "{v:?}");
            for indent in [0, 2, 4] {
                assert_eq!(dedent(raw_of(&triple(v, indent))), v, "{v:?} at {indent}");
            }
        }
    }

    #[test]
    fn triple_falls_back_when_dedent_would_change_it() {
        for v in [
            "  a",
            " a\n  b",
            "a\n  \nb",
            "a\"\"\"b",
            "a\r\nb",
            "\u{a0}\nx",
            "\ta",
        ] {
            assert!(!triple_printable(v), "{v:?}");
        }
    }

    #[test]
    fn floats_always_look_like_floats() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(1e-7), "0.0000001");
        assert_eq!(float(1e21), "1000000000000000000000.0");
        assert_eq!(float(f64::NAN), "0.0");
    }

    #[test]
    fn plain_escapes() {
        assert_eq!(plain("a\"b\\c\n\t\r\u{1}é"), r#""a\"b\\c\n\t\r\u{1}é""#);
    }
}
