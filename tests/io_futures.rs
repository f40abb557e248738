//! The futures-io adapter, driven by smol and by async-std, over an in-memory duplex pipe and
//! over loopback TCP.
#![cfg(feature = "futures-io")]

mod common;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::io::{echo, pattern};
use futures_util::{SinkExt, StreamExt};
use wsproto::handshake::Accept;
use wsproto::handshake::{ClientOptions, Request};
use wsproto::io::on_futures::{accept, accept_with, connect_with};
use wsproto::io::{AcceptOptions, CloseFrame, Error, Message};
use wsproto::{CloseCode, Config, Timeout};

// ---- a bounded in-memory duplex pipe for futures-io ----

#[derive(Default)]
struct Half {
    buf: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

struct End {
    rx: Arc<Mutex<Half>>,
    tx: Arc<Mutex<Half>>,
}

const CAP: usize = 16 * 1024;

fn pipe() -> (End, End) {
    let a = Arc::new(Mutex::new(Half::default()));
    let b = Arc::new(Mutex::new(Half::default()));
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        End { rx: b, tx: a },
    )
}

impl futures_io::AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut h = self.rx.lock().unwrap();
        if h.buf.is_empty() {
            if h.closed {
                return Poll::Ready(Ok(0));
            }
            h.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.len().min(h.buf.len());
        for (o, b) in out.iter_mut().zip(h.buf.drain(..n)) {
            *o = b;
        }
        if let Some(w) = h.writer.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut h = self.tx.lock().unwrap();
        if h.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = CAP - h.buf.len();
        if room == 0 {
            h.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(data.len());
        h.buf.extend(&data[..n]);
        if let Some(w) = h.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut h = self.tx.lock().unwrap();
        h.closed = true;
        if let Some(w) = h.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        for half in [&self.rx, &self.tx] {
            let mut h = half.lock().unwrap();
            h.closed = true;
            if let Some(w) = h.reader.take() {
                w.wake();
            }
            if let Some(w) = h.writer.take() {
                w.wake();
            }
        }
    }
}

#[test]
fn smol_in_memory_echo_and_close() {
    smol::block_on(async {
        let (a, b) = pipe();
        let server = smol::spawn(async move {
            let ws = accept_with(b, AcceptOptions::default(), |r: &Request| {
                Ok(Accept {
                    protocol: r.protocols().first().cloned(),
                    ..Accept::default()
                })
            })
            .await
            .unwrap();
            echo(ws).await
        });
        let (mut ws, _) = connect_with(a, "ws://memory/", ClientOptions::default().protocol("p"))
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("p"));
        let sent = vec![
            Message::text("hi"),
            Message::text(""),
            Message::binary(pattern(200_000)),
        ];
        for m in &sent {
            ws.send(m.clone()).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), *m);
        }
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(ws.next().await.is_none());
        let mut expected = sent;
        expected.push(Message::Close(Some(CloseFrame::new(
            CloseCode::NORMAL,
            "bye",
        ))));
        assert_eq!(server.await, expected);
    });
}

#[test]
fn smol_split_halves_under_concurrent_load() {
    smol::block_on(async {
        let (a, b) = pipe();
        let server = smol::spawn(async move { echo(accept(b).await.unwrap()).await });
        let (ws, _) = connect_with(a, "ws://memory/", ClientOptions::default())
            .await
            .unwrap();
        let (mut read, mut write) = ws.split();
        const N: usize = 1000;
        let writer = smol::spawn(async move {
            for i in 0..N {
                write
                    .send(Message::binary(pattern(i * 53 % 30_000)))
                    .await
                    .unwrap();
            }
            write
        });
        for i in 0..N {
            assert_eq!(
                read.next().await.unwrap().unwrap(),
                Message::binary(pattern(i * 53 % 30_000))
            );
        }
        let mut write = writer.await;
        drop(read);
        write.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(server.await.len(), N + 1);
    });
}

#[test]
fn async_std_tcp_loopback_echo() {
    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = async_std::task::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            echo(accept(stream).await.unwrap()).await
        });
        let stream = async_std::net::TcpStream::connect(addr).await.unwrap();
        let (mut ws, _) = connect_with(stream, &format!("ws://{addr}/"), ClientOptions::default())
            .await
            .unwrap();
        for i in 0..20 {
            ws.feed(Message::text(format!("{i}"))).await.unwrap();
        }
        ws.flush().await.unwrap();
        for i in 0..20 {
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::text(format!("{i}"))
            );
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(server.await.len(), 21);
    });
}

#[test]
fn smol_close_timeout_with_futures_timer() {
    smol::block_on(async {
        let (a, b) = pipe();
        let server = smol::spawn(accept(b));
        let config = Config::new().close_timeout(Duration::from_millis(200));
        let (mut ws, _) = connect_with(a, "ws://memory/", ClientOptions::default().config(config))
            .await
            .unwrap();
        let _server = server.await.unwrap(); // held, never polled
        let result = ws.close(CloseCode::NORMAL, "").await;
        assert!(
            matches!(
                result,
                Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Close)))
            ),
            "{result:?}"
        );
    });
}

#[test]
fn smol_handshake_timeout() {
    smol::block_on(async {
        let (_a, b) = pipe();
        let options = AcceptOptions::default().handshake_timeout(Some(Duration::from_millis(100)));
        let result = accept_with(b, options, wsproto::io::AcceptAll).await;
        assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    });
}

#[test]
fn smol_keepalive_with_futures_timer() {
    smol::block_on(async {
        let (a, b) = pipe();
        let server = smol::spawn(accept(b));
        let config =
            Config::new().keepalive(Some(Duration::from_millis(50)), Duration::from_millis(100));
        let (mut ws, _) = connect_with(a, "ws://memory/", ClientOptions::default().config(config))
            .await
            .unwrap();
        let _server = server.await.unwrap(); // held, never polled: no pongs
        match ws.next().await {
            Some(Err(Error::Connection(wsproto::Error::TimedOut(Timeout::Keepalive)))) => {}
            other => panic!("expected a keepalive timeout, got {other:?}"),
        }
    });
}
