//! Autobahn|Testsuite client (tokio): runs every case of a `wstest -m fuzzingserver`.
//!
//! ```text
//! cargo run --release --all-features --example autobahn_client -- [URL [AGENT]]
//! ```
//!
//! URL and agent come from the arguments, else `AUTOBAHN_URL` / `AUTOBAHN_AGENT`, else
//! `ws://127.0.0.1:9001` and `wsproto`. Protocol: `GET /getCaseCount` (a text message with the
//! count N), then `/runCase?case=i&agent=A` for i in 1..=N, echoing every text and binary
//! message until the server closes, then `/updateReports?agent=A`. permessage-deflate is
//! offered. Progress goes to stderr; exits 0 when done.

use std::process::ExitCode;

use futures_util::StreamExt;
use wsproto::deflate::PerMessageDeflate;
use wsproto::handshake::ClientOptions;
use wsproto::io::on_tokio::connect;
use wsproto::io::{ConnectOptions, Message};

fn options() -> ConnectOptions {
    let options = ClientOptions::default().extension(PerMessageDeflate::default());
    ConnectOptions::new(options)
}

async fn case_count(base: &str) -> Result<u32, String> {
    let url = format!("{base}/getCaseCount");
    let (mut ws, _) = connect(&url, options())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut count = None;
    while let Some(item) = ws.next().await {
        if let Ok(Message::Text(text)) = item {
            count = text.trim().parse::<u32>().ok();
        }
    }
    count.ok_or_else(|| "no case count received".to_string())
}

async fn run_case(base: &str, case: u32, agent: &str) -> Result<(), String> {
    let url = format!("{base}/runCase?case={case}&agent={agent}");
    let (mut ws, _) = connect(&url, options())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    while let Some(item) = ws.next().await {
        match item {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                // A failed send means the connection is closing: keep reading to the end.
                let _ = ws.send(message).await;
            }
            Ok(_) => {}
            Err(_) => {}
        }
    }
    Ok(())
}

async fn update_reports(base: &str, agent: &str) -> Result<(), String> {
    let url = format!("{base}/updateReports?agent={agent}");
    let (mut ws, _) = connect(&url, options())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    while ws.next().await.is_some() {}
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_string());
    let base = base.trim_end_matches('/').to_string();
    let agent = args
        .next()
        .or_else(|| std::env::var("AUTOBAHN_AGENT").ok())
        .unwrap_or_else(|| "wsproto".to_string());
    let count = match case_count(&base).await {
        Ok(n) => n,
        Err(e) => {
            eprintln!("autobahn_client: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("autobahn_client: {count} cases against {base} as {agent}");
    for case in 1..=count {
        if let Err(e) = run_case(&base, case, &agent).await {
            eprintln!("case {case}: {e}");
        }
        if case % 25 == 0 || case == count {
            eprintln!("autobahn_client: {case}/{count}");
        }
    }
    match update_reports(&base, &agent).await {
        Ok(()) => {
            eprintln!("autobahn_client: reports updated");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("autobahn_client: {e}");
            ExitCode::FAILURE
        }
    }
}
