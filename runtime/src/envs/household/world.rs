//! The household world: receptacles, objects, the agent, and the rules of every action.
//!
//! Everything is plain indexed data (`Vec`s, `&'static str` kinds), so a world clones
//! cheaply and compares with `==` — the environment decides `state_changed` by comparing
//! the world before and after an action, which cannot drift from the rules below.

use crate::call::ToolCall;

/// What a receptacle kind is for, beyond holding things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appliance {
    /// `clean(obj, sinkbasin N)`.
    Sink,
    /// `heat(obj, microwave N)`.
    Microwave,
    /// `cool(obj, fridge N)`.
    Fridge,
}

impl Appliance {
    pub fn of_kind(kind: &str) -> Option<Appliance> {
        match kind {
            "sinkbasin" => Some(Appliance::Sink),
            "microwave" => Some(Appliance::Microwave),
            "fridge" => Some(Appliance::Fridge),
            _ => None,
        }
    }
}

/// The object kind that can be `use`d and never taken.
pub const LAMP: &str = "desklamp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recep {
    pub kind: &'static str,
    pub num: u32,
    pub openable: bool,
    pub open: bool,
}

impl Recep {
    pub fn name(&self) -> String {
        format!("{} {}", self.kind, self.num)
    }

    /// Whether its contents can be seen, taken from and added to.
    pub fn accessible(&self) -> bool {
        !self.openable || self.open
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    In(usize),
    Held,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj {
    pub kind: &'static str,
    pub num: u32,
    pub at: Place,
    pub clean: bool,
    pub hot: bool,
    pub cool: bool,
    /// Only meaningful for lamps.
    pub on: bool,
}

impl Obj {
    pub fn new(kind: &'static str, num: u32, recep: usize) -> Self {
        Obj {
            kind,
            num,
            at: Place::In(recep),
            clean: false,
            hot: false,
            cool: false,
            on: false,
        }
    }

    pub fn name(&self) -> String {
        format!("{} {}", self.kind, self.num)
    }

    pub fn takeable(&self) -> bool {
        self.kind != LAMP
    }
}

/// Something `examine` can point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    Recep(usize),
    Obj(usize),
}

/// One action with its names resolved to indices. The tool-call form is in
/// [`Action::to_call`]; [`World::check`] says whether it is valid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Go(usize),
    Take(usize, usize),
    Put(usize, usize),
    Open(usize),
    Close(usize),
    Examine(Thing),
    Treat(Appliance, usize, usize),
    Use(usize),
    Look,
    Inventory,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct World {
    pub receps: Vec<Recep>,
    pub objs: Vec<Obj>,
    /// `None`: the middle of the room, where every episode starts.
    pub at: Option<usize>,
}

impl World {
    pub fn held(&self) -> Option<usize> {
        self.objs.iter().position(|o| o.at == Place::Held)
    }

    /// Objects inside receptacle `r`, in index order.
    pub fn contents(&self, r: usize) -> impl Iterator<Item = usize> + '_ {
        self.objs
            .iter()
            .enumerate()
            .filter(move |(_, o)| o.at == Place::In(r))
            .map(|(i, _)| i)
    }

    pub fn recep_named(&self, name: &str) -> Option<usize> {
        let (kind, num) = split_name(name)?;
        self.receps
            .iter()
            .position(|r| r.kind == kind && r.num == num)
    }

    pub fn obj_named(&self, name: &str) -> Option<usize> {
        let (kind, num) = split_name(name)?;
        self.objs
            .iter()
            .position(|o| o.kind == kind && o.num == num)
    }

    /// The action a tool call asks for, or why it names nothing in this world. `finish`
    /// is not an action of the world; the environment handles it.
    pub fn resolve(&self, call: &ToolCall) -> Result<Action, String> {
        let arg = |n: &str| {
            call.get_str(n)
                .ok_or_else(|| format!("`{}` needs a string `{n}`", call.tool))
        };
        let recep = |n: &str| {
            let v = arg(n)?;
            self.recep_named(v)
                .ok_or_else(|| format!("there is no receptacle called {v:?}"))
        };
        let obj = |n: &str| {
            let v = arg(n)?;
            self.obj_named(v)
                .ok_or_else(|| format!("there is no object called {v:?}"))
        };
        let treat = |a: Appliance| -> Result<Action, String> {
            Ok(Action::Treat(a, obj("object")?, recep("appliance")?))
        };
        match call.tool.as_str() {
            "go" => Ok(Action::Go(recep("target")?)),
            "take" => Ok(Action::Take(obj("object")?, recep("source")?)),
            "put" => Ok(Action::Put(obj("object")?, recep("target")?)),
            "open" => Ok(Action::Open(recep("target")?)),
            "close" => Ok(Action::Close(recep("target")?)),
            "examine" => {
                let v = arg("target")?;
                match (self.recep_named(v), self.obj_named(v)) {
                    (Some(r), _) => Ok(Action::Examine(Thing::Recep(r))),
                    (None, Some(o)) => Ok(Action::Examine(Thing::Obj(o))),
                    (None, None) => Err(format!("there is nothing called {v:?}")),
                }
            }
            "clean" => treat(Appliance::Sink),
            "heat" => treat(Appliance::Microwave),
            "cool" => treat(Appliance::Fridge),
            "use" => Ok(Action::Use(obj("target")?)),
            "look" => Ok(Action::Look),
            "inventory" => Ok(Action::Inventory),
            other => Err(format!("unknown tool `{other}`")),
        }
    }

    /// Whether `a` is valid now, and if not, why (for the failure message; the agent
    /// only sees ALFWorld's "Nothing happens.").
    pub fn check(&self, a: Action) -> Result<(), &'static str> {
        let here = |r: usize| {
            if self.at == Some(r) {
                Ok(())
            } else {
                Err("you are not at that receptacle")
            }
        };
        let holding = |o: usize| {
            if self.objs[o].at == Place::Held {
                Ok(())
            } else {
                Err("you are not holding that")
            }
        };
        match a {
            Action::Go(r) if self.at == Some(r) => Err("you are already there"),
            Action::Go(_) | Action::Look | Action::Inventory => Ok(()),
            Action::Take(o, r) => {
                here(r)?;
                if self.objs[o].at != Place::In(r) {
                    return Err("that is not in this receptacle");
                }
                if !self.receps[r].accessible() {
                    return Err("the receptacle is closed");
                }
                if !self.objs[o].takeable() {
                    return Err("that cannot be picked up");
                }
                if self.held().is_some() {
                    return Err("your hands are full");
                }
                Ok(())
            }
            Action::Put(o, r) => {
                holding(o)?;
                here(r)?;
                if self.receps[r].accessible() {
                    Ok(())
                } else {
                    Err("the receptacle is closed")
                }
            }
            Action::Open(r) | Action::Close(r) => {
                here(r)?;
                let rec = &self.receps[r];
                match (rec.openable, rec.open, a) {
                    (false, _, _) => Err("that cannot be opened or closed"),
                    (true, true, Action::Open(_)) => Err("it is already open"),
                    (true, false, Action::Close(_)) => Err("it is already closed"),
                    _ => Ok(()),
                }
            }
            Action::Examine(Thing::Recep(r)) => here(r),
            Action::Examine(Thing::Obj(o)) => holding(o),
            Action::Treat(kind, o, r) => {
                holding(o)?;
                here(r)?;
                if Appliance::of_kind(self.receps[r].kind) == Some(kind) {
                    Ok(())
                } else {
                    Err("that receptacle cannot do this")
                }
            }
            Action::Use(o) => match self.objs[o].at {
                _ if self.objs[o].kind != LAMP => Err("that cannot be used"),
                Place::In(r) if self.at == Some(r) && self.receps[r].accessible() => Ok(()),
                _ => Err("the lamp is not within reach"),
            },
        }
    }

    /// Every valid action, in a fixed order: each `go`, then what can be done here.
    pub fn valid_actions(&self) -> Vec<Action> {
        let mut out: Vec<Action> = (0..self.receps.len()).map(Action::Go).collect();
        let held = self.held();
        if let Some(r) = self.at {
            out.extend([
                Action::Open(r),
                Action::Close(r),
                Action::Examine(Thing::Recep(r)),
            ]);
            out.extend(self.contents(r).map(|o| Action::Take(o, r)));
            out.extend(self.contents(r).map(Action::Use));
            if let Some(h) = held {
                out.push(Action::Put(h, r));
                for a in [Appliance::Sink, Appliance::Microwave, Appliance::Fridge] {
                    out.push(Action::Treat(a, h, r));
                }
            }
        }
        if let Some(h) = held {
            out.push(Action::Examine(Thing::Obj(h)));
        }
        out.extend([Action::Look, Action::Inventory]);
        out.retain(|a| self.check(*a).is_ok());
        out
    }

    /// Carry out a valid action; the observation text.
    pub fn apply(&mut self, a: Action) -> String {
        match a {
            Action::Go(r) => {
                self.at = Some(r);
                format!("You arrive at {}. {}", self.receps[r].name(), self.show(r))
            }
            Action::Take(o, r) => {
                self.objs[o].at = Place::Held;
                let (o, r) = (self.objs[o].name(), self.receps[r].name());
                format!("You pick up the {o} from the {r}.")
            }
            Action::Put(o, r) => {
                self.objs[o].at = Place::In(r);
                let (o, r) = (self.objs[o].name(), self.receps[r].name());
                format!("You put the {o} in/on the {r}.")
            }
            Action::Open(r) => {
                self.receps[r].open = true;
                format!("You open the {}. {}", self.receps[r].name(), self.show(r))
            }
            Action::Close(r) => {
                self.receps[r].open = false;
                format!("You close the {}.", self.receps[r].name())
            }
            Action::Examine(Thing::Recep(r)) => self.show(r),
            Action::Examine(Thing::Obj(o)) => self.describe_obj(o),
            Action::Treat(kind, o, r) => {
                let obj = &mut self.objs[o];
                let verb = match kind {
                    Appliance::Sink => {
                        obj.clean = true;
                        "clean"
                    }
                    // Heating undoes cooling and the other way round, as in ALFWorld.
                    Appliance::Microwave => {
                        (obj.hot, obj.cool) = (true, false);
                        "heat"
                    }
                    Appliance::Fridge => {
                        (obj.hot, obj.cool) = (false, true);
                        "cool"
                    }
                };
                let (o, r) = (self.objs[o].name(), self.receps[r].name());
                format!("You {verb} the {o} using the {r}.")
            }
            Action::Use(o) => {
                let lamp = &mut self.objs[o];
                lamp.on = !lamp.on;
                let state = if lamp.on { "on" } else { "off" };
                format!("You turn {state} the {}.", lamp.name())
            }
            Action::Look => match self.at {
                None => format!(
                    "You are in the middle of a room. Looking quickly around you, you see {}.",
                    list(self.receps.iter().map(Recep::name))
                ),
                Some(r) => format!("You are at the {}. {}", self.receps[r].name(), self.show(r)),
            },
            Action::Inventory => match self.held() {
                Some(h) => format!("You are carrying: a {}.", self.objs[h].name()),
                None => "You are not carrying anything.".into(),
            },
        }
    }

    /// What the agent sees of a receptacle: its contents, unless it is closed.
    pub fn show(&self, r: usize) -> String {
        let rec = &self.receps[r];
        let name = rec.name();
        let items = || list(self.contents(r).map(|o| self.objs[o].name()));
        match (rec.openable, rec.open) {
            (true, false) => format!("The {name} is closed."),
            (true, true) => format!("The {name} is open. In it, you see {}.", items()),
            (false, _) => format!("On the {name}, you see {}.", items()),
        }
    }

    fn describe_obj(&self, o: usize) -> String {
        let obj = &self.objs[o];
        let states: Vec<&str> = [(obj.clean, "clean"), (obj.hot, "hot"), (obj.cool, "cool")]
            .into_iter()
            .filter_map(|(on, s)| on.then_some(s))
            .collect();
        if states.is_empty() {
            format!("There's nothing special about the {}.", obj.name())
        } else {
            format!("The {} is {}.", obj.name(), states.join(" and "))
        }
    }
}

impl Action {
    /// The canonical call text, exactly `self.to_call(w).render(None)` (names are ASCII
    /// letters, digits and one space, so they need no escaping); built directly because
    /// every observation lists a few dozen of these.
    pub fn text(self, w: &World) -> String {
        let r = |i: usize| &w.receps[i];
        let o = |i: usize| &w.objs[i];
        match self {
            Action::Go(x) => format!("go(\"{} {}\")", r(x).kind, r(x).num),
            Action::Take(x, y) => format!(
                "take(\"{} {}\", \"{} {}\")",
                o(x).kind,
                o(x).num,
                r(y).kind,
                r(y).num
            ),
            Action::Put(x, y) => format!(
                "put(\"{} {}\", \"{} {}\")",
                o(x).kind,
                o(x).num,
                r(y).kind,
                r(y).num
            ),
            Action::Open(x) => format!("open(\"{} {}\")", r(x).kind, r(x).num),
            Action::Close(x) => format!("close(\"{} {}\")", r(x).kind, r(x).num),
            Action::Examine(Thing::Recep(x)) => {
                format!("examine(\"{} {}\")", r(x).kind, r(x).num)
            }
            Action::Examine(Thing::Obj(x)) => format!("examine(\"{} {}\")", o(x).kind, o(x).num),
            Action::Treat(..) | Action::Use(_) | Action::Look | Action::Inventory => {
                self.to_call(w).render(None)
            }
        }
    }

    /// The canonical tool call for this action (parameter names as in
    /// [`super::tools`]).
    pub fn to_call(self, w: &World) -> ToolCall {
        let r = |i: usize| w.receps[i].name();
        let o = |i: usize| w.objs[i].name();
        match self {
            Action::Go(x) => ToolCall::new("go").arg("target", r(x)),
            Action::Take(x, y) => ToolCall::new("take")
                .arg("object", o(x))
                .arg("source", r(y)),
            Action::Put(x, y) => ToolCall::new("put").arg("object", o(x)).arg("target", r(y)),
            Action::Open(x) => ToolCall::new("open").arg("target", r(x)),
            Action::Close(x) => ToolCall::new("close").arg("target", r(x)),
            Action::Examine(Thing::Recep(x)) => ToolCall::new("examine").arg("target", r(x)),
            Action::Examine(Thing::Obj(x)) => ToolCall::new("examine").arg("target", o(x)),
            Action::Treat(kind, x, y) => {
                let tool = match kind {
                    Appliance::Sink => "clean",
                    Appliance::Microwave => "heat",
                    Appliance::Fridge => "cool",
                };
                ToolCall::new(tool)
                    .arg("object", o(x))
                    .arg("appliance", r(y))
            }
            Action::Use(x) => ToolCall::new("use").arg("target", o(x)),
            Action::Look => ToolCall::new("look"),
            Action::Inventory => ToolCall::new("inventory"),
        }
    }
}

/// `"Mug  2"` → `("mug", 2)`. Names are matched case-insensitively with surrounding and
/// repeated whitespace ignored; anything else must be exact (`mug2`, `mug 02` name
/// nothing).
fn split_name(name: &str) -> Option<(String, u32)> {
    let mut words = name.split_whitespace();
    let (kind, num) = (words.next()?, words.next()?);
    if words.next().is_some() || num.starts_with('0') || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind.to_lowercase(), num.parse().ok()?))
}

/// `a mug 1, an apple 2, and a book 1`, or `nothing`.
fn list(names: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = names
        .map(|n| {
            let article = if n.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {n}")
        })
        .collect();
    match items.len() {
        0 => "nothing".into(),
        1 => items[0].clone(),
        n => format!("{}, and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}
