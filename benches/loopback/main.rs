//! Loopback echo, side by side: wsproto's tokio adapter against tokio-tungstenite and
//! fastwebsockets, each as an echo server in its own process, one at a time, driven by the
//! same hand-written load generator (identical bytes for every server).
//!
//! ```text
//! cargo bench --features tokio --bench loopback                  # echo matrix + idle memory
//! cargo bench --features tokio --bench loopback -- all           # ... + instructions (valgrind)
//! cargo bench --features tokio --bench loopback -- echo --sizes 16 --conns 100 --echoes 20000
//! cargo bench --features tokio --bench loopback -- idle --idle 1000,2000
//! cargo bench --features tokio --bench loopback -- instructions --cg-check
//! ```
//!
//! Subcommands: `echo`, `idle`, `instructions`, `all` (the three), none (`echo` and `idle`).
//! Options (comma-separated lists): `--libs` (default `wsproto,fastwebsockets,tungstenite`),
//! `--sizes` (16,1024,65536), `--conns` (100,1000), `--echoes E` (echoes per cell, 200 000;
//! a tenth of that from 64 KiB up), `--msgs M` (messages per connection, instead of
//! `--echoes`), `--client-threads T` (2), `--reps R` (3: each echo cell R times, interleaved
//! across the libraries, each library's median-msgs/s run reported), `--idle` (1000),
//! `--cg-sizes` (16,1024), `--cg-conns` (100), `--cg-msgs` (100), `--cg-check` (a third
//! callgrind run at M/3: the slope check), `--out DIR` (callgrind files; default
//! `$TMPDIR/wsproto-loopback`).
//!
//! Method.
//! * **Servers.** `serve LIB` (this binary run again) binds 127.0.0.1:0, prints
//!   `LISTENING addr` and serves every connection in its own task on a tokio
//!   **`current_thread`** runtime (the same one thread for every library): wsproto
//!   (`on_tokio::accept`, default options, then `StreamExt::next` / `SinkExt::send` of whole
//!   messages, as `examples/echo_server.rs` without deflate), tokio-tungstenite (`accept_async`,
//!   default config, same loop) and fastwebsockets (the HTTP upgrade answered by hand, then
//!   `WebSocket::after_handshake` in a `FragmentCollector`, default settings). `plain` (idle
//!   only) is the hand-written upgrade and then a bare `TcpStream` parked in a read: the floor
//!   of a tokio task and a registered socket. Lines on the server's stdin ask for its numbers
//!   (`STATS`; `WAIT n`: once n handshakes are done, 300 ms later); EOF ends it.
//! * **Load generator.** `client ...`: its own process, a tokio multi-thread runtime
//!   (`--client-threads`, 2 by default). N connections (64 handshakes in flight at a time),
//!   then each sends 3 untimed warm-up messages, and after a barrier each sends M masked binary
//!   messages of S bytes, awaiting each echo and checking every byte (closed loop: one message
//!   in flight per connection). msgs/s = N·M / (time from the barrier until the last
//!   connection's last echo); the latency of each echo is from its write to the end of its
//!   echo (p50, p99 over all N·M). Then every connection sends Close(1000) and waits for the
//!   server's Close and its FIN. The server's CPU time (its one thread's
//!   `/proc/.../schedstat`, kernel included; of it, the time in the kernel from the thread's
//!   `stat`, in 10 ms ticks) and allocator calls are read just before and just after the
//!   timed part, so handshakes and closes are not in them.
//! * **Idle memory.** A counting global allocator (`stats_alloc`, in every process of this
//!   binary; ~4 instructions per allocator call) gives the server's live heap (bytes requested)
//!   at 0 connections and at each `--idle` total of open, handshaken, idle connections (300 ms
//!   after the last handshake, so every task is parked in its read); per connection = the
//!   difference / connections. VmRSS the same way.
//! * **Instructions per echo.** The server alone under `valgrind --tool=callgrind` (whole
//!   process, user space; started as `serve LIB --exit-after N`, it exits once its N
//!   connections are closed), the client native: Ir/echo = (Ir(M) − Ir(0)) / (N·M). The run
//!   with 0 timed messages has the same start, handshakes, warm-up and closes, so they cancel;
//!   `--cg-check` adds a run at M/3, and (Ir(M) − Ir(M/3)) must agree.
//!
//! Needs about 2 file descriptors per connection in each process (check `ulimit -n`), and
//! valgrind for `instructions`.

#![forbid(unsafe_code)]

mod cells;
mod client;
mod report;
mod servers;

use std::alloc::System;
use std::path::PathBuf;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

use cells::{Echo, Idle, callgrind_run, echo_cell, idle_cell};
use client::{client, idle_client};
use report::{command_line, grouped, header, ratio, ratio_heads, ratios, size_name, table};
use servers::{Lib, serve};

/// Counting allocator: the `unsafe impl GlobalAlloc` is stats_alloc's, we only declare it.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// ------------------------------------------------------------------------------------------
// Options

struct Options {
    libs: Vec<Lib>,
    sizes: Vec<usize>,
    conns: Vec<usize>,
    echoes: usize,
    msgs: Option<usize>,
    threads: usize,
    reps: usize,
    idle: Vec<usize>,
    cg_sizes: Vec<usize>,
    cg_conns: usize,
    cg_msgs: usize,
    cg_check: bool,
    out: PathBuf,
}

impl Options {
    /// The libraries that run an echo server (the plain socket is only an idle floor).
    fn echo_servers(&self) -> Vec<Lib> {
        self.libs
            .iter()
            .copied()
            .filter(|&l| l != Lib::Plain)
            .collect()
    }
}

fn usage(why: &str) -> ! {
    eprintln!(
        "{why}\nusage: loopback [echo|idle|instructions|all] [--libs L,..] [--sizes S,..] \
         [--conns N,..] [--echoes E | --msgs M] [--client-threads T] [--reps R] [--idle N,..] \
         [--cg-sizes S,..] [--cg-conns N] [--cg-msgs M] [--cg-check] [--out DIR]\n\
         (see the comment at the top of benches/loopback/main.rs)"
    );
    std::process::exit(2)
}

fn list(v: Option<String>) -> Vec<usize> {
    v.unwrap_or_else(|| usage("missing value"))
        .split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| usage(&format!("bad number {x:?}")))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The three parts: run their cells, print their tables

fn run_echo(o: &Options) {
    let libs = o.echo_servers();
    let mut cells = Vec::new();
    for &size in &o.sizes {
        for &conns in &o.conns {
            let echoes = if size >= 65536 {
                o.echoes / 10
            } else {
                o.echoes
            };
            let msgs = o.msgs.unwrap_or((echoes / conns).max(1));
            // Repetitions interleaved (lib A, B, C, A, B, C, ...) so that a noisy spell on
            // the machine falls on every library alike; each library's median run is kept.
            let mut runs: Vec<Vec<Echo>> = libs.iter().map(|_| Vec::new()).collect();
            for rep in 1..=o.reps {
                for (i, &lib) in libs.iter().enumerate() {
                    eprintln!(
                        "echo {} {size} B x {conns} conns x {msgs} msgs, run {rep}/{}",
                        lib.name(),
                        o.reps
                    );
                    runs[i].push(echo_cell(lib, size, conns, msgs, o.threads));
                }
            }
            let row: Vec<Echo> = runs
                .into_iter()
                .map(|mut r| {
                    r.sort_by(|a, b| a.msgs_per_s.total_cmp(&b.msgs_per_s));
                    r.swap_remove(r.len() / 2)
                })
                .collect();
            cells.push((size, conns, msgs, row));
        }
    }
    let titles = || libs.iter().map(|l| l.title().to_string());
    let lead = |size: usize, conns: usize, msgs: usize| {
        vec![size_name(size), conns.to_string(), msgs.to_string()]
    };
    let base = ["size", "conns", "msgs/conn"].map(String::from);

    println!(
        "### Echo throughput (msgs/s, closed loop; server on one current_thread runtime, \
         client {} threads; median of {} interleaved runs)\n",
        o.threads, o.reps
    );
    let head: Vec<String> = base
        .iter()
        .cloned()
        .chain(titles())
        .chain(ratio_heads(&libs))
        .collect();
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(s, n, m, row)| {
            lead(*s, *n, *m)
                .into_iter()
                .chain(row.iter().map(|e| grouped(e.msgs_per_s)))
                .chain(ratios(&libs, row, |e| e.msgs_per_s))
                .collect()
        })
        .collect();
    println!("{}", table(&head, &rows));

    println!("### Echo latency p50 / p99 (µs, write to end of echo)\n");
    let head: Vec<String> = base.iter().cloned().chain(titles()).collect();
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(s, n, m, row)| {
            lead(*s, *n, *m)
                .into_iter()
                .chain(
                    row.iter()
                        .map(|e| format!("{:.0} / {:.0}", e.p50_us, e.p99_us)),
                )
                .collect()
        })
        .collect();
    println!("{}", table(&head, &rows));

    println!(
        "### Server CPU µs per echo (its one thread, kernel included; of it in the kernel, \
         10 ms ticks) and allocator calls per echo\n"
    );
    let head: Vec<String> = base
        .iter()
        .cloned()
        .chain(titles().map(|t| format!("{t} CPU µs")))
        .chain(ratio_heads(&libs))
        .chain(titles().map(|t| format!("{t} in kernel µs")))
        .chain(titles().map(|t| format!("{t} allocs")))
        .collect();
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(s, n, m, row)| {
            lead(*s, *n, *m)
                .into_iter()
                .chain(row.iter().map(|e| format!("{:.2}", e.cpu_us_per_echo)))
                .chain(ratios(&libs, row, |e| e.cpu_us_per_echo))
                .chain(row.iter().map(|e| format!("{:.2}", e.sys_us_per_echo)))
                .chain(row.iter().map(|e| format!("{:.2}", e.allocs_per_echo)))
                .collect()
        })
        .collect();
    println!("{}", table(&head, &rows));
}

fn run_idle(o: &Options) {
    let mut libs = o.libs.clone();
    if !libs.contains(&Lib::Plain) {
        libs.push(Lib::Plain);
    }
    let results: Vec<(Lib, Vec<Idle>)> = libs
        .iter()
        .map(|&lib| {
            eprintln!("idle {} {:?}", lib.name(), o.idle);
            (lib, idle_cell(lib, &o.idle))
        })
        .collect();
    println!(
        "### Idle connections: server heap and RSS per open, handshaken, idle connection \
         (tokio task included)\n"
    );
    let mut head = vec!["server".to_string()];
    for t in &o.idle {
        head.extend([
            format!("heap B/conn @ {t}"),
            format!("blocks/conn @ {t}"),
            format!("VmRSS B/conn @ {t}"),
        ]);
    }
    let rows: Vec<Vec<String>> =
        results
            .iter()
            .map(|(lib, r)| {
                std::iter::once(lib.title().to_string())
                    .chain(r.iter().flat_map(|i| {
                        [grouped(i.heap), format!("{:.1}", i.blocks), grouped(i.rss)]
                    }))
                    .collect()
            })
            .collect();
    println!("{}", table(&head, &rows));
    if let Some((_, w)) = results.iter().find(|(l, _)| *l == Lib::Wsproto) {
        for (lib, r) in results
            .iter()
            .filter(|(l, _)| *l != Lib::Wsproto && *l != Lib::Plain)
        {
            for (a, b) in w.iter().zip(r) {
                println!(
                    "wsproto / {} @ {}: heap {}, RSS {}",
                    lib.title(),
                    a.total,
                    ratio(a.heap, b.heap),
                    ratio(a.rss, b.rss)
                );
            }
        }
        println!();
    }
}

fn run_instructions(o: &Options) {
    std::fs::create_dir_all(&o.out).expect("--out directory");
    let (n, m) = (o.cg_conns, o.cg_msgs);
    let libs = o.echo_servers();
    let mut rows = Vec::new();
    for &size in &o.cg_sizes {
        let mut per = Vec::new();
        let mut libc = Vec::new();
        let mut checks = Vec::new();
        for &lib in &libs {
            eprintln!(
                "callgrind {} {size} B x {n} conns: 0 and {m} msgs",
                lib.name()
            );
            let i0 = callgrind_run(lib, size, n, 0, &o.out);
            let i2 = callgrind_run(lib, size, n, m, &o.out);
            let echo = |k: usize| (i2[k] - i0[k]) / (n * m) as f64;
            per.push(echo(0));
            libc.push(format!("{} / {}", grouped(echo(1)), grouped(echo(2))));
            if o.cg_check {
                let m1 = m / 3;
                let i1 = callgrind_run(lib, size, n, m1, &o.out);
                checks.push(grouped((i2[0] - i1[0]) / (n * (m - m1)) as f64));
            }
        }
        let mut row: Vec<String> = vec![size_name(size), format!("{n} × {m}")];
        row.extend(per.iter().map(|&x| grouped(x)));
        row.extend(ratios(&libs, &per, |&x| x));
        row.extend(libc);
        if o.cg_check {
            row.push(checks.join(" / "));
        }
        rows.push(row);
    }
    println!(
        "### Server instructions per echo (callgrind, whole server process, (Ir(M) − Ir(0)) / N·M)\n"
    );
    let mut head: Vec<String> = ["size", "conns × msgs"].map(String::from).to_vec();
    head.extend(libs.iter().map(|l| l.title().to_string()));
    head.extend(ratio_heads(&libs));
    head.extend(
        libs.iter()
            .map(|l| format!("{}: in memset / memcpy", l.title())),
    );
    if o.cg_check {
        head.push("check: (Ir(M) − Ir(M/3)) per echo".into());
    }
    println!("{}", table(&head, &rows));
    println!(
        "\"in memset / memcpy\": of those, the self instructions of libc's memset and \
         memcpy/memmove; callgrind counts each iteration of a `rep stosb`/`rep movsb` (which \
         glibc uses for large blocks) as one instruction, so a large zero-fill or copy weighs \
         far more here than in CPU time. {}; callgrind files in {}\n",
        command_line("valgrind", &["--version"]),
        o.out.display()
    );
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .peekable();
    let num = |s: Option<String>| -> usize {
        s.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage("expected a number"))
    };
    // Internal: the processes this binary starts.
    match args.peek().map(String::as_str) {
        Some("serve") => {
            args.next();
            let lib = Lib::parse(&args.next().unwrap_or_else(|| usage("serve LIB")));
            let exit_after = match args.next().as_deref() {
                Some("--exit-after") => Some(num(args.next())),
                None => None,
                Some(x) => usage(&format!("unexpected {x:?}")),
            };
            return serve(lib, exit_after);
        }
        Some("client") => {
            args.next();
            let addr = args.next().and_then(|a| a.parse().ok());
            let addr = addr.unwrap_or_else(|| usage("client ADDR N M S T"));
            let [n, m, s, t] = [(); 4].map(|_| num(args.next()));
            return client(addr, n, m, s, t);
        }
        Some("idle-client") => {
            args.next();
            let addr = args.next().and_then(|a| a.parse().ok());
            return idle_client(addr.unwrap_or_else(|| usage("idle-client ADDR")));
        }
        _ => {}
    }
    let mut mode = None;
    let mut o = Options {
        libs: vec![Lib::Wsproto, Lib::Fastwebsockets, Lib::Tungstenite],
        sizes: vec![16, 1024, 65536],
        conns: vec![100, 1000],
        echoes: 200_000,
        msgs: None,
        threads: 2,
        reps: 3,
        idle: vec![1000],
        cg_sizes: vec![16, 1024],
        cg_conns: 100,
        cg_msgs: 100,
        cg_check: false,
        out: std::env::temp_dir().join("wsproto-loopback"),
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "echo" | "idle" | "instructions" | "all" if mode.is_none() => mode = Some(a),
            "--libs" => {
                let v = args.next().unwrap_or_else(|| usage("--libs L,.."));
                o.libs = v.split(',').map(Lib::parse).collect();
            }
            "--sizes" => o.sizes = list(args.next()),
            "--conns" => o.conns = list(args.next()),
            "--echoes" => o.echoes = num(args.next()),
            "--msgs" => o.msgs = Some(num(args.next())),
            "--client-threads" => o.threads = num(args.next()),
            "--reps" => o.reps = num(args.next()).max(1),
            "--idle" => o.idle = list(args.next()),
            "--cg-sizes" => o.cg_sizes = list(args.next()),
            "--cg-conns" => o.cg_conns = num(args.next()),
            "--cg-msgs" => o.cg_msgs = num(args.next()),
            "--cg-check" => o.cg_check = true,
            "--out" => o.out = args.next().unwrap_or_else(|| usage("--out DIR")).into(),
            _ => usage(&format!("unexpected argument {a:?}")),
        }
    }
    let mode = mode.unwrap_or_default();
    header();
    if matches!(mode.as_str(), "echo" | "all" | "") {
        run_echo(&o);
    }
    if matches!(mode.as_str(), "instructions" | "all") {
        run_instructions(&o);
    }
    if matches!(mode.as_str(), "idle" | "all" | "") {
        run_idle(&o);
    }
}
