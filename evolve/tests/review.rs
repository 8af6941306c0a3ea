//! `harnessx review` without a browser: the pages of a real (small) run hold every lineage
//! node, each shipped change as a diff with its provenance, excerpts that open existing
//! episode pages at existing steps, and no unescaped string from the harness or the traces.
//! The browser test (scripts/review-browser-test.sh, run by .ci/run) checks the same pages
//! in Chromium.

use std::path::PathBuf;

use harnessx_evolve::checkpoint::{Checkpoint, Config};
use harnessx_evolve::emit::lineage;
use harnessx_evolve::gate::GateConfig;
use harnessx_evolve::ledger::Cost;
use harnessx_evolve::review::{episode_page_name, write_review};
use harnessx_evolve::round::Quiet;
use harnessx_evolve::run::{self, Options};

/// Markup that would run if it reached a page unescaped.
const HOSTILE: &str = r#"</pre><script>alert(1)</script><img src=x onerror="alert('x')">"#;

/// A household seed without guard rules (it ships a change on the noisy model), with the
/// hostile string in a comment and in the system prompt, so it reaches the diffs and every
/// episode's first message.
fn seed() -> String {
    format!(
        r#"# A harness for household tasks. {HOSTILE}
harness household "Household planner" {{
  model {{
    backend = "sim:small"
    temperature = 0.2 @evolve(range = 0.0..1.0)
  }}

  prompt system """
    You are a household agent. Your goal: {{{{task.goal}}}}
    Never print {}
    Answer with exactly one action per turn, e.g. go("countertop 1").
  """

  tool go(target: string) "Walk to a receptacle"
  tool take(object: string, source: string) "Pick up an object"
  tool put(object: string, target: string) "Place the held object"
  tool open(target: string) "Open a receptacle"
  tool close(target: string) "Close a receptacle"
  tool examine(target: string) "Look closely" {{ verifies = true }}
  tool clean(object: string, appliance: string) "Clean at a sinkbasin"
  tool heat(object: string, appliance: string) "Heat at a microwave"
  tool cool(object: string, appliance: string) "Cool at a fridge"
  tool use(target: string) "Switch a lamp"
  tool look() "Describe where you are" {{ verifies = true }}
  tool inventory() "Say what you are holding" {{ verifies = true }}
  tool finish(answer: string?) "Give up" {{ retries = 0 }}

  loop {{
    max_steps = 14 @evolve(range = 10..60)
  }}
}}
"#,
        HOSTILE.replace('"', "'")
    )
}

fn run_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hx-review-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn the_review_site_shows_the_whole_run_escaped() {
    let out = run_dir();
    let cfg = Config {
        file: format!("evil{HOSTILE}.harness"),
        seed_source: seed(),
        env: "household".into(),
        model: "noisy:0.3".into(),
        rounds: 2,
        k: 3,
        seed: 0,
        train_tasks: 10,
        seeds_per_task: 2,
        held_out_tasks: 10,
        held_out_env: None,
        budget: Cost::new(1000, u64::MAX, f64::MAX),
        gate: GateConfig {
            build: false,
            ..GateConfig::default()
        },
        min_class_episodes: 2,
        epsilon: 0.1,
        proposer: None,
        phrasing: Default::default(),
    };
    let opts = Options {
        out: out.clone(),
        workers: 2,
        abort: None,
        traces: true,
    };
    let cp = run::start(cfg, &opts, &mut Quiet).unwrap();
    assert!(
        cp.parent_id != "seed",
        "the run must ship a change to show one"
    );
    let written = write_review(&out).unwrap();
    let index = std::fs::read_to_string(&written.index).unwrap();

    // Every lineage node, once.
    let lin = lineage(&cp, false);
    assert_eq!(index.matches("<li class=\"node ").count(), lin.nodes.len());
    for n in &lin.nodes {
        assert_eq!(
            index.matches(&format!("id=\"node-{}\"", n.id)).count(),
            1,
            "{}",
            n.id
        );
    }
    // Each shipped change as a diff with its provenance comment.
    for r in cp.rounds.iter().filter(|r| r.shipped.is_some()) {
        let id = r.shipped.as_deref().unwrap();
        let at = index
            .find(&format!("id=\"ship-{id}\""))
            .expect("a section per ship");
        let section = &index[at..];
        assert!(section.contains("<div class=\"diff\""));
        assert!(
            section.contains(&format!(
                "<div class=\"add prov\">+  # evolved r{}:",
                r.round
            )),
            "provenance of round {}",
            r.round
        );
    }
    // The noisy model is not simulated: no banner.
    assert!(!index.contains("class=\"sim\""));

    // Every excerpt link opens an episode page that exists, at a step it has.
    let mut links = 0;
    for part in index.split("class=\"episode-link\" href=\"").skip(1) {
        let href = &part[..part.find('"').unwrap()];
        let (page, anchor) = href.split_once('#').unwrap_or((href, ""));
        let html = std::fs::read_to_string(out.join("review").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        if !anchor.is_empty() {
            assert!(html.contains(&format!("id=\"{anchor}\"")), "{href}");
        }
        assert!(html.contains("id=\"outcome\""));
        links += 1;
    }
    assert!(links > 0, "the catalog links to episodes");
    assert!(written.episodes > 0);

    // Nothing from the harness or the traces reaches a page unescaped.
    let mut pages = vec![index.clone()];
    for e in std::fs::read_dir(out.join("review/episodes")).unwrap() {
        pages.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    let escaped = "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;";
    for p in &pages {
        assert!(!p.contains("<script>alert"), "unescaped hostile string");
        assert!(!p.contains("<img src=x"), "unescaped hostile string");
        assert_eq!(
            p.matches("<script>").count(),
            p.matches("</script>").count()
        );
    }
    assert!(index.contains(escaped), "the file name, escaped");
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.contains("Never print &lt;/pre&gt;")),
        "the prompt, escaped"
    );

    // A run of a `sim:` model says so on every page.
    let mut sim = Checkpoint::load(&out).unwrap();
    sim.config.model = "sim:small".into();
    sim.save(&out).unwrap();
    write_review(&out).unwrap();
    let index = std::fs::read_to_string(out.join("review/index.html")).unwrap();
    assert!(index.contains("<strong>Simulated model.</strong>"));
    let any_episode = std::fs::read_dir(out.join("review/episodes"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert!(std::fs::read_to_string(any_episode.path())
        .unwrap()
        .contains("Simulated model."));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn episode_page_names_come_only_from_kept_trace_paths() {
    assert_eq!(
        episode_page_name("traces/r1c0/train/episode-0005-s9.jsonl").as_deref(),
        Some("episodes/r1c0-train-episode-0005-s9.html")
    );
    for bad in [
        "traces/../x.jsonl",
        "/etc/passwd",
        "traces/a/b/c/d.jsonl",
        "x.jsonl",
    ] {
        assert_eq!(episode_page_name(bad), None, "{bad}");
    }
}
