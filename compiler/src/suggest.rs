//! "Did you mean ...?" for misspelled names.
//!
//! A candidate is offered only when it is clearly close: normalized Damerau–Levenshtein
//! similarity ≥ 0.6 (a transposition or a couple of typos), or Jaro–Winkler ≥ 0.86 for
//! inputs of three chars or more (a truncated or extended prefix, like `temp` for
//! `temperature`). Anything further away gets no suggestion: a wrong hint is worse than
//! none.

use strsim::{jaro_winkler, normalized_damerau_levenshtein};

const MIN_EDIT_SIMILARITY: f64 = 0.6;
const MIN_JARO_WINKLER: f64 = 0.86;

/// How close `input` is to `candidate`, or `None` when too far to suggest.
fn closeness(input: &str, candidate: &str) -> Option<f64> {
    let a = input.to_lowercase();
    let b = candidate.to_lowercase();
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a == b {
        return Some(2.0);
    }
    let edit = normalized_damerau_levenshtein(&a, &b);
    let jw = jaro_winkler(&a, &b);
    let close = edit >= MIN_EDIT_SIMILARITY || (a.chars().count() >= 3 && jw >= MIN_JARO_WINKLER);
    close.then_some(edit + jw)
}

/// The closest candidate to `input`, if any is close enough. Ties go to the earlier one.
pub fn best<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        if c == input {
            continue;
        }
        if let Some(score) = closeness(input, c) {
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((c, score));
            }
        }
    }
    best.map(|(c, _)| c)
}

/// A help line "did you mean `x`?" when a candidate is close enough.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    best(input, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// A help line: the suggestion when there is one, else the list of valid names.
pub fn did_you_mean_or_list<'a, I>(input: &str, candidates: I, what: &str) -> String
where
    I: IntoIterator<Item = &'a str> + Clone,
{
    match best(input, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("{what}: {}", list(candidates)),
    }
}

/// `a`, `b`, `c` → "`a`, `b`, `c`".
pub fn list<'a, I>(items: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    items
        .into_iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a`, `b`, `c` → "`a`, `b` and `c`".
pub fn list_and<'a, I>(items: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let mut quoted: Vec<String> = items.into_iter().map(|s| format!("`{s}`")).collect();
    match quoted.pop() {
        None => String::new(),
        Some(last) if quoted.is_empty() => last,
        Some(last) => format!("{} and {last}", quoted.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETECTORS: [&str; 6] = [
        "malformed_call",
        "repeated_action",
        "tool_error",
        "tool_timeout",
        "call",
        "verified",
    ];
    const HOOKS: [&str; 8] = [
        "task_start",
        "step_start",
        "before_model",
        "after_model",
        "before_tool",
        "after_tool",
        "step_end",
        "task_end",
    ];

    #[test]
    fn close_typos_are_suggested() {
        assert_eq!(best("repeat_action", DETECTORS), Some("repeated_action"));
        assert_eq!(best("repeated_acton", DETECTORS), Some("repeated_action"));
        assert_eq!(best("malformed", DETECTORS), Some("malformed_call"));
        assert_eq!(best("tool_eror", DETECTORS), Some("tool_error"));
        assert_eq!(best("tool_timout", DETECTORS), Some("tool_timeout"));
        assert_eq!(best("verifed", DETECTORS), Some("verified"));
        assert_eq!(best("after_modle", HOOKS), Some("after_model"));
        assert_eq!(best("befor_tool", HOOKS), Some("before_tool"));
        assert_eq!(best("stepend", HOOKS), Some("step_end"));
        assert_eq!(
            best("temp", ["temperature", "top_p", "seed"]),
            Some("temperature")
        );
        assert_eq!(
            best("Strategy", ["strategy", "max_steps"]),
            Some("strategy")
        );
    }

    #[test]
    fn transposition_counts_as_one_edit() {
        assert_eq!(best("lopo", ["loop", "model"]), Some("loop"));
    }

    #[test]
    fn far_names_get_no_suggestion() {
        assert_eq!(best("banana", DETECTORS), None);
        assert_eq!(best("xyz", HOOKS), None);
        assert_eq!(best("foo", ["loop", "model", "context"]), None);
        assert_eq!(best("", HOOKS), None);
        assert_eq!(best("q", ["step", "goal"]), None);
    }

    #[test]
    fn picks_the_closest_of_several() {
        assert_eq!(best("step_star", HOOKS), Some("step_start"));
        assert_eq!(best("task_strt", HOOKS), Some("task_start"));
        assert_eq!(best("after_tol", HOOKS), Some("after_tool"));
    }

    #[test]
    fn help_lines() {
        assert_eq!(
            did_you_mean("verifed", DETECTORS).as_deref(),
            Some("did you mean `verified`?")
        );
        assert_eq!(did_you_mean("zzz", DETECTORS), None);
        assert_eq!(
            did_you_mean_or_list("zzz", ["a_b", "c_d"], "expected one of"),
            "expected one of: `a_b`, `c_d`"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(list(["a", "b"]), "`a`, `b`");
        assert_eq!(list_and(["a", "b", "c"]), "`a`, `b` and `c`");
        assert_eq!(list_and(["a"]), "`a`");
        assert_eq!(list_and([]), "");
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        assert_eq!(best("café", ["cafe", "tea"]), Some("cafe"));
        assert_eq!(best("日本語", HOOKS), None);
    }
}
