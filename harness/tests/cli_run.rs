//! `tumult run`, `tumult suite` and `tumult replay` end to end, through the binary.

use std::path::Path;
use std::process::Command;

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

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tumult-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SMALL: &str = "[cluster]\nnodes = 3\nshards = 1\n[workload]\nclients = 2\nkeys = 2\nrate = 50\nduration = \"2s\"\n[[nemesis]]\nat = \"1s\"\ndo = \"crash\"\nnodes = [\"leader:0\"]\n";

#[test]
fn run_writes_a_run_directory_and_replay_confirms_it() {
    let dir = temp("replay");
    let file = dir.join("small.toml");
    std::fs::write(&file, SMALL).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = tumult(&[
        "run",
        file.to_str().unwrap(),
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let run = out.join("small").join("seed-2");
    for f in ["scenario.toml", "history.jsonl", "verdict.json", "log.txt"] {
        assert!(run.join(f).exists(), "{f} written");
    }
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("verdict.json")).unwrap()).unwrap();
    for field in [
        "scenario",
        "seed",
        "verdict",
        "checks",
        "counts",
        "availability",
        "sim_seconds",
        "wall_seconds",
        "history_sha256",
    ] {
        assert!(verdict.get(field).is_some(), "verdict.json has {field}");
    }
    let (code, stdout, _) = tumult(&["replay", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("identical"));
    // A tampered history no longer matches.
    let mut h = std::fs::read(run.join("history.jsonl")).unwrap();
    h.extend_from_slice(b"\n");
    std::fs::write(run.join("history.jsonl"), h).unwrap();
    let (code, stdout, _) = tumult(&["replay", run.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}");
}

#[test]
fn a_bad_scenario_is_refused_before_anything_runs() {
    let dir = temp("bad");
    let file = dir.join("bad.toml");
    std::fs::write(&file, "[cluster]\nnodes = 3\nshards = 1\nbogus = 1\n[workload]\nclients = 1\nkeys = 1\nduration = \"1s\"\n").unwrap();
    let out = dir.join("out");
    let (code, _, stderr) = tumult(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.toml:4") && stderr.contains("bogus"),
        "{stderr}"
    );
    assert!(!Path::new(&out).join("bad").exists(), "nothing ran");
}

#[test]
fn suite_partitions_runs_and_writes_junit() {
    let dir = temp("suite");
    for name in ["a", "b"] {
        std::fs::write(
            dir.join(format!("{name}.toml")),
            format!("{SMALL}[run]\nseeds = \"1..=2\"\n"),
        )
        .unwrap();
    }
    let out = dir.join("out");
    let junit = dir.join("junit.xml");
    let (code, stdout, stderr) = tumult(&[
        "suite",
        dir.to_str().unwrap(),
        "--partition",
        "1/2",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["total"], 2, "half of the 4 (scenario, seed) runs");
    let xml = std::fs::read_to_string(junit).unwrap();
    assert_eq!(xml.matches("<testcase").count(), 2);
    let (code, _, stderr) = tumult(&["suite", dir.to_str().unwrap(), "--partition", "3/2"]);
    assert_eq!(code, 2, "{stderr}");
}
