//! End to end in a real browser: the `chat` example serves its page to two headless
//! Chromium tabs, both join the chat over WebSocket, each says hello, both see both hellos
//! exactly once; SIGTERM then closes every client with 1001 and the server exits 0.
//!
//! Chromium is driven over the Chrome DevTools Protocol (JSON over a WebSocket), with this
//! crate's own tokio client. The `chat` example binary is the one `cargo test` builds next
//! to this test (`target/<profile>/examples/chat`).
//!
//! No Chromium (`chromium`, `chromium-browser` on PATH, or `$CHROMIUM`): the test is skipped
//! with a message, unless `CI` is set, where it fails (.ci/run installs Chromium).
#![cfg(all(feature = "tokio", unix))]

#[path = "common/example.rs"]
mod example;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::time::{sleep, timeout};
use wsproto::handshake::ClientOptions;
use wsproto::io::Message;
use wsproto::io::on_tokio::{ClientStream, WebSocket, connect};

/// Startup of either process (the LISTENING / DevTools line).
const STARTUP: Duration = Duration::from_secs(10);
/// Any single DevTools call.
const CALL: Duration = Duration::from_secs(5);
/// Pages joining, messages arriving, the close arriving: each bounded by this.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(25);

const HELLO_A: &str = "hello from A";
const HELLO_B: &str = "hello from B";

// ----------------------------------------------------------------------------------------
// Processes: output drained into a log, killed (and the profile removed) on drop.

/// The lines a child printed, kept for the failure message.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() >= 400 {
            lines.remove(0);
        }
        lines.push(line);
    }
    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }
}

/// Drains `from` into `log` on a thread (a child blocked on a full pipe would hang the test);
/// the first line containing `marker` is also sent on the returned channel.
fn drain(
    from: impl Read + Send + 'static,
    log: Log,
    marker: Option<&'static str>,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if marker.is_some_and(|m| line.contains(m)) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(line.clone());
                }
            }
            log.push(line);
        }
    });
    rx
}

/// A child process killed (SIGKILL) and reaped on drop, then `dir` removed.
///
/// Chromium's zygote and renderers exit by themselves once the browser process is gone
/// (they watch its IPC channels). They stay in the test's process group on purpose: a
/// Ctrl-C of `cargo test` reaches them too, though it skips this `Drop`.
struct Guard {
    name: &'static str,
    child: Child,
    log: Log,
    dir: Option<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.dir.take() {
            // Chromium's helpers may still be exiting: retry briefly.
            for _ in 0..20 {
                if std::fs::remove_dir_all(&dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "---- {} output ----\n{}\n---- end of {} output ----",
                self.name,
                self.log.text(),
                self.name
            );
        }
    }
}

fn wait_line(rx: &mpsc::Receiver<String>, guard: &mut Guard, what: &str) -> String {
    match rx.recv_timeout(STARTUP) {
        Ok(line) => line,
        Err(e) => {
            let status = guard.child.try_wait().ok().flatten();
            panic!(
                "{}: no {what} line ({e:?}; exit status {status:?})",
                guard.name
            );
        }
    }
}

fn start_chat() -> (Guard, String) {
    let mut child = Command::new(example::binary("chat"))
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the chat example");
    let log = Log::default();
    let listening = drain(
        child.stdout.take().unwrap(),
        log.clone(),
        Some("LISTENING "),
    );
    drain(child.stderr.take().unwrap(), log.clone(), None);
    let mut guard = Guard {
        name: "chat server",
        child,
        log,
        dir: None,
    };
    let line = wait_line(&listening, &mut guard, "LISTENING");
    let addr = line
        .trim()
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (guard, addr)
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// `$CHROMIUM`, else `chromium` / `chromium-browser` on PATH, else `/usr/bin/chromium`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let fallback = PathBuf::from("/usr/bin/chromium");
    fallback.is_file().then_some(fallback)
}

/// Headless Chromium with a fresh profile; returns it and its DevTools browser URL.
fn start_chromium(bin: &Path) -> (Guard, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "wsproto-browser-chat-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir(&dir).expect("create Chromium's profile directory");
    let spawned = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-proxy-server",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", dir.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            panic!("cannot start {}: {e}", bin.display());
        }
    };
    let log = Log::default();
    drain(child.stdout.take().unwrap(), log.clone(), None);
    let devtools = drain(
        child.stderr.take().unwrap(),
        log.clone(),
        Some("DevTools listening on "),
    );
    let mut guard = Guard {
        name: "chromium",
        child,
        log,
        dir: Some(dir),
    };
    let line = wait_line(&devtools, &mut guard, "`DevTools listening on`");
    let url = line
        .split_once("DevTools listening on ")
        .map(|(_, url)| url.trim().to_string())
        .unwrap();
    (guard, url)
}

// ----------------------------------------------------------------------------------------
// Chrome DevTools Protocol over wsproto.

struct Cdp {
    ws: WebSocket<ClientStream>,
    next_id: u64,
}

impl Cdp {
    async fn connect(url: &str) -> Cdp {
        let (ws, _) = timeout(CALL, connect(url, ClientOptions::default()))
            .await
            .unwrap_or_else(|_| panic!("DevTools handshake with {url} timed out"))
            .unwrap_or_else(|e| panic!("DevTools handshake with {url}: {e}"));
        Cdp { ws, next_id: 1 }
    }

    /// One command (on `session`, a page, or the browser); its `result` or its `error`.
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            request["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(request.to_string()))
            .await
            .unwrap_or_else(|e| panic!("send {method}: {e}"));
        let reply = timeout(CALL, async {
            loop {
                let message = match self.ws.recv().await {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => panic!("DevTools connection failed awaiting {method}: {e}"),
                    None => panic!("DevTools connection closed awaiting {method}"),
                };
                let Some(text) = message.as_text() else {
                    continue;
                };
                let value: Value = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("DevTools sent invalid JSON ({e}): {text}"));
                // Events have no id; replies to other ids cannot happen (one call at a time).
                if value.get("id").and_then(Value::as_u64) == Some(id) {
                    break value;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no reply to {method} within {CALL:?}"));
        match reply.get("error") {
            Some(error) => Err(error.clone()),
            None => Ok(reply.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Opens `url` in a new tab, attached (flattened): the tab's session id.
    async fn open_page(&mut self, url: &str) -> String {
        let target = self
            .call(None, "Target.createTarget", json!({ "url": url }))
            .await
            .expect("Target.createTarget");
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await
            .expect("Target.attachToTarget");
        attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string()
    }

    /// `expression`'s value in the page (by value), or why not (exception, CDP error).
    async fn eval(&mut self, session: &str, expression: &str) -> Result<Value, String> {
        let result = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await
            .map_err(|e| format!("CDP error {e}"))?;
        if let Some(exception) = result.get("exceptionDetails") {
            return Err(format!("exception {exception}"));
        }
        Ok(result["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Evaluates `expression` in each page until `done` holds for all of them (within WAIT):
    /// the last values, one per page.
    async fn wait_all(
        &mut self,
        pages: &[(&str, &str)],
        expression: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut values = Vec::new();
            for (_, session) in pages {
                values.push(match self.eval(session, expression).await {
                    Ok(value) => value,
                    // e.g. evaluated while the page is still navigating
                    Err(e) => json!({ "error": e }),
                });
            }
            if values.iter().all(&done) {
                return values;
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = pages
                    .iter()
                    .zip(&values)
                    .map(|((name, _), value)| format!("page {name}: {value}"))
                    .collect();
                panic!(
                    "{what}: not within {WAIT:?}; last seen:\n{}",
                    seen.join("\n")
                );
            }
            sleep(POLL).await;
        }
    }
}

fn count(received: &Value, text: &str) -> usize {
    received.as_array().map_or(0, |all| {
        all.iter().filter(|m| m.as_str() == Some(text)).count()
    })
}

async fn wait_exit(guard: &mut Guard, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = guard.child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL).await;
    }
}

// ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_tabs_chat_and_see_the_shutdown() {
    let Some(chromium) = find_chromium() else {
        if is_ci() {
            panic!(
                "no Chromium found (chromium / chromium-browser on PATH, or $CHROMIUM) and CI is \
                 set: install the Debian packages chromium and chromium-driver; .ci/run does"
            );
        }
        // Straight to the process's stderr: libtest captures `eprintln!` of a passing test.
        let bar = "!".repeat(88);
        let _ = writeln!(
            std::io::stderr(),
            "\n{bar}\n!! SKIPPED tests/browser_chat.rs: no Chromium found (chromium or chromium-browser \
             on PATH,\n!! or $CHROMIUM). Install the Debian packages chromium and chromium-driver \
             to run it.\n{bar}"
        );
        return;
    };
    let started = Instant::now();

    // Dropped in reverse order: Chromium first (its pages would otherwise see the server
    // die), then the server.
    let (mut server, addr) = start_chat();
    let (_browser, devtools) = start_chromium(&chromium);
    let mut cdp = Cdp::connect(&devtools).await;

    let page_url = format!("http://{addr}/");
    let a = cdp.open_page(&page_url).await;
    let b = cdp.open_page(&page_url).await;
    let pages = [("A", a.as_str()), ("B", b.as_str())];

    cdp.wait_all(
        &pages,
        "document.body ? (document.body.dataset.state || null) : null",
        "both pages connected (document.body.dataset.state === 'open')",
        |v| v == "open",
    )
    .await;

    for ((_, session), hello) in pages.iter().zip([HELLO_A, HELLO_B]) {
        let send = format!("window.chat.socket.send({})", json!(hello));
        cdp.eval(session, &send)
            .await
            .unwrap_or_else(|e| panic!("sending {hello:?}: {e}"));
    }

    cdp.wait_all(
        &pages,
        "window.chat.received",
        "both pages received both messages",
        |v| count(v, HELLO_A) >= 1 && count(v, HELLO_B) >= 1,
    )
    .await;
    // A late duplicate would show up here.
    sleep(Duration::from_millis(200)).await;
    for (name, session) in pages {
        let received = cdp.eval(session, "window.chat.received").await.unwrap();
        assert!(
            count(&received, HELLO_A) == 1 && count(&received, HELLO_B) == 1,
            "page {name} must have received each hello exactly once: {received}"
        );
        assert_eq!(
            received.as_array().map(Vec::len),
            Some(2),
            "page {name} received something else: {received}"
        );
    }

    // SIGTERM: Close 1001 to every client, exit 0 within 10 s.
    let term = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(term.success(), "kill -TERM failed: {term}");
    let status = wait_exit(&mut server, Duration::from_secs(10))
        .await
        .expect("the chat server did not exit within 10 s of SIGTERM");
    assert!(
        status.success(),
        "the chat server exited with {status} after SIGTERM"
    );

    let closed = cdp
        .wait_all(
            &pages,
            "({ state: document.body.dataset.state, status: document.getElementById('status').textContent })",
            "both pages saw the socket close",
            |v| v["state"] == "closed",
        )
        .await;
    for ((name, _), value) in pages.iter().zip(&closed) {
        assert_eq!(
            value["status"], "disconnected (1001)",
            "page {name} must see Close 1001 (going away): {value}"
        );
    }

    eprintln!("browser_chat: ok in {:?}", started.elapsed());
}
