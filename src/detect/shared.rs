//! One queue of work for several inference sessions: each session takes the next item when it
//! is free. Used by replay (`--workers`: frames) and the live service (`inference_sessions`:
//! cameras' frames).

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

/// The receiving end of a channel, shared by the sessions that take from it. The channel's
/// sender sees it closed once the last clone is dropped (with the last session).
pub struct SharedReceiver<T>(Arc<Mutex<Receiver<T>>>);

impl<T> Clone for SharedReceiver<T> {
    fn clone(&self) -> Self {
        SharedReceiver(self.0.clone())
    }
}

impl<T> SharedReceiver<T> {
    pub fn new(rx: Receiver<T>) -> SharedReceiver<T> {
        SharedReceiver(Arc::new(Mutex::new(rx)))
    }

    /// The next item, waiting for one; `None` once every sender is gone (or another session
    /// panicked while it held the queue).
    pub fn recv(&self) -> Option<T> {
        self.0.lock().ok()?.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_goes_to_exactly_one_session_and_the_queue_ends_with_its_senders() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<u32>(1);
        let shared = SharedReceiver::new(rx);
        let sessions: Vec<_> = (0..3)
            .map(|_| {
                let rx = shared.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(v) = rx.recv() {
                        got.push(v);
                    }
                    got
                })
            })
            .collect();
        drop(shared);
        for v in 0..300 {
            tx.send(v).unwrap();
        }
        drop(tx);
        let mut all: Vec<u32> = sessions
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());
    }

    #[test]
    fn the_sender_sees_the_queue_closed_when_the_last_session_is_gone() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<u32>(0);
        let shared = SharedReceiver::new(rx);
        let other = shared.clone();
        drop(shared);
        assert!(tx.try_send(1).is_err());
        drop(other);
        assert!(matches!(tx.send(1), Err(std::sync::mpsc::SendError(1))));
    }
}
