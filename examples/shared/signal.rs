//! Shutdown on SIGTERM or SIGINT for the example servers (`chat`, `echo_server`,
//! `hyper_echo`, `axum_echo`). Included with `#[path = "shared/signal.rs"] mod signal;`.

use std::future::Future;

/// Completes on SIGTERM or SIGINT (ctrl-c); the handlers are installed by this call, not when
/// the future is first polled.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {}
                () = wait(int) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
