//! Procedural generation: a task index names one room layout and one goal.
//!
//! The task type is `TaskType::ALL[task % 6]`, so any run of consecutive indices is
//! balanced across types. Everything else (room, receptacle counts, objects, where they
//! lie, the goal's object and target) is drawn from a SplitMix64 stream keyed by the
//! task index alone, so a task is the same in every run whatever the episode seed.
//!
//! Generation guarantees solvability and that the goal does not hold at the start:
//! enough objects of the goal kind exist, none starts inside a target receptacle, the
//! needed appliance or lamp exists, and the target kind is not the treatment's appliance.

use super::tasks::{Goal, TaskType};
use super::world::{Obj, Recep, World, LAMP};
use crate::rng::SplitMix;

/// A receptacle kind in a room template: how many, and whether it opens.
struct RecepSpec {
    kind: &'static str,
    min: usize,
    max: usize,
    openable: bool,
}

const fn spec(kind: &'static str, min: usize, max: usize, openable: bool) -> RecepSpec {
    RecepSpec {
        kind,
        min,
        max,
        openable,
    }
}

struct Room {
    receps: &'static [RecepSpec],
    /// Object kinds that may appear.
    objects: &'static [&'static str],
    /// Receptacle kinds a placing goal may name.
    targets: &'static [&'static str],
}

const KITCHEN: Room = Room {
    receps: &[
        spec("cabinet", 3, 7, true),
        spec("coffeemachine", 1, 1, false),
        spec("countertop", 1, 3, false),
        spec("diningtable", 1, 1, false),
        spec("drawer", 2, 5, true),
        spec("fridge", 1, 1, true),
        spec("garbagecan", 1, 1, false),
        spec("microwave", 1, 1, true),
        spec("shelf", 0, 3, false),
        spec("sinkbasin", 1, 1, false),
        spec("stoveburner", 2, 4, false),
        spec("toaster", 1, 1, false),
    ],
    objects: &[
        "apple",
        "bowl",
        "bread",
        "butterknife",
        "cup",
        "dishsponge",
        "egg",
        "fork",
        "kettle",
        "knife",
        "ladle",
        "lettuce",
        "mug",
        "pan",
        "peppershaker",
        "plate",
        "pot",
        "potato",
        "saltshaker",
        "soapbottle",
        "spatula",
        "spoon",
        "tomato",
        "winebottle",
    ],
    targets: &[
        "cabinet",
        "countertop",
        "diningtable",
        "drawer",
        "fridge",
        "garbagecan",
        "microwave",
        "shelf",
        "sinkbasin",
        "stoveburner",
    ],
};

const BEDROOM: Room = Room {
    receps: &[
        spec("bed", 1, 1, false),
        spec("desk", 1, 2, false),
        spec("drawer", 2, 6, true),
        spec("dresser", 1, 1, false),
        spec("garbagecan", 1, 1, false),
        spec("laundryhamper", 0, 1, true),
        spec("safe", 0, 1, true),
        spec("shelf", 2, 5, false),
        spec("sidetable", 1, 2, false),
    ],
    objects: &[
        "alarmclock",
        "book",
        "bowl",
        "cd",
        "cellphone",
        "creditcard",
        "keychain",
        "laptop",
        "mug",
        "pen",
        "pencil",
        "pillow",
        "remotecontrol",
        "statue",
        "vase",
    ],
    targets: &[
        "bed",
        "desk",
        "drawer",
        "dresser",
        "garbagecan",
        "laundryhamper",
        "safe",
        "shelf",
        "sidetable",
    ],
};

const LIVINGROOM: Room = Room {
    receps: &[
        spec("armchair", 1, 2, false),
        spec("cabinet", 1, 4, true),
        spec("coffeetable", 1, 1, false),
        spec("drawer", 1, 4, true),
        spec("garbagecan", 1, 1, false),
        spec("shelf", 1, 4, false),
        spec("sidetable", 1, 2, false),
        spec("sofa", 1, 1, false),
        spec("tvstand", 1, 1, false),
    ],
    objects: &[
        "book",
        "box",
        "cellphone",
        "creditcard",
        "keychain",
        "laptop",
        "newspaper",
        "pillow",
        "remotecontrol",
        "statue",
        "vase",
        "watch",
    ],
    targets: &[
        "armchair",
        "cabinet",
        "coffeetable",
        "drawer",
        "garbagecan",
        "shelf",
        "sidetable",
        "sofa",
        "tvstand",
    ],
};

/// Salt of the generation stream (see [`SplitMix::keyed`]).
const GEN_SALT: u64 = 0x686f_7573_6568_6f6c; // "household"

/// The world and goal of task `task`.
pub fn generate(task: u64) -> (World, Goal) {
    let mut rng = SplitMix::keyed(task, GEN_SALT);
    let ty = TaskType::ALL[(task % 6) as usize];
    let room = match ty {
        TaskType::LookAtObjInLight => &BEDROOM,
        TaskType::PickCleanThenPlaceInRecep
        | TaskType::PickHeatThenPlaceInRecep
        | TaskType::PickCoolThenPlaceInRecep => &KITCHEN,
        TaskType::PickAndPlaceSimple | TaskType::PickTwoObjAndPlace => {
            *rng.pick(&[&KITCHEN, &BEDROOM, &LIVINGROOM])
        }
    };

    let mut w = World::default();
    for s in room.receps {
        for num in 1..=rng.range(s.min, s.max) {
            w.receps.push(Recep {
                kind: s.kind,
                num: num as u32,
                openable: s.openable,
                open: false,
            });
        }
    }

    let object = *rng.pick(room.objects);
    let target = if ty == TaskType::LookAtObjInLight {
        None
    } else {
        // Only kinds this room actually has, and never the appliance that does the
        // treatment (heating something and leaving it in the microwave is no task).
        let appliance = ty.treatment();
        let kinds: Vec<&'static str> = room
            .targets
            .iter()
            .copied()
            .filter(|k| w.receps.iter().any(|r| r.kind == *k))
            .filter(|k| appliance.is_none() || super::world::Appliance::of_kind(k) != appliance)
            .collect();
        Some(*rng.pick(&kinds))
    };
    let goal = Goal {
        ty,
        object,
        target,
        phrasing: rng.below(2),
    };

    // The goal kind: enough instances, none already in a target.
    let starts: Vec<usize> = (0..w.receps.len())
        .filter(|&r| Some(w.receps[r].kind) != target)
        .collect();
    let needed = ty.count();
    for num in 1..=rng.range(needed, needed + 2) {
        w.objs
            .push(Obj::new(object, num as u32, *rng.pick(&starts)));
    }

    // Distractors: other kinds, anywhere.
    let mut others: Vec<&'static str> = room
        .objects
        .iter()
        .copied()
        .filter(|k| *k != object)
        .collect();
    rng.shuffle(&mut others);
    let all: Vec<usize> = (0..w.receps.len()).collect();
    for kind in others.iter().take(rng.range(5, 9)) {
        for num in 1..=rng.range(1, 3) {
            w.objs.push(Obj::new(kind, num as u32, *rng.pick(&all)));
        }
    }

    if ty == TaskType::LookAtObjInLight {
        let stands: Vec<usize> = (0..w.receps.len())
            .filter(|&r| matches!(w.receps[r].kind, "desk" | "sidetable"))
            .collect();
        w.objs.push(Obj::new(LAMP, 1, *rng.pick(&stands)));
    }
    (w, goal)
}
