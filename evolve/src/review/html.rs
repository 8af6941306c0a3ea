//! The page shell every review page shares: escaping, the stylesheet, the small keyboard
//! script, and a few formatting helpers.
//!
//! Every string that comes from a run (harness source, traces, reasons, file names) reaches
//! the page through [`esc`]; the only unescaped markup is this module's own and the SVG
//! plots, which `crate::svg` writes with their text escaped.

/// Text escaped for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `0.600`, or `–` for none.
pub fn rate(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |v| format!("{v:.3}"))
}

/// A p-value as the gate reports it: `p < 0.001` or `p = 0.0625`.
pub fn p_value(p: Option<f64>) -> String {
    match p {
        None => "–".into(),
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.4}"),
    }
}

const STYLE: &str = r#"
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg2: #f6f8fa;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --accent: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main, header.top { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header.top { padding-top: 16px; }
h1 { font-size: 24px; margin: 8px 0; }
h2 { font-size: 20px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 8px; }
a { color: var(--accent); }
a:focus-visible, [tabindex]:focus-visible, button:focus-visible, summary:focus-visible {
  outline: 3px solid #fb8500; outline-offset: 2px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.sim { background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 12px; border-radius: 6px; margin: 8px 0; }
.facts { color: var(--muted); margin: 4px 0; }
nav.skip { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 10px 0; padding: 8px 0;
  border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg2); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.badge.shipped, .badge.success { color: var(--ok); }
.badge.rejected, .badge.failure { color: var(--bad); }
.badge.passed, .badge.unevaluated { color: var(--warn); }
.badge.seed { color: var(--accent); }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 22px; }
ul.tree { padding-left: 0; }
ul.tree ul { border-left: 2px solid var(--line); margin-left: 10px; }
li.node { margin: 6px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; background: #fff; }
li.node.shipped > .card { border-color: var(--ok); border-width: 2px; }
li.node.seed > .card { border-color: var(--accent); border-width: 2px; }
.card .head { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: baseline; }
.card .id { font-weight: 700; font-family: ui-monospace, monospace; }
.card .reason { color: var(--muted); font-size: 13px; margin-top: 2px; overflow-wrap: anywhere; }
.diff { border: 1px solid var(--line); border-radius: 6px; background: var(--bg2); padding: 6px 0; overflow-x: auto; }
.diff div { padding: 0 10px; white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, monospace; font-size: 13px; }
.diff .add { background: #dafbe1; }
.diff .del { background: #ffebe9; }
.diff .hunk { color: var(--accent); }
.diff .file { color: var(--muted); }
.diff .prov { font-weight: 700; }
.excerpts { margin: 4px 0 12px; padding-left: 20px; }
.excerpts li { margin: 3px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plots figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px; }
.plots svg { display: block; max-width: 100%; height: auto; }
.muted { color: var(--muted); }
.steps-nav { position: sticky; top: 0; background: #fff; padding: 8px 0; border-bottom: 1px solid var(--line);
  display: flex; flex-wrap: wrap; gap: 6px; align-items: center; z-index: 1; }
.steps-nav a { padding: 0 6px; border: 1px solid var(--line); border-radius: 4px; text-decoration: none; }
.steps-nav a.evidence { border-color: var(--bad); color: var(--bad); font-weight: 700; }
button { font: inherit; padding: 2px 10px; }
section.step { border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; padding: 4px 12px 8px; scroll-margin-top: 56px; }
section.step:target, section.step.current { border-color: #fb8500; border-width: 2px; }
section.step.evidence h2 { color: var(--bad); }
section.step h2 { font-size: 16px; margin: 6px 0; border: 0; }
ol.events { list-style: none; padding: 0; margin: 0; }
ol.events li { display: grid; grid-template-columns: 150px 1fr; gap: 8px; padding: 3px 0; border-top: 1px dashed #e5e7eb; }
ol.events li:first-child { border-top: 0; }
.kind { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .02em; }
li.ev-reply .kind, li.ev-call .kind { color: var(--accent); }
li.ev-rule .kind { color: var(--warn); }
li.ev-result.failed .kind, li.ev-parse.failed .kind { color: var(--bad); }
.end { border: 2px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
.end.success { border-color: var(--ok); } .end.failure { border-color: var(--bad); }
"#;

/// Keyboard use of an episode page: `j`/`n` and `k`/`p` move between steps (the buttons do
/// the same), `b` goes back to the review. Without the script every step is visible.
const SCRIPT: &str = r#"
(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll('section.step'));
  if (!steps.length) return;
  var cur = -1;
  function show(i) {
    if (i < 0 || i >= steps.length) return;
    if (cur >= 0) steps[cur].classList.remove('current');
    cur = i;
    steps[i].classList.add('current');
    steps[i].focus({ preventScroll: true });
    steps[i].scrollIntoView({ block: 'start' });
    history.replaceState(null, '', '#' + steps[i].id);
    var pos = document.getElementById('step-pos');
    if (pos) pos.textContent = 'step ' + (i + 1) + ' of ' + steps.length;
  }
  var start = steps.findIndex(function (s) { return '#' + s.id === location.hash; });
  if (start >= 0) show(start);
  document.getElementById('prev-step').addEventListener('click', function () { show(Math.max(cur - 1, 0)); });
  document.getElementById('next-step').addEventListener('click', function () { show(Math.min(cur + 1, steps.length - 1)); });
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target && e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA') return;
    if (e.key === 'j' || e.key === 'n') { show(Math.min(cur + 1, steps.length - 1)); e.preventDefault(); }
    else if (e.key === 'k' || e.key === 'p') { show(Math.max(cur - 1, 0)); e.preventDefault(); }
    else if (e.key === 'b') { var back = document.getElementById('back'); if (back) back.click(); }
  });
})();
"#;

/// A whole page: `title` (plain text), `body` (markup built with [`esc`]), and the
/// keyboard script when `script`.
pub fn page(title: &str, body: &str, script: bool) -> String {
    let script = if script {
        format!("<script>{SCRIPT}</script>\n")
    } else {
        String::new()
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n{script}</body>\n</html>\n",
        esc(title)
    )
}

/// The banner every page of a simulated run carries.
pub fn simulated_banner(model: &str) -> String {
    format!(
        "<p class=\"sim\" role=\"note\"><strong>Simulated model.</strong> Every episode and \
         number here comes from the simulated model <code>{}</code>, not a real one.</p>",
        esc(model)
    )
}

/// A unified diff as lines coloured by kind; provenance comments (`# evolved r…`) stand
/// out.
pub fn diff(text: &str) -> String {
    let mut s = String::from("<div class=\"diff\" role=\"region\" aria-label=\"diff\">");
    for line in text.lines() {
        let class = if line.starts_with("+++") || line.starts_with("---") {
            "file"
        } else if line.starts_with("@@") {
            "hunk"
        } else if line.starts_with('+') {
            "add"
        } else if line.starts_with('-') {
            "del"
        } else {
            "ctx"
        };
        let prov = if line
            .trim_start_matches(['+', '-', ' '])
            .trim_start()
            .starts_with("# evolved r")
            || line
                .trim_start_matches(['+', '-', ' '])
                .trim_start()
                .starts_with("# proposer:")
        {
            " prov"
        } else {
            ""
        };
        s.push_str(&format!("<div class=\"{class}{prov}\">{}</div>", esc(line)));
    }
    s.push_str("</div>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        let hostile = r#"</script><img src=x onerror="alert('x')">&amp;"#;
        let e = esc(hostile);
        assert!(!e.contains('<') && !e.contains('>') && !e.contains('"') && !e.contains('\''));
        assert_eq!(
            e,
            "&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;amp;"
        );
        let d = diff("+  # evolved r1: x <b>\n-old\n@@ -1 +1 @@");
        assert!(
            d.contains("<div class=\"add prov\">+  # evolved r1: x &lt;b&gt;</div>"),
            "{d}"
        );
        assert!(d.contains("<div class=\"del\">-old</div>"));
    }
}
