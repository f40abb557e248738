//! Shared drivers of the fuzz targets (one copy of each harness; the targets pick the inputs).

use wsproto::{Config, Connection, Event, Instant, Role};

const MAX_FRAME: usize = 64 * 1024;
const MAX_MESSAGE: usize = 128 * 1024;

fn fixed_random(buf: &mut [u8]) {
    buf.fill(0x5A);
}

/// Feeds `data` (first byte: options; rest: peer bytes) into a connection of `role` and checks
/// the invariants: never panics, buffers stay within the limits, one error at most.
pub fn run_connection(role: Role, data: &[u8]) {
    let Some((&opts, rest)) = data.split_first() else {
        return;
    };
    let config = Config::new()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_fragments(1024)
        .max_pending_pongs(4)
        .assemble_messages(opts & 1 == 0)
        .auto_pong(opts & 2 == 0)
        .random(fixed_random);
    let mut conn = Connection::new(role, config);
    let chunk = usize::from(opts >> 2).max(1);
    let mut t = 0u64;
    for piece in rest.chunks(chunk) {
        t += 1;
        if opts & 0x80 != 0 {
            let buf = conn.recv_buf(piece.len());
            buf[..piece.len()].copy_from_slice(piece);
            conn.commit_recv(Instant::from_millis(t), piece.len());
        } else {
            conn.receive(Instant::from_millis(t), piece);
        }
        drain(&mut conn);
        // Bounded memory: one frame (plus header and one chunk) of input, one message, and
        // a few control frames of output, each at most doubled by Vec growth.
        let bound = 2 * (MAX_FRAME + 14 + chunk) + 2 * MAX_MESSAGE + 64 * 1024;
        assert!(
            conn.buffer_capacity() <= bound,
            "{} > {bound}",
            conn.buffer_capacity()
        );
        let n = conn.poll_transmit().len();
        conn.advance_transmit(n);
        conn.handle_timeout(Instant::from_millis(t));
    }
    conn.receive_eof(Instant::from_millis(t + 1));
    drain(&mut conn);
    conn.handle_timeout(Instant::from_millis(t + 1_000_000));
    drain(&mut conn);
}

fn drain(conn: &mut Connection) {
    let mut errors = 0;
    for _ in 0..1_000_000 {
        match conn.poll_event() {
            Ok(Some(Event::Text { data, .. })) => {
                assert!(core::str::from_utf8(data.as_bytes()).is_ok())
            }
            Ok(Some(Event::Ping(p) | Event::Pong(p))) => assert!(p.len() <= 125),
            Ok(Some(Event::Close { reason, .. })) => assert!(reason.len() <= 123),
            Ok(Some(Event::Binary { data, .. })) => assert!(data.len() <= MAX_MESSAGE),
            Ok(None) => return,
            Err(_) => {
                errors += 1;
                assert_eq!(errors, 1, "an error is reported once");
            }
        }
    }
    panic!("poll_event never returned None");
}
