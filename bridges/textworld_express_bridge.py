#!/usr/bin/env python3
"""TextWorldExpress behind the harnessx stdio bridge protocol (docs/BRIDGE.md).

    pip install textworld-express        # ships its JVM engine; needs Java
    harnessx run ... --env 'stdio:python3 bridges/textworld_express_bridge.py --game twc'

One tool, `act(command: string)`: the call `act("take black blanket")` runs the game
command `take black blanket`. Admissible actions are the game's valid actions written as
such calls.

Episodes: task T is the T-th game of the chosen fold (`--fold train|dev|test`), i.e. game
seed `getValidSeeds<Fold>()[T % count]`; when the generator cannot make that game with the
chosen parameters (with four objects to put away some seeds fail with "Could not add 4
items"), the next seed of the fold that it can make. The episode seed harnessx sends is
ignored, since a TextWorldExpress game is fully determined by its game seed.

Expert: TextWorldExpress gives a gold action sequence (`getGoldActionSequence()`,
generated at every reset) but cannot plan from an arbitrary state, so:
- for `twc` (put each item where it belongs) the goal is read off the gold sequence (its
  `put X in Y` commands) and the expert is planned from the current state at every step:
  for the first item not yet in its place, `put X in Y` if X is held and that is valid,
  else `open Y`, else `take X` (from wherever it is). An agent that strays (takes the
  wrong thing, puts an item in the wrong place) still has an expert that leads it back;
- for other games the gold sequence (without its leading `look around`, which the reset
  observation already shows) is tracked against the commands taken. A command equal to the
  next gold action advances it; one that leaves the world unchanged (look, inventory, an
  invalid command) keeps it; any other change leaves the gold path, and from then on the
  episode has no expert (the `expert` field is omitted).

The JVM is started once and serves every episode; stdout carries protocol lines only.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harnessx_bridge import Bridge, BridgeError, Protocol, call_text, log, parse_simple_call, serve  # noqa: E402

DEFAULT_PARAMS = "numLocations=1,numItemsToPutAway=2,includeDoors=0,limitInventorySize=0"
TOOL = "act"


class TextWorldExpressBridge(Bridge):
    def __init__(self, args):
        # Imported here so that `--help` works without the package.
        from textworld_express import TextWorldExpressEnv

        self.args = args
        self.name = "textworld-express:%s" % args.game
        started = time.time()
        self.env = TextWorldExpressEnv(envStepLimit=args.step_limit)
        known = self.env.getGameNames()
        if args.game not in known:
            raise SystemExit("unknown game %r; known games: %s" % (args.game, ", ".join(known)))
        try:
            # Raises ValueError naming the known parameters when one is unknown.
            self.env.load(gameName=args.game, gameParams=args.params)
        except ValueError as e:
            raise SystemExit("game %s: bad --params %r: %s" % (args.game, args.params, e))
        seeds = {
            "train": self.env.getValidSeedsTrain,
            "dev": self.env.getValidSeedsDev,
            "test": self.env.getValidSeedsTest,
        }[args.fold]()
        self.seeds = list(seeds)
        if not self.seeds:
            raise SystemExit("fold %s of %s has no games" % (args.fold, args.game))
        log("%s: JVM ready in %.1f s; %d games in fold %s"
            % (self.name, time.time() - started, len(self.seeds), args.fold))
        self.gold = []
        self.gold_pos = 0
        self.on_path = False
        self.targets = []
        self.placed = {}
        self.valid = set()
        self.world = None
        self.goal = ""

    def ready_info(self):
        return {
            "game": self.args.game,
            "params": self.args.params,
            "fold": self.args.fold,
            "step_limit": self.args.step_limit,
            "games": len(self.seeds),
        }

    @staticmethod
    def tools():
        return [{
            "name": TOOL,
            "description": "Run one text command in the game, e.g. act(\"take black blanket\"); "
                           "the admissible actions list the valid commands",
            "params": [{"name": "command", "type": "string"}],
        }]

    def expert_text(self):
        if self.targets:
            cmd = self.plan_twc()
            return None if cmd is None else call_text(TOOL, cmd)
        if self.on_path and self.gold_pos < len(self.gold):
            return call_text(TOOL, self.gold[self.gold_pos])
        return None

    @staticmethod
    def put_targets(gold):
        """The (item, container) pairs of a twc gold path, or [] for other games."""
        targets = []
        for a in gold:
            if a.startswith("put ") and " in " in a:
                item, place = a[len("put "):].split(" in ", 1)
                targets.append((item, place))
            elif not (a.startswith("take ") or a.startswith("open ") or a == "look around"):
                return []
        return targets

    def plan_twc(self):
        """The next command towards the goal from the current state (see the module doc)."""
        valid = self.valid
        for item, place in self.targets:
            if self.placed.get(item) == place:
                continue
            # Held items are the ones some `put ITEM in ...` is valid for.
            held = any(a.startswith("put %s in " % item) for a in valid)
            if held:
                for cmd in ("put %s in %s" % (item, place), "open %s" % place):
                    if cmd in valid:
                        return cmd
                return None
            for cmd in sorted(valid):
                if cmd == "take " + item or cmd.startswith("take %s from " % item):
                    return cmd
            return None
        return None

    def track_placement(self, cmd):
        """Where items are, from the commands that changed the world."""
        if cmd.startswith("put ") and " in " in cmd:
            item, place = cmd[len("put "):].split(" in ", 1)
            self.placed[item] = place
        elif cmd.startswith("take "):
            self.placed.pop(cmd[len("take "):].split(" from ", 1)[0], None)

    @staticmethod
    def admissible(infos):
        # Sorted: the engine lists valid actions in a different order from step to step,
        # and a stable order keeps prompts and admissible-based baselines reproducible.
        return [call_text(TOOL, a) for a in sorted(infos.get("validActions", []))]

    @staticmethod
    def snapshot(infos):
        # What the agent can see of the world: the room and the inventory. An action that
        # changes neither changed nothing.
        return (infos.get("look"), infos.get("inventory"))

    # How many game seeds after task T's own a reset tries when the generator cannot make
    # a game from it.
    MAX_SEED_SKIPS = 20

    def generate(self, task):
        """Reset to task `task`'s game: game seed `seeds[task % count]`, or, when the
        generator cannot make that game with these parameters (it raises, e.g. "Could not
        add 4 items"), the next seed of the fold that it can. Deterministic: the same task
        always gets the same game, reported as `game_seed`."""
        last = None
        for k in range(self.MAX_SEED_SKIPS + 1):
            game_seed = self.seeds[(task + k) % len(self.seeds)]
            try:
                obs, infos = self.env.reset(
                    seed=game_seed, gameFold=self.args.fold, generateGoldPath=True)
                return game_seed, obs, infos
            except Exception as e:  # py4j wraps the generator's RuntimeException
                last = str(e).strip().splitlines()
                last = last[-1] if last else repr(e)
                log("%s: game seed %d of fold %s cannot be generated (%s); trying the next"
                    % (self.name, game_seed, self.args.fold, last))
        raise BridgeError("no game could be generated for task %d from %d seeds (last error: %s)"
                          % (task, self.MAX_SEED_SKIPS + 1, last))

    def reset(self, task, seed):
        game_seed, obs, infos = self.generate(task)
        gold = list(self.env.getGoldActionSequence())
        if gold and gold[0] == "look around":
            gold = gold[1:]
        self.gold, self.gold_pos, self.on_path = gold, 0, bool(gold)
        self.targets = self.put_targets(gold) if self.args.game == "twc" else []
        self.placed = {}
        self.valid = set(infos.get("validActions", []))
        self.world = self.snapshot(infos)
        self.goal = infos.get("taskDescription", "")
        reply = {
            "observation": obs.strip(),
            "goal": self.goal,
            "admissible": self.admissible(infos),
            "tools": self.tools(),
            "game_seed": game_seed,
        }
        e = self.expert_text()
        if e is not None:
            reply["expert"] = e
        return reply

    def command(self, req):
        tool, args = req.get("tool"), req.get("args")
        if tool is None:
            # A hand-written request with only the call text (or a bare command).
            parsed = parse_simple_call(req["action"])
            if parsed is None:
                return req["action"].strip()
            tool, pos = parsed
            args = {"command": pos[0]} if pos else {}
        if tool != TOOL:
            raise BridgeError("unknown tool %r; the only tool is act(command: string)" % (tool,))
        cmd = (args or {}).get("command")
        if not isinstance(cmd, str) or not cmd.strip():
            raise BridgeError("act needs a non-empty `command` string")
        return cmd.strip()

    def step(self, req):
        cmd = self.command(req)
        obs, reward, done, infos = self.env.step(cmd)
        world = self.snapshot(infos)
        changed = world != self.world
        self.world = world
        self.valid = set(infos.get("validActions", []))
        if changed:
            self.track_placement(cmd)
        if self.on_path:
            if self.gold_pos < len(self.gold) and cmd == self.gold[self.gold_pos]:
                self.gold_pos += 1
            elif changed:
                self.on_path = False
        success = bool(infos.get("tasksuccess"))
        reply = {
            "observation": obs.strip(),
            "reward": float(reward),
            "done": bool(done),
            "success": bool(done) and success,
            "state_changed": changed,
            "admissible": self.admissible(infos),
            "score": infos.get("score"),
        }
        e = self.expert_text()
        if e is not None and not done:
            reply["expert"] = e
        return reply

    def close(self):
        try:
            self.env.close()
        except Exception as e:  # shutting down anyway; just say so
            log("%s: error while closing the JVM: %s" % (self.name, e))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="twc", help="game name (default twc)")
    p.add_argument("--params", default=DEFAULT_PARAMS,
                   help="game parameters, comma-separated key=value (default: %(default)s)")
    p.add_argument("--fold", choices=["train", "dev", "test"], default="train")
    p.add_argument("--step-limit", type=int, default=50,
                   help="the game ends after this many steps (default 50)")
    args = p.parse_args()
    # Protect stdout before the JVM starts: it inherits file descriptor 1.
    proto = Protocol()
    serve(TextWorldExpressBridge(args), proto)


if __name__ == "__main__":
    main()
