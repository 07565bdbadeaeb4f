//! Three nodes on real TCP (127.0.0.1, free ports) and real files (StdDisk in
//! unique temp dirs), in one process: they elect a leader and every node
//! applies the writes; a restarted node recovers from its directory.

mod common;

use common::{Collect, Recorder, States};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tumult_engine::client::Client;
use tumult_engine::node::{Env, Node, NodeConfig};
use tumult_engine::raft::{Membership, NodeId};
use tumult_engine::transport::TcpNetwork;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

/// A directory no other test run uses; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("tumult-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Fixture {
    peers: BTreeMap<NodeId, String>,
    dirs: BTreeMap<NodeId, TempDir>,
    states: States,
    trace: Arc<Collect>,
}

impl Fixture {
    async fn start(&self, i: NodeId) -> Node {
        let mut config = NodeConfig::new(i, self.peers.clone(), self.dirs[&i].0.clone());
        config.tick = Duration::from_millis(10);
        config.shards = vec![(0, Membership::new(1..=3)), (1, Membership::new(1..=3))];
        let env = Env {
            trace: Arc::clone(&self.trace) as _,
            ..Env::production()
        };
        let mut app = Recorder::new(i, Default::default());
        app.states = Some(Arc::clone(&self.states));
        Node::start(config, env, app).await.expect("node starts")
    }

    fn state(&self, i: NodeId, shard: u64) -> Vec<Vec<u8>> {
        self.states
            .lock()
            .unwrap()
            .get(&i)
            .and_then(|s| s.get(&shard))
            .cloned()
            .unwrap_or_default()
    }

    async fn wait_for(&self, what: &str, mut done: impl FnMut(&Fixture) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(self) {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_real_tcp_elect_a_leader_and_replicate_writes() {
    let peers: BTreeMap<NodeId, String> = (1..=3)
        .map(|i| (i, format!("127.0.0.1:{}", free_port())))
        .collect();
    let f = Fixture {
        peers: peers.clone(),
        dirs: (1..=3)
            .map(|i| (i, TempDir::new(&format!("tcp-n{i}"))))
            .collect(),
        states: States::default(),
        trace: Arc::new(Collect::default()),
    };
    let mut nodes = BTreeMap::new();
    for i in 1..=3 {
        nodes.insert(i, f.start(i).await);
    }
    let mut client = Client::new(Arc::new(TcpNetwork), peers.clone(), 1);
    let values: Vec<Vec<u8>> = (0..20).map(|k| format!("v{k}").into_bytes()).collect();
    for (k, v) in values.iter().enumerate() {
        let reply = client
            .write(0, v.clone())
            .await
            .expect("write acknowledged");
        assert_eq!(reply, ((k + 1) as u64).to_be_bytes().to_vec());
    }
    client
        .write(1, b"other".to_vec())
        .await
        .expect("shard 1 too");
    let (leader, term) = f.trace.leader(0).expect("a leader was elected");
    assert!(term >= 1 && (1..=3).contains(&leader));
    f.wait_for("every node applies every write", |f| {
        (1..=3).all(|i| f.state(i, 0) == values && f.state(i, 1) == vec![b"other".to_vec()])
    })
    .await;
    let st = nodes[&leader].status(0).await.unwrap();
    assert_eq!(st.role, "leader");
    assert_eq!(st.membership, Membership::new(1..=3));

    // A follower restarts from its directory and catches up on what it missed.
    let follower = (1..=3).find(|i| *i != leader).unwrap();
    let node = nodes.remove(&follower).unwrap();
    node.shutdown();
    node.stopped().await;
    f.states.lock().unwrap().remove(&follower);
    for k in 20..25 {
        client
            .write(0, format!("v{k}").into_bytes())
            .await
            .expect("writes go on with two nodes");
    }
    // The listener is released once the server task sees the stop.
    let mut restarted = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut config = NodeConfig::new(follower, f.peers.clone(), f.dirs[&follower].0.clone());
        config.tick = Duration::from_millis(10);
        let env = Env {
            trace: Arc::clone(&f.trace) as _,
            ..Env::production()
        };
        let mut app = Recorder::new(follower, Default::default());
        app.states = Some(Arc::clone(&f.states));
        // No `shards`: the node hosts what it finds on disk.
        if let Ok(n) = Node::start(config, env, app).await {
            restarted = Some(n);
            break;
        }
    }
    let restarted = restarted.expect("the follower restarts");
    nodes.insert(follower, restarted);
    let all: Vec<Vec<u8>> = (0..25).map(|k| format!("v{k}").into_bytes()).collect();
    f.wait_for("the restarted follower catches up", |f| {
        f.state(follower, 0) == all && f.state(follower, 1) == vec![b"other".to_vec()]
    })
    .await;
    for n in nodes.values() {
        n.shutdown();
        n.stopped().await;
    }
}

/// An application that breaks on one command.
struct Fragile;

impl tumult_engine::node::RaftApp for Fragile {
    fn apply(&mut self, _: u64, _: u64, command: &[u8]) -> Vec<u8> {
        assert!(command != b"boom", "the application broke an invariant");
        Vec::new()
    }
    fn read(&mut self, _: u64, _: &[u8]) -> Vec<u8> {
        Vec::new()
    }
    fn snapshot(&mut self, _: u64) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _: u64, _: &[u8]) {}
}

#[tokio::test]
async fn a_panic_in_the_driver_stops_the_node_visibly() {
    let dir = TempDir::new("crash");
    let peers: BTreeMap<NodeId, String> = [(1, format!("127.0.0.1:{}", free_port()))].into();
    let mut config = NodeConfig::new(1, peers, dir.0.clone());
    config.tick = Duration::from_millis(10);
    config.shards = vec![(0, Membership::new([1]))];
    let node = Node::start(config, Env::production(), Fragile)
        .await
        .unwrap();
    let mut ok = false;
    for _ in 0..100 {
        if node.write(0, None, b"fine".to_vec()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "the single node elects itself and applies");
    let boom = node.write(0, None, b"boom".to_vec()).await;
    assert!(
        boom.is_err(),
        "the write that broke the node is not acknowledged"
    );
    let why = tokio::time::timeout(Duration::from_secs(5), node.stopped())
        .await
        .expect("the node reports its stop");
    match why {
        tumult_engine::node::NodeError::Crashed(msg) => {
            assert!(msg.contains("broke an invariant"), "{msg}")
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    assert!(node.write(0, None, b"later".to_vec()).await.is_err());
}
