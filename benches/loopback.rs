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
//!   `/proc/.../schedstat`, kernel included) and allocator calls are read just before and
//!   just after the timed part, so handshakes and closes are not in them.
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

use std::alloc::System;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

/// Counting allocator: the `unsafe impl GlobalAlloc` is stats_alloc's, we only declare it.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

// ------------------------------------------------------------------------------------------
// Libraries

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Lib {
    Wsproto,
    Fastwebsockets,
    Tungstenite,
    Plain,
}

impl Lib {
    fn parse(s: &str) -> Lib {
        match s {
            "wsproto" => Lib::Wsproto,
            "fastwebsockets" | "fws" => Lib::Fastwebsockets,
            "tungstenite" | "tokio-tungstenite" | "tt" => Lib::Tungstenite,
            "plain" => Lib::Plain,
            _ => usage(&format!("unknown library {s:?}")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Lib::Wsproto => "wsproto",
            Lib::Fastwebsockets => "fastwebsockets",
            Lib::Tungstenite => "tungstenite",
            Lib::Plain => "plain",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Lib::Wsproto => "wsproto",
            Lib::Fastwebsockets => "fastwebsockets",
            Lib::Tungstenite => "tokio-tungstenite",
            Lib::Plain => "plain TcpStream",
        }
    }

    fn spawn(self, stream: TcpStream) -> tokio::task::JoinHandle<()> {
        match self {
            Lib::Wsproto => tokio::spawn(servers::wsproto(stream)),
            Lib::Fastwebsockets => tokio::spawn(servers::fastwebsockets(stream)),
            Lib::Tungstenite => tokio::spawn(servers::tungstenite(stream)),
            Lib::Plain => tokio::spawn(servers::plain(stream)),
        }
    }
}

/// Handshakes completed in this server process.
static READY: AtomicUsize = AtomicUsize::new(0);

mod servers {
    use super::*;
    use futures_util::{SinkExt, StreamExt};

    fn ready() {
        READY.fetch_add(1, Relaxed);
    }

    /// As `examples/echo_server.rs` (shared/echo.rs), without deflate.
    pub async fn wsproto(stream: TcpStream) {
        use wsproto::io::Message;
        let mut ws = match wsproto::io::on_tokio::accept(stream).await {
            Ok(ws) => ws,
            Err(e) => return eprintln!("wsproto handshake failed: {e}"),
        };
        ready();
        while let Some(item) = ws.next().await {
            if let Ok(message @ (Message::Text(_) | Message::Binary(_))) = item {
                // An error means closing or gone: keep reading so the close completes.
                let _ = ws.send(message).await;
            }
        }
    }

    pub async fn tungstenite(stream: TcpStream) {
        let mut ws = match tokio_tungstenite::accept_async(stream).await {
            Ok(ws) => ws,
            Err(e) => return eprintln!("tungstenite handshake failed: {e}"),
        };
        ready();
        // A received Close is answered by tungstenite itself; the stream then ends.
        while let Some(item) = ws.next().await {
            match item {
                Ok(message) if message.is_binary() || message.is_text() => {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }

    pub async fn fastwebsockets(stream: TcpStream) {
        use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
        let stream = match upgrade_by_hand(stream).await {
            Ok(s) => s,
            Err(e) => return eprintln!("fastwebsockets handshake failed: {e}"),
        };
        let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
        ready();
        // auto_close (default) has answered a Close before it is returned.
        while let Ok(frame) = ws.read_frame().await {
            let echo = match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => true,
                _ => false,
            };
            if echo && ws.write_frame(frame).await.is_err() {
                break;
            }
        }
    }

    /// The idle floor: the same upgrade, then a bare TcpStream parked in a read.
    pub async fn plain(stream: TcpStream) {
        let mut stream = match upgrade_by_hand(stream).await {
            Ok(s) => s,
            Err(e) => return eprintln!("plain handshake failed: {e}"),
        };
        ready();
        let mut b = [0u8; 1];
        while let Ok(1..) = stream.read(&mut b).await {}
    }

    /// The server side of the opening handshake, minimal: read the request head, answer 101
    /// with `Sec-WebSocket-Accept`. The load generator sends nothing before it has the 101.
    async fn upgrade_by_hand(mut stream: TcpStream) -> std::io::Result<TcpStream> {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.ends_with(b"\r\n\r\n") {
                break;
            }
            if buf.len() > 8192 {
                return Err(std::io::Error::other("request head too long"));
            }
        }
        let head = std::str::from_utf8(&buf).map_err(std::io::Error::other)?;
        let key = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, v)| v.trim())
            .ok_or_else(|| std::io::Error::other("no Sec-WebSocket-Key"))?;
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            wsproto::handshake::accept_key(key.as_bytes())
        );
        stream.write_all(response.as_bytes()).await?;
        Ok(stream)
    }
}

// ------------------------------------------------------------------------------------------
// Server process

/// This process's main thread (where the `current_thread` runtime runs): CPU ns, kernel
/// included.
fn cpu_ns() -> u64 {
    let pid = std::process::id();
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn print_stats() {
    let s = GLOBAL.stats();
    let cpu = cpu_ns();
    let rss = vm_rss_kib(); // allocates: after the heap counters are read
    println!(
        "STATS ready={} cpu_ns={cpu} allocs={} live_bytes={} live_blocks={} rss_kib={rss}",
        READY.load(Relaxed),
        s.allocations + s.reallocations,
        s.bytes_allocated as i64 - s.bytes_deallocated as i64,
        s.allocations as i64 - s.deallocations as i64,
    );
}

/// Control lines on stdin: `STATS`, `WAIT n`; EOF exits.
fn control() {
    let stdin = std::io::stdin();
    let mut line = String::with_capacity(64);
    loop {
        line.clear();
        if stdin.lock().read_line(&mut line).unwrap_or(0) == 0 {
            std::process::exit(0);
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next().map(str::parse::<usize>)) {
            (Some("STATS"), None) => print_stats(),
            (Some("WAIT"), Some(Ok(n))) => {
                while READY.load(Relaxed) < n {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(Duration::from_millis(300));
                print_stats();
            }
            _ => {
                eprintln!("server: bad control line {line:?}");
                std::process::exit(2);
            }
        }
    }
}

fn serve(lib: Lib, exit_after: Option<usize>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("LISTENING {}", listener.local_addr().expect("local_addr"));
        match exit_after {
            Some(n) => {
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let (stream, _) = listener.accept().await.expect("accept");
                    let _ = stream.set_nodelay(true);
                    tasks.push(lib.spawn(stream));
                }
                for task in tasks {
                    task.await.expect("server task panicked");
                }
            }
            None => {
                std::thread::spawn(control);
                loop {
                    match listener.accept().await {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            lib.spawn(stream);
                        }
                        Err(e) => {
                            eprintln!("accept: {e}");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        }
    });
}

// ------------------------------------------------------------------------------------------
// Load generator: a hand-written client, the same bytes for every server.

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const WARM_UP: usize = 3;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("client: {what}: {e}");
    std::process::exit(1)
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// (header length, payload length) of the server frame at the start of `b`, once known.
fn frame_header(b: &[u8]) -> std::io::Result<Option<(usize, usize)>> {
    if b.len() < 2 {
        return Ok(None);
    }
    if b[1] & 0x80 != 0 {
        return Err(std::io::Error::other("server frame is masked"));
    }
    Ok(match b[1] & 0x7f {
        126 if b.len() >= 4 => Some((4, u16::from_be_bytes([b[2], b[3]]) as usize)),
        127 if b.len() >= 10 => {
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            Some((10, u64::from_be_bytes(l) as usize))
        }
        126 | 127 => None,
        n => Some((2, n as usize)),
    })
}

fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

impl Conn {
    async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut c = Conn {
            stream,
            buf: vec![0; 4096],
            start: 0,
            end: 0,
        };
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        c.stream.write_all(request.as_bytes()).await?;
        let head_end = loop {
            if let Some(p) = c.buf[..c.end].windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if c.end == c.buf.len() {
                return Err(std::io::Error::other("response head too long"));
            }
            let n = c.stream.read(&mut c.buf[c.end..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            c.end += n;
        };
        let head = String::from_utf8_lossy(&c.buf[..head_end]);
        let accept = wsproto::handshake::accept_key(KEY.as_bytes());
        if !head.starts_with("HTTP/1.1 101") || !head.contains(&accept) {
            return Err(std::io::Error::other(format!("bad response: {head:?}")));
        }
        c.start = head_end;
        Ok(c)
    }

    /// One whole server frame: its first byte and where its payload is in `buf`.
    async fn read_frame(&mut self) -> std::io::Result<(u8, Range<usize>)> {
        loop {
            let need = match frame_header(&self.buf[self.start..self.end])? {
                Some((h, n)) if self.end - self.start >= h + n => {
                    let first = self.buf[self.start];
                    let payload = self.start + h..self.start + h + n;
                    self.start = payload.end;
                    return Ok((first, payload));
                }
                Some((h, n)) => h + n,
                None => 14,
            };
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.buf.len() - self.start < need {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            if self.buf.len() < self.start + need {
                self.buf.resize(self.start + need, 0);
            }
            let n = self.stream.read(&mut self.buf[self.end..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.end += n;
        }
    }

    async fn echo(&mut self, frame: &[u8], payload: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(frame).await?;
        let (first, got) = self.read_frame().await?;
        if first != 0x82 || self.buf[got.clone()] != *payload {
            return Err(std::io::Error::other(format!(
                "bad echo: first byte {first:#x}, {} bytes",
                got.len()
            )));
        }
        Ok(())
    }

    /// Close(1000), then the server's Close, then its FIN.
    async fn close(mut self) -> std::io::Result<()> {
        let frame = masked_frame(0x8, &1000u16.to_be_bytes(), [1, 2, 3, 4]);
        self.stream.write_all(&frame).await?;
        let closed = async {
            while self.read_frame().await?.0 & 0x0f != 0x8 {}
            let mut rest = [0u8; 256];
            while self.stream.read(&mut rest).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        match tokio::time::timeout(Duration::from_secs(10), closed).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::other("no Close and FIN within 10 s")),
        }
    }
}

async fn connect_all(addr: SocketAddr, n: usize, into: &mut Vec<Conn>) {
    let target = into.len() + n;
    while into.len() < target {
        let batch = (target - into.len()).min(64);
        let tasks: Vec<_> = (0..batch)
            .map(|_| tokio::spawn(Conn::connect(addr)))
            .collect();
        for t in tasks {
            match t.await.expect("join") {
                Ok(c) => into.push(c),
                Err(e) => fail("connect", e),
            }
        }
    }
}

struct Barriers {
    warm: Barrier,
    go: Barrier,
    done: Barrier,
    close: Barrier,
}

async fn echo_conn(
    mut c: Conn,
    id: usize,
    msgs: usize,
    size: usize,
    bars: Arc<Barriers>,
) -> Vec<u32> {
    let payload: Vec<u8> = (0..size).map(|i| (i * 31 + id) as u8).collect();
    let frames: Vec<Vec<u8>> = (0..4u32)
        .map(|k| {
            let key = (id as u32).wrapping_mul(4).wrapping_add(k) | 1;
            masked_frame(0x2, &payload, key.wrapping_mul(0x9e37_79b9).to_be_bytes())
        })
        .collect();
    for i in 0..WARM_UP {
        if let Err(e) = c.echo(&frames[i % 4], &payload).await {
            fail("warm-up echo", e);
        }
    }
    bars.warm.wait().await;
    bars.go.wait().await;
    let mut latencies = Vec::with_capacity(msgs);
    for i in 0..msgs {
        let t = Instant::now();
        if let Err(e) = c.echo(&frames[i % 4], &payload).await {
            fail("echo", e);
        }
        latencies.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }
    bars.done.wait().await;
    bars.close.wait().await;
    if let Err(e) = c.close().await {
        fail("close", e);
    }
    latencies
}

fn read_command(want: &str) {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("stdin");
    if line.trim() != want {
        fail("control", format!("expected {want}, got {line:?}"));
    }
}

/// `client ADDR N M S THREADS`: prints `WARM` (after the handshakes and warm-up), waits for
/// `GO`, prints `DONE` after the timed echoes, waits for `CLOSE`, closes, prints `RESULT`.
fn client(addr: SocketAddr, conns: usize, msgs: usize, size: usize, threads: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("client runtime");
    let mut streams = Vec::with_capacity(conns);
    rt.block_on(connect_all(addr, conns, &mut streams));
    let bars = Arc::new(Barriers {
        warm: Barrier::new(conns + 1),
        go: Barrier::new(conns + 1),
        done: Barrier::new(conns + 1),
        close: Barrier::new(conns + 1),
    });
    let tasks: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(id, c)| rt.spawn(echo_conn(c, id, msgs, size, bars.clone())))
        .collect();
    rt.block_on(bars.warm.wait());
    println!("WARM");
    read_command("GO");
    let t0 = Instant::now();
    rt.block_on(async {
        bars.go.wait().await;
        bars.done.wait().await;
    });
    let secs = t0.elapsed().as_secs_f64();
    println!("DONE");
    read_command("CLOSE");
    rt.block_on(bars.close.wait());
    let mut latencies = Vec::with_capacity(conns * msgs);
    for t in tasks {
        latencies.extend(rt.block_on(t).expect("join"));
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i] as f64 / 1e3
    };
    let echoes = conns * msgs;
    println!(
        "RESULT echoes={echoes} secs={secs:.6} msgs_per_s={:.1} p50_us={:.1} p99_us={:.1} max_us={:.1}",
        echoes as f64 / secs,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
}

/// `idle-client ADDR`: `OPEN n` on stdin opens connections until n are open (prints
/// `OPENED n`), `EXIT` or EOF drops them all.
fn idle_client(addr: SocketAddr) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let mut streams = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        match line.split_once(' ') {
            Some(("OPEN", n)) => {
                let n: usize = n.trim().parse().expect("OPEN n");
                let more = n.saturating_sub(streams.len());
                rt.block_on(connect_all(addr, more, &mut streams));
                println!("OPENED {n}");
            }
            _ => break,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Orchestration: child processes driven by lines.

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

struct Echo {
    msgs_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us_per_echo: f64,
    allocs_per_echo: f64,
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

fn echo_cell(lib: Lib, size: usize, conns: usize, msgs: usize, threads: usize) -> Echo {
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
        allocs_per_echo: (kv(&s1, "allocs") - kv(&s0, "allocs")) / echoes,
    }
}

struct Idle {
    total: usize,
    heap: f64,
    blocks: f64,
    rss: f64,
}

fn idle_cell(lib: Lib, totals: &[usize]) -> Vec<Idle> {
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
fn callgrind_run(lib: Lib, size: usize, conns: usize, msgs: usize, dir: &Path) -> [f64; 3] {
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

// ------------------------------------------------------------------------------------------
// Options and reports

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
         (see the comment at the top of benches/loopback.rs)"
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

/// 12 345 678 (the docs' thousands separator).
fn grouped(x: f64) -> String {
    let s = format!("{:.0}", x.round() + 0.0); // + 0.0: no "-0"
    let (sign, digits) = s.strip_prefix('-').map_or(("", &*s), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn size_name(s: usize) -> String {
    match s {
        s if s >= 1024 && s % 1024 == 0 => format!("{} KiB", s / 1024),
        s => format!("{s} B"),
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// Where wsproto is compared with each other library present: "ws/fws | ws/tt" cells.
fn ratios<T>(libs: &[Lib], row: &[T], value: impl Fn(&T) -> f64) -> Vec<String> {
    let Some(w) = libs.iter().position(|&l| l == Lib::Wsproto) else {
        return Vec::new();
    };
    libs.iter()
        .enumerate()
        .filter(|&(_, l)| *l != Lib::Wsproto && *l != Lib::Plain)
        .map(|(i, _)| ratio(value(&row[w]), value(&row[i])))
        .collect()
}

fn ratio_heads(libs: &[Lib]) -> Vec<String> {
    if !libs.contains(&Lib::Wsproto) {
        return Vec::new();
    }
    libs.iter()
        .filter(|&&l| l != Lib::Wsproto && l != Lib::Plain)
        .map(|l| format!("wsproto / {}", l.title()))
        .collect()
}

fn table(head: &[String], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "| {} |\n|{}\n",
        head.join(" | "),
        " --- |".repeat(head.len())
    );
    for r in rows {
        let _ = writeln!(s, "| {} |", r.join(" | "));
    }
    s
}

fn package_version(name: &str) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .unwrap_or_default();
    let needle = format!("name = \"{name}\"\nversion = \"");
    lock.find(&needle)
        .and_then(|i| lock[i + needle.len()..].split('"').next())
        .map_or_else(|| "?".into(), |v| format!("{name} {v}"))
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{cmd}: ?"))
}

fn header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|x| x.1.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Run {} on {cores} cores ({cpu}); {}; {}, {}, {}, {}.\n",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        command_line("rustc", &["--version"]),
        package_version("tokio"),
        package_version("tokio-tungstenite"),
        package_version("fastwebsockets"),
        package_version("stats_alloc"),
    );
}

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
        "### Server CPU µs per echo (its one thread, kernel included) and allocator calls \
         per echo\n"
    );
    let head: Vec<String> = base
        .iter()
        .cloned()
        .chain(titles().map(|t| format!("{t} CPU µs")))
        .chain(ratio_heads(&libs))
        .chain(titles().map(|t| format!("{t} allocs")))
        .collect();
    let rows: Vec<Vec<String>> = cells
        .iter()
        .map(|(s, n, m, row)| {
            lead(*s, *n, *m)
                .into_iter()
                .chain(row.iter().map(|e| format!("{:.2}", e.cpu_us_per_echo)))
                .chain(ratios(&libs, row, |e| e.cpu_us_per_echo))
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
