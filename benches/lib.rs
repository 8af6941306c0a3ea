//! Input generation for the benchmarks in `benches/benches/`.
//!
//! [`generate`] writes a valid harness of about the requested number of lines: a model,
//! loop and context section, then repeating groups of prompts, tools and rules that use
//! every hook, most actions and detectors, annotations and comments.
//!
//! [`criterion_report`] reads what the benchmarks left under `target/criterion/` and
//! renders it as the Markdown section of docs/BENCHMARKS.md (the `criterion-report` binary).
//!
//! [`loopback`] is an OpenAI-compatible server on loopback with a fixed delay and seeded
//! faults; [`chaos`] runs a batch against it with and without faults and compares them;
//! [`concurrency`] measures throughput and memory against it by episodes in flight. The
//! `loopback-bench` binary writes both as sections of docs/BENCHMARKS.md.

use std::fmt::Write as _;

pub mod chaos;
pub mod concurrency;
pub mod criterion_report;
pub mod loopback;

const HOOK_RULES: &[&str] = &[
    "on after_model as repair_{i} when malformed_call {\n    repair extract_action\n    otherwise reprompt \"Reply with one action, like tool_{i}(\\\"x\\\").\"\n  }",
    "on before_tool as anti_loop_{i} when repeated_action(window = 4, count = 3) {\n    inject \"You are repeating yourself ({{step}} steps so far). Try something else.\"\n  }",
    "on after_tool as retry_{i} when tool_error or tool_timeout {\n    retry(max = 2, backoff = 100ms)\n    otherwise inject \"tool_{i} failed twice; try another way.\"\n  }",
    "@frozen\n  on before_tool as verify_{i} when call(tool_{i}) and not verified {\n    block \"Check the goal conditions before calling tool_{i}.\"\n  }",
    "on step_start as hurry_{i} when step >= 20 and context_tokens > 1200 {\n    compact\n    inject \"Few steps remain: finish with what you have.\"\n  }",
    "on step_end as log_{i} {\n    log \"step {{step}} done\"\n  }",
];

/// A valid `.harness` source of at least `min_lines` lines.
pub fn generate(min_lines: usize) -> String {
    let mut s = String::new();
    s.push_str("# Generated for benchmarks: many prompts, tools and rules.\n");
    s.push_str("harness generated \"A large generated harness\" {\n");
    s.push_str("  model {\n    backend = \"sim:small\"\n    temperature = 0.2 @evolve(range = 0.0..1.0)\n    max_tokens = 256\n  }\n\n");
    s.push_str("  loop {\n    max_steps = 30 @evolve(range = 10..60)\n    strategy = react @evolve(choices = [react, plan_then_act, reflect])\n  }\n\n");
    s.push_str("  context {\n    budget = 1500 tokens\n    compaction = summarize_oldest\n    pin = [system, task.goal]\n  }\n\n");
    s.push_str("  prompt system \"\"\"\n    You are an agent. Your goal: {{task.goal}}\n    Answer with exactly one action per turn.\n  \"\"\"\n");
    let mut i = 0;
    while s.lines().count() + 1 < min_lines {
        let _ = write!(
            s,
            "\n  # Group {i}: a prompt, three tools and a rule.\n  prompt hint_{i} \"\"\"\n    Step {{{{step}}}} of {{{{max_steps}}}} for {{{{task.goal}}}}.\n    Remember what tool_{i} is for.\n  \"\"\"\n\n"
        );
        let _ = writeln!(
            s,
            "  tool tool_{i}(target: string, count: int?) \"Act on a target ({i})\" {{ timeout = 2s }}"
        );
        let _ = writeln!(
            s,
            "  tool list_{i}(items: [string], mode: enum(\"fast\", \"slow\")) \"List things\""
        );
        let _ = writeln!(
            s,
            "\n  tool check_{i}(target: string) \"Verify a target\" {{\n    verifies = true\n    retries = 1\n  }}\n"
        );
        let rule = HOOK_RULES[i % HOOK_RULES.len()].replace("{i}", &i.to_string());
        let _ = writeln!(s, "  {rule}");
        i += 1;
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_are_valid_and_sized() {
        for lines in [300, 3_000] {
            let src = generate(lines);
            let n = src.lines().count();
            assert!(n >= lines && n < lines + 30, "{n} lines for {lines}");
            let parsed = harnessx_syntax::parse(&src);
            assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
            let out = harnessx_compiler::check_source(&src);
            let text =
                harnessx_compiler::render::render_text("generated", &src, &out.diagnostics, false);
            assert!(out.diagnostics.is_empty(), "{text}");
            let formatted = harnessx_syntax::printer::format_source(&src).expect("parses");
            let first_difference = formatted.lines().zip(src.lines()).position(|(a, b)| a != b);
            assert!(
                formatted == src,
                "generated text is not canonical; first difference at line {first_difference:?}"
            );
        }
    }
}
