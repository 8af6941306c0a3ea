//! The fragment library: short instruction sentences per failure class, for the system
//! prompt, and the messages the rule library puts in `inject`, `block` and `reprompt`.
//!
//! A prompt fragment is always one whole line of the prompt text, so inserting, replacing
//! or removing one changes exactly one line of the evolved file's diff. Template variables
//! used here (`{{task.goal}}`, `{{max_steps}}`, `{{admissible_actions}}`) are built-in ones
//! that every prompt may use.

use crate::manifest::FailureClass;

/// Instruction lines for the system prompt that address `class`.
pub fn prompt_fragments(class: FailureClass) -> &'static [&'static str] {
    use FailureClass::*;
    match class {
        MalformedCall => &[
            "Reply with exactly one tool call and nothing else, like name(\"argument\").",
            "Write the call on a line of its own, with no explanation around it.",
            "Use the tools' exact names and give every required argument.",
        ],
        Loop => &[
            "If an action did not change anything, do not repeat it: try a different one.",
            "Keep track of what you have already tried and where you have already been.",
        ],
        ToolErrorIgnored => &[
            "If a tool returns an error, read it and fix the call before moving on.",
            "Never assume a failed call succeeded: check the result of every call.",
        ],
        ToolTimeout => &[
            "If a call times out, try it once more, then try another way.",
            "Prefer small, specific requests: they finish faster.",
        ],
        StepBudget => &[
            "You have at most {{max_steps}} steps: work efficiently.",
            "Do not explore more than the goal needs; finish as soon as it is met.",
        ],
        PrematureFinish => &[
            "Before you finish, check that every part of the goal is done.",
            "Only finish once you have verified the result.",
        ],
        ContextOverflow => &[
            "Keep your replies short: one action, no commentary.",
            "Your goal stays the same throughout: {{task.goal}}",
        ],
        WrongAction => &[
            "Only use actions that are possible right now: {{admissible_actions}}",
            "Use the exact names of objects and places as they appear in the observation.",
        ],
        Unknown => &["Think about what the goal needs before each action."],
    }
}

/// Every prompt fragment of every class, with its class.
pub fn all_prompt_fragments() -> impl Iterator<Item = (FailureClass, &'static str)> {
    FailureClass::ALL
        .into_iter()
        .flat_map(|c| prompt_fragments(c).iter().map(move |f| (c, *f)))
}

/// The class a prompt line belongs to, if it is a library fragment.
pub fn fragment_class(line: &str) -> Option<FailureClass> {
    all_prompt_fragments()
        .find(|(_, f)| *f == line.trim())
        .map(|(c, _)| c)
}

/// Messages for actions that speak to the model about `class` (`inject`, `block`,
/// `reprompt`).
pub fn rule_messages(class: FailureClass) -> &'static [&'static str] {
    use FailureClass::*;
    match class {
        MalformedCall => &[
            "Reply with one tool call only, like name(\"argument\").",
            "Your last reply was not a valid call. Write just the call.",
        ],
        Loop => &[
            "You are repeating yourself. Try something different.",
            "That did not work the last times. Choose another action.",
        ],
        ToolErrorIgnored => &[
            "The last call failed. Read the error and change the call.",
            "The call failed again; change the arguments or try another tool.",
        ],
        ToolTimeout => &["The call timed out. Try a simpler request or another tool."],
        StepBudget => &[
            "Few steps remain. Finish with what you have.",
            "You are close to the step limit: finish now if the goal is met.",
        ],
        PrematureFinish => &[
            "Check the goal conditions before you finish.",
            "It is too early to finish: verify the goal first.",
        ],
        ContextOverflow => &["Remember your goal: {{task.goal}}"],
        WrongAction => &[
            "That action is not possible here. Choose one of: {{admissible_actions}}",
            "Use the exact names from the observation.",
        ],
        Unknown => &["Think about what the goal needs, then act."],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (That their `{{variables}}` are known is tested in `operators::node`, which owns
    /// the template reader; this module imports nothing from `operators`.)
    #[test]
    fn fragments_are_single_lines() {
        let texts = all_prompt_fragments().map(|(_, f)| f).chain(
            FailureClass::ALL
                .into_iter()
                .flat_map(|c| rule_messages(c).iter().copied()),
        );
        for t in texts {
            assert!(!t.contains('\n') && t.trim() == t && !t.is_empty(), "{t:?}");
        }
    }

    #[test]
    fn every_class_has_fragments_and_they_are_unique() {
        let mut all: Vec<&str> = all_prompt_fragments().map(|(_, f)| f).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
        for c in FailureClass::ALL {
            assert!(!prompt_fragments(c).is_empty() && !rule_messages(c).is_empty());
            for f in prompt_fragments(c) {
                assert_eq!(fragment_class(f), Some(c));
            }
        }
    }
}
