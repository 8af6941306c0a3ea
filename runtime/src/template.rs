//! Templates: splitting `{{var}}` strings into segments, and rendering them.
//!
//! The compiler produces [`Template`]s directly; [`parse_template`] exists for tests,
//! hand-built IR and built-in default prompts. Rendering is a plain concatenation, so the
//! interpreter and generated code render byte-identical text as long as both take the
//! variable values from [`crate::hooks::HookCtx::var`] / [`crate::state::EpisodeState`].

use crate::ir::{Segment, Template, Var};

/// Split `text` at `{{ path }}` holes. Known paths become [`Segment::Var`]; an unknown path
/// or an unclosed `{{` is kept verbatim as text (the checker rejects those in source, so
/// this only matters for hand-written templates, which must never make rendering fail).
pub fn parse_template(text: &str) -> Template {
    let mut out: Template = Vec::new();
    let mut rest = text;
    let mut pending = String::new();
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        match Var::from_path(after[..close].trim()) {
            Some(var) => {
                pending.push_str(&rest[..open]);
                if !pending.is_empty() {
                    out.push(Segment::Text(std::mem::take(&mut pending)));
                }
                out.push(Segment::Var(var));
            }
            None => pending.push_str(&rest[..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    pending.push_str(rest);
    if !pending.is_empty() {
        out.push(Segment::Text(pending));
    }
    out
}

/// Render with `value` supplying each variable's text.
pub fn render(template: &[Segment], mut value: impl FnMut(Var) -> String) -> String {
    let mut out = String::new();
    for seg in template {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Var(v) => out.push_str(&value(*v)),
        }
    }
    out
}

/// True when the template mentions `var`.
pub fn mentions(template: &[Segment], var: Var) -> bool {
    template.contains(&Segment::Var(var))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_known_vars() {
        let t = parse_template("Goal: {{ task.goal }} at {{step}}.");
        assert_eq!(
            t,
            vec![
                Segment::Text("Goal: ".into()),
                Segment::Var(Var::TaskGoal),
                Segment::Text(" at ".into()),
                Segment::Var(Var::Step),
                Segment::Text(".".into()),
            ]
        );
        let r = render(&t, |v| v.path().to_uppercase());
        assert_eq!(r, "Goal: TASK.GOAL at STEP.");
    }

    #[test]
    fn unknown_and_unclosed_stay_text() {
        let t = parse_template("a {{nope}} b {{step");
        assert_eq!(t, vec![Segment::Text("a {{nope}} b {{step".into())]);
        assert!(parse_template("").is_empty());
    }
}
