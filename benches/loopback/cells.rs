//! Orchestration: child processes driven by lines. One cell = one server process and its
//! client(s): an echo cell (`echo_cell`), an idle-memory cell (`idle_cell`), or a server under
//! callgrind (`callgrind_run`, with `self_ir` reading its output).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::servers::Lib;

struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Proc {
    fn spawn(name: String, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take();
        Proc {
            name,
            child,
            stdin,
            out,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}")
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    /// The next line that starts with `word`.
    fn expect(&mut self, word: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            if self.out.read_line(&mut line).expect("read child") == 0 {
                let status = self.child.wait();
                panic!("{} ended ({status:?}) before {word}", self.name);
            }
            if line.starts_with(word) {
                return line.trim_end().to_string();
            }
            eprint!("{}: {line}", self.name);
        }
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{} failed: {status}", self.name);
    }
}

/// `key=value` in a line, as a number.
fn kv(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

fn exe() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}

fn server(lib: Lib) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(exe());
    cmd.args(["serve", lib.name()]).stdin(Stdio::piped());
    let mut p = Proc::spawn(format!("server {}", lib.name()), cmd);
    let addr = p.expect("LISTENING")[10..].parse().expect("address");
    (p, addr)
}

pub struct Echo {
    pub msgs_per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_echo: f64,
    /// Of that, in the kernel.
    pub sys_us_per_echo: f64,
    pub allocs_per_echo: f64,
}

/// One driven client against an already started server; `stats`: the server takes
/// `STATS` lines (not under valgrind).
fn drive_client(
    addr: SocketAddr,
    conns: usize,
    msgs: usize,
    size: usize,
    threads: usize,
    server: Option<&mut Proc>,
) -> (String, Option<(String, String)>) {
    let mut cmd = Command::new(exe());
    cmd.arg("client")
        .arg(addr.to_string())
        .args([conns, msgs, size, threads].map(|n| n.to_string()))
        .stdin(Stdio::piped());
    let mut client = Proc::spawn("client".into(), cmd);
    client.expect("WARM");
    let mut server = server;
    let s0 = server.as_mut().map(|s| {
        s.send("STATS");
        s.expect("STATS")
    });
    client.send("GO");
    client.expect("DONE");
    let s1 = server.as_mut().map(|s| {
        s.send("STATS");
        s.expect("STATS")
    });
    client.send("CLOSE");
    let result = client.expect("RESULT");
    client.finish();
    (result, s0.zip(s1))
}

pub fn echo_cell(lib: Lib, size: usize, conns: usize, msgs: usize, threads: usize) -> Echo {
    let (mut server, addr) = server(lib);
    let (result, stats) = drive_client(addr, conns, msgs, size, threads, Some(&mut server));
    server.finish();
    let (s0, s1) = stats.expect("stats");
    let echoes = (conns * msgs).max(1) as f64;
    Echo {
        msgs_per_s: kv(&result, "msgs_per_s"),
        p50_us: kv(&result, "p50_us"),
        p99_us: kv(&result, "p99_us"),
        cpu_us_per_echo: (kv(&s1, "cpu_ns") - kv(&s0, "cpu_ns")) / echoes / 1e3,
        sys_us_per_echo: (kv(&s1, "sys_ns") - kv(&s0, "sys_ns")) / echoes / 1e3,
        allocs_per_echo: (kv(&s1, "allocs") - kv(&s0, "allocs")) / echoes,
    }
}

pub struct Idle {
    pub total: usize,
    pub heap: f64,
    pub blocks: f64,
    pub rss: f64,
}

pub fn idle_cell(lib: Lib, totals: &[usize]) -> Vec<Idle> {
    let (mut server, addr) = server(lib);
    server.send("WAIT 0");
    let base = server.expect("STATS");
    let mut cmd = Command::new(exe());
    cmd.args(["idle-client", &addr.to_string()])
        .stdin(Stdio::piped());
    let mut client = Proc::spawn("idle client".into(), cmd);
    let mut out = Vec::new();
    for &total in totals {
        client.send(&format!("OPEN {total}"));
        client.expect("OPENED");
        server.send(&format!("WAIT {total}"));
        let s = server.expect("STATS");
        let per = |k: &str| (kv(&s, k) - kv(&base, k)) / total as f64;
        out.push(Idle {
            total,
            heap: per("live_bytes"),
            blocks: per("live_blocks"),
            rss: per("rss_kib") * 1024.0,
        });
    }
    client.send("EXIT");
    client.finish();
    server.finish();
    out
}

/// Self instructions of the functions whose names contain each of `names`, from a callgrind
/// output file (cost lines after a `calls=` line are a call's inclusive cost: skipped).
fn self_ir(text: &str, names: &[&str]) -> Vec<f64> {
    let mut ids = std::collections::HashMap::new();
    let mut sums = vec![0.0; names.len()];
    let mut current: Option<usize> = None;
    let mut skip_next = false;
    for line in text.lines() {
        // `fn=(id) name` or `cfn=(id) name` the first time a function is named, `(id)` after.
        let (called, f) = match (line.strip_prefix("fn="), line.strip_prefix("cfn=")) {
            (Some(f), _) => (false, f),
            (_, Some(f)) => (true, f),
            _ => (false, ""),
        };
        if !f.is_empty() {
            let (id, name) = f.split_once(' ').unwrap_or((f, ""));
            if !name.is_empty() {
                ids.insert(id.to_string(), names.iter().position(|n| name.contains(n)));
            }
            if !called {
                current = ids.get(id).copied().flatten();
            }
        } else if line.starts_with("calls=") {
            skip_next = true;
        } else if line.starts_with(|c: char| c.is_ascii_digit() || "+-*".contains(c)) {
            if std::mem::take(&mut skip_next) {
                continue;
            }
            if let (Some(i), Some(Ok(ir))) = (
                current,
                line.split_whitespace().nth(1).map(str::parse::<f64>),
            ) {
                sums[i] += ir;
            }
        }
    }
    sums
}

/// Total user-space instructions of one server process under callgrind, and those in libc's
/// memset and memcpy/memmove.
pub fn callgrind_run(lib: Lib, size: usize, conns: usize, msgs: usize, dir: &Path) -> [f64; 3] {
    let file = dir.join(format!("cg.{}.{size}.{conns}x{msgs}.out", lib.name()));
    let log = std::fs::File::create(file.with_extension("log")).expect("log file");
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", file.display()))
        .arg(exe())
        .args(["serve", lib.name(), "--exit-after", &conns.to_string()])
        .stdin(Stdio::null())
        .stderr(log);
    let mut server = Proc::spawn(format!("valgrind server {}", lib.name()), cmd);
    let addr = server.expect("LISTENING")[10..].parse().expect("address");
    drive_client(addr, conns, msgs, size, 2, None);
    server.finish();
    let text = std::fs::read_to_string(&file).expect("callgrind file");
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("summary:").or(l.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("callgrind summary line");
    let libc = self_ir(&text, &["memset", "memcpy", "memmove"]);
    [total, libc[0], libc[1] + libc[2]]
}
