//! The closing handshake and the ways a connection fails.

use super::buffer::RecvBuf;
use super::{Core, Role, RxMode, State};
use crate::frame::OpCode;
use crate::{CloseCode, Error, Instant, ProtocolError, SendError};

/// The longest close reason that fits a control frame.
const MAX_REASON: usize = 123;

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

impl Core {
    /// Queues a Close frame (no payload if `code` is `None`).
    pub(super) fn queue_close(&mut self, code: Option<CloseCode>, reason: &str) {
        let mut payload = [0u8; 125];
        let n = match code {
            None => 0,
            Some(code) => {
                let reason = truncate_str(reason, MAX_REASON).as_bytes();
                let [hi, lo, rest @ ..] = &mut payload;
                [*hi, *lo] = code.as_u16().to_be_bytes();
                if let Some(dst) = rest.get_mut(..reason.len()) {
                    dst.copy_from_slice(reason);
                }
                2 + reason.len()
            }
        };
        let key = self.mask_key();
        self.tx.frame(
            true,
            0,
            OpCode::Close,
            payload.get(..n).unwrap_or_default(),
            key,
        );
        self.close_sent = true;
    }

    /// We send Close and wait for the peer's (close timeout armed).
    pub(super) fn begin_closing(&mut self, code: Option<CloseCode>, reason: &str) {
        self.queue_close(code, reason);
        self.state = State::Closing;
        self.tx_msg = None;
        let now = self.now.unwrap_or(Instant::ZERO);
        self.close_deadline = Some(now + self.config.close_timeout);
    }

    /// The closing handshake is over (the peer's Close arrived after ours, or we echoed it).
    pub(super) fn finish_closed(&mut self) {
        self.state = State::Closed;
        self.rx_mode = RxMode::Dead;
        self.close_deadline = None;
        self.frame = None;
        self.msg = None;
        if self.role == Role::Client && !self.eof && !self.close_transport {
            // RFC 6455 §7.1.1: the server closes TCP first; give it the close timeout to do so.
            let now = self.now.unwrap_or(Instant::ZERO);
            self.linger_deadline = Some(now + self.config.close_timeout);
        }
    }

    /// The connection is over without a handshake (timeout, drop).
    pub(super) fn abort(&mut self, buf: &mut RecvBuf) {
        self.state = State::Closed;
        self.rx_mode = RxMode::Dead;
        self.close_transport = true;
        self.close_deadline = None;
        self.linger_deadline = None;
        self.frame = None;
        self.msg = None;
        self.tx_msg = None;
        buf.clear_input();
        buf.msg.clear();
        buf.msg_drain = 0;
        buf.carry.clear();
        buf.clear_owned();
    }

    /// The peer broke the protocol: queue our Close with the error's code (if we have not sent
    /// Close yet) and return the error to report, the first time only.
    pub(super) fn fail(&mut self, e: ProtocolError) -> Option<Error> {
        let report = matches!(self.rx_mode, RxMode::Normal | RxMode::CloseOnly)
            && !self.error_reported
            && self.pending_error.is_none();
        if self.state == State::Open && !self.close_sent {
            self.begin_closing(Some(e.close_code()), "");
        }
        // Keep reading to see the peer's Close while the stream is still in step (the rest
        // of the offending frame is skipped); after a header that cannot be framed, stop.
        self.rx_mode = if self.rx_desync {
            RxMode::Dead
        } else {
            RxMode::Silent
        };
        if self.peer_close_seen {
            self.finish_closed();
        }
        report.then_some(Error::Protocol(e))
    }

    /// Reports `e` from the next `poll_event`, unless an error is already pending or was
    /// reported: a connection reports one error in its life.
    pub(super) fn report(&mut self, e: Error) {
        if !self.error_reported && self.pending_error.is_none() {
            self.pending_error = Some(e);
        }
    }

    /// The application's `close`.
    pub(super) fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.state != State::Open || self.close_sent {
            return Err(SendError::Closed);
        }
        if reason.len() > MAX_REASON {
            return Err(SendError::ReasonTooLong);
        }
        let no_status = code == CloseCode::NO_STATUS && reason.is_empty();
        if !code.is_sendable() && !no_status {
            return Err(SendError::InvalidCloseCode(code));
        }
        if self.role == Role::Client && self.config.random.is_none() {
            return Err(SendError::NoEntropy);
        }
        self.begin_closing((!no_status).then_some(code), reason);
        if self.rx_mode == RxMode::Normal {
            self.rx_mode = RxMode::CloseOnly;
        }
        Ok(())
    }

    /// The application's `drop_connection`.
    pub(super) fn drop_connection(
        &mut self,
        code: CloseCode,
        reason: &str,
        skip_close_frame: bool,
        buf: &mut RecvBuf,
    ) {
        let was_closed = self.state == State::Closed;
        if !skip_close_frame && !self.close_sent && !was_closed && code.is_sendable() {
            self.queue_close(Some(code), reason);
        }
        self.abort(buf);
        if !was_closed {
            self.report(Error::Dropped(code));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_str;

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate_str("abc", 123), "abc");
        let s = "é".repeat(100);
        assert_eq!(truncate_str(&s, 123).len(), 122);
        assert_eq!(truncate_str("aé", 2), "a");
    }
}
