//! A flood of clients meets back-pressure, not unbounded memory: a node's
//! resident memory under 1,000 flooding clients stays within 1.5x of what
//! it is under 10, measured in the same run. The node runs in a process of
//! its own (this test binary, started again as `flood_target_node`), so that
//! the clients' own memory does not count.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tumult_engine::transport::pb::{tumult_client::TumultClient, StatusRequest};

const PORT_VAR: &str = "TUMULT_FLOOD_PORT";

/// The node under flood: one voter of one shard on 127.0.0.1, with small
/// server limits. Runs only when started by the flood test.
#[test]
#[ignore = "started as a child process by flood_of_clients_keeps_node_memory_bounded"]
fn flood_target_node() {
    let Ok(port) = std::env::var(PORT_VAR) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tumult-flood-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let addr = format!("127.0.0.1:{port}");
    let mut config = tumult_engine::node::NodeConfig::new(1, [(1, addr)].into(), dir.clone());
    config.shards = vec![(0, tumult_engine::raft::Membership::new([1]))];
    config.max_queued_inputs = 256;
    config.server_limits = tumult_engine::transport::ServerLimits {
        max_connections: 32,
        max_concurrent_streams: 32,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let node =
            tumult_engine::node::Node::start(config, tumult_engine::node::Env::production(), NoApp)
                .await
                .expect("node starts");
        println!("READY");
        // Until the parent goes away (it closes our stdin) or a minute passes.
        let stdin = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        });
        let _ = tokio::time::timeout(Duration::from_secs(60), stdin).await;
        node.shutdown();
    });
    let _ = std::fs::remove_dir_all(&dir);
}

struct NoApp;

impl tumult_engine::node::RaftApp for NoApp {
    fn apply(&mut self, _: u64, _: u64, _: &[u8]) -> Vec<u8> {
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

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `clients` connections, each with `calls` Status calls always in flight,
/// for `span`; returns the node's peak resident memory meanwhile (KiB) and
/// the calls answered.
async fn flood(port: u16, pid: u32, clients: usize, calls: usize, span: Duration) -> (u64, u64) {
    let stop = Instant::now() + span;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(30));
        let client = TumultClient::new(endpoint.connect_lazy());
        for _ in 0..calls {
            let mut c = client.clone();
            let answered = std::sync::Arc::clone(&answered);
            tasks.push(tokio::spawn(async move {
                while Instant::now() < stop {
                    let call = c.status(StatusRequest { shard: 0 });
                    match tokio::time::timeout(Duration::from_secs(2), call).await {
                        Ok(Ok(_)) => {
                            answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            }));
        }
    }
    let mut peak = 0;
    while Instant::now() < stop {
        peak = peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        t.abort();
    }
    peak = peak.max(rss_kib(pid));
    (peak, answered.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn flood_of_clients_keeps_node_memory_bounded() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "flood_target_node",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PORT_VAR, port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the node process");
    let pid = child.id();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the node process exited"
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let span = Duration::from_secs(3);
    let (few, few_answered) = rt.block_on(flood(port, pid, 10, 16, span));
    let (many, many_answered) = rt.block_on(flood(port, pid, 1000, 16, span));
    drop(child.stdin.take());
    let _ = child.wait();
    eprintln!(
        "node resident memory: {few} KiB peak under 10 flooding clients ({few_answered} calls answered), \
         {many} KiB under 1000 ({many_answered} answered): {:.2}x",
        many as f64 / few as f64
    );
    assert!(
        few_answered > 0 && many_answered > 0,
        "the node served both floods"
    );
    assert!(
        many as f64 <= 1.5 * few as f64,
        "1000 clients took the node from {few} KiB to {many} KiB"
    );
}
