//! The expert: the next action of a shortest-in-practice plan, re-planned from the
//! current state on every call, so it finishes from wherever another policy left off.
//!
//! It reads the whole world, including closed receptacles (like ALFWorld's handcoded
//! expert, which reads the PDDL state). The plan is a fixed recipe over the state:
//!
//! 1. holding something useless → put it down (open the receptacle here first if needed);
//! 2. holding a goal object → treat it at the appliance if the task asks and it is not
//!    treated yet, then carry it to a target receptacle (open it if closed) and put it
//!    there — or, for the lamp task, carry it to the lamp and switch the lamp on;
//! 3. empty-handed → go to a goal object that does not count yet, open its receptacle if
//!    closed, take it.
//!
//! Every branch makes progress (no action is undone by a later branch) and nothing in
//! the world can be lost, so the recipe reaches the goal from any reachable state in at
//! most about a dozen actions per object.

use super::tasks::{Goal, TaskType};
use super::world::{Action, Appliance, Place, World, LAMP};

/// The expert's next action, or `None` when the goal already holds.
pub fn next_action(w: &World, g: &Goal) -> Option<Action> {
    if g.holds(w) {
        return None;
    }
    let wanted = |o: usize| w.objs[o].kind == g.object;
    Some(match w.held() {
        Some(h) if wanted(h) => carry(w, g, h),
        Some(h) => put_down(w, h),
        None => fetch(w, |o| wanted(o) && !g.placed(w, o)),
    })
}

/// Next step with a goal object in hand.
fn carry(w: &World, g: &Goal, h: usize) -> Action {
    if g.ty == TaskType::LookAtObjInLight {
        let lamp = w.objs.iter().position(|o| o.kind == LAMP);
        let Some((lamp, Place::In(stand))) = lamp.map(|l| (l, w.objs[l].at)) else {
            // Generation always places a lamp; without one there is nothing to do.
            return Action::Look;
        };
        return if w.at != Some(stand) {
            Action::Go(stand)
        } else {
            Action::Use(lamp)
        };
    }
    if let Some(kind) = g.ty.treatment().filter(|_| !g.treated(w, h)) {
        return match first_recep(w, |k| Appliance::of_kind(k) == Some(kind)) {
            Some(app) if w.at == Some(app) => Action::Treat(kind, h, app),
            Some(app) => Action::Go(app),
            None => Action::Look,
        };
    }
    let is_target = |k: &str| Some(k) == g.target;
    let dest = match w.at {
        Some(r) if is_target(w.receps[r].kind) => Some(r),
        _ => first_recep(w, is_target),
    };
    match dest {
        Some(r) if w.at != Some(r) => Action::Go(r),
        Some(r) if !w.receps[r].accessible() => Action::Open(r),
        Some(r) => Action::Put(h, r),
        None => Action::Look,
    }
}

/// Get rid of a held object that is not wanted: here if possible (opening this
/// receptacle first if it is closed), else at the first receptacle that stands open.
fn put_down(w: &World, h: usize) -> Action {
    match w.at {
        Some(r) if w.receps[r].accessible() => Action::Put(h, r),
        Some(r) => Action::Open(r),
        None => match w.receps.iter().position(|r| r.accessible()) {
            Some(r) => Action::Go(r),
            None => Action::Go(0),
        },
    }
}

/// Walk to, open and take from the best place holding an object that `want`s: the
/// current receptacle first, then any whose contents are visible, then the rest.
fn fetch(w: &World, want: impl Fn(usize) -> bool) -> Action {
    let candidates = (0..w.objs.len())
        .filter(|&o| want(o))
        .filter_map(|o| match w.objs[o].at {
            Place::In(r) => Some((o, r)),
            Place::Held => None,
        });
    let best = candidates.min_by_key(|&(o, r)| (w.at != Some(r), !w.receps[r].accessible(), o));
    match best {
        Some((_, r)) if w.at != Some(r) => Action::Go(r),
        Some((_, r)) if !w.receps[r].accessible() => Action::Open(r),
        Some((o, r)) => Action::Take(o, r),
        None => Action::Look,
    }
}

fn first_recep(w: &World, kind: impl Fn(&str) -> bool) -> Option<usize> {
    w.receps.iter().position(|r| kind(r.kind))
}
