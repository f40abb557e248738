//! Fan-out: one 16 B text message broadcast to N connected clients over loopback TCP, M
//! times; messages delivered per second. wsproto's server layer (`ServerHandle::broadcast`:
//! encoded once, every recipient's queue holds the same bytes) against the same broadcast
//! written by hand over the tokio adapter (today's way): a registry of per-client
//! `tokio::sync::mpsc` channels, each feeding a writer task that owns the `WriteHalf` and
//! sends an owned `Message` (a per-recipient clone: a reference count, the payload is not
//! copied until the connection frames it into its send buffer).
//!
//! ```text
//! cargo bench --features tokio --bench fanout
//! cargo bench --features tokio --bench fanout -- --clients 1000,10000 --messages 100 --reps 3
//! ```
//!
//! Options: `--clients N[,N...]` (default 1000,10000), `--messages M` (default: 500 000
//! deliveries per run, so M = 500 000 / N), `--burst B[,B..]` (broadcasts per round before
//! the publisher yields; `all`: the M broadcasts back to back; default `1,all`), `--reps R`
//! (default 1), `--variants server,hand`.
//!
//! Method. The server side runs in this process on a tokio `current_thread` runtime. The
//! clients run in a child process (this binary run again with `--fanout-clients`), also on a
//! `current_thread` runtime, with a hand-written client (the same bytes for every server): it
//! opens N connections (64 handshakes in flight at a time), then prints `READY`; each
//! connection reads until it has received M text frames, checking every byte, and when all N
//! have, the child prints `DONE`. The server waits until it tracks all N clients, then
//! broadcasts M times from a task, B per round: between rounds the publisher yields, so with
//! B = 1 the writers run and each broadcast goes out before the next one is queued (a paced
//! publisher), and with B = `all` the M broadcasts are queued back to back before any writer
//! runs (a publisher faster than the sockets: what is queued could go out in fewer writes).
//! The run's time is from the first broadcast to the parent reading `DONE`: messages
//! delivered per second = N·M / time.
//! Ten thousand connections need about 10 000 descriptors in each process: check
//! `ulimit -n`. The CPU columns are each process's CPU time (user + system, kernel included)
//! over the same interval as a share of it: a process near 100 % was the bottleneck.
//!
//! `--variant NAME --clients N --messages M [--burst B]` runs one server process (B = 1
//! unless given) and prints one `FANOUT` line (for running the server side under `valgrind --tool=callgrind`; the child
//! runs natively, valgrind does not trace children). `--fanout-clients ADDR N M` is the child.

#[cfg(feature = "tokio")]
#[allow(dead_code)] // Some items are only for harnesses that include this file as a module.
pub mod fanout {
    use std::collections::HashMap;
    use std::future::Future;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use wsproto::io::Message;
    use wsproto::io::on_tokio;
    use wsproto::server::{Router, ServerBuilder, ServerHandle};

    /// The broadcast payload: 16 bytes of text.
    pub const PAYLOAD: &str = "fan-out 16 bytes";
    /// The server frame every client must receive M times: FIN + text, unmasked, length 16.
    pub fn frame() -> [u8; 18] {
        let mut f = [0u8; 18];
        f[0] = 0x81;
        f[1] = PAYLOAD.len() as u8;
        f[2..].copy_from_slice(PAYLOAD.as_bytes());
        f
    }

    /// What a run asks for.
    #[derive(Clone, Copy, Debug)]
    pub struct Params {
        pub clients: usize,
        pub messages: usize,
        /// Broadcasts per round (the publisher yields between rounds); `messages` or more:
        /// all M back to back.
        pub burst: usize,
    }

    /// One server-side fan-out implementation.
    pub trait Variant: Sized + Send + Sync + 'static {
        /// Short name (command line, table).
        const NAME: &'static str;
        /// Starts serving on `listener` (spawns onto the current runtime).
        fn start(listener: TcpListener, params: Params) -> Self;
        /// Clients a broadcast reaches now.
        fn ready(&self) -> usize;
        /// Broadcasts one text message; returns how many clients it was queued for.
        fn broadcast(&self, text: &'static str) -> usize;
        /// Waits until every connection has ended (after the clients left), so that a run
        /// always ends with the same teardown (instruction counts subtract a run with M = 0).
        fn drained(&self) -> impl Future<Output = ()> + '_;
    }

    /// Counts a hand-written server's live connection tasks.
    #[derive(Clone, Default)]
    pub struct Live(Arc<AtomicUsize>);

    /// Held by a connection task for its life.
    pub struct LiveGuard(Arc<AtomicUsize>);

    impl Live {
        pub fn enter(&self) -> LiveGuard {
            self.0.fetch_add(1, Ordering::AcqRel);
            LiveGuard(self.0.clone())
        }

        pub async fn drained(&self) {
            while self.0.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    }

    impl Drop for LiveGuard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// (a) wsproto's server layer: a route whose handler only reads, and
    /// `ServerHandle::broadcast`.
    pub struct ServerLayer(ServerHandle);

    impl Variant for ServerLayer {
        const NAME: &'static str = "server";

        fn start(listener: TcpListener, params: Params) -> Self {
            let router = Router::new().route("/ws", |mut client| async move {
                while client.recv().await.is_some() {}
            });
            let server = ServerBuilder::new()
                .router(router)
                // Every client comes from 127.0.0.1 (the default allows 1 000 per address).
                .max_connections_per_ip(params.clients + 16)
                .max_connections(params.clients + 16)
                .listener(listener);
            let handle = server.handle();
            tokio::spawn(server.run());
            ServerLayer(handle)
        }

        fn ready(&self) -> usize {
            self.0.client_count()
        }

        fn broadcast(&self, text: &'static str) -> usize {
            self.0.broadcast(&Message::text(text)).queued
        }

        fn drained(&self) -> impl Future<Output = ()> + '_ {
            self.0.wait_closed()
        }
    }

    /// (b) The same broadcast by hand over wsproto's tokio adapter: a registry of per-client
    /// bounded `mpsc` channels (`try_send`, never waits; capacity M + 1, so nothing is ever
    /// dropped here), each drained by a writer task that owns the `WriteHalf`.
    pub struct HandWritten {
        registry: Arc<Mutex<HashMap<u64, mpsc::Sender<Message>>>>,
        live: Live,
    }

    impl Variant for HandWritten {
        const NAME: &'static str = "hand";

        fn start(listener: TcpListener, params: Params) -> Self {
            let registry: Arc<Mutex<HashMap<u64, mpsc::Sender<Message>>>> = Arc::default();
            let reg = registry.clone();
            let live = Live::default();
            let counter = live.clone();
            let capacity = params.messages + 1;
            tokio::spawn(async move {
                let mut next_id = 0u64;
                while let Ok((stream, _)) = listener.accept().await {
                    next_id += 1;
                    let id = next_id;
                    let reg = reg.clone();
                    let guard = counter.enter();
                    tokio::spawn(async move {
                        let _guard = guard;
                        let Ok(ws) = on_tokio::accept(stream).await else {
                            return;
                        };
                        let (mut read, mut write) = ws.split();
                        let (tx, mut rx) = mpsc::channel::<Message>(capacity);
                        reg.lock().unwrap().insert(id, tx);
                        let writer = tokio::spawn(async move {
                            while let Some(message) = rx.recv().await {
                                if write.send(message).await.is_err() {
                                    break;
                                }
                            }
                        });
                        while read.recv().await.is_some() {}
                        reg.lock().unwrap().remove(&id);
                        let _ = writer.await;
                    });
                }
            });
            HandWritten { registry, live }
        }

        fn ready(&self) -> usize {
            self.registry.lock().unwrap().len()
        }

        fn broadcast(&self, text: &'static str) -> usize {
            let message = Message::text(text);
            let registry = self.registry.lock().unwrap();
            registry
                .values()
                .filter(|tx| tx.try_send(message.clone()).is_ok())
                .count()
        }

        fn drained(&self) -> impl Future<Output = ()> + '_ {
            self.live.drained()
        }
    }

    /// A run's outcome.
    #[derive(Clone, Copy, Debug)]
    pub struct Run {
        pub params: Params,
        /// From the first broadcast to the child's `DONE`.
        pub secs: f64,
        /// Queued in total (clients × messages when nothing was refused).
        pub queued: usize,
        /// Server process CPU time (user + system) over the same interval.
        pub server_cpu: f64,
        /// The user-space part of it.
        pub server_user: f64,
        /// Client process CPU time over its receiving phase.
        pub client_cpu: f64,
        /// Connection setup (spawn to READY).
        pub setup_secs: f64,
        /// The probe's counters at the end minus at the start of the broadcast phase.
        pub probe: [u64; 8],
    }

    impl Run {
        pub fn delivered(&self) -> usize {
            self.params.clients * self.params.messages
        }
        pub fn per_sec(&self) -> f64 {
            self.delivered() as f64 / self.secs
        }
    }

    /// Counters read at the start and the end of the broadcast phase (e.g. a counting
    /// allocator in a harness that includes this file).
    pub type Probe = fn() -> [u64; 8];

    /// User and system CPU seconds of this process (all threads), from /proc/self/stat
    /// (in clock ticks, assumed 100 per second as on Linux).
    pub fn cpu_times() -> (f64, f64) {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return (0.0, 0.0);
        };
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 (1-based); `rest` starts at field 3.
        let field = |i: usize| -> f64 {
            f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) as f64 / 100.0
        };
        (field(11), field(12))
    }

    /// User + system CPU seconds of this process.
    pub fn cpu_secs() -> f64 {
        let (user, sys) = cpu_times();
        user + sys
    }

    /// The soft limit on open files, if it can be read.
    pub fn open_files_limit() -> Option<u64> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let soft = line.split_whitespace().nth(3)?;
        if soft == "unlimited" {
            return Some(u64::MAX);
        }
        soft.parse().ok()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    }

    /// Runs one measurement: the server side here, the clients in a child process.
    pub fn measure<V: Variant>(params: Params, probe: Option<Probe>) -> Result<Run, String> {
        if let Some(limit) = open_files_limit() {
            if limit < params.clients as u64 + 64 {
                return Err(format!(
                    "{} clients need more than `ulimit -n` = {limit} descriptors per process: \
                     raise it (ulimit -n {})",
                    params.clients,
                    params.clients + 1024
                ));
            }
        }
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        runtime().block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("bind: {e}"))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            let variant = Arc::new(V::start(listener, params));
            let setup = Instant::now();
            let mut child = Command::new(&exe)
                .arg("--fanout-clients")
                .arg(addr.to_string())
                .arg(params.clients.to_string())
                .arg(params.messages.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("spawning the client process: {e}"))?;
            // The child's lines, timestamped as they arrive, from a plain thread.
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, mut lines) = mpsc::unbounded_channel::<(Instant, String)>();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send((Instant::now(), line)).is_err() {
                        break;
                    }
                }
            });
            expect(&mut lines, "READY").await?;
            while variant.ready() < params.clients {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let setup_secs = setup.elapsed().as_secs_f64();

            let probe0 = probe.map(|p| p()).unwrap_or_default();
            let cpu0 = cpu_times();
            let t0 = Instant::now();
            // The publisher is a task of its own: the future given to `block_on` is polled
            // again after every 61 tasks, so a publisher there would run ahead of the writers.
            let publisher = {
                let variant = variant.clone();
                tokio::spawn(async move {
                    let mut queued = 0;
                    let mut left = params.messages;
                    while left > 0 {
                        let n = left.min(params.burst.max(1));
                        for _ in 0..n {
                            queued += variant.broadcast(PAYLOAD);
                        }
                        left -= n;
                        tokio::task::yield_now().await;
                    }
                    queued
                })
            };
            let (done_at, done) = expect(&mut lines, "DONE").await?;
            let queued = publisher.await.map_err(|e| format!("publisher: {e}"))?;
            let secs = done_at.duration_since(t0).as_secs_f64();
            let cpu1 = cpu_times();
            let server_user = cpu1.0 - cpu0.0;
            let server_cpu = server_user + cpu1.1 - cpu0.1;
            let probe1 = probe.map(|p| p()).unwrap_or_default();
            let client_cpu = done
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("cpu="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN);

            let mut stdin = child.stdin.take().expect("piped stdin");
            let _ = stdin.write_all(b"EXIT\n");
            drop(stdin);
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("client process failed: {status}"));
            }
            let drain = tokio::time::timeout(Duration::from_secs(120), variant.drained());
            if drain.await.is_err() {
                eprintln!("fanout: connections still open 120 s after the clients left");
            }
            let mut delta = [0u64; 8];
            for (d, (a, b)) in delta.iter_mut().zip(probe1.iter().zip(probe0.iter())) {
                *d = a.wrapping_sub(*b);
            }
            Ok(Run {
                params,
                secs,
                queued,
                server_cpu,
                server_user,
                client_cpu,
                setup_secs,
                probe: delta,
            })
        })
    }

    /// The child's next line, which must start with `word`.
    async fn expect(
        lines: &mut mpsc::UnboundedReceiver<(Instant, String)>,
        word: &str,
    ) -> Result<(Instant, String), String> {
        match lines.recv().await {
            Some((at, line)) if line.starts_with(word) => Ok((at, line)),
            Some((_, line)) => Err(format!("client process: expected {word}, got {line:?}")),
            None => Err(format!("client process ended before {word}")),
        }
    }

    // -----------------------------------------------------------------------------------
    // The client process.

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    /// The accept value for KEY (RFC 6455 section 1.3).
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    async fn connect(addr: &str) -> std::io::Result<(TcpStream, Vec<u8>)> {
        let mut s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(request.as_bytes()).await?;
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        let end = loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]);
        if !head.starts_with("HTTP/1.1 101") || !head.contains(ACCEPT) {
            return Err(std::io::Error::other(format!("bad handshake: {head:?}")));
        }
        Ok((s, buf[end..].to_vec()))
    }

    /// Reads until `messages` copies of the frame have arrived, checking every byte; gives
    /// the stream back (it stays open until the parent says EXIT).
    async fn receive(
        mut s: TcpStream,
        early: Vec<u8>,
        messages: usize,
    ) -> std::io::Result<TcpStream> {
        let frame = frame();
        let want = frame.len() * messages;
        let mut pos = 0usize;
        let check = |bytes: &[u8], pos: &mut usize| -> std::io::Result<()> {
            for &b in bytes {
                if *pos >= want || b != frame[*pos % frame.len()] {
                    return Err(std::io::Error::other(format!(
                        "unexpected byte {b:#04x} at offset {pos}"
                    )));
                }
                *pos += 1;
            }
            Ok(())
        };
        check(&early, &mut pos)?;
        let mut buf = [0u8; 4096];
        while pos < want {
            let n = s.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            check(&buf[..n], &mut pos)?;
        }
        Ok(s)
    }

    /// The child: `addr clients messages`.
    pub fn clients_main(addr: &str, clients: usize, messages: usize) {
        let rt = runtime();
        let streams = rt.block_on(async {
            let mut receivers = Vec::with_capacity(clients);
            let mut opened = 0;
            while opened < clients {
                let wave = (clients - opened).min(64);
                let mut tasks = Vec::with_capacity(wave);
                for _ in 0..wave {
                    let addr = addr.to_owned();
                    tasks.push(tokio::spawn(async move { connect(&addr).await }));
                }
                for task in tasks {
                    let (s, early) = task.await.expect("join").unwrap_or_else(|e| {
                        eprintln!("client: connect/handshake failed: {e}");
                        std::process::exit(1)
                    });
                    receivers.push(tokio::spawn(receive(s, early, messages)));
                }
                opened += wave;
            }
            println!("READY");
            let _ = std::io::stdout().flush();
            let cpu0 = cpu_secs();
            let mut streams = Vec::with_capacity(clients);
            for r in receivers {
                streams.push(r.await.expect("join").unwrap_or_else(|e| {
                    eprintln!("client: receive failed: {e}");
                    std::process::exit(1)
                }));
            }
            println!("DONE cpu={:.3}", cpu_secs() - cpu0);
            let _ = std::io::stdout().flush();
            streams
        });
        // Keep every connection open until the parent is done measuring.
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        drop(streams);
    }

    // -----------------------------------------------------------------------------------
    // Command line and table.

    /// Parsed options.
    #[derive(Clone, Debug)]
    pub struct Options {
        pub clients: Vec<usize>,
        pub messages: Option<usize>,
        /// Bursts to run (0: all M back to back).
        pub bursts: Vec<usize>,
        pub reps: usize,
        pub variants: Vec<String>,
        /// `--variant`: one run, one `FANOUT` line.
        pub single: bool,
    }

    impl Options {
        /// The runs, in order: by client count, burst and repetition, the variants side by
        /// side (so that a change in the machine's load hits them alike).
        pub fn plan(&self) -> Vec<(String, Params)> {
            let mut runs = Vec::new();
            for &clients in &self.clients {
                for &burst in &self.bursts {
                    for _ in 0..self.reps {
                        for v in &self.variants {
                            runs.push((v.clone(), self.params(clients, burst)));
                        }
                    }
                }
            }
            runs
        }
    }

    /// Default deliveries per run when `--messages` is not given.
    pub const DELIVERIES: usize = 500_000;

    impl Options {
        pub fn params(&self, clients: usize, burst: usize) -> Params {
            let messages = self
                .messages
                .unwrap_or((DELIVERIES / clients.max(1)).max(1));
            Params {
                clients,
                messages,
                burst: if burst == 0 { messages } else { burst },
            }
        }
    }

    fn usage(problem: &str) -> ! {
        eprintln!(
            "fanout: {problem}\nusage: fanout [--clients N[,N..]] [--messages M] \
             [--burst B[,B..|all]] [--reps R] [--variants a,b | --variant a]"
        );
        std::process::exit(2)
    }

    /// Parses the command line; runs the child and exits if this is the client process.
    /// `extra` are variant names a including harness knows besides `server` and `hand`.
    pub fn options(extra: &[&str]) -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.first().map(String::as_str) == Some("--fanout-clients") {
            let n = |i: usize| -> usize {
                args.get(i)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage("--fanout-clients ADDR N M"))
            };
            let addr = args
                .get(1)
                .unwrap_or_else(|| usage("--fanout-clients ADDR N M"));
            clients_main(addr, n(2), n(3));
            std::process::exit(0);
        }
        let mut o = Options {
            clients: vec![1_000, 10_000],
            messages: None,
            bursts: vec![1, 0],
            reps: 1,
            variants: vec!["server".into(), "hand".into()],
            single: false,
        };
        let list = |v: &str| -> Vec<usize> {
            v.split(',')
                .map(|x| {
                    x.trim()
                        .replace('_', "")
                        .parse()
                        .unwrap_or_else(|_| usage(v))
                })
                .collect()
        };
        let mut burst_given = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().unwrap_or_else(|| usage(arg));
            match arg.as_str() {
                "--clients" => o.clients = list(&value()),
                "--messages" => o.messages = Some(list(&value())[0]),
                "--burst" => {
                    burst_given = true;
                    o.bursts = value()
                        .split(',')
                        .map(|b| match b.trim() {
                            "all" => 0,
                            n => n.parse().unwrap_or_else(|_| usage("--burst B[,B..|all]")),
                        })
                        .collect()
                }
                "--reps" => o.reps = list(&value())[0].max(1),
                "--variants" => o.variants = value().split(',').map(String::from).collect(),
                "--variant" => {
                    o.variants = vec![value()];
                    o.single = true;
                }
                // cargo bench passes --bench to harness = false targets.
                "--bench" => {}
                other => usage(&format!("unknown argument {other:?}")),
            }
        }
        if o.single && !burst_given {
            o.bursts = vec![1];
        }
        for v in &o.variants {
            if v != "server" && v != "hand" && !extra.contains(&v.as_str()) {
                usage(&format!("unknown variant {v:?}"));
            }
        }
        o
    }

    /// Runs the built-in variants by name (`None` for a name it does not know).
    pub fn run_named(
        name: &str,
        params: Params,
        probe: Option<Probe>,
    ) -> Option<Result<Run, String>> {
        match name {
            "server" => Some(measure::<ServerLayer>(params, probe)),
            "hand" => Some(measure::<HandWritten>(params, probe)),
            _ => None,
        }
    }

    /// One machine-readable line per run.
    pub fn fanout_line(name: &str, run: &Run) -> String {
        format!(
            "FANOUT variant={name} clients={} messages={} burst={} delivered={} queued={} \
             secs={:.4} per_sec={:.0} server_cpu={:.2} server_user={:.2} client_cpu={:.2} \
             setup_secs={:.2}",
            run.params.clients,
            run.params.messages,
            run.params.burst,
            run.delivered(),
            run.queued,
            run.secs,
            run.per_sec(),
            run.server_cpu,
            run.server_user,
            run.client_cpu,
            run.setup_secs
        )
    }

    pub fn print_header() {
        println!(
            "| variant | clients |    M | burst | delivered |   secs | delivered/s | server CPU \
             | client CPU | server CPU µs/delivery | of which user |"
        );
        println!(
            "|---------|---------|------|-------|-----------|--------|-------------|------------\
             |------------|------------------------|---------------|"
        );
    }

    pub fn print_row(name: &str, run: &Run) {
        let per = |secs: f64| 1e6 * secs / run.delivered() as f64;
        let burst = if run.params.burst >= run.params.messages {
            "all".to_string()
        } else {
            run.params.burst.to_string()
        };
        println!(
            "| {:<7} | {:>7} | {:>4} | {:>5} | {:>9} | {:>6.2} | {:>11.0} | {:>9.0}% | {:>9.0}% \
             | {:>22.2} | {:>13.2} |",
            name,
            run.params.clients,
            run.params.messages,
            burst,
            run.delivered(),
            run.secs,
            run.per_sec(),
            100.0 * run.server_cpu / run.secs,
            100.0 * run.client_cpu / run.secs,
            per(run.server_cpu),
            per(run.server_user)
        );
        if run.queued != run.delivered() {
            println!("  (queued {} of {})", run.queued, run.delivered());
        }
    }

    pub fn main() {
        let o = options(&[]);
        if !o.single {
            println!(
                "fan-out of a 16 B text message over loopback; server: tokio current_thread, \
                 clients: a child process"
            );
            print_header();
        }
        for (v, params) in o.plan() {
            match run_named(&v, params, None).expect("known variant") {
                Ok(run) if o.single => println!("{}", fanout_line(&v, &run)),
                Ok(run) => print_row(&v, &run),
                Err(e) => {
                    eprintln!("fanout {v} {}: {e}", params.clients);
                    if o.single {
                        std::process::exit(1);
                    }
                }
            }
        }
    }
}

#[cfg(feature = "tokio")]
fn main() {
    fanout::main();
}

#[cfg(not(feature = "tokio"))]
fn main() {
    eprintln!(
        "benches/fanout.rs measures the server layer, which needs the tokio feature:\n  \
         cargo bench --features tokio --bench fanout"
    );
}
