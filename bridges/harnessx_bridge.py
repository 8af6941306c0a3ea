"""The harnessx stdio bridge protocol (version 1), server side, standard library only.

A bridge is a child process that harnessx talks to over JSON lines (see docs/BRIDGE.md).
This module does the protocol part so a bridge only implements `reset` and `step`:

    from harnessx_bridge import Bridge, BridgeError, call_text, serve

    class MyWorld(Bridge):
        name = "my-world"
        def reset(self, task, seed): return {"observation": ..., "goal": ..., ...}
        def step(self, request): return {"observation": ..., "done": False, ...}

    serve(MyWorld())

stdout carries protocol lines only. `serve` moves file descriptor 1 to stderr before the
bridge does anything else, so a stray `print` in Python, or output from a child process
(a JVM, a simulator) that inherits fd 1, goes to the log instead of corrupting the
protocol.
"""

import json
import os
import re
import sys
import traceback

PROTOCOL = 1


class BridgeError(Exception):
    """A request failed but the bridge is fine: replied as {"id": N, "error": message}."""


class NoReply(Exception):
    """Raised by a handler that has written its own reply (or means to send none)."""


class Bridge:
    name = "bridge"
    # The request being handled, set by `serve` before each call.
    current_request = None

    def ready_info(self):
        """Extra fields for the ready line (optional)."""
        return {}

    def reset(self, task, seed):
        raise NotImplementedError

    def step(self, request):
        raise NotImplementedError

    def close(self):
        pass


def call_text(tool, *args):
    """The canonical call text harnessx uses: act("take black blanket").

    json.dumps with ensure_ascii=False writes strings the way harnessx does (serde_json),
    so the text of an admissible action compares equal to the text of the parsed call.
    """
    return "%s(%s)" % (tool, ", ".join(json.dumps(a, ensure_ascii=False) for a in args))


_SIMPLE_CALL = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*("(?:[^"\\]|\\.)*")?\s*\)\s*$')


def parse_simple_call(text):
    """Parse `name()` or `name("string")` into (name, [arg]); None if it is not that shape.

    Requests carry the call as structured `tool` and `args` too, so bridges rarely need
    this; it helps when someone types requests by hand.
    """
    m = _SIMPLE_CALL.match(text)
    if not m:
        return None
    args = [json.loads(m.group(2))] if m.group(2) else []
    return m.group(1), args


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


class Protocol:
    """The protocol output channel (the original stdout)."""

    def __init__(self):
        sys.stdout.flush()
        # Keep a private copy of the real stdout, then point fd 1 (and sys.stdout) at
        # stderr: everything else that writes to "stdout" ends up in the log.
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, obj):
        self.send_raw(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def send_raw(self, text):
        self._out.write(text + "\n")
        self._out.flush()


def serve(bridge, proto=None):
    """Run the protocol until `close` or end of input. Exits when stdin closes, so a bridge
    never outlives harnessx."""
    proto = proto or Protocol()
    ready = {"ready": True, "name": bridge.name, "protocol": PROTOCOL}
    ready.update(bridge.ready_info())
    proto.send(ready)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError as e:
            proto.send({"id": None, "error": "request is not JSON: %s" % e})
            continue
        rid = req.get("id") if isinstance(req, dict) else None
        op = req.get("op") if isinstance(req, dict) else None
        bridge.current_request = req
        try:
            if op == "reset":
                reply = bridge.reset(int(req.get("task", 0)), int(req.get("seed", 0)))
            elif op == "step":
                if not isinstance(req.get("action"), str):
                    raise BridgeError("step needs an `action` string")
                reply = bridge.step(req)
            elif op == "close":
                proto.send({"id": rid, "closed": True})
                break
            else:
                raise BridgeError("unknown op %r (expected reset, step or close)" % (op,))
        except NoReply:
            continue
        except BridgeError as e:
            proto.send({"id": rid, "error": str(e)})
            continue
        except Exception as e:  # a bug in the bridge: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            proto.send({"id": rid, "error": "%s: %s" % (type(e).__name__, e)})
            continue
        reply = dict(reply)
        reply["id"] = rid
        proto.send(reply)
    bridge.close()
