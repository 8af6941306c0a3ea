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

/// The class a prompt line belongs to, if it is a library fragment in either wording.
pub fn fragment_class(line: &str) -> Option<FailureClass> {
    all_prompt_fragments()
        .chain(Phrasing::Paraphrased.all_prompt_fragments())
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

/// Five paraphrases of each message of [`rule_messages`], in its order: the same request in
/// other words (written to avoid the original's key words where a natural sentence allows).
/// The simulated model must react to each about as it reacts to the original
/// (evolve/tests/sim_paraphrases.rs), and the benchmark's paraphrase ablation replaces
/// every library message with its first paraphrase ([`Phrasing::Paraphrased`]).
pub fn rule_message_paraphrases(class: FailureClass) -> &'static [[&'static str; 5]] {
    use FailureClass::*;
    match class {
        MalformedCall => &[
            [
                "Answer with a single call and no other text, for example name(\"argument\").",
                "Send just one call, written as name(\"argument\").",
                "Please respond with only the call itself, e.g. name(\"argument\").",
                "Give me one call in the form name(\"argument\") and nothing more.",
                "Write exactly one call, shaped like name(\"argument\").",
            ],
            [
                "I could not read a call in your previous message. Send only the call.",
                "That message did not parse as a call; output the call alone.",
                "Your answer was not in the expected format. Give just the call.",
                "No call was found in what you wrote. Reply with the call and nothing else.",
                "The previous response could not be understood as a call. Please send only the call.",
            ],
        ],
        Loop => &[
            [
                "You keep doing the same thing. Do something else.",
                "This is the same action as before; pick a new one.",
                "You have done this already. Change your approach.",
                "Going around in circles will not help. Choose another step.",
                "That exact move was just made. Vary what you do.",
            ],
            [
                "The previous attempts got nowhere. Pick a different action.",
                "This has failed to make progress several times. Try another move.",
                "Doing that again will not change anything. Select something new.",
                "Those tries led nowhere. Go for a different option.",
                "It did not help before. Take some other action.",
            ],
        ],
        ToolErrorIgnored => &[
            [
                "Your previous call returned an error. Look at the message and adjust it.",
                "That call did not succeed. Fix it based on what the error says.",
                "The tool reported a failure. Read why and correct the call.",
                "The call went wrong. Use the error message to repair it.",
                "An error came back from that call; change it accordingly.",
            ],
            [
                "It failed once more; use different arguments or a different tool.",
                "Still an error; alter the arguments or switch tools.",
                "The same failure happened again. Modify the inputs or pick another tool.",
                "Another error. Change what you pass in, or use some other tool.",
                "This call keeps failing; try new arguments or a different tool.",
            ],
        ],
        ToolTimeout => &[[
            "No answer came back in time. Make the request simpler or use a different tool.",
            "The tool took too long to respond. Ask for less or switch tools.",
            "That request ran out of time; simplify it or choose another tool.",
            "The call hit its time limit. Send a smaller request or try a different tool.",
            "It timed out. Use an easier query or another tool.",
        ]],
        StepBudget => &[
            [
                "You are almost out of steps. Wrap up with what you have.",
                "Only a handful of steps are left. End the task now.",
                "Time is nearly up; conclude with what you have got.",
                "The step budget is nearly spent. Finish now.",
                "Not many turns left. Bring the task to an end.",
            ],
            [
                "The step limit is near: if the goal is reached, finish now.",
                "You are running out of steps; if the task is done, end it now.",
                "Almost no steps remain. Finish right away if the goal holds.",
                "The end of the step budget is close: declare done if you have succeeded.",
                "Few turns remain, so finish now if everything is in place.",
            ],
        ],
        PrematureFinish => &[
            [
                "Make sure the goal is really met before finishing.",
                "Verify every part of the task is done before you end.",
                "Confirm that the goal holds before declaring you are done.",
                "Do not finish until you have checked the goal.",
                "First check that the task is complete, then finish.",
            ],
            [
                "Finishing now is premature; check the goal first.",
                "Not yet: confirm the goal before you finish.",
                "You cannot be done yet. Make sure the goal is reached first.",
                "Hold on, the task is not finished; check it before ending.",
                "Too soon to stop: first verify that the goal holds.",
            ],
        ],
        ContextOverflow => &[[
            "Keep your goal in mind: {{task.goal}}",
            "Your objective is still: {{task.goal}}",
            "Do not lose sight of the task: {{task.goal}}",
            "As a reminder, the goal is: {{task.goal}}",
            "Stay focused on this goal: {{task.goal}}",
        ]],
        WrongAction => &[
            [
                "You cannot do that here. The possible actions are: {{admissible_actions}}",
                "That does not work in this place. Pick from: {{admissible_actions}}",
                "That move is unavailable. Valid options: {{admissible_actions}}",
                "This is not something you can do now. Available actions: {{admissible_actions}}",
                "Nothing happened. Select one of these: {{admissible_actions}}",
            ],
            [
                "Write names exactly as they appear in the observation.",
                "Copy object names word for word from what you see.",
                "Refer to things by the precise names the observation gives.",
                "Spell the names the way the description does.",
                "Only use names that appear in the text you were shown.",
            ],
        ],
        Unknown => &[[
            "Consider what the task requires before you act.",
            "Work out what the goal calls for, then take a step.",
            "Ponder what is needed for the goal, and then act.",
            "Decide what the goal demands, then make your move.",
            "Figure out what the task needs and act on it.",
        ]],
    }
}

/// One paraphrase of each prompt fragment of [`prompt_fragments`], in its order, for the
/// benchmark's paraphrase ablation.
pub fn prompt_fragment_paraphrases(class: FailureClass) -> &'static [&'static str] {
    use FailureClass::*;
    match class {
        MalformedCall => &[
            "Answer with a single call and no other text, for example name(\"argument\").",
            "Put the call alone on its own line, without any commentary.",
            "Spell tool names as given and supply all the arguments they require.",
        ],
        Loop => &[
            "When an action changed nothing, do not do it again: pick another.",
            "Remember which actions you have tried and which places you have visited.",
        ],
        ToolErrorIgnored => &[
            "When a tool reports an error, look at it and correct the call before going on.",
            "Do not take a call for successful if it failed: look at every result.",
        ],
        ToolTimeout => &[
            "When a call runs out of time, send it once again, then try something else.",
            "Smaller, narrower requests come back sooner: prefer them.",
        ],
        StepBudget => &[
            "There are at most {{max_steps}} steps: do not waste any.",
            "Explore only as much as the goal requires, and stop once it is reached.",
        ],
        PrematureFinish => &[
            "Make sure every part of the goal holds before you end the task.",
            "End the task only after you have confirmed the result.",
        ],
        ContextOverflow => &[
            "Answer briefly: the call and nothing around it.",
            "The goal does not change along the way: {{task.goal}}",
        ],
        WrongAction => &[
            "Pick only actions that can be done right now: {{admissible_actions}}",
            "Name objects and places exactly as the observation does.",
        ],
        Unknown => &["Before each step, consider what the goal requires."],
    }
}

/// Which wording the operators put into a harness: the library's own, or the paraphrases
/// (the benchmark's ablation of the wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phrasing {
    #[default]
    Library,
    /// Every rule message replaced by its first paraphrase, every prompt fragment by its
    /// paraphrase.
    Paraphrased,
}

impl Phrasing {
    pub fn is_library(&self) -> bool {
        *self == Phrasing::Library
    }

    /// The messages for `class` in this wording.
    pub fn rule_messages(self, class: FailureClass) -> Vec<&'static str> {
        match self {
            Phrasing::Library => rule_messages(class).to_vec(),
            Phrasing::Paraphrased => rule_message_paraphrases(class)
                .iter()
                .map(|p| p[0])
                .collect(),
        }
    }

    /// The prompt fragments for `class` in this wording.
    pub fn prompt_fragments(self, class: FailureClass) -> &'static [&'static str] {
        match self {
            Phrasing::Library => prompt_fragments(class),
            Phrasing::Paraphrased => prompt_fragment_paraphrases(class),
        }
    }

    /// Every prompt fragment of every class in this wording, with its class.
    pub fn all_prompt_fragments(self) -> impl Iterator<Item = (FailureClass, &'static str)> {
        FailureClass::ALL
            .into_iter()
            .flat_map(move |c| self.prompt_fragments(c).iter().map(move |f| (c, *f)))
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
    fn every_library_text_has_its_paraphrases() {
        for c in FailureClass::ALL {
            assert_eq!(
                rule_message_paraphrases(c).len(),
                rule_messages(c).len(),
                "{c:?}"
            );
            assert_eq!(
                prompt_fragment_paraphrases(c).len(),
                prompt_fragments(c).len(),
                "{c:?}"
            );
            for (orig, paras) in rule_messages(c).iter().zip(rule_message_paraphrases(c)) {
                for p in paras {
                    assert!(p != orig && !p.contains('\n') && p.trim() == *p, "{p:?}");
                }
            }
            for f in prompt_fragment_paraphrases(c) {
                assert_eq!(fragment_class(f), Some(c), "{f:?}");
                assert!(!prompt_fragments(c).contains(f));
            }
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
