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

crash exits with status 3; hang stops answering; garbage prints a non-JSON line instead of
the reply; wrong-id replies with another id; error replies {"id", "error"}; noise calls
print() (which must land in the log, not in the protocol) and then replies normally.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harnessx_bridge import Bridge, BridgeError, NoReply, Protocol, call_text, log, serve  # noqa: E402

WORDS = ["apple", "river", "lamp", "cloud", "stone"]


class Echo(Bridge):
    name = "echo"

    def __init__(self, args, proto):
        self.args = args
        self.proto = proto
        self.task = 0
        self.secret = WORDS[0]
        self.seen = False
        self.steps = 0

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
        fault = self.fault_now()
        if fault and self.apply_fault(fault, self.current_request.get("id")):
            raise NoReply()
        return {
            "observation": "Words on the wall: %s. One of them is secret." % ", ".join(WORDS),
            "goal": "Say the secret word.",
            "admissible": self.admissible(),
            "tools": self.tools(),
            "expert": self.expert(),
        }

    def step(self, req):
        self.steps += 1
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
        return reply


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
    args = p.parse_args()

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
