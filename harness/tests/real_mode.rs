//! Real mode end to end, through the binary: `tumult run --real` against
//! node processes on this machine, judged by the same checks; no process
//! or port outlives a run, on success or Ctrl-C; what needs the simulator
//! is refused. Each run is a few seconds of workload.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tumult(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .args(args)
        .output()
        .expect("tumult runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tumult-real-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Processes on this machine whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                found.push(format!("{pid}: {cmd}"));
            }
        }
    }
    found
}

/// The addresses the run's nodes listened on, from their logs.
fn node_addresses(run: &Path) -> Vec<String> {
    let mut addrs = Vec::new();
    for entry in std::fs::read_dir(run.join("nodes")).unwrap().flatten() {
        let log = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in log.lines() {
            if let Some((_, addr)) = line.split_once(" listening on ") {
                addrs.push(addr.trim().to_string());
            }
        }
    }
    addrs.sort();
    addrs.dedup();
    addrs
}

const FAULTS: &str = r#"
[cluster]
nodes = 3
shards = 2

[workload]
clients = 3
keys = 4
rate = 60
duration = "4s"
timeout = "500ms"

[[nemesis]]
at = "800ms"
do = "partition"
groups = [["leader:0"], ["rest"]]

[[nemesis]]
at = "1800ms"
do = "heal"

[[nemesis]]
at = "2000ms"
do = "pause"
nodes = ["leader:1"]

[[nemesis]]
at = "2600ms"
do = "resume"
nodes = ["all"]

[[nemesis]]
at = "2800ms"
do = "bounce"
nodes = ["n2"]

[expect]
recovery = "8s"
"#;

#[test]
fn a_real_run_is_judged_like_a_simulated_one_and_leaves_nothing_behind() {
    let dir = temp("faults");
    let file = dir.join("real-faults.toml");
    std::fs::write(&file, FAULTS).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = tumult(&[
        "run",
        "--real",
        file.to_str().unwrap(),
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let run = out.join("real-faults").join("seed-3");
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["real"], true, "marked as a real run");
    for check in ["assertion", "linearizable", "model", "recovery"] {
        assert_eq!(
            verdict["checks"][check]["result"], "pass",
            "{check}: {verdict}"
        );
    }
    assert!(verdict["reproduce"].as_str().unwrap().ends_with("--real"));
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains("id=\"real\""),
        "the report marks the real run"
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in ["partition", "heal", "pause", "resume", "bounce"] {
        assert!(
            history.contains(&format!("\"type\":\"nemesis\",\"f\":\"{f}\",\"value\"")),
            "{f} was applied, not skipped"
        );
    }
    // Every node process's trace is in the history, in time order.
    for n in ["n1", "n2", "n3"] {
        assert!(history.contains(&format!("\"type\":\"trace\",\"node\":\"{n}\"")));
    }
    let times: Vec<u64> = history
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["time"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "merged in time order"
    );
    assert!(
        verdict["counts"]["ok"].as_u64().unwrap() > 20,
        "the clients got through: {}",
        verdict["counts"]
    );
    // No process of the run is left, and every node's port is free again.
    let out_dir = out.to_string_lossy().into_owned();
    assert_eq!(processes_mentioning(&out_dir), Vec::<String>::new());
    let addrs = node_addresses(&run);
    assert_eq!(addrs.len(), 3, "each node logged its address: {addrs:?}");
    for a in addrs {
        std::net::TcpListener::bind(&a).unwrap_or_else(|e| panic!("{a} still bound: {e}"));
    }
    // A real run is not replayed in the simulator.
    let (code, _, stderr) = tumult(&["replay", run.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot be replayed byte for byte"),
        "{stderr}"
    );
    // The nodes' databases are removed; their logs stay.
    assert!(!run.join("nodes").join("n1").exists());
    assert!(run.join("nodes").join("n1.log").exists());
}

#[test]
fn ctrl_c_takes_every_node_process_down_with_the_run() {
    let dir = temp("sigint");
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        "[cluster]\nnodes = 3\nshards = 1\n[workload]\nclients = 2\nkeys = 2\nrate = 20\nduration = \"60s\"\n",
    )
    .unwrap();
    let out = dir.join("out");
    let out_dir = out.to_string_lossy().into_owned();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .args(["run", "--real", file.to_str().unwrap(), "--seed", "1"])
        .args(["--out", &out_dir])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while processes_mentioning(&format!("{out_dir}/long/seed-1/nodes/scenario.toml"))
        .iter()
        .filter(|p| p.contains(" node "))
        .count()
        < 3
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the nodes start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: a signal to our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(!status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_mentioning(&out_dir);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn real_mode_refuses_what_needs_the_simulator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let disk = root.join("scenarios").join("disk-faults.toml");
    let (code, stdout, stderr) = tumult(&["run", "--real", disk.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("disk-faults.toml") && stderr.contains("`disk-fault` needs the simulator"),
        "{stderr}"
    );
    let sites = root.join("scenarios").join("fault-sites.toml");
    let (code, _, stderr) = tumult(&["run", "--real", sites.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("[faults]"), "{stderr}");
    // The suite skips them with the reason, and does not count them as run.
    let dir = temp("skip");
    std::fs::copy(&disk, dir.join("disk-faults.toml")).unwrap();
    std::fs::copy(&sites, dir.join("fault-sites.toml")).unwrap();
    let out = dir.join("out");
    let junit = out.join("junit.xml");
    let (_, stdout, stderr) = tumult(&[
        "suite",
        "--real",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert!(
        stdout.contains("SKIPPED disk-faults (needs the simulator)")
            && stdout.contains("SKIPPED fault-sites (needs the simulator)"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("0/0 runs"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml.matches("<skipped message=\"needs the simulator: ")
            .count(),
        2,
        "{xml}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["skipped"].as_array().map(Vec::len),
        Some(2),
        "{summary}"
    );
    assert!(std::fs::read_to_string(out.join("summary.md"))
        .unwrap()
        .contains("### Skipped"));
}

#[test]
fn an_etcd_scenario_runs_only_in_real_mode_and_only_where_etcd_can_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = root
        .join("scenarios")
        .join("etcd")
        .join("etcd-partition-crash-pause.toml");
    let (code, _, stderr) = tumult(&["run", file.to_str().unwrap(), "--seed", "1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("runs only in real mode"), "{stderr}");
    if cfg!(not(feature = "etcd")) {
        let (code, _, stderr) = tumult(&["run", "--real", file.to_str().unwrap(), "--seed", "1"]);
        assert_eq!(code, 2);
        assert!(stderr.contains("built without etcd support"), "{stderr}");
    }
}

/// The partition scenario of the suite, with the read-without-quorum bug in
/// every node process: the deposed leader serves stale reads to the
/// clients that still reach it, and the linearizability check says so.
#[cfg(feature = "mutants")]
#[test]
fn a_real_partition_catches_reads_served_without_a_quorum() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = root.join("scenarios").join("stale-leader-reads.toml");
    let out = temp("stale").join("out");
    let (code, stdout, stderr) = tumult(&[
        "run",
        "--real",
        file.to_str().unwrap(),
        // Two seeds: real timing varies, and one stale read suffices.
        "--seeds",
        "1..=2",
        "--mutant",
        "read-without-quorum",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("linearizable: key k0 is not linearizable"),
        "{stdout}"
    );
}
