#!/usr/bin/env python3
"""How much of each prompt the llama-cpp-python server actually evaluated.

    python3 scripts/smollm2-prefix-report.py [LOG] [--from-line N]

Reads the server log that scripts/serve-smollm2.sh writes (default
.venv-smollm2/server-8089.log). For every request llama-cpp-python logs
`Llama.generate: P prefix-match hit, remaining R prompt tokens to eval`: P tokens came from
its KV cache (the longest common prefix with the previous request), R were read again. It
also logs the prompt-eval and eval timings. Prints, over the requests after line N: the
requests, prompt tokens (P + R), tokens evaluated (R), the share evaluated, and the seconds
spent on prompt evaluation and on generation.
"""

import re
import sys


def main(argv):
    path = ".venv-smollm2/server-8089.log"
    start = 0
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--from-line":
            start = int(args.pop(0))
        else:
            path = a
    hit = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens")
    timing = re.compile(r"^llama_perf_context_print:\s+(prompt eval|eval) time =\s+([\d.]+) ms /\s+(\d+)")
    requests = cached = evaluated = 0
    prompt_ms = gen_ms = 0.0
    generated = 0
    with open(path, errors="replace") as f:
        for i, line in enumerate(f, 1):
            if i < start:
                continue
            m = hit.search(line)
            if m:
                requests += 1
                cached += int(m.group(1))
                evaluated += int(m.group(2))
                continue
            m = timing.search(line)
            if m:
                if m.group(1) == "prompt eval":
                    prompt_ms += float(m.group(2))
                else:
                    gen_ms += float(m.group(2))
                    generated += int(m.group(3))
    total = cached + evaluated
    share = evaluated / total if total else 0.0
    print(f"requests {requests}  prompt tokens {total}  evaluated {evaluated} ({share:.1%})  "
          f"prompt eval {prompt_ms / 1000:.1f} s  generation {gen_ms / 1000:.1f} s for {generated} tokens")
    if requests:
        print(f"per request: {total / requests:.0f} prompt tokens, {evaluated / requests:.0f} evaluated, "
              f"{prompt_ms / requests / 1000:.2f} s prompt eval, {gen_ms / requests / 1000:.2f} s generation")


if __name__ == "__main__":
    main(sys.argv[1:])
