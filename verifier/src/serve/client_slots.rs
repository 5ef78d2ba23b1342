//! Each client's share of the request slots (`--max-requests-per-client`): a client is its peer
//! address (an IPv6 client by its /64, the block one host is usually given), so that one client
//! with many connections, slow or not, cannot hold every slot and keep everyone else at 503.
//! Each client also has a share of the queued samples (`--max-queue` in the same proportion), so
//! that one client's few large requests cannot fill the queue either; and a share of the open
//! connections (`--max-connections-per-client`), with a bound on all of them together that
//! keeps its last eighth for clients holding fewer than [`FEW_CONNECTIONS`], so that many
//! addresses each at its cap cannot run the process out of file descriptors or shut a new
//! client out (red team: 50 addresses x 256 connections took every descriptor). Only clients
//! holding something are remembered, so the map is bounded by the requests and connections held.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct ClientSlots {
    per_client: usize,
    samples_per_client: usize,
    connections_per_client: usize,
    connections_in_all: usize,
    held: Mutex<HashMap<IpAddr, Held>>,
    /// Connections of all clients (changed only under `held`'s lock).
    connections: AtomicUsize,
}

/// A client holding fewer connections than this may use the last eighth of the connections.
const FEW_CONNECTIONS: usize = 4;

/// What one client holds now.
#[derive(Default)]
struct Held {
    requests: usize,
    samples: usize,
    connections: usize,
}

/// One open connection of one client, given back when dropped.
pub struct ClientConnection {
    slots: Arc<ClientSlots>,
    client: IpAddr,
}

/// One slot of one client, given back when dropped.
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    client: IpAddr,
}

/// Samples one client has queued, given back when dropped.
pub struct ClientSamples {
    slots: Arc<ClientSlots>,
    client: IpAddr,
    count: usize,
}

impl ClientSlots {
    /// `per_client` requests and `samples_per_client` queued samples for each client.
    pub fn new(per_client: usize, samples_per_client: usize) -> ClientSlots {
        ClientSlots {
            per_client: per_client.max(1),
            samples_per_client: samples_per_client.max(1),
            connections_per_client: usize::MAX,
            connections_in_all: usize::MAX,
            held: Mutex::new(HashMap::new()),
            connections: AtomicUsize::new(0),
        }
    }

    /// At most `per_client` open connections for each client and `in_all` for all of them.
    pub fn with_connections(mut self, per_client: usize, in_all: usize) -> ClientSlots {
        self.connections_per_client = per_client.max(1);
        self.connections_in_all = in_all.max(FEW_CONNECTIONS);
        self
    }

    pub fn per_client(&self) -> usize {
        self.per_client
    }

    pub fn samples_per_client(&self) -> usize {
        self.samples_per_client
    }

    /// A slot for the client at `address`, or `None` when it holds its share already.
    pub fn try_acquire(self: &Arc<Self>, address: IpAddr) -> Option<ClientSlot> {
        let client = client_of(address);
        let mut held = self.lock();
        let entry = held.entry(client).or_default();
        if entry.requests >= self.per_client {
            return None;
        }
        entry.requests += 1;
        Some(ClientSlot {
            slots: self.clone(),
            client,
        })
    }

    /// A hold on one open connection of the client at `address`, or `None` when it holds its
    /// share already or all clients together hold all they may.
    pub fn try_open_connection(self: &Arc<Self>, address: IpAddr) -> Option<ClientConnection> {
        let client = client_of(address);
        let mut held = self.lock();
        let all = self.connections.load(Ordering::Relaxed);
        let entry = held.entry(client).or_default();
        let reserve_from = self.connections_in_all - self.connections_in_all / 8;
        if entry.connections >= self.connections_per_client
            || all >= self.connections_in_all
            || (all >= reserve_from && entry.connections >= FEW_CONNECTIONS)
        {
            if entry.requests == 0 && entry.samples == 0 && entry.connections == 0 {
                held.remove(&client);
            }
            return None;
        }
        entry.connections += 1;
        self.connections.store(all + 1, Ordering::Relaxed);
        Some(ClientConnection {
            slots: self.clone(),
            client,
        })
    }

    fn release(&self, client: IpAddr, requests: usize, samples: usize, connections: usize) {
        let mut held = self.lock();
        if let Some(entry) = held.get_mut(&client) {
            entry.requests -= requests;
            entry.samples -= samples;
            entry.connections -= connections;
            if entry.requests == 0 && entry.samples == 0 && entry.connections == 0 {
                held.remove(&client);
            }
        }
        let all = self.connections.load(Ordering::Relaxed);
        self.connections.store(all - connections, Ordering::Relaxed);
    }

    /// Slots the client at `address` holds now.
    #[cfg(test)]
    fn held(&self, address: IpAddr) -> usize {
        self.lock()
            .get(&client_of(address))
            .map_or(0, |held| held.requests)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Held>> {
        // Every update is one statement: a panic elsewhere cannot leave the counts torn.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ClientSlot {
    /// `count` samples of this client's share of the queue (`--max-queue`), or `None` when
    /// they would take it past its share: one client's five requests filled the whole queue
    /// and everyone else was answered 503 (red team).
    pub fn try_reserve_samples(&self, count: usize) -> Option<ClientSamples> {
        let mut held = self.slots.lock();
        let entry = held.entry(self.client).or_default();
        if entry.samples.saturating_add(count) > self.slots.samples_per_client {
            return None;
        }
        entry.samples += count;
        Some(ClientSamples {
            slots: self.slots.clone(),
            client: self.client,
            count,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.slots.release(self.client, 1, 0, 0);
    }
}

impl Drop for ClientSamples {
    fn drop(&mut self) {
        self.slots.release(self.client, 0, self.count, 0);
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        self.slots.release(self.client, 0, 0, 1);
    }
}

/// The key a peer address is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by
/// its /64 prefix.
pub fn client_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_served_client_is_taken_for_the_local_one() {
        for address in [
            "::1",
            "::",
            "::2",
            "0.0.0.0",
            "127.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            let client = client_of(address.parse().unwrap());
            assert_ne!(client, crate::fair_queue::LOCAL, "{address}");
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_share_and_others_still_get_theirs() {
        let slots = Arc::new(ClientSlots::new(2, 100));
        let a1 = slots.try_acquire(ip("127.0.0.1")).unwrap();
        let _a2 = slots.try_acquire(ip("127.0.0.1")).unwrap();
        assert!(slots.try_acquire(ip("127.0.0.1")).is_none());
        let _b = slots.try_acquire(ip("127.0.0.2")).unwrap();
        drop(a1);
        assert_eq!(slots.held(ip("127.0.0.1")), 1);
        assert!(slots.try_acquire(ip("127.0.0.1")).is_some());
    }

    #[test]
    fn clients_that_hold_nothing_are_forgotten() {
        let slots = Arc::new(ClientSlots::new(1, 100));
        drop(slots.try_acquire(ip("10.0.0.1")).unwrap());
        assert!(slots.lock().is_empty());
    }

    #[test]
    fn an_ipv6_client_is_its_64_block_and_mapped_ipv4_is_ipv4() {
        let slots = Arc::new(ClientSlots::new(1, 100));
        let _held = slots.try_acquire(ip("2001:db8:1:2::1")).unwrap();
        assert!(slots.try_acquire(ip("2001:db8:1:2:ffff::9")).is_none());
        assert!(slots.try_acquire(ip("2001:db8:1:3::1")).is_some());
        let _v4 = slots.try_acquire(ip("192.0.2.7")).unwrap();
        assert!(slots.try_acquire(ip("::ffff:192.0.2.7")).is_none());
    }

    #[test]
    fn a_client_gets_its_share_of_the_queued_samples() {
        let slots = Arc::new(ClientSlots::new(4, 100));
        let a = slots.try_acquire(ip("127.0.0.1")).unwrap();
        let first = a.try_reserve_samples(60).unwrap();
        assert!(a.try_reserve_samples(41).is_none());
        let _second = a.try_reserve_samples(40).unwrap();
        let b = slots.try_acquire(ip("127.0.0.2")).unwrap();
        let _theirs = b.try_reserve_samples(100).unwrap();
        drop(first);
        assert!(a.try_reserve_samples(60).is_some());
        drop((a, _second));
        assert!(slots.lock().get(&ip("127.0.0.1")).is_none());
    }

    #[test]
    fn the_last_eighth_of_the_connections_is_kept_for_clients_with_few() {
        let open = Arc::new(ClientSlots::new(1, 100).with_connections(3, 16));
        let address = |i: u8| IpAddr::from([10, 0, 0, i]);
        // Five clients at their cap of 3: 15 connections; the 15th is past 14, the reserve's
        // start, and was admitted because its client then held 2.
        let mut held: Vec<ClientConnection> = (1..=5)
            .flat_map(|i| (0..3).map(move |_| i))
            .map(|i| {
                open.try_open_connection(address(i))
                    .expect("under both caps")
            })
            .collect();
        assert!(
            open.try_open_connection(address(1)).is_none(),
            "past the client's cap"
        );
        // A sixth client holding none gets the last place; then nobody does.
        held.push(open.try_open_connection(address(6)).expect("the reserve"));
        assert!(
            open.try_open_connection(address(7)).is_none(),
            "past the total"
        );
        // A client's connection closing frees a place, for it or anyone with few.
        held.swap_remove(0);
        assert!(open.try_open_connection(address(7)).is_some());
        // A client holding FEW_CONNECTIONS or more cannot use the reserve.
        let open = Arc::new(ClientSlots::new(1, 100).with_connections(100, 16));
        let _many: Vec<_> = (0..14)
            .map(|_| open.try_open_connection(address(1)).unwrap())
            .collect();
        assert!(
            open.try_open_connection(address(1)).is_none(),
            "the reserve is for clients with few"
        );
        assert!(open.try_open_connection(address(2)).is_some());
    }

    #[test]
    fn a_share_is_at_least_one() {
        let slots = Arc::new(ClientSlots::new(0, 100));
        assert_eq!(slots.per_client(), 1);
        assert!(slots.try_acquire(ip("127.0.0.1")).is_some());
    }
}
