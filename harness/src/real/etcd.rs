//! etcd as a second system under test (`[system] kind = "etcd"`, real mode
//! only): a cluster of Debian's `etcd-server` (3.4) on loopback, one member
//! per node, driven through its v3 API with the etcd-client crate (feature
//! `etcd`): `write` is a put, `read` a (linearizable) range, `cas` a
//! transaction that puts only if the value compares equal. Values are the
//! history's integers as decimal strings.
//!
//! etcd names each member by one peer URL, the same in every member's
//! `--initial-cluster`, so a proxy cannot be chosen by the sender's
//! address: each member's advertised peer URL is one proxy, which tells
//! senders apart by the `X-PeerURLs` header etcd's rafthttp puts on every
//! stream and pipeline request (the sender's own advertised URL); a
//! connection without it (a version probe) is never faulted. A request
//! carries the sender's messages and its response the receiver's, as with
//! the engine, so cuts, one-way cuts, holds and latency mean the same.
//!
//! etcd writes no protocol trace: the `model` check is `skipped`; the
//! nemesis learns leaders by polling each member's status.

use super::process::Launch;
use std::collections::BTreeMap;
use std::path::Path;
use tumult_engine::raft::NodeId;

/// What keeps an etcd scenario from running on this machine, if anything.
pub fn missing() -> Option<String> {
    if !cfg!(feature = "etcd") {
        return Some(
            "[system] kind = \"etcd\": this tumult was built without etcd support; rebuild with `--features etcd` (its client's build needs PROTOC, see the README)".into(),
        );
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
        .unwrap_or(false);
    if !found {
        return Some(
            "[system] kind = \"etcd\": etcd is not installed (apt-get install etcd-server: Debian's etcd 3.4)".into(),
        );
    }
    None
}

/// The addresses of one member.
#[derive(Clone, Debug)]
pub struct Member {
    /// Where clients reach it ("127.0.0.1:port").
    pub client: String,
    /// Where it listens for its peers.
    pub peer: String,
    /// What it advertises to its peers: its proxy.
    pub advertised: String,
}

/// How to start each member of the cluster.
pub fn launch(
    members: &BTreeMap<NodeId, Member>,
    dir: &Path,
    seed: u64,
) -> BTreeMap<NodeId, Launch> {
    let cluster: Vec<String> = members
        .iter()
        .map(|(n, m)| format!("n{n}=http://{}", m.advertised))
        .collect();
    let cluster = cluster.join(",");
    members
        .iter()
        .map(|(&n, m)| {
            let args = vec![
                "--name".to_string(),
                format!("n{n}"),
                "--data-dir".into(),
                dir.join(format!("n{n}")).display().to_string(),
                "--listen-client-urls".into(),
                format!("http://{}", m.client),
                "--advertise-client-urls".into(),
                format!("http://{}", m.client),
                "--listen-peer-urls".into(),
                format!("http://{}", m.peer),
                "--initial-advertise-peer-urls".into(),
                format!("http://{}", m.advertised),
                "--initial-cluster".into(),
                cluster.clone(),
                "--initial-cluster-state".into(),
                "new".into(),
                "--initial-cluster-token".into(),
                format!("tumult-{seed}"),
            ];
            let launch = Launch {
                program: "etcd".into(),
                args,
                log: dir.join(format!("n{n}.log")),
                trace: false,
            };
            (n, launch)
        })
        .collect()
}

/// The node that sent an HTTP request whose head is `head`, from its
/// `X-PeerURLs` header (`advertised` maps each member's advertised peer
/// URL to its node).
pub fn sender(head: &[u8], advertised: &BTreeMap<String, NodeId>) -> Option<NodeId> {
    let text = String::from_utf8_lossy(head);
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("x-peerurls") {
            return None;
        }
        value
            .split(',')
            .find_map(|url| advertised.get(url.trim().trim_start_matches("http://")))
            .copied()
    })
}

#[cfg(feature = "etcd")]
pub use client::{watch_leaders, Session};

#[cfg(feature = "etcd")]
mod client {
    use crate::sim::recorder::Shared;
    use crate::workload::{Completion, Request};
    use etcd_client::{Client, Compare, CompareOp, ConnectOptions, Txn, TxnOp};
    use std::collections::BTreeMap;
    use std::time::Duration;
    use tumult_engine::raft::NodeId;
    use tumult_models::history::Function;
    use tumult_models::history::Value;

    async fn connect(endpoint: &str, timeout: Duration) -> Option<Client> {
        let options = ConnectOptions::new()
            .with_connect_timeout(timeout)
            .with_timeout(timeout);
        Client::connect([format!("http://{endpoint}")], Some(options))
            .await
            .ok()
    }

    /// One client's connection to the cluster: to one member at a time,
    /// its home first, as Jepsen's etcd clients; after an operation that
    /// got no answer the next one goes to the next member.
    pub struct Session {
        endpoints: Vec<String>,
        at: usize,
        client: Option<Client>,
    }

    impl Session {
        /// A session over `endpoints` (client addresses by node), starting at `home`.
        pub fn new(endpoints: &BTreeMap<NodeId, String>, home: NodeId) -> Session {
            let at = endpoints.keys().position(|n| *n == home).unwrap_or(0);
            Session {
                endpoints: endpoints.values().cloned().collect(),
                at,
                client: None,
            }
        }

        fn next(&mut self) {
            self.client = None;
            self.at = (self.at + 1) % self.endpoints.len().max(1);
        }

        /// Runs one operation within `timeout`.
        pub async fn execute(&mut self, request: &Request, timeout: Duration) -> Completion {
            let key = request.key.clone();
            let budget = timeout;
            let result = tokio::time::timeout(budget, async {
                if self.client.is_none() {
                    self.client = connect(&self.endpoints[self.at], budget).await;
                }
                let Some(client) = self.client.as_mut() else {
                    // Nothing was sent: the operation certainly did not happen.
                    return Err((false, "cannot connect".to_string()));
                };
                match (&request.f, &request.value) {
                    (Function::Read, _) => {
                        let r = client
                            .get(key, None)
                            .await
                            .map_err(|e| (true, e.to_string()))?;
                        let value = match r.kvs().first() {
                            None => Value::Null,
                            Some(kv) => match kv.value_str().ok().and_then(|s| s.parse().ok()) {
                                Some(v) => Value::Int(v),
                                None => {
                                    return Err((true, "a value that is not an integer".into()))
                                }
                            },
                        };
                        Ok(Completion::Ok(value))
                    }
                    (Function::Write, Value::Int(v)) => {
                        client
                            .put(key, v.to_string(), None)
                            .await
                            .map_err(|e| (true, e.to_string()))?;
                        Ok(Completion::Ok(request.value.clone()))
                    }
                    (Function::Cas, Value::List(pair)) if pair.len() == 2 => {
                        let (old, new) = (pair[0], pair[1]);
                        let txn = Txn::new()
                            .when([Compare::value(
                                key.clone(),
                                CompareOp::Equal,
                                old.to_string(),
                            )])
                            .and_then([TxnOp::put(key, new.to_string(), None)]);
                        let r = client.txn(txn).await.map_err(|e| (true, e.to_string()))?;
                        if r.succeeded() {
                            Ok(Completion::Ok(request.value.clone()))
                        } else {
                            Ok(Completion::Fail("mismatch".into()))
                        }
                    }
                    _ => Ok(Completion::Fail(format!(
                        "etcd runs read, write and cas, not {}",
                        request.f
                    ))),
                }
            })
            .await;
            match result {
                Ok(Ok(done)) => done,
                Ok(Err((sent, why))) => {
                    self.next();
                    if sent && request.f != Function::Read {
                        Completion::Info(why)
                    } else {
                        // A read has no effect; an unsent command none either.
                        Completion::Fail(why)
                    }
                }
                Err(_) => {
                    self.next();
                    if request.f == Function::Read {
                        Completion::Fail("timeout".into())
                    } else {
                        Completion::Info("timeout".into())
                    }
                }
            }
        }
    }

    /// Polls every member's status and tells the recorder which node leads
    /// the cluster (shard 0) in which term, for `leader:0` and the
    /// recovery check, until the task is dropped.
    pub async fn watch_leaders(endpoints: BTreeMap<NodeId, String>, recorder: Shared) {
        let timeout = Duration::from_millis(300);
        let mut clients: BTreeMap<NodeId, Client> = BTreeMap::new();
        let mut ids: BTreeMap<u64, NodeId> = BTreeMap::new();
        loop {
            let mut seen: Vec<(u64, u64)> = Vec::new();
            for (&n, endpoint) in &endpoints {
                if let std::collections::btree_map::Entry::Vacant(slot) = clients.entry(n) {
                    if let Some(c) = connect(endpoint, timeout).await {
                        slot.insert(c);
                    }
                }
                let Some(c) = clients.get_mut(&n) else {
                    continue;
                };
                match tokio::time::timeout(timeout, c.status()).await {
                    Ok(Ok(s)) => {
                        if let Some(h) = s.header() {
                            ids.insert(h.member_id(), n);
                        }
                        seen.push((s.leader(), s.raft_term()));
                    }
                    Ok(Err(_)) | Err(_) => {
                        clients.remove(&n);
                    }
                }
            }
            let leader = seen
                .iter()
                .filter(|(id, _)| *id != 0)
                .max_by_key(|(_, term)| *term)
                .and_then(|(id, term)| ids.get(id).map(|n| (*n, *term)));
            recorder.lock().expect("recorder").observe_leader(0, leader);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_is_read_from_the_peer_urls_header() {
        let advertised: BTreeMap<String, NodeId> = [
            ("127.0.0.1:4001".to_string(), 1),
            ("127.0.0.1:4002".to_string(), 2),
        ]
        .into();
        let head = b"GET /raft/stream/msgapp/8e9e05c52164694d HTTP/1.1\r\nHost: 127.0.0.1:4002\r\nX-Server-From: 8e9e05c52164694d\r\nX-PeerURLs: http://127.0.0.1:4001\r\n\r\n";
        assert_eq!(sender(head, &advertised), Some(1));
        let probe = b"GET /version HTTP/1.1\r\nHost: 127.0.0.1:4002\r\n\r\n";
        assert_eq!(sender(probe, &advertised), None);
        let stranger = b"POST /raft HTTP/1.1\r\nx-peerurls: http://10.0.0.9:2380\r\n\r\n";
        assert_eq!(sender(stranger, &advertised), None);
    }
}
