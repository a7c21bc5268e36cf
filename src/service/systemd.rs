//! The service manager's side of the service: readiness, reload and stop notifications, a status
//! line for `systemctl status`, and the watchdog (`WatchdogSec=` in the unit).
//!
//! The watchdog is fed from the inference loop only: a detector that hangs, an analytics thread
//! that stops taking frames (the loop then blocks on its queue) or a loop that dies stops the
//! pings, and systemd restarts the service (`Restart=always`). Outside systemd (no
//! `NOTIFY_SOCKET`) every call does nothing.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// Notifications to the service manager.
pub struct Notifier {
    /// Half the watchdog interval systemd asked for (`WATCHDOG_USEC`), when it asked.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
}

impl Notifier {
    /// Reads the watchdog interval from the environment systemd gave this process.
    pub fn from_env() -> Notifier {
        let ping_every = sd_notify::watchdog_enabled().map(|d| d / 2);
        if let Some(every) = ping_every {
            tracing::info!(
                interval_ms = (every * 2).as_millis() as u64,
                "systemd watchdog on: the inference loop pings it"
            );
        }
        Notifier {
            ping_every,
            last_ping: None,
        }
    }

    /// The watchdog interval systemd set, if any.
    pub fn watchdog(&self) -> Option<Duration> {
        self.ping_every.map(|d| d * 2)
    }

    fn send(&self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }

    /// Start-up is over: models loaded, outbox open, cameras started.
    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
        self.last_ping = None;
        self.alive(|| true);
    }

    /// A reload begins (`systemctl reload`); `ready` ends it.
    pub fn reloading(&self) {
        let mut states = vec![NotifyState::Reloading];
        if let Ok(now) = NotifyState::monotonic_usec_now() {
            states.push(now);
        }
        self.send(&states);
    }

    /// The shutdown begins.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    /// The status line `systemctl status` shows.
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// Called by the inference loop on every turn: pings the watchdog at half its interval if
    /// `healthy` (asked only then) holds. False when a due ping was withheld.
    pub fn alive(&mut self, healthy: impl FnOnce() -> bool) -> bool {
        let Some(every) = self.ping_every else {
            return true;
        };
        if self.last_ping.is_some_and(|t| t.elapsed() < every) {
            return true;
        }
        if !healthy() {
            return false;
        }
        self.last_ping = Some(Instant::now());
        self.send(&[NotifyState::Watchdog]);
        true
    }
}
