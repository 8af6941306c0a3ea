//! `harnessx review` end to end: a run whose model is reached through the real `openai:`
//! backend with an API key in the environment gets a review site holding no secret, and
//! `--serve` serves it on loopback and nothing outside it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{harnessx, key_door_harness, scratch, text, FakeOpenAi};

const KEY: &str = "sk-review-0c7d1e9a55b24f60";

#[test]
fn a_review_site_holds_no_api_key_and_serves_only_itself() {
    let dir = scratch("review");
    let server = FakeOpenAi::start();
    let env = [("OPENAI_API_KEY", KEY)];
    let file = dir.join("quitter.harness");
    std::fs::write(&file, key_door_harness("QUITTER", "OPENAI_API_KEY")).unwrap();
    let run = dir.join("run");
    let o = harnessx(
        &[
            "evolve",
            file.to_str().unwrap(),
            "--env",
            "key_door",
            "--model",
            &server.spec("OPENAI_API_KEY"),
            "--rounds",
            "1",
            "--candidates",
            "2",
            "--train-tasks",
            "4",
            "--seeds-per-task",
            "1",
            "--held-out-tasks",
            "3",
            "--no-build",
            "--out",
            run.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let seen = server.requests();
    assert!(!seen.is_empty());
    assert!(seen
        .iter()
        .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {KEY}"))));

    let o = harnessx(&["review", run.to_str().unwrap()], &env);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("index.html"),
        "{}",
        text(&o.stdout)
    );
    let mut pages = 0;
    let mut stack = vec![run.join("review")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let body = std::fs::read_to_string(&p).unwrap();
            assert!(!body.contains(KEY), "{}", p.display());
            pages += 1;
        }
    }
    assert!(pages > 1, "the index and episode pages");
    let index = std::fs::read_to_string(run.join("review/index.html")).unwrap();
    assert!(
        !index.contains("Simulated model."),
        "an openai: run is not simulated"
    );

    // --serve on any free port: the site, and 404 for anything outside it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_harnessx"))
        .args(["review", run.to_str().unwrap(), "--serve", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("a line").expect("readable");
        if let Some(rest) = line.strip_prefix("serving ") {
            break rest
                .split(" at ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_string();
        }
    };
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let get = |path: &str| {
        let mut s = TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut r = String::new();
        let _ = s.read_to_string(&mut r);
        r
    };
    let index_reply = get("/");
    let outside = get("/../checkpoint.json");
    let hidden = get("/%2e%2e/checkpoint.json");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        index_reply.starts_with("HTTP/1.1 200"),
        "{index_reply:.200}"
    );
    assert!(index_reply.contains("Evolution review"));
    assert!(outside.starts_with("HTTP/1.1 404"), "{outside:.200}");
    assert!(hidden.starts_with("HTTP/1.1 404"), "{hidden:.200}");
}
