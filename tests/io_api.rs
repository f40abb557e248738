//! The adapter API of the session layer (tokio, loopback TCP, paused time where timing
//! matters): an accept decision that takes time, what a WebSocket knows about itself,
//! terminate, pause/resume, and Close without a status.
#![cfg(feature = "tokio")]

mod common;

use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use wsproto::CloseCode;
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::{Accept, ClientOptions, HandshakeError, Reject, Request, Version};
use wsproto::io::on_tokio::{WebSocket, accept_with, connect};
use wsproto::io::{AcceptOptions, Decision, Error, Message};

/// A server on a free port that accepts one connection with `decide` and hands the
/// WebSocket (or the accept error) back.
async fn serve_one<D>(
    decide: D,
) -> (
    String,
    tokio::task::JoinHandle<Result<WebSocket<TcpStream>, Error>>,
)
where
    D: FnOnce(&Request) -> Decision + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/room?id=7", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        accept_with(stream, AcceptOptions::default(), decide).await
    });
    (url, server)
}

/// An async "token lookup": accepts `Bearer sesame` (with deflate and a subprotocol),
/// rejects anything else with 401.
fn token_check(request: &Request) -> Decision {
    let token = request.header("Authorization").map(String::from);
    let wants_chat = request.protocols().iter().any(|p| p == "chat");
    assert!(
        request.peer_addr().is_some(),
        "the decision sees the peer address"
    );
    assert!(!request.is_secure());
    Decision::later(async move {
        tokio::task::yield_now().await; // the lookup takes a while
        match token.as_deref() {
            Some("Bearer sesame") => Ok(Accept {
                protocol: wants_chat.then(|| "chat".to_owned()),
                extensions: vec![Box::new(PerMessageDeflate::default())],
                ..Accept::default()
            }),
            _ => Err(Reject::new(401)),
        }
    })
}

#[tokio::test]
async fn async_decision_accepts_and_the_socket_knows_itself() {
    let (url, server) = serve_one(token_check).await;
    let options = ClientOptions::default()
        .protocol("chat")
        .header("Authorization", "Bearer sesame");
    let (mut client, response) = connect(&url, options).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    assert_eq!(response.status, 101);

    // What each side knows, from the negotiation (never re-typed by the user).
    assert_eq!(client.protocol(), Some("chat"));
    assert_eq!(server.protocol(), Some("chat"));
    assert_eq!(client.version(), Version::V13);
    assert_eq!(server.version(), Version::V13);
    let agreed = client
        .deflate()
        .expect("the client offers permessage-deflate by default");
    assert_eq!(server.deflate(), Some(agreed));
    assert_eq!(client.extensions(), vec!["permessage-deflate".to_owned()]);
    assert_eq!(client.url(), Some(url.as_str()));
    assert_eq!(server.request().map(Request::path), Some("/room"));
    assert_eq!(server.request().and_then(Request::query), Some("id=7"));
    let client_local = client.get_ref().tcp().local_addr().unwrap();
    assert_eq!(server.peer_addr(), Some(client_local));
    assert_eq!(
        client.peer_addr(),
        Some(server.get_ref().local_addr().unwrap())
    );

    // Counters move with the bytes.
    client.send(Message::text("héllo")).await.unwrap();
    let got = server.next().await.unwrap().unwrap();
    assert_eq!(got, Message::text("héllo"));
    assert!(client.bytes_sent() > 0);
    assert_eq!(server.bytes_received(), client.bytes_sent());

    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(item) = server.next().await {
            seen.push(item.unwrap());
        }
        seen
    });
    client.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert_eq!(
        reader.await.unwrap(),
        vec![Message::close(CloseCode::NORMAL, "bye")]
    );
}

#[tokio::test]
async fn async_decision_rejects_with_its_status() {
    let (url, server) = serve_one(token_check).await;
    let error = connect(&url, ClientOptions::default()).await.unwrap_err();
    assert_eq!(error.response().map(|r| r.status), Some(401));
    assert!(matches!(
        error,
        Error::Handshake(HandshakeError::UnexpectedResponse(_))
    ));
    assert!(matches!(server.await.unwrap(), Err(Error::Rejected(401))));
}

#[tokio::test(start_paused = true)]
async fn a_slow_decision_is_bounded_by_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let options = AcceptOptions::default().handshake_timeout(Some(Duration::from_secs(2)));
        accept_with(stream, options, |_: &Request| {
            Decision::later(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Accept::default())
            })
        })
        .await
    });
    let client = tokio::spawn(async move { connect(&url, ClientOptions::default()).await });
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::HandshakeTimeout)
    ));
    assert!(client.await.unwrap().is_err());
}

#[tokio::test]
async fn terminate_ends_the_stream_without_an_error() {
    let (url, server) = serve_one(|_: &Request| Decision::Now(Ok(Accept::default()))).await;
    let (mut client, _) = connect(&url, ClientOptions::default()).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    server.terminate(CloseCode::GOING_AWAY, "maintenance", false);
    assert!(server.next().await.is_none(), "no error, just the end");
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::close(CloseCode::GOING_AWAY, "maintenance")
    );
    assert!(client.next().await.is_none());
}

#[tokio::test]
async fn close_without_status_arrives_as_none() {
    let (url, server) = serve_one(|_: &Request| Decision::Now(Ok(Accept::default()))).await;
    let (mut client, _) = connect(&url, ClientOptions::default()).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    client.send(Message::Close(None)).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap(), Message::Close(None));
    assert_eq!(client.next().await.unwrap().unwrap(), Message::Close(None));
}

#[tokio::test(start_paused = true)]
async fn pause_holds_messages_until_resume() {
    let (url, server) = serve_one(|_: &Request| Decision::Now(Ok(Accept::default()))).await;
    let (mut client, _) = connect(&url, ClientOptions::default()).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    server.pause();
    client.send(Message::text("later")).await.unwrap();
    let waited = tokio::time::timeout(Duration::from_secs(5), server.next()).await;
    assert!(waited.is_err(), "nothing is delivered while paused");
    assert_eq!(server.bytes_received(), 0, "a paused socket does not read");
    server.resume();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("later")
    );
}
