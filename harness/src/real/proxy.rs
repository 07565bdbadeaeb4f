//! The network faults of a real run: one userspace TCP proxy per directed
//! link between nodes. Node `a` reaches node `b` through the proxy of
//! (a, b), so the nemesis decides what passes without root, namespaces or
//! firewall rules. A connection through the proxy of (a, b) carries `a`'s
//! requests to `b` and `b`'s replies to `a`: its bytes from `a` belong to
//! the link a->b, its bytes from `b` to the link b->a.
//!
//! - A cut link (`partition`, `partition-oneway`, `isolate`, flaky
//!   failures): every connection carrying its bytes is closed at once (what
//!   was in flight is lost), and on new connections its bytes wait until
//!   the link is repaired (a connect that hangs, as behind a dropping
//!   firewall). Bytes are never dropped from a live stream: TCP does not
//!   corrupt streams, and a proxy that did would forge messages.
//! - A held pair (`hold`): bytes wait both ways and flow on `release`.
//! - Latency (`[network] latency`, `slow`): each chunk is delivered a drawn
//!   delay after it was read, in order.

use crate::scenario::{draw_duration, DurationRange, SplitMix64};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tumult_engine::raft::NodeId;

/// What the nemesis has in force between nodes.
#[derive(Clone, Debug, Default)]
struct Net {
    /// Directed links whose bytes do not pass.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// How many times each directed link has been cut: a connection opened
    /// before the latest cut of one of its links is closed.
    cuts: BTreeMap<(NodeId, NodeId), u64>,
    /// Unordered pairs (low, high) whose bytes wait.
    held: BTreeSet<(NodeId, NodeId)>,
    latency: Option<DurationRange>,
}

impl Net {
    fn blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.cut.contains(&(from, to)) || self.held.contains(&(from.min(to), from.max(to)))
    }
    fn generation(&self, a: NodeId, b: NodeId) -> (u64, u64) {
        (
            self.cuts.get(&(a, b)).copied().unwrap_or(0),
            self.cuts.get(&(b, a)).copied().unwrap_or(0),
        )
    }
}

/// The proxies of one real run. Their tasks run on the caller's `LocalSet`
/// and end with it.
pub struct Proxies {
    net: watch::Sender<Net>,
    /// The address node `a` dials to reach node `b`, by (a, b).
    pub addrs: BTreeMap<(NodeId, NodeId), String>,
}

/// The connection was closed by a cut.
struct Closed;

/// Tells the sender of a connection from the head of its first request,
/// given each proxy's address and the node behind it.
pub type SenderOf = fn(&[u8], &BTreeMap<String, NodeId>) -> Option<NodeId>;

/// Who sends the bytes a proxy's connections carry from the dialling side.
#[derive(Clone)]
enum Sender {
    /// The proxy of the link (a, b): always `a`.
    Node(NodeId),
    /// A proxy in front of a member: named by each connection's first
    /// request head.
    Head(SenderOf, Rc<BTreeMap<String, NodeId>>),
}

/// Reads a connection's first bytes up to the end of an HTTP request head
/// (at most 16 KiB, or what came within a second).
async fn read_head(inbound: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(1);
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, inbound.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    head
}

impl Proxies {
    /// Opens a proxy on loopback for every ordered pair of distinct nodes
    /// of `targets` (each node's own listening address).
    pub async fn start(
        targets: &BTreeMap<NodeId, String>,
        latency: DurationRange,
        seed: u64,
    ) -> io::Result<Proxies> {
        let links = targets
            .keys()
            .flat_map(|&a| {
                targets
                    .iter()
                    .filter(move |(b, _)| **b != a)
                    .map(move |(&b, target)| ((a, b), target.clone()))
            })
            .collect();
        Proxies::open(links, latency, seed, None).await
    }

    /// Opens one proxy on loopback in front of each node of `targets`
    /// (its peer listener), for systems that name a member by one address
    /// (etcd): the sender of a connection is read from its first request's
    /// head by `sender`, given each proxy's address and the node behind it;
    /// a connection of no known sender is never faulted. Node `b`'s proxy
    /// address is `addrs[(b, b)]`.
    pub async fn start_per_target(
        targets: &BTreeMap<NodeId, String>,
        latency: DurationRange,
        seed: u64,
        sender: SenderOf,
    ) -> io::Result<Proxies> {
        let links = targets
            .iter()
            .map(|(&b, target)| ((b, b), target.clone()))
            .collect();
        Proxies::open(links, latency, seed, Some(sender)).await
    }

    /// Binds a listener for each `((a, b), target)` and then serves them
    /// all: the connections of `(a, b)`'s proxy come from `a`, or, with
    /// `by_head`, from whoever their first request's head names.
    async fn open(
        links: Vec<((NodeId, NodeId), String)>,
        latency: DurationRange,
        seed: u64,
        by_head: Option<SenderOf>,
    ) -> io::Result<Proxies> {
        let (net, _) = watch::channel(Net {
            latency: Some(latency),
            ..Net::default()
        });
        let mut addrs = BTreeMap::new();
        let mut bound = Vec::new();
        for ((a, b), target) in links {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            addrs.insert((a, b), listener.local_addr()?.to_string());
            bound.push((a, b, target, listener));
        }
        // Every proxy's address is known before any connection is accepted.
        let advertised: Rc<BTreeMap<String, NodeId>> =
            Rc::new(addrs.iter().map(|(&(_, b), at)| (at.clone(), b)).collect());
        for (a, b, target, listener) in bound {
            let sender = match by_head {
                Some(f) => Sender::Head(f, Rc::clone(&advertised)),
                None => Sender::Node(a),
            };
            let seed = seed ^ (a << 40) ^ (b << 20);
            tokio::task::spawn_local(accept_loop(
                listener,
                sender,
                b,
                target,
                net.subscribe(),
                seed,
            ));
        }
        Ok(Proxies { net, addrs })
    }

    /// Bytes from `from` to `to` stop (`true`) or pass again.
    pub fn cut(&self, from: NodeId, to: NodeId, cut: bool) {
        self.net.send_modify(|n| {
            if cut {
                if n.cut.insert((from, to)) {
                    *n.cuts.entry((from, to)).or_default() += 1;
                }
            } else {
                n.cut.remove(&(from, to));
            }
        });
    }

    /// Bytes between `a` and `b` wait (`true`) or flow again.
    pub fn hold(&self, a: NodeId, b: NodeId, hold: bool) {
        let pair = (a.min(b), a.max(b));
        self.net.send_modify(|n| {
            if hold {
                n.held.insert(pair);
            } else {
                n.held.remove(&pair);
            }
        });
    }

    /// The one-way delay of every link from now on.
    pub fn latency(&self, range: DurationRange) {
        self.net.send_modify(|n| n.latency = Some(range));
    }
}

async fn accept_loop(
    listener: TcpListener,
    sender: Sender,
    b: NodeId,
    target: String,
    rx: watch::Receiver<Net>,
    seed: u64,
) {
    let mut count = 0u64;
    while let Ok((mut inbound, _)) = listener.accept().await {
        count += 1;
        let _ = inbound.set_nodelay(true);
        let rng = SplitMix64::new(seed ^ count.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (sender, target, rx) = (sender.clone(), target.clone(), rx.clone());
        tokio::task::spawn_local(async move {
            let (a, head) = match &sender {
                Sender::Node(a) => (*a, Vec::new()),
                Sender::Head(named, advertised) => {
                    let head = read_head(&mut inbound).await;
                    // Unknown: the link of b to itself, which no fault touches.
                    (named(&head, advertised).unwrap_or(b), head)
                }
            };
            connection(inbound, head, a, b, target, rx, rng).await;
        });
    }
}

/// Waits until bytes from `from` to `to` may pass; `Err` if a cut of the
/// connection's links came first.
async fn passable(
    rx: &mut watch::Receiver<Net>,
    from: NodeId,
    to: NodeId,
    opened: (u64, u64),
) -> Result<(), Closed> {
    loop {
        {
            let net = rx.borrow_and_update();
            if net.generation(from.min(to), from.max(to)) != opened {
                return Err(Closed);
            }
            if !net.blocked(from, to) {
                return Ok(());
            }
        }
        if rx.changed().await.is_err() {
            return Err(Closed);
        }
    }
}

/// Carries one connection from `a` to `b`'s `target`; `head` is what was
/// already read from `a`.
async fn connection(
    inbound: TcpStream,
    head: Vec<u8>,
    a: NodeId,
    b: NodeId,
    target: String,
    mut rx: watch::Receiver<Net>,
    rng: SplitMix64,
) {
    let (lo, hi) = (a.min(b), a.max(b));
    let opened = rx.borrow().generation(lo, hi);
    // The connect itself waits while a's bytes may not reach b.
    if passable(&mut rx, a, b, opened).await.is_err() {
        return;
    }
    let Ok(outbound) = TcpStream::connect(&target).await else {
        return;
    };
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let rng_down = SplitMix64::new(rng.clone().next_u64());
    let up = pump(in_read, out_write, head, a, b, rx.clone(), opened, rng);
    let down = pump(out_read, in_write, Vec::new(), b, a, rx, opened, rng_down);
    // Either direction closed by a cut closes both sockets (dropped here).
    let _ = tokio::try_join!(up, down);
}

/// Moves the bytes of one direction, `from` to `to`, with the link's delay.
#[allow(clippy::too_many_arguments)]
async fn pump(
    mut read: tokio::net::tcp::OwnedReadHalf,
    mut write: tokio::net::tcp::OwnedWriteHalf,
    first: Vec<u8>,
    from: NodeId,
    to: NodeId,
    rx: watch::Receiver<Net>,
    opened: (u64, u64),
    mut rng: SplitMix64,
) -> Result<(), Closed> {
    let (tx, mut queue) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    if !first.is_empty() {
        let _ = tx.send((Instant::now(), first));
    }
    let mut reader_rx = rx.clone();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            passable(&mut reader_rx, from, to, opened).await?;
            let n = tokio::select! {
                r = read.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(n) => n,
                },
                // A cut while waiting for bytes closes the connection.
                r = cut_since(&mut reader_rx, from, to, opened) => return r,
            };
            let delay = reader_rx
                .borrow()
                .latency
                .map_or(Duration::ZERO, |l| draw_duration(&mut rng, l));
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                return Ok(());
            }
        }
    };
    let mut writer_rx = rx;
    let writer = async move {
        let mut last = Instant::now();
        while let Some((at, bytes)) = queue.recv().await {
            last = last.max(at);
            tokio::time::sleep_until(last).await;
            passable(&mut writer_rx, from, to, opened).await?;
            if write.write_all(&bytes).await.is_err() {
                return Ok(());
            }
        }
        let _ = write.shutdown().await;
        Ok(())
    };
    tokio::try_join!(reader, writer).map(|_| ())
}

/// Resolves only when one of the connection's links (between `from` and
/// `to`) is cut after it was opened (`Err`).
async fn cut_since(
    rx: &mut watch::Receiver<Net>,
    from: NodeId,
    to: NodeId,
    opened: (u64, u64),
) -> Result<(), Closed> {
    loop {
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
        if rx
            .borrow_and_update()
            .generation(from.min(to), from.max(to))
            != opened
        {
            return Err(Closed);
        }
    }
}
