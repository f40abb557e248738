//! TLS on loopback with a throwaway PKI made in the test: wss:// echo through the server
//! layer and the echo_server/echo_client examples, untrusted roots and wrong names refused
//! before anything is sent, close_notify after the closing handshake, a client that accepts
//! an end without close_notify after the server's Close, a silent TLS client that holds up
//! no one, and `localhost` tried on each of its addresses.
#![cfg(all(feature = "rustls", feature = "tokio", unix))]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::example;
use common::pki::Pki;
use common::tempdir::TempDir;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsproto::CloseCode;
use wsproto::handshake::{ClientOptions, Request, accept_key};
use wsproto::io::on_tokio::connect;
use wsproto::io::{ConnectOptions, Decision, Error, Message};
use wsproto::server::{Router, ServerBuilder, ServerHandle};
use wsproto::tls::rustls::{self, CertificateError};
use wsproto::tls::tokio_rustls::{TlsAcceptor, TlsConnector};

const WAIT: Duration = Duration::from_secs(10);

/// A wss:// echo server on the server layer; counts the requests its verification saw.
async fn echo_server(
    leaf: &common::pki::Leaf,
    handshake_timeout: Duration,
) -> (u16, ServerHandle, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let router = Router::new().route("/echo", |mut client| async move {
        while let Some(Ok(message)) = client.recv().await {
            if message.is_text() || message.is_binary() {
                client.send(message);
            }
        }
    });
    let server = ServerBuilder::new()
        .tls(leaf.server_config())
        .handshake_timeout(handshake_timeout)
        .verify(move |request: &Request| {
            counter.fetch_add(1, Ordering::SeqCst);
            assert!(request.is_secure());
            Decision::Now(Ok(Default::default()))
        })
        .router(router)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let port = server.local_addr().unwrap().port();
    let handle = server.handle();
    tokio::spawn(server.run());
    (port, handle, seen)
}

fn trusting(pki: &Pki) -> ConnectOptions {
    ConnectOptions::new(ClientOptions::default()).tls(pki.client_config())
}

fn certificate_error(result: Result<impl std::fmt::Debug, Error>) -> CertificateError {
    match result {
        Err(Error::Tls(rustls::Error::InvalidCertificate(e))) => e,
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_echo_through_the_server_layer_then_a_clean_close() {
    let pki = Pki::new("echo");
    let (port, _handle, seen) = echo_server(&pki.leaf(&["localhost"]), WAIT).await;
    let url = format!("wss://localhost:{port}/echo");
    let (mut ws, response) = connect(&url, trusting(&pki)).await.unwrap();
    assert_eq!(response.status, 101);
    assert!(ws.get_ref().is_tls());
    let big = Message::binary((0..64 * 1024).map(|i| i as u8).collect::<Vec<_>>());
    for message in [Message::text("héllo ✓"), big, Message::text("")] {
        ws.send(message.clone()).await.unwrap();
        let echo = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
        assert_eq!(echo.unwrap().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_root_is_refused_before_the_request_is_sent() {
    let pki = Pki::new("trusted");
    let other = Pki::new("other");
    let (port, _handle, seen) = echo_server(&pki.leaf(&["localhost"]), WAIT).await;
    let url = format!("wss://localhost:{port}/echo");
    let e = certificate_error(connect(&url, trusting(&other)).await);
    assert_eq!(e, CertificateError::UnknownIssuer);
    // The default roots (webpki-roots, the platform's) do not hold a private CA either.
    let e = certificate_error(connect(&url, ClientOptions::default()).await);
    assert_eq!(e, CertificateError::UnknownIssuer);
    // The server never saw a WebSocket request.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(seen.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_name_is_refused() {
    let pki = Pki::new("names");
    let (port, _handle, seen) = echo_server(&pki.leaf(&["localhost"]), WAIT).await;
    let e =
        certificate_error(connect(&format!("wss://127.0.0.1:{port}/echo"), trusting(&pki)).await);
    assert!(
        matches!(
            e,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{e:?}"
    );
    assert_eq!(seen.load(Ordering::SeqCst), 0);
    // An IP address in the certificate is checked as one.
    let pki = Pki::new("ip");
    let (port, _handle, _) = echo_server(&pki.leaf(&["127.0.0.1"]), WAIT).await;
    connect(&format!("wss://127.0.0.1:{port}/echo"), trusting(&pki))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tls_client_holds_up_no_one_and_is_dropped_at_the_handshake_timeout() {
    let pki = Pki::new("silent");
    let (port, _handle, _) =
        echo_server(&pki.leaf(&["localhost"]), Duration::from_millis(300)).await;
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // Meanwhile another client connects, echoes and closes.
    let (mut ws, _) = connect(&format!("wss://localhost:{port}/echo"), trusting(&pki))
        .await
        .unwrap();
    ws.send(Message::text("x")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("x"));
    // The silent one is cut off once its handshake time is up.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(WAIT, silent.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_is_tried_on_each_of_its_addresses() {
    // Listening on IPv4 only: if `localhost` resolves to ::1 first, that attempt is refused
    // and the next address is tried.
    let pki = Pki::new("localhost");
    let (port, _handle, _) = echo_server(&pki.leaf(&["localhost"]), WAIT).await;
    let addrs: Vec<_> = tokio::net::lookup_host(("localhost", port))
        .await
        .unwrap()
        .collect();
    assert!(addrs.iter().any(|a| a.is_ipv4()), "{addrs:?}");
    let (mut ws, _) = connect(&format!("wss://localhost:{port}/echo"), trusting(&pki))
        .await
        .unwrap();
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

/// A client frame: FIN, `opcode`, masked with a zero key (the payload as it is).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

/// Reads until the end of an HTTP head; returns it.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(stream.read(&mut byte).await.unwrap(), 1, "head cut short");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_close_notify_after_the_closing_handshake() {
    let pki = Pki::new("notify");
    let (port, _handle, _) = echo_server(&pki.leaf(&["localhost"]), WAIT).await;
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(pki.client_config())
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(
        b"GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    tls.write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    let mut close = [0u8; 4];
    tls.read_exact(&mut close).await.unwrap();
    assert_eq!(close, [0x88, 0x02, 0x03, 0xe8]);
    // Then a clean TLS end: close_notify reads as Ok(0); without it tokio-rustls reports
    // UnexpectedEof.
    let mut rest = Vec::new();
    let end = tokio::time::timeout(WAIT, tls.read_to_end(&mut rest))
        .await
        .unwrap();
    assert_eq!(end.unwrap(), 0, "close_notify expected, got {rest:?}");
}

/// A TLS server that accepts one WebSocket, sends Close(1000) (before or after `data`), reads
/// the client's Close if it sent one, and drops TCP without close_notify.
async fn server_without_close_notify(pki: &Pki, close_first: bool) -> u16 {
    let acceptor = TlsAcceptor::from(pki.leaf(&["localhost"]).server_config());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        let head = read_head(&mut tls).await;
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap()
            .trim()
            .to_owned();
        let answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key.as_bytes())
        );
        tls.write_all(answer.as_bytes()).await.unwrap();
        tls.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
        if close_first {
            tls.write_all(&[0x88, 0x02, 0x03, 0xe8]).await.unwrap();
            // The client's Close: 2 header bytes, 4 of mask, 2 of code.
            let mut reply = [0u8; 8];
            tls.read_exact(&mut reply).await.unwrap();
            assert_eq!(reply[0], 0x88);
        }
        tls.flush().await.unwrap();
        let (tcp, _) = tls.into_inner();
        drop(tcp);
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_after_the_servers_close_is_clean_without_close_notify() {
    let pki = Pki::new("no-notify");
    let port = server_without_close_notify(&pki, true).await;
    let url = format!("wss://localhost:{port}/");
    let (mut ws, _) = connect(&url, trusting(&pki)).await.unwrap();
    let mut seen = Vec::new();
    while let Some(item) = tokio::time::timeout(WAIT, ws.next()).await.unwrap() {
        seen.push(item.map_err(|e| e.to_string()));
    }
    assert_eq!(
        seen,
        [
            Ok(Message::text("hi")),
            Ok(Message::Close(Some(wsproto::CloseFrame::new(
                CloseCode::NORMAL,
                ""
            ))))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_without_close_notify_before_any_close_is_abnormal() {
    let pki = Pki::new("cut");
    let port = server_without_close_notify(&pki, false).await;
    let url = format!("wss://localhost:{port}/");
    let (mut ws, _) = connect(&url, trusting(&pki)).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
    // As for TCP: the end of the stream before a Close is an abnormal closure (1006).
    let end = tokio::time::timeout(WAIT, ws.next()).await.unwrap();
    assert_eq!(
        end.unwrap().unwrap(),
        Message::Close(Some(wsproto::CloseFrame::new(CloseCode::ABNORMAL, "")))
    );
    assert!(
        tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn echo_server_and_echo_client_examples_over_tls() {
    let pki = Pki::new("examples");
    let dir = TempDir::new("tls-examples");
    let (server, ca) = pki.echo_server_example(&pki.leaf(&["localhost"]), &dir.0);
    let ca = ca.as_str();
    let port = server.port();
    let url = format!("wss://localhost:{port}/");
    // Trusted through --ca (before or after the URL): every echo matches, exit 0.
    let ok = example::run("echo_client", &[&url, "--ca", ca]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let ok = example::run("echo_client", &["--ca", ca, &url]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A private CA that is not given is not trusted.
    let untrusted = example::run("echo_client", &[&url]);
    assert!(!untrusted.status.success());
    assert!(String::from_utf8_lossy(&untrusted.stderr).contains("UnknownIssuer"));
    // A wrong host name.
    let wrong = example::run(
        "echo_client",
        &[&format!("wss://127.0.0.1:{port}/"), "--ca", ca],
    );
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("not valid for name"), "{stderr}");
}

#[test]
fn echo_server_serves_an_rsa_key_from_pkcs8_pem() {
    // ring cannot generate RSA keys: openssl makes a fresh one (PKCS#8 PEM).
    let dir = TempDir::new("tls-rsa");
    let key_path = dir.0.join("rsa.pem");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key_path)
        .output();
    match made {
        Ok(out) if out.status.success() => {}
        _ if std::env::var_os("CI").is_some() => panic!("openssl is needed to make an RSA key"),
        _ => {
            eprintln!("skipped: no openssl to make an RSA key");
            return;
        }
    }
    let rsa = std::fs::read_to_string(&key_path).unwrap();
    assert!(
        rsa.starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 expected"
    );
    let pki = Pki::new("rsa");
    let (server, ca) = pki.echo_server_example(&pki.leaf_with_key(&["localhost"], &rsa), &dir.0);
    let url = format!("wss://localhost:{}/", server.port());
    let ok = example::run("echo_client", &[&url, "--ca", &ca]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn wss_from_the_futures_io_adapter() {
    let pki = Pki::new("futures");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (port, _handle, _) = runtime.block_on(echo_server(&pki.leaf(&["localhost"]), WAIT));
    smol::block_on(async {
        let url = format!("wss://localhost:{port}/echo");
        let (mut ws, _) = wsproto::io::on_futures::connect(&url, trusting(&pki), |target| {
            smol::net::TcpStream::connect(target.address())
        })
        .await
        .unwrap();
        assert!(ws.get_ref().is_tls());
        ws.send(Message::text("smol over TLS")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::text("smol over TLS")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        // Untrusted here too.
        let other = Pki::new("futures-other");
        let refused = wsproto::io::on_futures::connect(&url, trusting(&other), |target| {
            smol::net::TcpStream::connect(target.address())
        })
        .await;
        assert_eq!(
            certificate_error(refused.map(|_| ())),
            CertificateError::UnknownIssuer
        );
    });
}
