//! A work queue that serves clients in turn, and each client's requests in turn: each request's
//! items wait in a line of their own, and a taker gets the next item of the request whose turn
//! it is within the client whose turn it is; both then go to the back of their turns. A client's
//! request of one item therefore waits behind one item of each other client with work queued
//! (however many requests those clients sent), and behind one item of each of its own requests
//! ahead of it, never behind all the items of another request. The engine feeds sandboxed
//! samples and `POST /run_code` runs through it to one thread per sandbox worker (`engine.rs`).

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Who a request is from, for turns (`serve`: the peer's key of `client_slots`; `grade`:
/// [`LOCAL`]).
pub type Client = IpAddr;

/// The one client of `verifier grade` and other in-process callers.
///
/// `::1`, an address no served client is counted as: the service names an IPv6 client by its
/// /64, whose last 64 bits are zero (`::1` is `::`). It was `::` itself until a red team found
/// that clients on `::1` were then taken for `verifier grade` and skipped the grading turns.
pub const LOCAL: Client = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);

pub struct FairQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    /// The clients with items left, in the order of their next turn; each with its requests
    /// with items left, in the order of their next turn.
    turns: VecDeque<(Client, VecDeque<VecDeque<T>>)>,
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

    /// Queues a request's items, in order: its first turn comes after the requests the client
    /// has waiting now, in the client's turn (a client with nothing waiting comes after the
    /// clients waiting now). Once the queue is closed, they are dropped.
    pub fn push_request(&self, client: Client, items: impl IntoIterator<Item = T>) {
        let items: VecDeque<T> = items.into_iter().collect();
        let count = items.len();
        if count == 0 {
            return;
        }
        let mut state = self.lock();
        if state.closed {
            return;
        }
        // A linear search: only clients with work queued are here, a handful.
        match state.turns.iter_mut().find(|(who, _)| *who == client) {
            Some((_, requests)) => requests.push_back(items),
            None => state.turns.push_back((client, VecDeque::from([items]))),
        }
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
            if let Some((client, mut requests)) = state.turns.pop_front() {
                let mut request = requests.pop_front().expect("clients in turn have requests");
                let item = request.pop_front();
                if !request.is_empty() {
                    requests.push_back(request);
                }
                if !requests.is_empty() {
                    state.turns.push_back((client, requests));
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

    const A: Client = Client::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
    const B: Client = Client::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

    fn drain<T>(queue: &FairQueue<T>, count: usize) -> Vec<T> {
        (0..count).map(|_| queue.pop().unwrap()).collect()
    }

    #[test]
    fn requests_take_turns_one_item_each() {
        let queue = FairQueue::new();
        queue.push_request(A, ["a1", "a2", "a3", "a4"]);
        queue.push_request(A, ["b1"]);
        queue.push_request(A, ["c1", "c2"]);
        assert_eq!(drain(&queue, 7), ["a1", "b1", "c1", "a2", "c2", "a3", "a4"]);
    }

    #[test]
    fn a_request_that_arrives_later_waits_for_one_item_of_each_request_ahead() {
        let queue = FairQueue::new();
        queue.push_request(A, (0..1000).map(|i| format!("big{i}")));
        // Two takers are busy with the big request's first items when a small one arrives.
        assert_eq!(drain(&queue, 2), ["big0", "big1"]);
        queue.push_request(A, ["small".to_string()]);
        assert_eq!(drain(&queue, 2), ["big2", "small"]);
        assert_eq!(queue.pop().unwrap(), "big3");
    }

    #[test]
    fn clients_take_turns_however_many_requests_each_sent() {
        let queue = FairQueue::new();
        for i in 0..6 {
            queue.push_request(A, [format!("a{i}")]);
        }
        queue.push_request(B, ["b0".to_string(), "b1".to_string()]);
        assert_eq!(drain(&queue, 5), ["a0", "b0", "a1", "b1", "a2"]);
    }

    #[test]
    fn an_empty_request_takes_no_turn() {
        let queue = FairQueue::new();
        queue.push_request(A, Vec::<u8>::new());
        queue.push_request(A, [1, 2]);
        queue.push_request(A, [3]);
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
        queue.push_request(A, [1]);
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
        queue.push_request(A, [1, 2]);
        queue.push_request(A, [3, 4]);
        let mut got: Vec<i32> = takers.into_iter().map(|t| t.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [1, 2, 3, 4]);
    }
}
