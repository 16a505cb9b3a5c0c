//! Graceful shutdown: one token, cancelled by SIGTERM or Ctrl-C (or by a test), that every loop
//! watches. Loops finish the message in hand before they stop.

use tokio_util::sync::CancellationToken;

pub type Shutdown = CancellationToken;

/// Cancel `token` on SIGTERM or Ctrl-C.
pub fn on_signals(token: Shutdown) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {},
                        _ = term.recv() => {},
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutdown signal received; finishing in-flight work");
        token.cancel();
    });
}
