//! What every stage needs to know about the file as a whole: the declared tools and
//! prompts (first definition wins when a name is repeated).

use harnessx_syntax::{Action, Cond, CondKind, Harness, Item, Prompt, Tool};

pub struct Ctx<'a> {
    pub harness: &'a Harness,
    pub tools: Vec<&'a Tool>,
    pub prompts: Vec<&'a Prompt>,
}

impl<'a> Ctx<'a> {
    pub fn new(harness: &'a Harness) -> Self {
        let mut tools: Vec<&Tool> = Vec::new();
        let mut prompts: Vec<&Prompt> = Vec::new();
        for item in &harness.items {
            match item {
                Item::Tool(t) if !tools.iter().any(|x| x.name.name == t.name.name) => tools.push(t),
                Item::Prompt(p) if !prompts.iter().any(|x| x.name.name == p.name.name) => {
                    prompts.push(p)
                }
                _ => {}
            }
        }
        Ctx {
            harness,
            tools,
            prompts,
        }
    }

    pub fn has_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t.name.name == name)
    }

    pub fn has_prompt(&self, name: &str) -> bool {
        self.prompts.iter().any(|p| p.name.name == name)
    }

    pub fn tool_names(&self) -> impl Iterator<Item = &'a str> + Clone + '_ {
        self.tools.iter().map(|t| t.name.name.as_str())
    }

    pub fn prompt_names(&self) -> impl Iterator<Item = &'a str> + Clone + '_ {
        self.prompts.iter().map(|p| p.name.name.as_str())
    }
}

/// Calls `f` on every leaf of a condition (detector, comparison, match).
pub fn for_each_atom<'c>(cond: &'c Cond, f: &mut impl FnMut(&'c Cond)) {
    match &cond.kind {
        CondKind::And(parts) | CondKind::Or(parts) => {
            for p in parts {
                for_each_atom(p, f);
            }
        }
        CondKind::Not(inner) => for_each_atom(inner, f),
        _ => f(cond),
    }
}

/// An action and its fallback chain, each with its depth (0 = the action itself).
pub fn action_chain(action: &Action) -> impl Iterator<Item = (usize, &Action)> {
    let mut next = Some(action);
    let mut depth = 0;
    std::iter::from_fn(move || {
        let a = next?;
        next = a.otherwise.as_deref();
        let item = (depth, a);
        depth += 1;
        Some(item)
    })
}
