//! The frames waiting for one peer, most urgent first: a FLASH notice or its receipt never waits
//! behind ROUTINE traffic queued before it (spec §14). First in, first out within a precedence;
//! bounded, so that a stalled peer costs a fixed amount of memory.
//!
//! A frame is *pending* from the moment it is queued until the sender reports it [`done`]
//! (delivered to the peer's QUIC stack, failed, or given up on). A frame identical to a pending
//! one is not queued again: the core retransmits until a receipt comes, and on a slow, lossy link
//! each retransmission would otherwise add one more copy for QUIC to carry reliably, so the
//! backlog would grow exactly when the link can least afford it (spec §14, "No duplicate in flight").
//!
//! [`done`]: SendQueue::done

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Mutex;

use hotline_proto::{Filed, Lanes, Precedence};
use tokio::sync::Notify;

/// Identifies a pending frame: a keyed hash of its bytes (the key is random per queue, so no
/// peer can arrange two frames to collide).
pub type FrameKey = u64;

/// What [`SendQueue::push`] did with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued.
    Queued,
    /// Queued, and the oldest of the least urgent frames was dropped to make room.
    QueuedDroppingAnother,
    /// Not queued: every queued frame is more urgent.
    Refused,
    /// Not queued: the same bytes are already pending.
    AlreadyPending,
}

struct Queue {
    /// The frames, most urgent first (the bound and the drop rule are [`Lanes`']).
    lanes: Lanes<(FrameKey, Vec<u8>)>,
    /// Keys of the frames queued or being sent.
    pending: HashSet<FrameKey>,
}

/// A bounded priority queue of frames with an async `pop`.
pub struct SendQueue {
    inner: Mutex<Queue>,
    hasher: std::hash::RandomState,
    ready: Notify,
}

impl SendQueue {
    /// An empty queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> SendQueue {
        SendQueue {
            inner: Mutex::new(Queue { lanes: Lanes::new(capacity), pending: HashSet::new() }),
            hasher: std::hash::RandomState::new(),
            ready: Notify::new(),
        }
    }

    /// Queues a frame unless the same bytes are pending. When full, the oldest frame of the least
    /// urgent non-empty lane that is no more urgent than this one makes room; if every queued
    /// frame is more urgent, this one is refused. Whatever is dropped or refused, retransmission
    /// recovers.
    pub fn push(&self, precedence: Precedence, frame: Vec<u8>) -> Pushed {
        let key = self.hasher.hash_one(&frame);
        let Ok(mut q) = self.inner.lock() else { return Pushed::Refused };
        if q.pending.contains(&key) {
            return Pushed::AlreadyPending;
        }
        let pushed = match q.lanes.push(precedence, (key, frame)) {
            Filed::Queued => Pushed::Queued,
            Filed::Displaced((dropped, _)) => {
                q.pending.remove(&dropped);
                Pushed::QueuedDroppingAnother
            }
            Filed::Refused(_) => return Pushed::Refused,
        };
        q.pending.insert(key);
        drop(q);
        self.ready.notify_one();
        pushed
    }

    /// The most urgent frame, waiting for one if the queue is empty. It stays pending until
    /// [`SendQueue::done`] is called with its key.
    pub async fn pop(&self) -> (Precedence, FrameKey, Vec<u8>) {
        loop {
            if let Some((precedence, (key, frame))) = self.inner.lock().ok().and_then(|mut q| q.lanes.pop()) {
                return (precedence, key, frame);
            }
            self.ready.notified().await;
        }
    }

    /// The frame popped with `key` is no longer being sent: the same bytes may be queued again.
    pub fn done(&self, key: FrameKey) {
        if let Ok(mut q) = self.inner.lock() {
            q.pending.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urgent_first_fifo_within_a_precedence_and_bounded() {
        let q = SendQueue::new(3);
        assert_eq!(q.push(Precedence::Routine, vec![1]), Pushed::Queued);
        assert_eq!(q.push(Precedence::Routine, vec![2]), Pushed::Queued);
        assert_eq!(q.push(Precedence::Flash, vec![3]), Pushed::Queued);
        // Full: a FLASH frame pushes out the oldest ROUTINE one; a ROUTINE one is refused when only
        // more urgent frames could make room.
        assert_eq!(q.push(Precedence::Flash, vec![4]), Pushed::QueuedDroppingAnother);
        assert_eq!(q.pop().await.2, vec![3]);
        assert_eq!(q.pop().await.2, vec![4]);
        let (precedence, _, frame) = q.pop().await;
        assert_eq!((precedence, frame), (Precedence::Routine, vec![2]));
        q.push(Precedence::Flash, vec![5]);
        q.push(Precedence::Flash, vec![6]);
        q.push(Precedence::Immediate, vec![7]);
        assert_eq!(q.push(Precedence::Routine, vec![8]), Pushed::Refused);
        assert_eq!(q.pop().await.2, vec![5]);
    }

    #[tokio::test]
    async fn a_pending_frame_is_not_queued_twice() {
        let q = SendQueue::new(8);
        assert_eq!(q.push(Precedence::Flash, vec![1]), Pushed::Queued);
        assert_eq!(q.push(Precedence::Flash, vec![1]), Pushed::AlreadyPending);
        // Popped but not done: still pending (QUIC is still carrying it).
        let (_, key, frame) = q.pop().await;
        assert_eq!(frame, vec![1]);
        assert_eq!(q.push(Precedence::Flash, vec![1]), Pushed::AlreadyPending);
        q.done(key);
        assert_eq!(q.push(Precedence::Flash, vec![1]), Pushed::Queued);
        // A frame dropped to make room is no longer pending.
        let q = SendQueue::new(1);
        q.push(Precedence::Routine, vec![9]);
        assert_eq!(q.push(Precedence::Flash, vec![2]), Pushed::QueuedDroppingAnother);
        assert_eq!(q.push(Precedence::Routine, vec![9]), Pushed::Refused);
        let (_, key, _) = q.pop().await;
        q.done(key);
        assert_eq!(q.push(Precedence::Routine, vec![9]), Pushed::Queued);
    }
}
