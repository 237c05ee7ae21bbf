//! The frames waiting for one peer, most urgent first: a FLASH notice or its receipt never waits
//! behind ROUTINE traffic queued before it (spec §14). First in, first out within a precedence;
//! bounded, so that a stalled peer costs a fixed amount of memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use hotline_proto::Precedence;
use tokio::sync::Notify;

/// A bounded priority queue of frames with an async `pop`.
pub struct SendQueue {
    /// One FIFO per precedence, most urgent first.
    lanes: Mutex<[VecDeque<Vec<u8>>; 4]>,
    capacity: usize,
    ready: Notify,
}

fn lane(precedence: Precedence) -> usize {
    Precedence::ALL.iter().position(|p| *p == precedence).unwrap_or(3)
}

impl SendQueue {
    /// An empty queue holding at most `capacity` frames.
    pub fn new(capacity: usize) -> SendQueue {
        SendQueue { lanes: Mutex::new(Default::default()), capacity, ready: Notify::new() }
    }

    /// Queues a frame. When full, the oldest frame of the least urgent non-empty lane that is no
    /// more urgent than this one makes room; if every queued frame is more urgent, this one is
    /// dropped. Returns whether something was dropped (retransmission recovers it).
    pub fn push(&self, precedence: Precedence, frame: Vec<u8>) -> bool {
        let Ok(mut lanes) = self.lanes.lock() else { return true };
        let mine = lane(precedence);
        let mut dropped = false;
        if lanes.iter().map(VecDeque::len).sum::<usize>() >= self.capacity {
            match (mine..4).rev().find(|l| !lanes[*l].is_empty()) {
                Some(victim) => {
                    lanes[victim].pop_front();
                    dropped = true;
                }
                None => return true,
            }
        }
        lanes[mine].push_back(frame);
        drop(lanes);
        self.ready.notify_one();
        dropped
    }

    /// The most urgent frame, waiting for one if the queue is empty.
    pub async fn pop(&self) -> (Precedence, Vec<u8>) {
        loop {
            if let Ok(mut lanes) = self.lanes.lock() {
                for (i, l) in lanes.iter_mut().enumerate() {
                    if let Some(frame) = l.pop_front() {
                        return (Precedence::ALL[i], frame);
                    }
                }
            }
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urgent_first_fifo_within_a_precedence_and_bounded() {
        let q = SendQueue::new(3);
        assert!(!q.push(Precedence::Routine, vec![1]));
        assert!(!q.push(Precedence::Routine, vec![2]));
        assert!(!q.push(Precedence::Flash, vec![3]));
        // Full: a FLASH frame pushes out the oldest ROUTINE one; a ROUTINE one is refused when only
        // more urgent frames could make room.
        assert!(q.push(Precedence::Flash, vec![4]));
        assert_eq!(q.pop().await, (Precedence::Flash, vec![3]));
        assert_eq!(q.pop().await, (Precedence::Flash, vec![4]));
        assert_eq!(q.pop().await, (Precedence::Routine, vec![2]));
        q.push(Precedence::Flash, vec![5]);
        q.push(Precedence::Flash, vec![6]);
        q.push(Precedence::Immediate, vec![7]);
        assert!(q.push(Precedence::Routine, vec![8]));
        assert_eq!(q.pop().await, (Precedence::Flash, vec![5]));
    }
}
