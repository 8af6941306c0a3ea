#!/usr/bin/env python3
"""A tiny world for testing the stdio bridge protocol (standard library only).

The world: a wall of words, one of which is secret. `look()` reveals which; `say(word)`
with the secret word wins, any other word is wrong (the episode goes on). The expert says
look() then say(secret). Faults can be switched on to test how harnessx copes with a
broken bridge:

  --fault crash|hang|garbage|wrong-id|error|noise   what goes wrong
  --fault-task T     only in episodes of task T (default: every task)
  --fault-step K     on the K-th step of the episode; 0 means at reset (default 1)
  --no-ready         never print the ready line
  --ready-delay S    sleep S seconds before the ready line
  --exit-at-start N  exit with status N before the ready line
  --stderr-spam N    write N log lines to stderr at start-up
  --max-steps N      step limit per episode (default 20)
  --chaos P          kill this process (SIGKILL, no goodbye) at each request with
                     probability P, before or after its reply (see "Chaos" below)
  --chaos-seed S     seed of the chaos draws (default 0)
  --chaos-dir DIR    where the chaos draws count attempts and log kills (required with
                     --chaos; created if missing)

crash exits with status 3; hang stops answering; garbage prints a non-JSON line instead of
the reply; wrong-id replies with another id; error replies {"id", "error"}; noise calls
print() (which must land in the log, not in the protocol) and then replies normally.

Chaos: every request (reset or step) draws a number from a hash of the chaos seed, the
episode's task and seed, the attempt and the request's position in the episode; below P
the process kills itself with SIGKILL, half the time before replying and half the time
right after (then the *next* request finds it dead; after an episode's last reply, that is
the next episode, or nobody if harnessx notices the idle child died). The attempt is how
many times this (task, seed) was reset before, counted in DIR, so a re-run of an episode
draws afresh instead of dying at the same place forever, and the kills are reproducible
for a given seed whatever the order episodes run in. Every kill is first logged in DIR as
an empty file `kill-TASK-SEED-ATTEMPT-REQUEST-before|after` (REQUEST 0 is the reset), so a
test can tell which episodes were hit.
"""

import argparse
import hashlib
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harnessx_bridge import Bridge, BridgeError, NoReply, Protocol, call_text, log, serve  # noqa: E402

WORDS = ["apple", "river", "lamp", "cloud", "stone"]


class Chaos:
    """Seeded, reproducible self-kills (see the module docs)."""

    def __init__(self, p, seed, directory):
        self.p = p
        self.seed = seed
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.episode = None  # (task, seed, attempt)
        self.request = 0

    def _claim(self, name):
        try:
            os.close(os.open(os.path.join(self.dir, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False

    def reset(self, task, seed):
        # Count the attempt *before* any draw, so an episode killed at its reset draws
        # afresh on its rerun. O_EXCL: two processes never take the same attempt.
        attempt = 0
        while not self._claim("attempt-%d-%d-%d" % (task, seed, attempt)):
            attempt += 1
        self.episode = (task, seed, attempt)
        self.request = 0

    def step(self):
        self.request += 1

    def draw(self):
        """None, "before" or "after": whether and when to die at the current request."""
        if self.episode is None:
            return None
        task, seed, attempt = self.episode
        key = "%d:%d:%d:%d:%d" % (self.seed, task, seed, attempt, self.request)
        h = hashlib.sha256(key.encode()).digest()
        u = int.from_bytes(h[:8], "big") / 2.0**64
        if u >= self.p:
            return None
        return "before" if h[8] & 1 == 0 else "after"

    def log_kill(self, when):
        task, seed, attempt = self.episode
        self._claim("kill-%d-%d-%d-%d-%s" % (task, seed, attempt, self.request, when))
        log("echo: chaos kill %s request %d of task %d (attempt %d)" % (when, self.request, task, attempt))

    def die(self):
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)  # not reached


class Echo(Bridge):
    name = "echo"

    def __init__(self, args, proto):
        self.args = args
        self.proto = proto
        self.task = 0
        self.secret = WORDS[0]
        self.seen = False
        self.steps = 0
        self.chaos = Chaos(args.chaos, args.chaos_seed, args.chaos_dir) if args.chaos else None

    def chaos_reply(self, reply):
        """Send `reply` unless the chaos draw kills the process first (or right after)."""
        when = self.chaos.draw() if self.chaos else None
        if when is None:
            return reply
        # Logged first: after the reply harnessx may be quick to notice the death.
        self.chaos.log_kill(when)
        if when == "after":
            reply = dict(reply)
            reply["id"] = self.current_request.get("id")
            self.proto.send(reply)
        self.chaos.die()

    def tools(self):
        return [
            {"name": "look", "description": "Read the wall", "params": []},
            {
                "name": "say",
                "description": "Say a word out loud",
                "params": [{"name": "word", "type": "string"}],
            },
        ]

    def admissible(self):
        return [call_text("look")] + [call_text("say", w) for w in WORDS]

    def expert(self):
        return call_text("say", self.secret) if self.seen else call_text("look")

    def fault_now(self):
        a = self.args
        if a.fault is None or a.fault_step != self.steps:
            return None
        if a.fault_task is not None and a.fault_task != self.task:
            return None
        return a.fault

    def apply_fault(self, fault, rid):
        """Act out a fault. Returns True when the reply was already sent (or never will be)."""
        if fault == "crash":
            log("echo: crashing on purpose")
            os._exit(3)
        if fault == "hang":
            log("echo: hanging on purpose (pid %d)" % os.getpid())
            while True:
                time.sleep(3600)
        if fault == "garbage":
            self.proto.send_raw("this is not json {")
            return True
        if fault == "wrong-id":
            self.proto.send({"id": (rid or 0) + 1000, "observation": "late"})
            return True
        if fault == "error":
            raise BridgeError("the echo service is unavailable (injected error)")
        if fault == "noise":
            print("noise on stdout that must not reach the protocol")
        return False

    def reset(self, task, seed):
        self.task = task
        self.secret = WORDS[(task + seed) % len(WORDS)]
        self.seen = False
        self.steps = 0
        if self.chaos:
            self.chaos.reset(task, seed)
        fault = self.fault_now()
        if fault and self.apply_fault(fault, self.current_request.get("id")):
            raise NoReply()
        return self.chaos_reply({
            "observation": "Words on the wall: %s. One of them is secret." % ", ".join(WORDS),
            "goal": "Say the secret word.",
            "admissible": self.admissible(),
            "tools": self.tools(),
            "expert": self.expert(),
        })

    def step(self, req):
        self.steps += 1
        if self.chaos:
            self.chaos.step()
        fault = self.fault_now()
        if fault and self.apply_fault(fault, req.get("id")):
            raise NoReply()
        tool = req.get("tool")
        args = req.get("args") or {}
        done = success = changed = False
        reward = 0.0
        if tool == "look":
            text = "The secret word is %s." % self.secret
            changed = not self.seen
            self.seen = True
        elif tool == "say":
            word = args.get("word")
            if word == self.secret:
                text, done, success, reward = "The door opens. You win.", True, True, 1.0
            else:
                text = "Nothing happens when you say %r." % (word,)
        else:
            raise BridgeError("unknown tool %r; tools: look, say" % (tool,))
        if not done and self.steps >= self.args.max_steps:
            text += " You ran out of steps."
            done = True
        reply = {
            "observation": text,
            "reward": reward,
            "done": done,
            "success": success,
            "state_changed": changed,
            "admissible": self.admissible(),
        }
        if not done:
            reply["expert"] = self.expert()
        return self.chaos_reply(reply)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fault", choices=["crash", "hang", "garbage", "wrong-id", "error", "noise"])
    p.add_argument("--fault-task", type=int)
    p.add_argument("--fault-step", type=int, default=1)
    p.add_argument("--no-ready", action="store_true")
    p.add_argument("--ready-delay", type=float, default=0.0)
    p.add_argument("--exit-at-start", type=int)
    p.add_argument("--stderr-spam", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=20)
    p.add_argument("--chaos", type=float, default=0.0)
    p.add_argument("--chaos-seed", type=int, default=0)
    p.add_argument("--chaos-dir")
    args = p.parse_args()
    if not 0.0 <= args.chaos <= 1.0:
        p.error("--chaos takes a probability in [0, 1]")
    if args.chaos and not args.chaos_dir:
        p.error("--chaos needs --chaos-dir (where attempts are counted and kills logged)")

    proto = Protocol()
    for i in range(args.stderr_spam):
        log("echo: log line %d of %d" % (i + 1, args.stderr_spam))
    if args.exit_at_start is not None:
        log("echo: exiting at start-up on purpose")
        sys.exit(args.exit_at_start)
    if args.no_ready:
        log("echo: never getting ready")
        while True:
            time.sleep(3600)
    time.sleep(args.ready_delay)
    serve(Echo(args, proto), proto)


if __name__ == "__main__":
    main()
