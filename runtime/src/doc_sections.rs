//! Generated sections of a Markdown document that several commands write.
//!
//! docs/BENCHMARKS.md is written whole by `harnessx bench evolution`, and in parts by other
//! benchmark commands (`loopback-bench concurrency`, `loopback-bench chaos`). Each part is
//! one *section* between two markers,
//!
//! ```text
//! <!-- begin section NAME -->
//! ...
//! <!-- end section NAME -->
//! ```
//!
//! which [`replace_section`] writes in place (or appends) and [`sections`] finds, so the
//! command that rewrites the whole document carries the others' sections over unchanged
//! instead of deleting figures it did not produce.

use std::path::Path;

fn begin(name: &str) -> String {
    format!("<!-- begin section {name} -->")
}

fn end(name: &str) -> String {
    format!("<!-- end section {name} -->")
}

/// `doc` with section `name` set to `body` (markers added): in place when the section is
/// there, else appended after a blank line.
pub fn replace_section(doc: &str, name: &str, body: &str) -> String {
    let block = format!("{}\n{}\n{}", begin(name), body.trim_end(), end(name));
    if let Some((start, stop)) = find(doc, name) {
        return format!("{}{block}{}", &doc[..start], &doc[stop..]);
    }
    let mut out = doc.trim_end().to_string();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&block);
    out.push('\n');
    out
}

/// Every whole section of `doc` (markers included), in order.
pub fn sections(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = doc;
    let mut offset = 0;
    while let Some(i) = rest.find("<!-- begin section ") {
        let after = &rest[i + "<!-- begin section ".len()..];
        let Some(name) = after.split_once(" -->").map(|(n, _)| n.to_string()) else {
            break;
        };
        match find(&doc[offset + i..], &name) {
            Some((s, e)) => {
                let block = &doc[offset + i + s..offset + i + e];
                out.push((name, block.to_string()));
                offset += i + e;
                rest = &doc[offset..];
            }
            None => break,
        }
    }
    out
}

/// `new_doc` with every section of `old_doc` that `new_doc` lacks appended, in order.
pub fn carry_over(old_doc: &str, new_doc: &str) -> String {
    let mut out = new_doc.to_string();
    for (name, block) in sections(old_doc) {
        if find(&out, &name).is_none() {
            out = format!("{}\n\n{block}\n", out.trim_end());
        }
    }
    out
}

/// Byte range of section `name`, markers included.
fn find(doc: &str, name: &str) -> Option<(usize, usize)> {
    let (b, e) = (begin(name), end(name));
    let start = doc.find(&b)?;
    let stop = doc[start..].find(&e)? + start + e.len();
    Some((start, stop))
}

/// Set section `name` of the file at `path` to `body`, atomically; a missing file is
/// created with just the section.
pub fn write_section(path: &Path, name: &str, body: &str) -> std::io::Result<()> {
    let doc = match std::fs::read_to_string(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    crate::fsutil::write_atomic(path, replace_section(&doc, name, body).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_in_place_or_appended_and_carried_over() {
        let doc = "# Title\n\nText.\n";
        let one = replace_section(doc, "a", "## A\n\n1\n");
        assert_eq!(
            one,
            "# Title\n\nText.\n\n<!-- begin section a -->\n## A\n\n1\n<!-- end section a -->\n"
        );
        let two = replace_section(&one, "b", "B");
        let again = replace_section(&two, "a", "## A\n\n2");
        assert!(again.contains("## A\n\n2\n<!-- end section a -->\n\n<!-- begin section b -->"));
        assert!(!again.contains("\n1\n"));
        let names: Vec<String> = sections(&again).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        // A whole rewrite keeps what it did not write, and what it did write wins.
        let rewritten = carry_over(&again, "# New\n");
        assert!(rewritten.starts_with("# New\n\n<!-- begin section a -->\n## A\n\n2\n"));
        assert!(rewritten.ends_with("B\n<!-- end section b -->\n"));
        let own = replace_section("# New\n", "b", "mine");
        assert_eq!(carry_over(&again, &own).matches("section b -->").count(), 2);
        assert!(carry_over(&again, &own).contains("mine"));
        // An unterminated section is left alone.
        assert!(sections("<!-- begin section x -->\nno end").is_empty());
    }
}
