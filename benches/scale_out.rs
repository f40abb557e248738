//! Cross-process fan-out through the Redis backplane (issue 12): a message published on one
//! server process reaches N subscribers connected to another; deliveries per second and the
//! latency from publish to receipt (p50, p99, max), against local-only delivery.
//!
//! ```text
//! cargo bench --all-features --bench scale_out
//! cargo bench --features redis --bench scale_out -- --clients 100 --sizes 1024 --full 5000
//! ```
//!
//! Options: `--clients N[,N...]` (default 10,100,1000), `--sizes B[,B...]` (payload bytes,
//! at least 12; default 16,1024), `--full M` (messages per full-speed run; default
//! 200 000 / N, between 500 and 10 000), `--paced M` (messages per paced run, default 500),
//! `--rate R` (paced runs' messages per second, default 1 000).
//!
//! A plain `fn main()`, not criterion: what is measured is end-to-end latency percentiles and
//! a throughput over one run through several processes, not the mean time of a closure that
//! criterion repeats, and a run cannot be split into independent iterations.
//!
//! Method. This process starts `redis-server` on a free loopback port (the bench is skipped
//! with a message when it is not installed), then on a tokio multi-thread runtime:
//!
//! * **P**, the publishing server: a `wsproto::server` with a [`RedisBackplane`], no clients.
//! * **S**, the subscribing server: this binary run again as a child process (environment
//!   variable `WSPROTO_SCALE_OUT_CHILD`), with its own `RedisBackplane` on the same Redis and
//!   prefix, so P and S share nothing but Redis. A second child, **S₀**, is the same server
//!   without a backplane. The parent drives the children through their stdin/stdout.
//! * N WebSocket clients per child (`on_tokio::connect`, in the parent process), on a route
//!   that calls `client.subscribe(topic)` then reads until closed. Runs start once S tracks N
//!   subscribers and `handle_p.presence(topic)` reports N (S's Redis subscription is
//!   confirmed).
//!
//! Each run publishes M binary messages of B bytes with `ServerHandle::publish`, back to back
//! (*full*) or on a schedule of R per second (*paced*). A payload starts with the send time (8
//! bytes, nanoseconds of the system clock, which both processes read: `Instant` cannot be
//! shared between processes) and the run's number (4 bytes). Each client records receive time
//! − send time for every message of the current run. Paths:
//!
//! * `redis`: P publishes; Redis carries it to S, which fans it out to its N clients.
//! * `local+bp`: S publishes to its own clients (no Redis hop on the way to them; S's
//!   backplane still sends every message to Redis for the other processes).
//! * `local`: S₀ publishes to its clients, no backplane at all.
//!
//! Reported: *delivered* (messages received by all clients, of N·M), *deliveries/s* (delivered
//! / time from the first publish to the last receipt), *messages/s* (the same divided by N:
//! published messages that got through per second), latency percentiles over every
//! delivery, and drops: *backplane*, messages the publishing server's backplane did not put on
//! Redis (its queue of 10 000 was full: `RedisStats::dropped`, read through a wrapper that
//! keeps the backplane shared); *outbox*, messages S dropped for a client whose 4 MiB queue was
//! full (the servers use `Overflow::Drop` so that a slow client is counted, not closed). A run
//! ends when everything arrived or nothing arrived for 2 s. Everything (Redis, the two
//! servers, the clients) shares the machine's cores: the numbers are for one machine, not a
//! deployment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::watch;

use wsproto::CloseCode;
use wsproto::handshake::ClientOptions;
use wsproto::io::Message;
use wsproto::io::on_tokio::connect;
use wsproto::server::{
    Backplane, BackplaneError, BackplaneFuture, BackplaneStatus, Inbound, Overflow, RedisBackplane,
    RedisOptions, RedisStats, Router, Scope, ServerBuilder, ServerHandle,
};

/// Set in a child process: `REDIS-URL|none MAX-CLIENTS`.
const CHILD: &str = "WSPROTO_SCALE_OUT_CHILD";
const PREFIX: &str = "wsproto-bench";
/// Time stamp (8 bytes) and run number (4 bytes).
const HEADER: usize = 12;

/// Nanoseconds of the system clock: the one clock two processes on a machine both read.
fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A `RedisBackplane` the server and the bench both hold (the builder takes it by value), so
/// the bench can read its counters.
#[derive(Clone)]
struct Shared(Arc<RedisBackplane>);

impl Backplane for Shared {
    fn attach(&self, inbound: Inbound) {
        self.0.attach(inbound);
    }
    fn publish(&self, scope: Scope<'_>, message: &Message) {
        self.0.publish(scope, message);
    }
    fn subscribers_changed(&self, topic: &str, count: usize) {
        self.0.subscribers_changed(topic, count);
    }
    fn presence<'a>(
        &'a self,
        topic: &'a str,
    ) -> BackplaneFuture<'a, Result<usize, BackplaneError>> {
        self.0.presence(topic)
    }
    fn status(&self) -> watch::Receiver<BackplaneStatus> {
        self.0.status()
    }
    fn detach(&self) {
        self.0.detach();
    }
}

fn backplane(url: &str) -> Shared {
    let options = RedisOptions::new(url).prefix(PREFIX);
    Shared(Arc::new(RedisBackplane::new(options).expect("redis url")))
}

/// A server with one route, `/sub/:topic`: subscribe, then read until closed.
async fn start_server(backplane: Option<Shared>, clients: usize) -> (SocketAddr, ServerHandle) {
    let router = Router::new().route("/sub/:topic", |mut client| async move {
        let topic = client.param("topic").unwrap_or("none").to_owned();
        client.subscribe(&topic);
        while client.recv().await.is_some() {}
    });
    let mut builder = ServerBuilder::new()
        .router(router)
        .deflate(None)
        .overflow(Overflow::Drop)
        // Every client comes from 127.0.0.1 (the default allows 1 000 per address).
        .max_connections(clients + 16)
        .max_connections_per_ip(clients + 16);
    if let Some(backplane) = backplane {
        builder = builder.backplane(backplane);
    }
    let server = builder.bind("127.0.0.1:0").await.expect("bind");
    let addr = server.local_addr().expect("local_addr");
    let handle = server.handle();
    tokio::spawn(server.run());
    if let Some(mut status) = handle.backplane_status() {
        tokio::time::timeout(
            Duration::from_secs(10),
            status.wait_for(|s| *s == BackplaneStatus::Up),
        )
        .await
        .expect("backplane up within 10 s")
        .expect("status");
    }
    (addr, handle)
}

/// Publishes `count` messages of `size` bytes to `topic`, back to back (`rate` 0) or `rate`
/// per second on a fixed schedule; returns the first message's time stamp.
async fn publish_run(
    handle: &ServerHandle,
    topic: &str,
    run: u32,
    size: usize,
    count: usize,
    rate: u32,
) -> u64 {
    let mut payload = vec![b'x'; size.max(HEADER)];
    payload[8..HEADER].copy_from_slice(&run.to_le_bytes());
    let start = tokio::time::Instant::now();
    let step = (rate > 0).then(|| Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut first = 0;
    for i in 0..count {
        if let Some(step) = step {
            tokio::time::sleep_until(start + step * i as u32).await;
        }
        let sent = now_ns();
        if i == 0 {
            first = sent;
        }
        payload[..8].copy_from_slice(&sent.to_le_bytes());
        handle.publish(topic, &Message::binary(payload.clone()));
    }
    first
}

// ---------------------------------------------------------------------------------------
// The child: server S (or S₀), driven line by line.

fn child_main(spec: &str) {
    let mut parts = spec.split(' ');
    let url = parts.next().unwrap_or("none").to_owned();
    let clients: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    runtime().block_on(async move {
        let backplane = (url != "none").then(|| backplane(&url));
        let (addr, handle) = start_server(backplane.clone(), clients).await;
        println!("ADDR {addr}");
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["WAIT", topic, n] => {
                    let n: usize = n.parse().unwrap();
                    while handle.subscriber_count(topic) != n {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    println!("SUBSCRIBED");
                }
                ["PUBLISH", topic, run, size, count, rate] => {
                    let first = publish_run(
                        &handle,
                        topic,
                        run.parse().unwrap(),
                        size.parse().unwrap(),
                        count.parse().unwrap(),
                        rate.parse().unwrap(),
                    )
                    .await;
                    println!("PUBLISHED {first}");
                }
                ["STATS"] => {
                    let s = backplane.as_ref().map(|b| b.0.stats()).unwrap_or_default();
                    let outbox: u64 = handle.clients().iter().map(|c| c.dropped()).sum();
                    println!(
                        "STATS {} {} {} {}",
                        s.published, s.received, s.dropped, outbox
                    );
                }
                ["QUIT"] => {
                    // Closes the clients and withdraws presence from Redis.
                    handle
                        .shutdown(CloseCode::GOING_AWAY, "", Duration::from_secs(2))
                        .await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    println!("BYE");
                    return;
                }
                _ => {
                    eprintln!("scale_out child: unknown command {line:?}");
                    return;
                }
            }
        }
    });
}

/// A child server process, seen from the parent.
struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    addr: String,
}

/// What a child reports: its backplane's counters and its outboxes' drops.
#[derive(Clone, Copy, Default)]
struct ChildStats {
    backplane: RedisStats,
    outbox: u64,
}

impl ChildServer {
    async fn start(redis: Option<&str>, clients: usize) -> ChildServer {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .env(CHILD, format!("{} {clients}", redis.unwrap_or("none")))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawning the child server");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next_line().await.ok().flatten().unwrap_or_default();
        let addr = first
            .strip_prefix("ADDR ")
            .unwrap_or_else(|| panic!("child server: {first:?}"))
            .to_owned();
        ChildServer {
            child,
            stdin,
            lines,
            addr,
        }
    }

    /// Sends one command, returns the reply's words after its first.
    async fn call(&mut self, command: &str) -> Vec<String> {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .expect("child stdin");
        let reply = self
            .lines
            .next_line()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("child server ended after {command:?}"));
        reply.split(' ').skip(1).map(str::to_owned).collect()
    }

    async fn stats(&mut self) -> ChildStats {
        let v: Vec<u64> = self
            .call("STATS")
            .await
            .iter()
            .map(|w| w.parse().unwrap())
            .collect();
        ChildStats {
            backplane: RedisStats {
                published: v[0],
                received: v[1],
                dropped: v[2],
                invalid: 0,
            },
            outbox: v[3],
        }
    }

    async fn quit(mut self) {
        self.call("QUIT").await;
        let _ = self.child.wait().await;
    }
}

// ---------------------------------------------------------------------------------------
// The clients (in the parent).

/// What the clients of one server record.
struct Collector {
    /// The run whose messages count.
    run: AtomicU32,
    received: AtomicU64,
    last_ns: AtomicU64,
    /// Latencies in nanoseconds, one list per client.
    samples: Vec<Mutex<Vec<u64>>>,
}

impl Collector {
    fn reset(&self, run: u32) {
        self.run.store(run, Ordering::SeqCst);
        self.received.store(0, Ordering::SeqCst);
        self.last_ns.store(0, Ordering::SeqCst);
        for s in &self.samples {
            s.lock().unwrap().clear();
        }
    }

    fn take(&self) -> Vec<u64> {
        let mut all = Vec::new();
        for s in &self.samples {
            all.append(&mut s.lock().unwrap());
        }
        all
    }
}

/// Connects `n` clients to `/sub/{topic}` (64 handshakes at a time); each records what it
/// receives until the server closes it.
async fn connect_clients(addr: &str, topic: &str, n: usize) -> Arc<Collector> {
    let collector = Arc::new(Collector {
        run: AtomicU32::new(u32::MAX),
        received: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
        samples: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
    });
    let url = format!("ws://{addr}/sub/{topic}");
    let sockets: Vec<_> = futures_util::stream::iter(0..n)
        .map(|_| connect(&url, ClientOptions::default()))
        .buffer_unordered(64)
        .collect()
        .await;
    for (i, socket) in sockets.into_iter().enumerate() {
        let (mut ws, _) = socket.expect("client connect");
        let c = collector.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                let now = now_ns();
                let Message::Binary(data) = &message else {
                    continue;
                };
                if data.len() < HEADER {
                    continue;
                }
                let sent = u64::from_le_bytes(data[..8].try_into().unwrap());
                let run = u32::from_le_bytes(data[8..HEADER].try_into().unwrap());
                if run != c.run.load(Ordering::Relaxed) {
                    continue;
                }
                c.samples[i].lock().unwrap().push(now.saturating_sub(sent));
                c.received.fetch_add(1, Ordering::Relaxed);
                c.last_ns.fetch_max(now, Ordering::Relaxed);
            }
        });
    }
    collector
}

// ---------------------------------------------------------------------------------------
// The parent: Redis, P, the runs, the table.

/// A redis-server process on a loopback port, stopped when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = std::process::Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis { child, port };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Options {
    clients: Vec<usize>,
    sizes: Vec<usize>,
    full: Option<usize>,
    paced: usize,
    rate: u32,
}

fn options() -> Options {
    let mut o = Options {
        clients: vec![10, 100, 1000],
        sizes: vec![16, 1024],
        full: None,
        paced: 500,
        rate: 1000,
    };
    let list = |v: &str| -> Vec<usize> { v.split(',').map(|n| n.parse().unwrap()).collect() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match arg.as_str() {
            "--clients" => o.clients = list(&value()),
            "--sizes" => o.sizes = list(&value()).into_iter().map(|s| s.max(HEADER)).collect(),
            "--full" => o.full = Some(value().parse().unwrap()),
            "--paced" => o.paced = value().parse().unwrap(),
            "--rate" => o.rate = value().parse().unwrap(),
            _ => {} // `--bench` from cargo, and anything else.
        }
    }
    o
}

/// Who publishes a run.
enum Publisher<'a> {
    /// P, in this process, through Redis to S.
    Remote(&'a ServerHandle),
    /// The child itself, to its own clients.
    Local,
}

struct Run {
    path: &'static str,
    clients: usize,
    size: usize,
    rate: u32,
    sent: usize,
    delivered: u64,
    secs: f64,
    samples: Vec<u64>,
    backplane_dropped: Option<u64>,
    outbox_dropped: u64,
    /// Messages S received from Redis (the `redis` path).
    s_received: Option<u64>,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    path: &'static str,
    publisher: Publisher<'_>,
    p_backplane: &Shared,
    child: &mut ChildServer,
    collector: &Collector,
    topic: &str,
    run: u32,
    clients: usize,
    size: usize,
    count: usize,
    rate: u32,
) -> Run {
    collector.reset(run);
    let p0 = p_backplane.0.stats();
    let s0 = child.stats().await;
    let first = match publisher {
        Publisher::Remote(handle) => {
            let handle = handle.clone();
            let topic = topic.to_owned();
            tokio::spawn(async move { publish_run(&handle, &topic, run, size, count, rate).await })
                .await
                .expect("publisher task")
        }
        Publisher::Local => child
            .call(&format!("PUBLISH {topic} {run} {size} {count} {rate}"))
            .await[0]
            .parse()
            .unwrap(),
    };
    let expected = (clients * count) as u64;
    let mut seen = 0;
    let mut progress = Instant::now();
    loop {
        let now = collector.received.load(Ordering::SeqCst);
        if now >= expected {
            break;
        }
        if now != seen {
            seen = now;
            progress = Instant::now();
        } else if progress.elapsed() > Duration::from_secs(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = collector.received.load(Ordering::SeqCst);
    let last = collector.last_ns.load(Ordering::SeqCst);
    let p1 = p_backplane.0.stats();
    let s1 = child.stats().await;
    let mut samples = collector.take();
    samples.sort_unstable();
    let remote = matches!(publisher, Publisher::Remote(_));
    Run {
        path,
        clients,
        size,
        rate,
        sent: count,
        delivered,
        secs: last.saturating_sub(first) as f64 / 1e9,
        samples,
        backplane_dropped: if remote {
            Some(p1.dropped - p0.dropped)
        } else if path == "local+bp" {
            Some(s1.backplane.dropped - s0.backplane.dropped)
        } else {
            None
        },
        outbox_dropped: s1.outbox - s0.outbox,
        s_received: remote.then(|| s1.backplane.received - s0.backplane.received),
    }
}

fn latency(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{} µs", ns / 1_000)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

/// 1234567 → "1 234 567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn print_header() {
    println!(
        "| path | clients | size | rate | sent | delivered | deliveries/s | messages/s | p50 | p99 \
         | max | dropped: backplane / outbox |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
}

fn print_row(r: &Run) {
    let pct = |p: usize| -> u64 {
        if r.samples.is_empty() {
            return 0;
        }
        r.samples[(r.samples.len() * p / 100).min(r.samples.len() - 1)]
    };
    let rate = if r.rate == 0 {
        "full".to_owned()
    } else {
        format!("{}/s", grouped(u64::from(r.rate)))
    };
    let size = if r.size >= 1024 && r.size % 1024 == 0 {
        format!("{} KiB", r.size / 1024)
    } else {
        format!("{} B", r.size)
    };
    let per_sec = |n: f64| {
        if r.secs > 0.0 {
            grouped((n / r.secs) as u64)
        } else {
            "—".to_owned()
        }
    };
    let backplane = r
        .backplane_dropped
        .map(grouped)
        .unwrap_or_else(|| "—".to_owned());
    println!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
        r.path,
        grouped(r.clients as u64),
        size,
        rate,
        grouped(r.sent as u64),
        grouped(r.delivered),
        per_sec(r.delivered as f64),
        per_sec(r.delivered as f64 / r.clients as f64),
        latency(pct(50)),
        latency(pct(99)),
        latency(r.samples.last().copied().unwrap_or(0)),
        backplane,
        grouped(r.outbox_dropped),
    );
    if let Some(received) = r.s_received {
        let expected = r.sent as u64 - r.backplane_dropped.unwrap_or(0);
        if received != expected {
            eprintln!("  note: S received {received} messages from Redis, P put {expected} on it");
        }
    }
}

/// Waits until P sees `n` subscribers of `topic` across the processes.
async fn wait_presence(p: &ServerHandle, topic: &str, n: usize) {
    let start = Instant::now();
    loop {
        let now = p.presence(topic).await;
        if now == Ok(n) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "presence({topic}) is {now:?}, not {n}, after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        child_main(&spec);
        return;
    }
    let o = options();
    let Some(redis) = Redis::start() else {
        eprintln!(
            "benches/scale_out.rs: skipped, redis-server is not installed \
             (apt-get install redis-server)"
        );
        return;
    };
    let url = redis.url();
    let started = Instant::now();
    runtime().block_on(async move {
        let p_backplane = backplane(&url);
        let (_, p) = start_server(Some(p_backplane.clone()), 0).await;
        println!(
            "cross-process fan-out through Redis (redis-server on loopback); binary messages; \
             clients in this process, S in a child process"
        );
        println!();
        print_header();
        let mut run = 0u32;
        for &n in &o.clients {
            let topic = format!("bench-{n}");
            let mut s = ChildServer::start(Some(&url), n).await;
            let mut s0 = ChildServer::start(None, n).await;
            let via_s = connect_clients(&s.addr, &topic, n).await;
            let via_s0 = connect_clients(&s0.addr, &topic, n).await;
            s.call(&format!("WAIT {topic} {n}")).await;
            s0.call(&format!("WAIT {topic} {n}")).await;
            wait_presence(&p, &topic, n).await;
            let full = o.full.unwrap_or((200_000 / n).clamp(500, 10_000));
            for &size in &o.sizes {
                for (rate, count) in [(0, full), (o.rate, o.paced)] {
                    let paths = [
                        ("redis", Publisher::Remote(&p)),
                        ("local+bp", Publisher::Local),
                        ("local", Publisher::Local),
                    ];
                    for (path, publisher) in paths {
                        run += 1;
                        let (child, collector) = if path == "local" {
                            (&mut s0, &via_s0)
                        } else {
                            (&mut s, &via_s)
                        };
                        let r = measure(
                            path,
                            publisher,
                            &p_backplane,
                            child,
                            collector,
                            &topic,
                            run,
                            n,
                            size,
                            count,
                            rate,
                        )
                        .await;
                        print_row(&r);
                    }
                }
            }
            s.quit().await;
            s0.quit().await;
        }
        p.shutdown(CloseCode::GOING_AWAY, "", Duration::from_secs(1))
            .await;
    });
    eprintln!("total {:.0} s", started.elapsed().as_secs_f64());
    drop(redis);
}
