//! etcd as the system under test (`[system] kind = "etcd"`, feature `etcd`):
//! the suite's etcd scenario (partition of the leader, a paused majority,
//! a killed leader, a one-way cut) runs against Debian's etcd 3.4 on this
//! machine and is linearizable, recovers, and has its model check skipped.
//! Without etcd installed the test says so and does nothing (`.ci/run`
//! installs it).
#![cfg(feature = "etcd")]

use std::path::Path;
use std::process::Command;

#[test]
fn etcd_under_partition_pause_and_crash_is_linearizable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = root
        .join("scenarios")
        .join("etcd")
        .join("etcd-partition-crash-pause.toml");
    let installed = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()));
    if !installed {
        eprintln!("skipped: etcd is not installed (apt-get install etcd-server)");
        return;
    }
    let out = std::env::temp_dir().join(format!("tumult-etcd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let result = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .args(["run", "--real", file.to_str().unwrap(), "--seed", "1"])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(0), "{stdout}{stderr}");
    let run = out.join("etcd-partition-crash-pause").join("seed-1");
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("verdict.json")).unwrap()).unwrap();
    assert_eq!(verdict["real"], true);
    assert_eq!(verdict["checks"]["linearizable"]["result"], "pass");
    assert_eq!(verdict["checks"]["recovery"]["result"], "pass");
    assert_eq!(verdict["checks"]["model"]["result"], "skipped");
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    for f in [
        "partition",
        "pause",
        "resume",
        "crash",
        "restart",
        "partition-oneway",
    ] {
        assert!(
            history.contains(&format!("\"type\":\"nemesis\",\"f\":\"{f}\",\"value\"")),
            "{f} was applied, not skipped"
        );
    }
    assert!(
        verdict["counts"]["ok"].as_u64().unwrap() > 100,
        "{}",
        verdict["counts"]
    );
    // The partition cut the leader's streams: the majority elected anew.
    let logs: String = (1..=3)
        .map(|n| std::fs::read_to_string(run.join("nodes").join(format!("n{n}.log"))).unwrap())
        .collect();
    assert!(
        logs.matches("became leader at term").count() >= 2,
        "a new leader after the partition or the crash"
    );
}
