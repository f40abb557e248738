//! The servers compared, and the `serve LIB` process that runs one of them: the `Lib` enum,
//! one echo task per library (and the plain-socket idle floor), and the server process's
//! accept loop, numbers (`STATS`) and control lines.

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{GLOBAL, usage};

// ------------------------------------------------------------------------------------------
// Libraries

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lib {
    Wsproto,
    Fastwebsockets,
    Tungstenite,
    Plain,
}

impl Lib {
    pub fn parse(s: &str) -> Lib {
        match s {
            "wsproto" => Lib::Wsproto,
            "fastwebsockets" | "fws" => Lib::Fastwebsockets,
            "tungstenite" | "tokio-tungstenite" | "tt" => Lib::Tungstenite,
            "plain" => Lib::Plain,
            _ => usage(&format!("unknown library {s:?}")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Lib::Wsproto => "wsproto",
            Lib::Fastwebsockets => "fastwebsockets",
            Lib::Tungstenite => "tungstenite",
            Lib::Plain => "plain",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Lib::Wsproto => "wsproto",
            Lib::Fastwebsockets => "fastwebsockets",
            Lib::Tungstenite => "tokio-tungstenite",
            Lib::Plain => "plain TcpStream",
        }
    }

    fn spawn(self, stream: TcpStream) -> tokio::task::JoinHandle<()> {
        match self {
            Lib::Wsproto => tokio::spawn(wsproto(stream)),
            Lib::Fastwebsockets => tokio::spawn(fastwebsockets(stream)),
            Lib::Tungstenite => tokio::spawn(tungstenite(stream)),
            Lib::Plain => tokio::spawn(plain(stream)),
        }
    }
}

// ------------------------------------------------------------------------------------------
// Echo servers: one task per connection

/// Handshakes completed in this server process.
static READY: AtomicUsize = AtomicUsize::new(0);

fn ready() {
    READY.fetch_add(1, Relaxed);
}

/// As `examples/echo_server.rs` (shared/echo.rs), without deflate.
async fn wsproto(stream: TcpStream) {
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

async fn tungstenite(stream: TcpStream) {
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

async fn fastwebsockets(stream: TcpStream) {
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
async fn plain(stream: TcpStream) {
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

/// The same thread's CPU time in the kernel, ns (`stime` of its `stat`, in clock ticks of
/// 10 ms: Linux's USER_HZ is 100), so a cell of about a second is within 1 %.
fn sys_ns() -> u64 {
    let pid = std::process::id();
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces):
            // state is field 3, stime field 15.
            let rest = s.rsplit_once(')')?.1;
            rest.split_whitespace().nth(12)?.parse::<u64>().ok()
        })
        .map_or(0, |ticks| ticks * 10_000_000)
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
    let sys = sys_ns();
    let rss = vm_rss_kib(); // allocates: after the heap counters are read
    println!(
        "STATS ready={} cpu_ns={cpu} sys_ns={sys} allocs={} live_bytes={} live_blocks={} \
         rss_kib={rss}",
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

pub fn serve(lib: Lib, exit_after: Option<usize>) {
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
