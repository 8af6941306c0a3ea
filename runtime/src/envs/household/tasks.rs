//! The six ALFWorld task types: their goal texts and when a goal holds.

use super::world::{Appliance, Place, World, LAMP};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TaskType {
    PickAndPlaceSimple,
    LookAtObjInLight,
    PickCleanThenPlaceInRecep,
    PickHeatThenPlaceInRecep,
    PickCoolThenPlaceInRecep,
    PickTwoObjAndPlace,
}

impl TaskType {
    /// In the order task indices cycle through them (`task % 6`).
    pub const ALL: [TaskType; 6] = [
        TaskType::PickAndPlaceSimple,
        TaskType::LookAtObjInLight,
        TaskType::PickCleanThenPlaceInRecep,
        TaskType::PickHeatThenPlaceInRecep,
        TaskType::PickCoolThenPlaceInRecep,
        TaskType::PickTwoObjAndPlace,
    ];

    /// ALFWorld's name for the type.
    pub fn name(self) -> &'static str {
        match self {
            TaskType::PickAndPlaceSimple => "pick_and_place_simple",
            TaskType::LookAtObjInLight => "look_at_obj_in_light",
            TaskType::PickCleanThenPlaceInRecep => "pick_clean_then_place_in_recep",
            TaskType::PickHeatThenPlaceInRecep => "pick_heat_then_place_in_recep",
            TaskType::PickCoolThenPlaceInRecep => "pick_cool_then_place_in_recep",
            TaskType::PickTwoObjAndPlace => "pick_two_obj_and_place",
        }
    }

    /// The appliance the object must go through first, if any.
    pub fn treatment(self) -> Option<Appliance> {
        match self {
            TaskType::PickCleanThenPlaceInRecep => Some(Appliance::Sink),
            TaskType::PickHeatThenPlaceInRecep => Some(Appliance::Microwave),
            TaskType::PickCoolThenPlaceInRecep => Some(Appliance::Fridge),
            _ => None,
        }
    }

    /// How many objects must end up in the target.
    pub fn count(self) -> usize {
        if self == TaskType::PickTwoObjAndPlace {
            2
        } else {
            1
        }
    }
}

/// A task: bring objects of kind `object` (treated, where the type asks) into any
/// receptacle of kind `target`, or hold one under the lamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goal {
    pub ty: TaskType,
    pub object: &'static str,
    /// The receptacle kind; `None` for `look_at_obj_in_light`.
    pub target: Option<&'static str>,
    /// Which of the two ALFWorld phrasings the goal text uses.
    pub phrasing: usize,
}

impl Goal {
    /// ALFWorld-style goal text, e.g. `put a clean apple in fridge.`
    pub fn text(&self) -> String {
        let o = self.object;
        let r = self.target.unwrap_or("");
        let second = self.phrasing % 2 == 1;
        match (self.ty, second) {
            (TaskType::PickAndPlaceSimple, false) => format!("put a {o} in {r}."),
            (TaskType::PickAndPlaceSimple, true) => format!("put some {o} on {r}."),
            (TaskType::LookAtObjInLight, false) => format!("look at {o} under the {LAMP}."),
            (TaskType::LookAtObjInLight, true) => format!("examine the {o} with the {LAMP}."),
            (TaskType::PickCleanThenPlaceInRecep, false) => format!("put a clean {o} in {r}."),
            (TaskType::PickCleanThenPlaceInRecep, true) => {
                format!("clean some {o} and put it in {r}.")
            }
            (TaskType::PickHeatThenPlaceInRecep, false) => format!("put a hot {o} in {r}."),
            (TaskType::PickHeatThenPlaceInRecep, true) => {
                format!("heat some {o} and put it in {r}.")
            }
            (TaskType::PickCoolThenPlaceInRecep, false) => format!("put a cool {o} in {r}."),
            (TaskType::PickCoolThenPlaceInRecep, true) => {
                format!("cool some {o} and put it in {r}.")
            }
            (TaskType::PickTwoObjAndPlace, false) => format!("put two {o} in {r}."),
            (TaskType::PickTwoObjAndPlace, true) => format!("find two {o} and put them in {r}."),
        }
    }

    /// Whether object `o` already counts towards a placing goal: the right kind, treated
    /// as required, and inside a target receptacle.
    pub fn placed(&self, w: &World, o: usize) -> bool {
        let obj = &w.objs[o];
        let in_target = match obj.at {
            Place::In(r) => Some(w.receps[r].kind) == self.target,
            Place::Held => false,
        };
        obj.kind == self.object && in_target && self.treated(w, o)
    }

    /// Whether object `o` has had the treatment the task asks for (trivially, if none).
    pub fn treated(&self, w: &World, o: usize) -> bool {
        let obj = &w.objs[o];
        match self.ty.treatment() {
            None => true,
            Some(Appliance::Sink) => obj.clean,
            Some(Appliance::Microwave) => obj.hot,
            Some(Appliance::Fridge) => obj.cool,
        }
    }

    pub fn holds(&self, w: &World) -> bool {
        if self.ty == TaskType::LookAtObjInLight {
            return self.lit(w);
        }
        (0..w.objs.len()).filter(|&o| self.placed(w, o)).count() >= self.ty.count()
    }

    /// Holding the object at a lit lamp.
    fn lit(&self, w: &World) -> bool {
        let holding = w.held().is_some_and(|h| w.objs[h].kind == self.object);
        holding
            && w.objs
                .iter()
                .any(|l| l.kind == LAMP && l.on && w.at.is_some_and(|r| l.at == Place::In(r)))
    }
}
