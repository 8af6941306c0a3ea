//! `harnessx review DIR`: writes the review site (`harnessx_evolve::review`) and, with
//! `--serve`, serves it on loopback until stopped.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::exit;
use crate::output;

/// Write a static review site of an `evolve` run into DIR/review/, or serve it.
///
/// The site is HTML, CSS and inline SVG: no network, no build step, readable in any
/// browser from the file system. `index.html` shows the lineage tree (every candidate with
/// its operator, failure class, train before → after, p-value and the gate's reason), each
/// shipped change as a DSL diff with its provenance comment, the failure catalog of each
/// round with the digester's excerpts, seed vs best on held-out and the report's plots;
/// the excerpts open episode pages that step through the trace (keys j/k). See
/// docs/REVIEW.md.
#[derive(Debug, clap::Args)]
#[command(after_help = crate::EXIT_STATUS)]
pub struct ReviewArgs {
    /// The output directory of an `evolve` run.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// After writing, serve DIR/review/ on http://127.0.0.1:PORT/ until interrupted.
    #[arg(long)]
    serve: bool,
    /// The port for --serve (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8765, requires = "serve")]
    port: u16,
}

pub fn run(a: &ReviewArgs, color: bool) -> u8 {
    let written = match harnessx_evolve::review::write_review(&a.dir) {
        Ok(w) => w,
        Err(e) => {
            output::error(e, color);
            return exit::FAILED;
        }
    };
    let mut text = format!(
        "{} ({} episode page(s))\n",
        written.index.display(),
        written.episodes
    );
    if !written.redacted.is_empty() {
        text.push_str(&format!(
            "note: the values of {} appeared in the run and were redacted\n",
            written.redacted.join(", ")
        ));
    }
    output::stdout(&text);
    if !a.serve {
        return exit::OK;
    }
    let root = a.dir.join(harnessx_evolve::review::DIR);
    match serve(&root, a.port) {
        Ok(()) => exit::OK,
        Err(e) => {
            output::error(e, color);
            exit::USAGE_OR_IO
        }
    }
}

/// The file under `root` a request path names, if it names one: no `..`, no hidden
/// component, nothing outside `root`.
fn resolve(root: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let mut out = root.to_path_buf();
    let mut parts = 0;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part.starts_with('.')
            || !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return None;
        }
        out.push(part);
        parts += 1;
    }
    if parts == 0 {
        out.push("index.html");
    }
    out.is_file().then_some(out)
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// Serves `root` on 127.0.0.1 only, GET and HEAD, until the process is stopped.
fn serve(root: &Path, port: u16) -> Result<(), String> {
    let server = tiny_http::Server::http(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the server has no IP address")?;
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "serving {} at http://{addr}/ (Ctrl-C stops)",
        root.display()
    );
    let _ = stdout.flush();
    for req in server.incoming_requests() {
        let method = req.method().clone();
        let response = if !matches!(method, tiny_http::Method::Get | tiny_http::Method::Head) {
            tiny_http::Response::from_string("method not allowed").with_status_code(405)
        } else {
            match resolve(root, req.url()).and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
                Some((p, bytes)) => {
                    let mut r = tiny_http::Response::from_data(bytes);
                    for (k, v) in [
                        ("Content-Type", content_type(&p)),
                        ("Cache-Control", "no-store"),
                        ("X-Content-Type-Options", "nosniff"),
                    ] {
                        if let Ok(h) = tiny_http::Header::from_bytes(k, v) {
                            r.add_header(h);
                        }
                    }
                    r
                }
                None => tiny_http::Response::from_string("not found").with_status_code(404),
            }
        };
        // A client that went away is no reason to stop serving the others.
        let _ = req.respond(response);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_stay_inside_the_site() {
        let root = std::env::temp_dir().join(format!("hx-review-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("episodes")).unwrap();
        std::fs::write(root.join("index.html"), "i").unwrap();
        std::fs::write(root.join("episodes/a-train-episode-0001-s2.html"), "e").unwrap();
        std::fs::write(root.parent().unwrap().join("outside.txt"), "x").unwrap();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/index.html?x=1#step-2"),
            Some(root.join("index.html"))
        );
        assert!(resolve(&root, "/episodes/a-train-episode-0001-s2.html").is_some());
        for bad in [
            "/../outside.txt",
            "/episodes/../../outside.txt",
            "/%2e%2e/outside.txt",
            "/.hidden",
            "/missing.html",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
