//! A work queue that serves requests in turn: each request's items wait in a line of their own,
//! and a taker gets the next item of the request whose turn it is, which then goes to the back
//! of the turns. A request of one item therefore waits behind one item of each request ahead of
//! it, never behind all the items another request queued. The engine feeds sandboxed samples
//! through it to one thread per sandbox worker (`engine.rs`).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

pub struct FairQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    /// The requests with items left, in the order of their next turn.
    turns: VecDeque<VecDeque<T>>,
    closed: bool,
}

impl<T> FairQueue<T> {
    pub fn new() -> FairQueue<T> {
        FairQueue {
            state: Mutex::new(State {
                turns: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Queues a request's items, in order; its first turn comes after the requests waiting now.
    /// Once the queue is closed, they are dropped.
    pub fn push_request(&self, items: impl IntoIterator<Item = T>) {
        let items: VecDeque<T> = items.into_iter().collect();
        let count = items.len();
        if count == 0 {
            return;
        }
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.turns.push_back(items);
        drop(state);
        for _ in 0..count {
            self.ready.notify_one();
        }
    }

    /// The next item in turn, waiting for one while there is none; `None` once closed.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(mut request) = state.turns.pop_front() {
                let item = request.pop_front();
                if !request.is_empty() {
                    state.turns.push_back(request);
                }
                return item;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Ends the queue: takers get `None` from now on (items still queued are dropped).
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.turns.clear();
        drop(state);
        self.ready.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The state is consistent between statements: a panic elsewhere cannot leave it torn.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<T>(queue: &FairQueue<T>, count: usize) -> Vec<T> {
        (0..count).map(|_| queue.pop().unwrap()).collect()
    }

    #[test]
    fn requests_take_turns_one_item_each() {
        let queue = FairQueue::new();
        queue.push_request(["a1", "a2", "a3", "a4"]);
        queue.push_request(["b1"]);
        queue.push_request(["c1", "c2"]);
        assert_eq!(drain(&queue, 7), ["a1", "b1", "c1", "a2", "c2", "a3", "a4"]);
    }

    #[test]
    fn a_request_that_arrives_later_waits_for_one_item_of_each_request_ahead() {
        let queue = FairQueue::new();
        queue.push_request((0..1000).map(|i| format!("big{i}")));
        // Two takers are busy with the big request's first items when a small one arrives.
        assert_eq!(drain(&queue, 2), ["big0", "big1"]);
        queue.push_request(["small".to_string()]);
        assert_eq!(drain(&queue, 2), ["big2", "small"]);
        assert_eq!(queue.pop().unwrap(), "big3");
    }

    #[test]
    fn an_empty_request_takes_no_turn() {
        let queue = FairQueue::new();
        queue.push_request(Vec::<u8>::new());
        queue.push_request([1, 2]);
        queue.push_request([3]);
        assert_eq!(drain(&queue, 3), [1, 3, 2]);
    }

    #[test]
    fn closing_wakes_waiting_takers_with_none() {
        let queue = std::sync::Arc::new(FairQueue::<u8>::new());
        let takers: Vec<_> = (0..3)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || queue.pop())
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(50));
        queue.close();
        for taker in takers {
            assert_eq!(taker.join().unwrap(), None);
        }
        queue.push_request([1]);
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn items_pushed_while_takers_wait_reach_them() {
        let queue = std::sync::Arc::new(FairQueue::new());
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let queue = queue.clone();
                std::thread::spawn(move || queue.pop().unwrap())
            })
            .collect();
        queue.push_request([1, 2]);
        queue.push_request([3, 4]);
        let mut got: Vec<i32> = takers.into_iter().map(|t| t.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [1, 2, 3, 4]);
    }
}
