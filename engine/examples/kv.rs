//! A replicated key-value store: three tumult nodes on real TCP, each in its
//! own terminal, and a client mode to put and get keys.
//!
//! Start the nodes (each keeps its data in `$TMPDIR/tumult-kv-n<id>` unless
//! `--data DIR` says otherwise; they listen on 127.0.0.1:7101..7103):
//!
//! ```text
//! cargo run -p tumult-engine --example kv -- --id 1
//! cargo run -p tumult-engine --example kv -- --id 2
//! cargo run -p tumult-engine --example kv -- --id 3
//! ```
//!
//! Then, from a fourth terminal:
//!
//! ```text
//! cargo run -p tumult-engine --example kv -- put color blue
//! cargo run -p tumult-engine --example kv -- get color          # linearizable (read-index)
//! cargo run -p tumult-engine --example kv -- get color --local  # any replica, maybe stale
//! cargo run -p tumult-engine --example kv -- del color
//! cargo run -p tumult-engine --example kv -- status             # every shard on every node
//! ```
//!
//! Keys are spread over `--shards N` Raft groups (default 4; every node and
//! client must agree on it). Stop a node with Ctrl-C and restart it: it
//! recovers from its directory; with one node down the other two keep
//! serving. `--base-port P` moves the three ports to P..P+2.
//!
//! With `--token T` (give every node and every client the same one, or set
//! `TUMULT_TOKEN`), every call must carry `authorization: Bearer T`: peers'
//! Raft traffic and snapshot fetches as well as clients' writes, reads and
//! status calls. `--cluster ID` names the cluster (default `tumult`): a node
//! configured for another cluster is refused even if its ids overlap. A
//! client without the token is refused:
//!
//! ```text
//! cargo run -p tumult-engine --example kv -- --id 1 --token s3cret   # and 2, 3
//! cargo run -p tumult-engine --example kv -- --token s3cret put color blue
//! ok (was unset)
//! cargo run -p tumult-engine --example kv -- put color red
//! Error: Refused("this node requires a bearer token (authorization: Bearer <token>)")
//! ```
//!
//! Mutual TLS: `kv certs DIR` makes a CA and certificates for the three
//! nodes and a client (`node-<id>.pem`/`.key`, `client.pem`/`.key`); give
//! every node and client `--tls DIR`. Peers then check that the node at an
//! address holds that node's certificate, and a batch claiming another node
//! than its certificate names is refused:
//!
//! ```text
//! cargo run -p tumult-engine --example kv -- certs /tmp/kv-tls
//! cargo run -p tumult-engine --example kv -- --id 1 --tls /tmp/kv-tls --token s3cret   # and 2, 3
//! cargo run -p tumult-engine --example kv -- --tls /tmp/kv-tls --token s3cret put color blue
//! ```

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tumult_engine::client::Client;
use tumult_engine::node::{Env, Node, NodeConfig, RaftApp, ReadMode};
use tumult_engine::raft::{Index, Membership, NodeId, ShardId};
use tumult_engine::transport::{Credentials, Network, TcpNetwork, TlsConfig, TlsNetwork};

/// A command of the replicated state machine.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Command {
    Put { key: String, value: String },
    Del { key: String },
}

/// One map per shard.
#[derive(Default)]
struct Kv(BTreeMap<ShardId, BTreeMap<String, String>>);

impl RaftApp for Kv {
    fn apply(&mut self, shard: ShardId, _index: Index, command: &[u8]) -> Vec<u8> {
        let map = self.0.entry(shard).or_default();
        // Replies are JSON: the previous value, or null.
        let previous = match serde_json::from_slice::<Command>(command) {
            Ok(Command::Put { key, value }) => map.insert(key, value),
            Ok(Command::Del { key }) => map.remove(&key),
            Err(_) => None, // a malformed command is applied as a no-op on every replica
        };
        serde_json::to_vec(&previous).expect("a string encodes")
    }
    fn read(&mut self, shard: ShardId, query: &[u8]) -> Vec<u8> {
        let key = String::from_utf8_lossy(query);
        let value = self.0.get(&shard).and_then(|m| m.get(key.as_ref()));
        serde_json::to_vec(&value).expect("a string encodes")
    }
    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        serde_json::to_vec(&self.0.get(&shard).cloned().unwrap_or_default()).expect("encodes")
    }
    fn restore(&mut self, shard: ShardId, snapshot: &[u8]) {
        let map = if snapshot.is_empty() {
            BTreeMap::new()
        } else {
            serde_json::from_slice(snapshot).expect("a snapshot this app wrote")
        };
        self.0.insert(shard, map);
    }
    fn should_snapshot(&self, _shard: ShardId, applied: Index, snapshot_index: Index) -> bool {
        applied >= snapshot_index + 1000
    }
}

/// FNV-1a: a hash that is the same in every process, so clients and nodes
/// agree on which shard holds a key.
fn shard_of(key: &str, shards: u64) -> ShardId {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % shards
}

struct Args {
    id: Option<NodeId>,
    data: Option<PathBuf>,
    shards: u64,
    base_port: u16,
    local: bool,
    token: Option<String>,
    cluster: String,
    tls: Option<PathBuf>,
    words: Vec<String>,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        id: None,
        data: None,
        shards: 4,
        base_port: 7101,
        local: false,
        token: std::env::var("TUMULT_TOKEN").ok().filter(|t| !t.is_empty()),
        cluster: "tumult".into(),
        tls: None,
        words: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--id" => args.id = Some(value("--id")?.parse().map_err(|e| format!("--id: {e}"))?),
            "--data" => args.data = Some(value("--data")?.into()),
            "--shards" => {
                args.shards = value("--shards")?
                    .parse()
                    .map_err(|e| format!("--shards: {e}"))?
            }
            "--base-port" => {
                args.base_port = value("--base-port")?
                    .parse()
                    .map_err(|e| format!("--base-port: {e}"))?
            }
            "--local" => args.local = true,
            "--token" => args.token = Some(value("--token")?),
            "--cluster" => args.cluster = value("--cluster")?,
            "--tls" => args.tls = Some(value("--tls")?.into()),
            "-h" | "--help" => return Err(String::new()),
            _ => args.words.push(a),
        }
    }
    if args.shards == 0 {
        return Err("--shards must be at least 1".into());
    }
    Ok(args)
}

const USAGE: &str = "usage:
  kv --id <1|2|3> [--data DIR] [--shards N] [--base-port P] [--token T] [--cluster ID] [--tls DIR]   run a node
  kv [--token T] [--tls DIR] put <key> <value> | get <key> [--local] | del <key> | status
  kv certs DIR   write a CA and certificates for nodes 1..3 and a client into DIR";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse() {
        Ok(a) => a,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("kv: {why}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let peers: BTreeMap<NodeId, String> = (1..=3u64)
        .map(|i| (i, format!("127.0.0.1:{}", args.base_port + i as u16 - 1)))
        .collect();
    let rt = tokio::runtime::Runtime::new()?;
    match args.id {
        Some(id) => rt.block_on(run_node(id, &args, peers)),
        None => rt.block_on(run_client(&args, peers)),
    }
}

/// `DIR/ca.pem` with `DIR/<party>.pem` and `DIR/<party>.key`.
fn tls_config(dir: &std::path::Path, party: &str) -> Result<TlsConfig, Box<dyn std::error::Error>> {
    let read = |name: String| {
        let path = dir.join(&name);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    Ok(TlsConfig::from_pem(
        &read("ca.pem".into())?,
        &read(format!("{party}.pem"))?,
        &read(format!("{party}.key"))?,
    )?)
}

/// A CA and certificates for nodes 1..=3 (named `node-<id>`) and a client.
fn write_certs(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    std::fs::create_dir_all(dir)?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key)?;
    std::fs::write(dir.join("ca.pem"), ca.pem())?;
    for party in ["node-1", "node-2", "node-3", "client"] {
        let key = KeyPair::generate()?;
        let cert =
            CertificateParams::new(vec![party.to_string()])?.signed_by(&key, &ca, &ca_key)?;
        std::fs::write(dir.join(format!("{party}.pem")), cert.pem())?;
        std::fs::write(dir.join(format!("{party}.key")), key.serialize_pem())?;
    }
    println!(
        "wrote ca.pem and node-1..3, client .pem/.key into {}",
        dir.display()
    );
    Ok(())
}

fn credentials(args: &Args) -> Credentials {
    let c = Credentials::new(&args.cluster);
    match &args.token {
        Some(t) => c.with_token(t),
        None => c,
    }
}

async fn run_node(
    id: NodeId,
    args: &Args,
    peers: BTreeMap<NodeId, String>,
) -> Result<(), Box<dyn std::error::Error>> {
    if !peers.contains_key(&id) {
        return Err(format!("--id must be 1, 2 or 3, not {id}").into());
    }
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("tumult-kv-n{id}")));
    let mut config = NodeConfig::new(id, peers.clone(), data.clone());
    config.shards = (0..args.shards)
        .map(|s| (s, Membership::new(1..=3)))
        .collect();
    config.credentials = credentials(args);
    if let Some(dir) = &args.tls {
        config.tls = Some(tls_config(dir, &format!("node-{id}"))?);
    }
    let node = Node::start(config, Env::production(), Kv::default()).await?;
    println!(
        "n{id} listening on {} with {} shards, data in {}; Ctrl-C stops it",
        peers[&id],
        args.shards,
        data.display()
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            node.shutdown();
            println!("n{id} stopping");
        }
        why = node.stopped() => return Err(format!("n{id} stopped: {why}").into()),
    }
    node.stopped().await;
    Ok(())
}

async fn run_client(
    args: &Args,
    peers: BTreeMap<NodeId, String>,
) -> Result<(), Box<dyn std::error::Error>> {
    // A client id unique enough for a command-line tool: exactly-once writes
    // are keyed by it.
    let client_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64
        ^ u64::from(std::process::id());
    if let ["certs", dir] = args
        .words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        return write_certs(std::path::Path::new(dir));
    }
    let network: Arc<dyn Network> = match &args.tls {
        Some(dir) => Arc::new(TlsNetwork::new(
            Arc::new(TcpNetwork),
            &tls_config(dir, "client")?,
            &peers,
        )?),
        None => Arc::new(TcpNetwork),
    };
    let mut client = Client::new(network, peers.clone(), client_id);
    client.deadline = std::time::Duration::from_secs(3);
    if let Some(t) = &args.token {
        client = client.with_token(t);
    }
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["put", key, value] => {
            let cmd = Command::Put {
                key: key.to_string(),
                value: value.to_string(),
            };
            let reply = client
                .write(shard_of(key, args.shards), serde_json::to_vec(&cmd)?)
                .await?;
            let previous: Option<String> = serde_json::from_slice(&reply)?;
            println!("ok (was {})", previous.as_deref().unwrap_or("unset"));
        }
        ["del", key] => {
            let cmd = Command::Del {
                key: key.to_string(),
            };
            let reply = client
                .write(shard_of(key, args.shards), serde_json::to_vec(&cmd)?)
                .await?;
            let previous: Option<String> = serde_json::from_slice(&reply)?;
            println!("ok (was {})", previous.as_deref().unwrap_or("unset"));
        }
        ["get", key] => {
            let mode = if args.local {
                ReadMode::Local
            } else {
                ReadMode::Linearizable
            };
            let reply = client
                .read(shard_of(key, args.shards), key.as_bytes().to_vec(), mode)
                .await?;
            match serde_json::from_slice::<Option<String>>(&reply)? {
                Some(v) => println!("{v}"),
                None => println!("(unset)"),
            }
        }
        ["status"] => {
            for shard in 0..args.shards {
                for node in peers.keys() {
                    match client.status(*node, shard).await {
                        Ok(s) => println!(
                            "shard {shard} n{node}: {} term {} leader n{} commit {} applied {}",
                            s.role, s.term, s.leader, s.commit, s.applied
                        ),
                        Err(e) => println!("shard {shard} n{node}: unreachable ({})", e.message()),
                    }
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
    Ok(())
}
