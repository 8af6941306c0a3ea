//! The README's figures agree with the generated reports they come from.
//!
//! - The README's evolution section is written by `harnessx bench evolution --readme
//!   README.md` (run by scripts/benchmarks.sh) as the household rows of docs/BENCHMARKS.md's
//!   headline table: every row of it must be a line of that report.
//! - The real-model table in README.md ("On a real model first") repeats, in a shorter form,
//!   figures of docs/BENCHMARKS_REAL.md (`harnessx bench real`): each arm's held-out
//!   successes and its paired sign test against AEGIS's harness.
//!
//! A regenerated report with a stale README fails here, naming the row.

use harnessx_runtime::doc_sections::sections;

fn read(rel: &str) -> String {
    let path = format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The cells of a Markdown table row, trimmed; `None` for a line that is not a row.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(|c| c.trim().to_string()).collect())
}

/// An arm's label without emphasis and without its parenthesised note:
/// `**AEGIS** (shipped …)` and `AEGIS (seed 1)` are both `AEGIS`.
fn arm(label: &str) -> String {
    let plain = label.replace("**", "");
    plain.split(" (").next().unwrap_or("").trim().to_string()
}

/// `6/40` from `6/40` or `6/40 (0.150)` or `**22/40**`.
fn successes(cell: &str) -> String {
    cell.replace("**", "")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_readme_real_model_table_is_the_reports() {
    let readme = read("README.md");
    let report = read("docs/BENCHMARKS_REAL.md");
    let start = readme
        .find("**On a real model first**")
        .expect("README.md has the real-model paragraph");
    let rows: Vec<Vec<String>> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| arm |"))
        .skip(2) // header and rule
        .map_while(cells)
        .collect();
    assert!(rows.len() >= 4, "the README's real-model table: {rows:?}");

    // The report's summary table (arm, held-out success, …) and paired table (arm,
    // against, better, worse, p): told apart by their width.
    let table: Vec<Vec<String>> = report.lines().filter_map(cells).collect();
    let summary = |name: &str| {
        table
            .iter()
            .find(|c| c.len() == 8 && arm(&c[0]) == name)
            .unwrap_or_else(|| panic!("no arm `{name}` in docs/BENCHMARKS_REAL.md"))
    };
    let paired = |a: &str, b: &str| {
        table
            .iter()
            .find(|c| c.len() == 5 && arm(&c[0]) == a && arm(&c[1]) == b)
            .unwrap_or_else(|| panic!("no pair `{a}` vs `{b}` in docs/BENCHMARKS_REAL.md"))
    };

    for row in &rows {
        let name = arm(&row[0]);
        assert_eq!(
            successes(&row[1]),
            successes(&summary(&name)[1]),
            "README: held-out success of `{name}`"
        );
        // `17 / 1, p = 0.0001` or `16 / 0, p < 0.0001`; empty for AEGIS and the expert.
        let against = row[2].trim();
        if against.is_empty() {
            continue;
        }
        let (counts, p) = against
            .split_once(", p ")
            .unwrap_or_else(|| panic!("README row `{}`: no p-value", row[0]));
        let (better, worse) = counts.split_once(" / ").expect("`better / worse`");
        let pair = paired("AEGIS", &name);
        assert_eq!(better.trim(), pair[2], "README: AEGIS better than `{name}`");
        assert_eq!(worse.trim(), pair[3], "README: AEGIS worse than `{name}`");
        let reported: f64 = pair[4].parse().expect("a p-value in the report");
        let (op, value) = p.split_once(' ').expect("`= X` or `< X`");
        let value: f64 = value.parse().expect("a p-value in the README");
        match op {
            // Rounded to fewer digits in the README.
            "=" => assert!(
                (reported - value).abs() <= 0.0005,
                "README p = {value} for AEGIS vs `{name}`, the report {reported}"
            ),
            "<" => assert!(
                reported < value,
                "README p < {value} for AEGIS vs `{name}`, the report {reported}"
            ),
            other => panic!("README p-value relation `{other}`"),
        }
    }
}

#[test]
fn the_readme_evolution_rows_are_rows_of_the_benchmark_report() {
    let readme = read("README.md");
    let bench = read("docs/BENCHMARKS.md");
    let (_, body) = sections(&readme)
        .into_iter()
        .find(|(name, _)| name == "evolution")
        .expect("README.md has a generated section `evolution`");
    assert!(
        body.contains("harnessx bench evolution") && body.contains("SIMULATED"),
        "the section names its command and says it is simulated:\n{body}"
    );
    let rows: Vec<&str> = body.lines().filter(|l| l.starts_with('|')).collect();
    assert!(
        rows.len() >= 3,
        "a header, a rule and a row at least:\n{body}"
    );
    for row in rows {
        assert!(
            bench.lines().any(|l| l == row),
            "README row not in docs/BENCHMARKS.md (rerun scripts/benchmarks.sh):\n{row}"
        );
    }
}
