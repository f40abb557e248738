//! Scale-out through a real Redis: Debian's `redis-server`, started by the test on a free
//! loopback port and stopped at the end (`.ci/run` installs it; without it the tests are
//! skipped with a message, unless `CI` is set, where they fail).
//!
//! Two servers in one process (topics, broadcasts, kinds, exactly once, in order, only the
//! topics with local subscribers subscribed in Redis, presence with a stale process), an
//! outage and recovery (local delivery never waits, cross-process delivery resumes by
//! itself, nothing duplicated or reordered), and two `chat --redis` processes as one room.
#![cfg(all(feature = "redis", unix))]

mod common;

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::example;
use common::tempdir::TempDir;
use futures_util::StreamExt;
use wsproto::handshake::ClientOptions;
use wsproto::io::Message;
use wsproto::io::on_tokio::{ClientStream, WebSocket, connect};
use wsproto::server::{
    BackplaneStatus, RedisBackplane, RedisOptions, Router, ServerBuilder, ServerHandle,
};

type Ws = WebSocket<ClientStream>;

/// A redis-server process on a loopback port, stopped when dropped.
struct Redis {
    child: Option<Child>,
    port: u16,
    _dir: TempDir,
}

impl Redis {
    fn start() -> Option<Redis> {
        let bin = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists());
        let Some(bin) = bin else {
            if std::env::var_os("CI").is_some() {
                panic!("redis-server is not installed (.ci/run installs it)");
            }
            eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
            return None;
        };
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis {
            child: None,
            port,
            _dir: TempDir::new("redis"),
        };
        redis.child = Some(redis.spawn(&bin));
        Some(redis)
    }

    fn spawn(&self, bin: &PathBuf) -> Child {
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self._dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (an outage ends).
    fn restart(&mut self) {
        self.stop();
        self.child = Some(self.spawn(&PathBuf::from("/usr/bin/redis-server")));
    }

    async fn command<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        cmd.query_async(&mut conn).await.unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `/topic/:name`: subscribes to the topic and publishes what it receives to the other
/// subscribers; `/all`: broadcasts what it receives to everyone else.
fn router() -> Router {
    Router::new()
        .route("/topic/:name", |mut client| async move {
            let topic = client.param("name").unwrap().to_owned();
            client.subscribe(&topic);
            while let Some(Ok(message)) = client.recv().await {
                if message.is_data() {
                    client.publish(&topic, &message);
                }
            }
        })
        .route("/all", |mut client| async move {
            while let Some(Ok(message)) = client.recv().await {
                if message.is_data() {
                    client.server().broadcast_except(client.id(), &message);
                }
            }
        })
}

async fn server(redis: &Redis, prefix: &str) -> (String, ServerHandle) {
    let options = RedisOptions::new(redis.url())
        .prefix(prefix)
        .presence_ttl(Duration::from_secs(3))
        .reconnect_max(Duration::from_millis(500));
    let server = ServerBuilder::new()
        .backplane(RedisBackplane::new(options).unwrap())
        .router(router())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let base = format!("ws://{}", server.local_addr().unwrap());
    let handle = server.handle();
    tokio::spawn(server.run());
    (base, handle)
}

async fn wait_status(handle: &ServerHandle, want: impl Fn(&BackplaneStatus) -> bool) {
    let mut status = handle.backplane_status().unwrap();
    tokio::time::timeout(Duration::from_secs(15), status.wait_for(|s| want(s)))
        .await
        .expect("backplane status not reached in 15 s")
        .unwrap();
}

async fn join(base: &str, path: &str) -> Ws {
    connect(&format!("{base}{path}"), ClientOptions::default())
        .await
        .unwrap()
        .0
}

/// The next data message within `within`, or `None`.
async fn next_within(ws: &mut Ws, within: Duration) -> Option<Message> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(m))) if m.is_data() => return Some(m),
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("connection ended: {other:?}"),
            Err(_) => return None,
        }
    }
}

async fn next(ws: &mut Ws) -> Message {
    next_within(ws, Duration::from_secs(10))
        .await
        .expect("a message within 10 s")
}

/// Waits until `presence(topic)` on `handle` is `count` (every process subscribed).
async fn wait_presence(handle: &ServerHandle, topic: &str, count: usize) {
    let start = Instant::now();
    loop {
        if handle.presence(topic).await == Ok(count) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "presence({topic}) never reached {count}: {:?}",
            handle.presence(topic).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn prefix(tag: &str) -> String {
    format!("test-{tag}-{}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_are_one_for_topics_and_broadcasts() {
    let Some(redis) = Redis::start() else { return };
    let prefix = prefix("two");
    let (a, handle_a) = server(&redis, &prefix).await;
    let (b, handle_b) = server(&redis, &prefix).await;
    wait_status(&handle_a, |s| *s == BackplaneStatus::Up).await;
    wait_status(&handle_b, |s| *s == BackplaneStatus::Up).await;

    let mut a1 = join(&a, "/topic/news").await;
    let mut a2 = join(&a, "/topic/news").await;
    let mut b1 = join(&b, "/topic/news").await;
    let mut b_other = join(&b, "/topic/other").await;
    wait_presence(&handle_a, "news", 3).await;
    wait_presence(&handle_b, "news", 3).await;
    wait_presence(&handle_a, "other", 1).await;

    // A process subscribes in Redis only to the topics it has subscribers for.
    let channels: Vec<String> = redis.command(redis::cmd("PUBSUB").arg("CHANNELS")).await;
    let mut channels: Vec<_> = channels
        .into_iter()
        .filter(|c| c.starts_with(&prefix))
        .collect();
    channels.sort();
    let numsub: Vec<(String, usize)> = redis
        .command(
            redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(format!("{prefix}:topic:news"))
                .arg(format!("{prefix}:topic:other"))
                .arg(format!("{prefix}:all")),
        )
        .await;
    assert_eq!(
        numsub,
        [
            (format!("{prefix}:topic:news"), 2),
            (format!("{prefix}:topic:other"), 1),
            (format!("{prefix}:all"), 2)
        ]
    );
    assert_eq!(channels.len(), 3, "{channels:?}");

    // a1 publishes: a2 (same process) and b1 (other process) get each message once, in
    // order, with its kind; the sender and the other topic get nothing.
    for i in 0..50 {
        a1.send(Message::text(format!("t{i}"))).await.unwrap();
    }
    a1.send(Message::binary(vec![0, 1, 2, 255])).await.unwrap();
    for ws in [&mut a2, &mut b1] {
        for i in 0..50 {
            assert_eq!(next(ws).await, Message::text(format!("t{i}")));
        }
        assert_eq!(next(ws).await, Message::binary(vec![0, 1, 2, 255]));
    }
    // b1 publishes back: a1 and a2 get it once.
    b1.send(Message::text("from b")).await.unwrap();
    assert_eq!(next(&mut a1).await, Message::text("from b"));
    assert_eq!(next(&mut a2).await, Message::text("from b"));
    for ws in [&mut a1, &mut a2, &mut b1, &mut b_other] {
        assert_eq!(next_within(ws, Duration::from_millis(300)).await, None);
    }

    // Broadcasts cross too (everyone but the sender, on both processes).
    let mut all_a = join(&a, "/all").await;
    all_a.send(Message::text("hello all")).await.unwrap();
    for ws in [&mut a1, &mut a2, &mut b1, &mut b_other] {
        assert_eq!(next(ws).await, Message::text("hello all"));
        assert_eq!(next_within(ws, Duration::from_millis(200)).await, None);
    }

    // The last local subscriber leaves: the process unsubscribes in Redis.
    drop(b_other);
    let start = Instant::now();
    loop {
        let numsub: Vec<(String, usize)> = redis
            .command(
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(format!("{prefix}:topic:other")),
            )
            .await;
        if numsub[0].1 == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still subscribed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_presence(&handle_a, "other", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_skips_processes_that_stopped_reporting() {
    let Some(redis) = Redis::start() else { return };
    let prefix = prefix("presence");
    let (a, handle_a) = server(&redis, &prefix).await;
    wait_status(&handle_a, |s| *s == BackplaneStatus::Up).await;
    let _a1 = join(&a, "/topic/room").await;
    wait_presence(&handle_a, "room", 1).await;
    // A crashed process left its count behind; with no `alive` key it does not count, and
    // its entry is removed.
    let key = format!("{prefix}:presence:room");
    let _: () = redis
        .command(redis::cmd("HSET").arg(&key).arg("deadbeef").arg(7))
        .await;
    assert_eq!(handle_a.presence("room").await, Ok(1));
    let left: Vec<String> = redis.command(redis::cmd("HKEYS").arg(&key)).await;
    assert!(!left.contains(&"deadbeef".to_owned()), "{left:?}");
    // A live one counts until its TTL runs out.
    let _: () = redis
        .command(redis::cmd("HSET").arg(&key).arg("cafe").arg(2))
        .await;
    let _: () = redis
        .command(
            redis::cmd("SET")
                .arg(format!("{prefix}:alive:cafe"))
                .arg(1)
                .arg("PX")
                .arg(800),
        )
        .await;
    assert_eq!(handle_a.presence("room").await, Ok(3));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(handle_a.presence("room").await, Ok(1));
}

/// Sends probes (`probe-{tag}-N`) from `from` until `to` receives one (other probes `to`
/// gets are skipped; anything else is an error); how long it took.
async fn probe_until_crossing(from: &mut Ws, to: &mut Ws, tag: &str) -> Duration {
    let start = Instant::now();
    let mine = format!("probe-{tag}-");
    for attempt in 0.. {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing crossed in 10 s"
        );
        from.send(Message::text(format!("{mine}{attempt}")))
            .await
            .unwrap();
        let until = Instant::now() + Duration::from_millis(200);
        while let Some(m) = next_within(to, until.saturating_duration_since(Instant::now())).await {
            let text = m.as_text().unwrap_or_default();
            if text.starts_with(&mine) {
                return start.elapsed();
            }
            assert!(text.starts_with("probe-"), "{m:?}");
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_keeps_local_delivery_and_recovery_resumes_crossing() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let prefix = prefix("outage");
    let (a, handle_a) = server(&redis, &prefix).await;
    let (b, handle_b) = server(&redis, &prefix).await;
    let mut a1 = join(&a, "/topic/t").await;
    let mut a2 = join(&a, "/topic/t").await;
    let mut b1 = join(&b, "/topic/t").await;
    wait_status(&handle_a, |s| *s == BackplaneStatus::Up).await;
    wait_status(&handle_b, |s| *s == BackplaneStatus::Up).await;
    wait_presence(&handle_a, "t", 3).await;

    redis.stop();
    wait_status(&handle_a, |s| matches!(s, BackplaneStatus::Down(_))).await;
    // Local delivery goes on, and does not wait for Redis.
    let sent = Instant::now();
    for i in 0..20 {
        a1.send(Message::text(format!("during-{i}"))).await.unwrap();
    }
    for i in 0..20 {
        assert_eq!(next(&mut a2).await, Message::text(format!("during-{i}")));
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(next_within(&mut b1, Duration::from_millis(300)).await, None);

    redis.restart();
    // Crossing resumes by itself, both ways, within 10 s.
    let took = probe_until_crossing(&mut a1, &mut b1, "ab").await;
    let back = probe_until_crossing(&mut b1, &mut a1, "ba").await;
    eprintln!("crossing resumed after {took:?} (a→b) and {back:?} (b→a)");
    // Drain the probes a2 got; then ordered, exactly-once delivery again.
    while next_within(&mut a2, Duration::from_millis(300))
        .await
        .is_some()
    {}
    while next_within(&mut b1, Duration::from_millis(100))
        .await
        .is_some()
    {}
    for i in 0..30 {
        a1.send(Message::text(format!("after-{i}"))).await.unwrap();
    }
    for ws in [&mut a2, &mut b1] {
        for i in 0..30 {
            assert_eq!(next(ws).await, Message::text(format!("after-{i}")));
        }
        assert_eq!(next_within(ws, Duration::from_millis(300)).await, None);
    }
}

#[test]
fn two_chat_processes_are_one_room_through_an_outage() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let url = redis.url();
    let one = example::start("chat", &["--redis", &url]);
    let two = example::start("chat", &["--redis", &url]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let base = |e: &example::Example| format!("ws://{}", e.addr);
        let mut clients = Vec::new();
        for chat in [&one, &two, &one, &two] {
            clients.push(join(&base(chat), "/ws").await);
        }
        // Ready once a message from each process reaches the other (probes are chat lines
        // too: every client sees them; they are skipped below).
        let (left, right) = clients.split_at_mut(1);
        probe_until_crossing(&mut left[0], &mut right[0], "ready1").await;
        probe_until_crossing(&mut right[0], &mut left[0], "ready2").await;
        let mut sender_a = join(&base(&one), "/ws").await;
        let mut sender_b = join(&base(&two), "/ws").await;
        for i in 0..40 {
            sender_a.send(Message::text(format!("a{i}"))).await.unwrap();
            sender_b.send(Message::text(format!("b{i}"))).await.unwrap();
        }
        for ws in clients.iter_mut().chain([&mut sender_a, &mut sender_b]) {
            let mut per_sender: HashMap<char, Vec<String>> = HashMap::new();
            while per_sender.values().map(Vec::len).sum::<usize>() < 80 {
                let text = next(ws).await.into_text().unwrap().to_string();
                if text.starts_with("probe-") {
                    continue;
                }
                per_sender
                    .entry(text.chars().next().unwrap())
                    .or_default()
                    .push(text);
            }
            assert_eq!(
                per_sender[&'a'],
                (0..40).map(|i| format!("a{i}")).collect::<Vec<_>>()
            );
            assert_eq!(
                per_sender[&'b'],
                (0..40).map(|i| format!("b{i}")).collect::<Vec<_>>()
            );
            assert_eq!(next_within(ws, Duration::from_millis(200)).await, None);
        }

        // Redis goes away: each process goes on relaying to its own clients at once.
        redis.stop();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = Instant::now();
        sender_a.send(Message::text("local only")).await.unwrap();
        assert_eq!(next(&mut clients[2]).await, Message::text("local only"));
        assert_eq!(next(&mut clients[0]).await, Message::text("local only"));
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "{:?}",
            sent.elapsed()
        );
        // Redis is back on the same address: messages cross again, both ways, within 10 s,
        // and in order.
        redis.restart();
        let (left, right) = clients.split_at_mut(1);
        let took = probe_until_crossing(&mut left[0], &mut right[0], "back1").await;
        probe_until_crossing(&mut right[0], &mut left[0], "back2").await;
        eprintln!("chat processes crossing again {took:?} after Redis returned");
        for i in 0..10 {
            sender_b.send(Message::text(format!("c{i}"))).await.unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 10 {
            let text = next(&mut clients[0]).await.into_text().unwrap().to_string();
            if !text.starts_with("probe-") {
                got.push(text);
            }
        }
        assert_eq!(got, (0..10).map(|i| format!("c{i}")).collect::<Vec<_>>());
    });
}
