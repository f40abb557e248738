//! HTTP CONNECT proxies with a real proxy: Debian's `tinyproxy`, started by the test on a free
//! loopback port and stopped at the end (`.ci/run` installs it; without it the tests are
//! skipped with a message, unless `CI` is set, where they fail).
//!
//! ws:// and wss:// through the tunnel (the certificate still checked inside it), basic
//! authentication (missing or wrong credentials: 407, or 401 from tinyproxy; never a direct connection), a refused
//! CONNECT (403), every adapter (tokio, futures-io, blocking), and `echo_client --proxy`.
#![cfg(all(feature = "rustls", feature = "tokio", feature = "futures-io", unix))]

mod common;

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::example;
use common::pki::Pki;
use common::tempdir::TempDir;
use futures_util::StreamExt;
use wsproto::CloseCode;
use wsproto::handshake::{HandshakeError, Proxy};
use wsproto::io::{ConnectOptions, Error, Message};
use wsproto::server::{Router, ServerBuilder};
use wsproto::tls::rustls::{self, CertificateError};

/// A tinyproxy process, stopped when dropped.
struct Tinyproxy {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tinyproxy_bin() -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let bin = PathBuf::from(dir).join("tinyproxy");
        if bin.exists() {
            return Some(bin);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("tinyproxy is not installed (.ci/run installs it)");
    }
    eprintln!("skipped: tinyproxy is not installed (apt-get install tinyproxy)");
    None
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts tinyproxy with these extra configuration lines; `None` if it is not installed.
/// Ready once its log says it accepts connections while it still runs: a port taken between
/// `free_port` and tinyproxy's bind (tinyproxy then exits) is retried with another, never
/// mistaken for the proxy.
fn tinyproxy(extra: &str) -> Option<Tinyproxy> {
    let bin = tinyproxy_bin()?;
    for _ in 0..5 {
        let dir = TempDir::new("tinyproxy");
        let port = free_port();
        let conf = dir.0.join("tinyproxy.conf");
        let log = dir.0.join("log");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nLogLevel Info\n\
                 LogFile \"{log}\"\nPidFile \"{pid}\"\nAllow 127.0.0.1\n{extra}\n",
                log = log.display(),
                pid = dir.0.join("pid").display(),
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut proxy = Tinyproxy {
            child,
            port,
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if proxy.child.try_wait().unwrap().is_some() {
                break; // it could not start (port taken): another port
            }
            let accepting =
                std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Accepting connections"));
            if accepting && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(proxy);
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tinyproxy did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("tinyproxy did not start on any of 5 ports");
}

impl Tinyproxy {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn proxy(&self) -> Proxy {
        Proxy::new(&self.url()).unwrap()
    }
}

/// An echo server (ws:// or wss:// with `tls`) on the server layer; its port.
async fn echo_server(tls: Option<&Pki>) -> u16 {
    let router = Router::new().route("/echo", |mut client| async move {
        while let Some(Ok(message)) = client.recv().await {
            if message.is_text() || message.is_binary() {
                client.send(message);
            }
        }
    });
    let mut builder = ServerBuilder::new().router(router);
    if let Some(pki) = tls {
        builder = builder.tls(pki.leaf(&["localhost"]).server_config());
    }
    let server = builder.bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    tokio::spawn(server.run());
    port
}

async fn echo_once<S>(ws: &mut wsproto::io::nonblocking::WebSocket<S>)
where
    S: wsproto::io::nonblocking::PollIo,
{
    ws.send(Message::text("through the tunnel")).await.unwrap();
    let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap();
    assert_eq!(echo.unwrap().unwrap(), Message::text("through the tunnel"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

fn refused(result: Result<impl std::fmt::Debug, Error>) -> u16 {
    match result {
        Err(Error::Handshake(HandshakeError::ProxyRefused(response))) => response.status,
        other => panic!("expected the proxy's refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_through_the_tunnel_with_the_certificate_checked_inside() {
    let Some(proxy) = tinyproxy("") else { return };
    let plain = echo_server(None).await;
    let options = ConnectOptions::default().proxy(proxy.proxy());
    let url = format!("ws://127.0.0.1:{plain}/echo");
    let (mut ws, response) = wsproto::io::on_tokio::connect(&url, options.clone())
        .await
        .unwrap();
    assert_eq!(response.status, 101);
    // The TCP connection is the proxy's.
    assert_eq!(ws.get_ref().tcp().peer_addr().unwrap().port(), proxy.port);
    echo_once(&mut ws).await;

    let pki = Pki::new("proxied");
    let secure = echo_server(Some(&pki)).await;
    let url = format!("wss://localhost:{secure}/echo");
    let (mut ws, _) =
        wsproto::io::on_tokio::connect(&url, options.clone().tls(pki.client_config()))
            .await
            .unwrap();
    assert!(ws.get_ref().is_tls());
    echo_once(&mut ws).await;
    // A certificate from another CA is refused inside the tunnel as it is outside.
    let other = Pki::new("stranger");
    let result = wsproto::io::on_tokio::connect(&url, options.tls(other.client_config())).await;
    match result {
        Err(Error::Tls(rustls::Error::InvalidCertificate(e))) => {
            assert_eq!(e, CertificateError::UnknownIssuer)
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_authentication_and_refusals_never_fall_back_to_a_direct_connection() {
    let Some(proxy) = tinyproxy("BasicAuth alice s3cret") else {
        return;
    };
    let port = echo_server(None).await;
    let url = format!("ws://127.0.0.1:{port}/echo");
    let connect = |proxy: Proxy| {
        let url = url.clone();
        async move { wsproto::io::on_tokio::connect(&url, ConnectOptions::default().proxy(proxy)).await }
    };
    // 407 is the standard answer; tinyproxy answers CONNECT with 401.
    let status = refused(connect(proxy.proxy()).await);
    assert!(matches!(status, 401 | 407), "{status}");
    let status = refused(connect(proxy.proxy().basic_auth("alice", "wrong")).await);
    assert!(matches!(status, 401 | 407), "{status}");
    let with_url_credentials =
        Proxy::new(&format!("http://alice:s3cret@127.0.0.1:{}", proxy.port)).unwrap();
    let (mut ws, _) = connect(with_url_credentials).await.unwrap();
    echo_once(&mut ws).await;
    let (mut ws, _) = connect(proxy.proxy().basic_auth("alice", "s3cret"))
        .await
        .unwrap();
    echo_once(&mut ws).await;

    // A proxy that only tunnels to port 443 refuses ours with 403.
    let Some(strict) = tinyproxy("ConnectPort 443") else {
        return;
    };
    assert_eq!(refused(connect(strict.proxy()).await), 403);
}

#[test]
fn futures_io_and_blocking_adapters_tunnel_too() {
    let Some(proxy) = tinyproxy("") else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let port = runtime.block_on(echo_server(None));
    let url = format!("ws://127.0.0.1:{port}/echo");
    let options = ConnectOptions::default().proxy(proxy.proxy());

    smol::block_on(async {
        let (mut ws, _) = wsproto::io::on_futures::connect(&url, options.clone(), |target| {
            smol::net::TcpStream::connect(target.address())
        })
        .await
        .unwrap();
        assert_eq!(ws.get_ref().inner().peer_addr().unwrap().port(), proxy.port);
        ws.send(Message::text("smol")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("smol"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    });

    let (mut ws, _) = wsproto::io::blocking::connect(&url, options).unwrap();
    ws.send(Message::text("blocking")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("blocking"));
    ws.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn echo_client_example_through_the_proxy() {
    let Some(proxy) = tinyproxy("") else { return };
    let server = example::start("echo_server", &[]);
    let url = format!("ws://{}/", server.addr);
    let ok = example::run("echo_client", &["--proxy", &proxy.url(), &url]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let pki = Pki::new("example-proxy");
    let dir = TempDir::new("proxy-example");
    let (secure, ca) = pki.echo_server_example(&pki.leaf(&["localhost"]), &dir.0);
    let url = format!("wss://localhost:{}/", secure.port());
    let ca = ca.as_str();
    let ok = example::run("echo_client", &[&url, "--proxy", &proxy.url(), "--ca", ca]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Without --ca the certificate is untrusted inside the tunnel too.
    let bad = example::run("echo_client", &[&url, "--proxy", &proxy.url()]);
    assert!(!bad.status.success());

    // A refused CONNECT is an error (exit 1), not a direct connection.
    let Some(strict) = tinyproxy("ConnectPort 443") else {
        return;
    };
    let refused = example::run("echo_client", &["--proxy", &strict.url(), &url, "--ca", ca]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("proxy refused"), "{stderr}");
}
