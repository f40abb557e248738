//! Load generator: a hand-written client, the same bytes for every server. `client` (the
//! timed echoes) and `idle-client` (connections held open) are this binary run again.

use std::io::BufRead;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

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
pub fn client(addr: SocketAddr, conns: usize, msgs: usize, size: usize, threads: usize) {
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
pub fn idle_client(addr: SocketAddr) {
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
