//! Deadlines: close timeout, the client's wait for the server to close the transport,
//! keepalive and idle timeout. The caller passes time in; nothing here reads a clock.

use super::buffer::RecvBuf;
use super::{Core, Role, RxMode, State};
use crate::frame::OpCode;
use crate::{CloseCode, Error, Instant, Timeout};

impl Core {
    /// Fires the timers due at `now`. Harmless when nothing is due.
    pub(super) fn handle_timeout(&mut self, now: Instant, buf: &mut RecvBuf) {
        let now = self.now.map_or(now, |seen| seen.max(now));
        if let Some(deadline) = self.close_deadline {
            if now >= deadline && self.state == State::Closing {
                self.abort(buf);
                self.report(Error::TimedOut(Timeout::Close));
                return;
            }
        }
        if let Some(deadline) = self.linger_deadline {
            if now >= deadline {
                self.linger_deadline = None;
                self.close_transport = true;
            }
        }
        if self.state != State::Open || self.close_sent {
            return;
        }
        if let Some(interval) = self.config.keepalive_interval {
            match self.ping_sent {
                Some(sent) => {
                    if now >= sent + self.config.keepalive_grace {
                        // Peer not responding: no Close frame (it would not be read either).
                        self.abort(buf);
                        self.report(Error::TimedOut(Timeout::Keepalive));
                        return;
                    }
                }
                None => {
                    if self.last_rx.is_some_and(|last| now >= last + interval) {
                        let key = self.mask_key();
                        self.tx.frame(true, 0, OpCode::Ping, &[], key);
                        self.ping_sent = Some(now);
                    }
                }
            }
        }
        if let (Some(idle), Some(since)) = (self.config.idle_timeout, self.idle_since) {
            if now >= since + idle {
                self.begin_closing(Some(CloseCode::GOING_AWAY), "");
                if self.rx_mode == RxMode::Normal {
                    self.rx_mode = RxMode::CloseOnly;
                }
                self.report(Error::TimedOut(Timeout::Idle));
            }
        }
    }

    /// The earliest armed deadline.
    #[inline]
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut arm = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        match self.state {
            State::Closing => {
                if let Some(t) = self.close_deadline {
                    arm(t);
                }
            }
            State::Closed => {
                if self.role == Role::Client && !self.eof && !self.close_transport {
                    if let Some(t) = self.linger_deadline {
                        arm(t);
                    }
                }
            }
            State::Open => {
                let keepalive = self.config.keepalive_interval;
                let idle = self.config.idle_timeout;
                if self.now.is_none() && (keepalive.is_some() || idle.is_some()) {
                    // No time seen yet: call handle_timeout at once to start the timers.
                    return Some(Instant::ZERO);
                }
                if let Some(interval) = keepalive {
                    match (self.ping_sent, self.last_rx) {
                        (Some(sent), _) => arm(sent + self.config.keepalive_grace),
                        (None, Some(last)) => arm(last + interval),
                        (None, None) => {}
                    }
                }
                if let (Some(idle), Some(since)) = (idle, self.idle_since) {
                    arm(since + idle);
                }
            }
        }
        next
    }
}
