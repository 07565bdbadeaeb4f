//! Write throughput and latency of a 3-node cluster on real loopback TCP,
//! every commit synced to disk (StdDisk), with 1, 16 and 256 shards: 64
//! concurrent writers, 64-byte writes. The baseline, measured in the same
//! run on the same disk, is a raw redb loop that writes 64 bytes and syncs
//! per commit (one writer: what one disk sync per write costs).
//!
//! With feature `etcd`, the same 64 writers and 64-byte values drive a
//! 3-member etcd cluster (Debian's `etcd-server`, 3.4) on loopback through
//! its v3 API (etcd-client), in the same run, and the table gets etcd's row
//! and tumult / etcd per shard count. Without `etcd` on the PATH that row
//! is skipped with a message.
//!
//! ```text
//! cargo bench -p tumult-engine --bench throughput
//! TUMULT_BENCH_SECS=10 TUMULT_BENCH_DIR=/mnt/disk cargo bench -p tumult-engine --bench throughput
//! PROTOC=$(ls ~/.cargo/registry/src/*/protoc-bin-vendored-linux-x86_64-*/bin/protoc | head -1) \
//!   cargo bench -p tumult-engine --features etcd --bench throughput
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tumult_engine::client::Client;
use tumult_engine::node::{Env, Node, NodeConfig, RaftApp};
use tumult_engine::raft::{Index, Membership, NodeId, ShardId};
use tumult_engine::transport::TcpNetwork;

const WRITERS: usize = 64;
const WRITE_BYTES: usize = 64;

/// Counts writes per shard; the reply is empty.
#[derive(Default)]
struct Count(BTreeMap<ShardId, u64>);

impl RaftApp for Count {
    fn apply(&mut self, shard: ShardId, _: Index, _: &[u8]) -> Vec<u8> {
        *self.0.entry(shard).or_default() += 1;
        Vec::new()
    }
    fn read(&mut self, shard: ShardId, _: &[u8]) -> Vec<u8> {
        self.0
            .get(&shard)
            .copied()
            .unwrap_or(0)
            .to_be_bytes()
            .to_vec()
    }
    fn snapshot(&mut self, shard: ShardId) -> Vec<u8> {
        self.read(shard, &[])
    }
    fn restore(&mut self, shard: ShardId, s: &[u8]) {
        let n = s.try_into().map(u64::from_be_bytes).unwrap_or(0);
        self.0.insert(shard, n);
    }
}

struct Figures {
    name: String,
    ops: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn of(name: String, mut latencies: Vec<Duration>, secs: f64) -> Figures {
        latencies.sort();
        let pick = |q: f64| {
            latencies
                .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Figures {
            name,
            ops: latencies.len() as u64,
            secs,
            p50: pick(0.50),
            p99: pick(0.99),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("an ephemeral port")
        .port()
}

fn scratch(base: &Path, tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    base.join(format!("tumult-bench-{tag}-{}-{nanos}", std::process::id()))
}

/// One writer, one redb transaction with an fsync per 64-byte write.
fn redb_baseline(dir: &Path, secs: f64) -> Figures {
    const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("bench");
    std::fs::create_dir_all(dir).unwrap();
    let db = redb::Database::create(dir.join("baseline.redb")).unwrap();
    let value = [7u8; WRITE_BYTES];
    let mut latencies = Vec::new();
    let start = Instant::now();
    let mut k = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        let t0 = Instant::now();
        let tx = db.begin_write().unwrap();
        {
            let mut table = tx.open_table(T).unwrap();
            table.insert(k, value.as_slice()).unwrap();
        }
        tx.commit().unwrap(); // Durability::Immediate: synced
        latencies.push(t0.elapsed());
        k += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
    Figures::of("redb write+sync, 1 writer".into(), latencies, secs)
}

async fn cluster_run(base: &Path, shards: u64, secs: f64) -> Figures {
    let peers: BTreeMap<NodeId, String> = (1..=3)
        .map(|i| (i, format!("127.0.0.1:{}", free_port())))
        .collect();
    let dirs: Vec<PathBuf> = (1..=3)
        .map(|i| scratch(base, &format!("{shards}s-n{i}")))
        .collect();
    let mut nodes = Vec::new();
    for i in 1..=3u64 {
        let mut config = NodeConfig::new(i, peers.clone(), dirs[i as usize - 1].clone());
        config.shards = (0..shards).map(|s| (s, Membership::new(1..=3))).collect();
        config.seed = 1;
        nodes.push(
            Node::start(config, Env::production(), Count::default())
                .await
                .expect("node starts"),
        );
    }
    // Warm up: one write per shard, so that every shard has a leader and
    // every writer knows where the leaders are.
    let mut warm = Client::new(Arc::new(TcpNetwork), peers.clone(), 1_000_000);
    warm.deadline = Duration::from_secs(30);
    for s in 0..shards {
        warm.write(s, vec![0; WRITE_BYTES])
            .await
            .expect("warm-up write");
    }
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let peers = peers.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(Arc::new(TcpNetwork), peers, w as u64 + 1);
            let mut latencies = Vec::new();
            let mut k = w as u64;
            let mut failed = 0u64;
            while Instant::now() < deadline {
                let shard = k % shards;
                k += WRITERS as u64;
                let t0 = Instant::now();
                match c.write(shard, vec![w as u8; WRITE_BYTES]).await {
                    Ok(_) => latencies.push(t0.elapsed()),
                    Err(_) => failed += 1,
                }
            }
            (latencies, failed)
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for t in tasks {
        let (l, f) = t.await.expect("writer");
        latencies.extend(l);
        failed += f;
    }
    let secs = start.elapsed().as_secs_f64();
    for n in &nodes {
        n.shutdown();
        n.stopped().await;
    }
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    let noun = if shards == 1 { "shard" } else { "shards" };
    let mut f = Figures::of(
        format!("3 nodes, {shards} {noun}, {WRITERS} writers"),
        latencies,
        secs,
    );
    if failed > 0 {
        f.name.push_str(&format!(" ({failed} failed)"));
    }
    f
}

/// etcd 3.4 beside the engine: three members on loopback, each syncing its
/// WAL per commit as it does by default, and the same writers.
#[cfg(feature = "etcd")]
mod etcd {
    use super::{free_port, scratch, Figures, WRITERS, WRITE_BYTES};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The members; killed and their data removed when dropped.
    struct Cluster {
        members: Vec<Child>,
        dirs: Vec<PathBuf>,
        endpoints: Vec<String>,
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            for m in &mut self.members {
                let _ = m.kill();
                let _ = m.wait();
            }
            for d in &self.dirs {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }

    fn start(base: &Path) -> Result<Cluster, String> {
        let peers: Vec<String> = (0..3)
            .map(|_| format!("http://127.0.0.1:{}", free_port()))
            .collect();
        let endpoints: Vec<String> = (0..3)
            .map(|_| format!("http://127.0.0.1:{}", free_port()))
            .collect();
        let initial: Vec<String> = peers
            .iter()
            .enumerate()
            .map(|(i, p)| format!("m{i}={p}"))
            .collect();
        let mut cluster = Cluster {
            members: Vec::new(),
            dirs: Vec::new(),
            endpoints: endpoints.clone(),
        };
        for i in 0..3 {
            let dir = scratch(base, &format!("etcd-m{i}"));
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            let log = std::fs::File::create(dir.join("etcd.log")).map_err(|e| e.to_string())?;
            let child = Command::new("etcd")
                .arg("--name")
                .arg(format!("m{i}"))
                .arg("--data-dir")
                .arg(dir.join("data"))
                .args(["--listen-client-urls", &endpoints[i]])
                .args(["--advertise-client-urls", &endpoints[i]])
                .args(["--listen-peer-urls", &peers[i]])
                .args(["--initial-advertise-peer-urls", &peers[i]])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", "tumult-bench"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("etcd is not installed ({e}); apt-get install etcd-server"))?;
            cluster.members.push(child);
            cluster.dirs.push(dir);
        }
        Ok(cluster)
    }

    /// One case: 64 writers put 64-byte values for `secs` seconds.
    pub async fn run(base: &Path, secs: f64) -> Result<Figures, String> {
        let cluster = start(base)?;
        // Up when a put goes through (an election takes a moment).
        let ready = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let attempt = async {
                let mut c = etcd_client::Client::connect(&cluster.endpoints, None).await?;
                c.put("warm-up", vec![0u8; WRITE_BYTES], None).await?;
                Ok::<_, etcd_client::Error>(c)
            };
            match tokio::time::timeout(Duration::from_secs(5), attempt).await {
                Ok(Ok(c)) => break c,
                _ if Instant::now() < ready => tokio::time::sleep(Duration::from_millis(200)).await,
                Ok(Err(e)) => return Err(format!("etcd did not come up: {e}")),
                Err(_) => return Err("etcd did not come up in 30 s".into()),
            }
        };
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..WRITERS {
            let mut kv = client.kv_client();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failed = 0u64;
                let mut k = 0u64;
                while Instant::now() < deadline {
                    let key = format!("w{w}-{}", k % 256);
                    k += 1;
                    let t0 = Instant::now();
                    match kv.put(key, vec![w as u8; WRITE_BYTES], None).await {
                        Ok(_) => latencies.push(t0.elapsed()),
                        Err(_) => failed += 1,
                    }
                }
                (latencies, failed)
            }));
        }
        let (mut latencies, mut failed) = (Vec::new(), 0);
        for t in tasks {
            let (l, f) = t.await.map_err(|e| e.to_string())?;
            latencies.extend(l);
            failed += f;
        }
        let secs = start.elapsed().as_secs_f64();
        drop(cluster);
        let mut f = Figures::of(
            format!("etcd 3.4, 3 members, {WRITERS} writers"),
            latencies,
            secs,
        );
        if failed > 0 {
            f.name.push_str(&format!(" ({failed} failed)"));
        }
        Ok(f)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = std::env::var("TUMULT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 0.5 } else { 5.0 });
    let base = std::env::var_os("TUMULT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "tumult write benchmark: {WRITE_BYTES}-byte writes, every commit synced; {secs} s per case; data under {}",
        base.display()
    );
    let baseline = redb_baseline(&scratch(&base, "redb"), secs);
    let mut rows = vec![baseline];
    for shards in [1, 16, 256] {
        rows.push(rt.block_on(cluster_run(&base, shards, secs)));
    }
    #[cfg(feature = "etcd")]
    let etcd = match rt.block_on(etcd::run(&base, secs)) {
        Ok(f) => Some(f),
        Err(why) => {
            println!("etcd row skipped: {why}");
            None
        }
    };
    #[cfg(not(feature = "etcd"))]
    let etcd: Option<Figures> = {
        println!(
            "etcd row skipped: build with --features etcd (and PROTOC set; see the README's Benchmarks)"
        );
        None
    };
    let redb = rows[0].per_sec();
    let one = rows[1].per_sec();
    println!(
        "{:<42} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "case", "writes", "writes/s", "p50 ms", "p99 ms", "x redb", "x 1 shard"
    );
    for r in rows.iter().chain(&etcd) {
        println!(
            "{:<42} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            r.name,
            r.ops,
            r.per_sec(),
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.per_sec() / redb,
            r.per_sec() / one,
        );
    }
    if let Some(e) = &etcd {
        for r in &rows[1..] {
            println!(
                "{}: x{:.2} etcd's writes/s, p99 x{:.2} etcd's",
                r.name,
                r.per_sec() / e.per_sec(),
                r.p99.as_secs_f64() / e.p99.as_secs_f64(),
            );
        }
    }
}
