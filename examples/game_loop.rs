//! The sans-IO core embedded by hand in a single-threaded, fixed-tick loop: non-blocking std
//! sockets, no runtime, no adapter, the way a game server would host WebSocket players.
//!
//! ```text
//! cargo run --example game_loop                 # self-contained demo with one bot player
//! cargo run --example game_loop -- --listen 127.0.0.1:9004 --ticks 600
//! ```
//!
//! Every tick (20 Hz) the loop accepts new sockets, reads whatever each socket has, feeds it to
//! the player's `ServerHandshake` or `Connection`, handles the events (chat text is broadcast),
//! broadcasts the world state, writes what each socket takes without blocking, and calls
//! `handle_timeout`. A player whose send queue is backed up skips state updates instead of
//! growing memory. In demo mode a bot (on the blocking adapter, in its own thread) joins,
//! chats, watches a few ticks and leaves; the loop then exits.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use wsproto::handshake::{Accept, ServerHandshake, ServerOptions};
use wsproto::io::{Message, blocking};
use wsproto::{CloseCode, Connection, Event, Instant, State, Status};

const TICK: Duration = Duration::from_millis(50);
/// Skip state updates for a player with more than this queued.
const MAX_BACKLOG: usize = 64 * 1024;

enum Phase {
    Handshake(Box<ServerHandshake>),
    Open(Box<Connection>),
    /// Between the two (or after a failed handshake).
    Gone,
}

struct Player {
    id: u32,
    stream: TcpStream,
    phase: Phase,
    gone: bool,
}

impl Player {
    /// Reads everything the socket has right now into the handshake or the connection.
    fn read(&mut self, now: Instant, chat: &mut Vec<String>) {
        let mut buf = [0u8; 4096];
        loop {
            match &mut self.phase {
                Phase::Handshake(hs) => {
                    let n = match self.stream.read(&mut buf) {
                        Ok(0) => return self.gone = true,
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                        Err(_) => return self.gone = true,
                    };
                    match hs.receive(&buf[..n]) {
                        Ok(Status::Partial) => {}
                        Ok(Status::Complete(())) => {
                            let Phase::Handshake(hs) =
                                std::mem::replace(&mut self.phase, Phase::Gone)
                            else {
                                return;
                            };
                            match hs.accept(now, Accept::default()) {
                                Ok(conn) => {
                                    println!("player {} joined", self.id);
                                    self.phase = Phase::Open(Box::new(conn));
                                }
                                Err(e) => {
                                    println!("player {}: handshake failed: {e}", self.id);
                                    return self.gone = true;
                                }
                            }
                        }
                        Err(e) => {
                            // The error response is queued; write it, then drop the socket.
                            println!("player {}: bad handshake: {e}", self.id);
                            let _ = self.stream.write_all(hs.poll_transmit());
                            return self.gone = true;
                        }
                    }
                }
                Phase::Gone => return self.gone = true,
                Phase::Open(conn) => {
                    if !conn.wants_read() && conn.state() != State::Closed {
                        break; // it owes the peer pongs it cannot write yet: stop reading
                    }
                    match self.stream.read(conn.recv_buf(4096)) {
                        Ok(0) => {
                            conn.receive_eof(now);
                            break;
                        }
                        Ok(n) => conn.commit_recv(now, n),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {
                            conn.receive_eof(now);
                            break;
                        }
                    }
                }
            }
        }
        if let Phase::Open(conn) = &mut self.phase {
            loop {
                match conn.poll_event() {
                    Ok(Some(Event::Text { data, .. })) => {
                        chat.push(format!("player {}: {data}", self.id))
                    }
                    Ok(Some(Event::Close { code, reason })) => {
                        println!("player {} left ({code} {reason})", self.id)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => println!("player {}: {e}", self.id),
                }
            }
        }
    }

    /// Writes what the socket takes without blocking.
    fn write(&mut self) {
        let Phase::Open(conn) = &mut self.phase else {
            return;
        };
        while !conn.poll_transmit().is_empty() {
            match self.stream.write(conn.poll_transmit()) {
                Ok(0) => return self.gone = true,
                Ok(n) => conn.advance_transmit(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => return self.gone = true,
            }
        }
        if conn.should_close_transport() {
            let _ = self.stream.shutdown(Shutdown::Both);
            self.gone = true;
        }
    }
}

/// A bot player on the blocking adapter: joins, chats, watches five ticks, leaves.
fn bot(addr: String) {
    let url = format!("ws://{addr}/play");
    let (mut ws, _) = blocking::connect(&url, wsproto::handshake::ClientOptions::default())
        .expect("bot connects");
    ws.send(Message::text("hello from the bot"))
        .expect("bot chats");
    let mut ticks = 0;
    while let Some(Ok(message)) = ws.recv() {
        if let Message::Text(text) = message {
            println!("bot saw: {text}");
            if text.starts_with("tick") {
                ticks += 1;
                if ticks == 5 {
                    break;
                }
            }
        }
    }
    ws.close(CloseCode::NORMAL, "bye")
        .expect("bot closes cleanly");
}

fn main() {
    let mut listen = None;
    let mut max_ticks = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(a)) => listen = Some(a),
            ("--ticks", Some(n)) => max_ticks = n.parse::<u64>().ok(),
            _ => {
                eprintln!("usage: game_loop [--listen ADDR] [--ticks N]");
                std::process::exit(2);
            }
        }
    }
    let demo = listen.is_none();
    let listener = TcpListener::bind(listen.as_deref().unwrap_or("127.0.0.1:0")).expect("bind");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("bound address");
    println!("LISTENING {addr}");
    let bot = demo.then(|| std::thread::spawn(move || bot(addr.to_string())));

    let epoch = StdInstant::now();
    let mut players: Vec<Player> = Vec::new();
    let mut next_id = 1;
    let mut seen_player = false;
    for tick in 0u64.. {
        let started = StdInstant::now();
        let now = Instant::from_duration(epoch.elapsed());
        // New players.
        while let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                let hs = ServerHandshake::new(ServerOptions::default());
                players.push(Player {
                    id: next_id,
                    stream,
                    phase: Phase::Handshake(Box::new(hs)),
                    gone: false,
                });
                next_id += 1;
                seen_player = true;
            }
        }
        // Input.
        let mut chat = Vec::new();
        for p in &mut players {
            p.read(now, &mut chat);
        }
        // Simulation and output: chat, then the world state, to every open player.
        let state = format!("tick {tick}: {} players", players.len());
        for p in &mut players {
            if let Phase::Open(conn) = &mut p.phase {
                conn.handle_timeout(now);
                if conn.state() == State::Open {
                    for line in &chat {
                        let _ = conn.send_text(line);
                    }
                    if conn.buffered_amount() < MAX_BACKLOG {
                        let _ = conn.send_text(&state);
                    }
                }
            }
            p.write();
        }
        players.retain(|p| !p.gone);
        if max_ticks.is_some_and(|m| tick + 1 >= m) || (demo && seen_player && players.is_empty()) {
            break;
        }
        if let Some(rest) = TICK.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    if let Some(bot) = bot {
        bot.join().expect("bot thread");
    }
    println!("game loop done");
}
