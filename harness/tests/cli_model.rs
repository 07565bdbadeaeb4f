//! `tumult model` as a user runs it: exit 0 (no counterexample), 2 (bad
//! arguments), 3 (inconclusive: out of time or over the memory budget, also
//! on one thread, where stateright's own timeout does not stop its worker).

use std::process::{Command, Output};

fn tumult(args: &[&str]) -> (i32, String) {
    let o: Output = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .arg("model")
        .args(args)
        .output()
        .expect("run tumult");
    (
        o.status.code().expect("exited"),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

const QUIET: [&str; 8] = [
    "--impl",
    "--max-crashes",
    "0",
    "--max-reads",
    "0",
    "--no-membership",
    "--no-transfer",
    "--no-compaction",
];

#[test]
fn two_cores_in_one_term_are_exhausted_clean() {
    let mut args = QUIET.to_vec();
    args.extend(["--no-duplicates", "--servers", "2", "--max-term", "1"]);
    args.extend(["--max-log", "1", "--threads", "1"]);
    let (code, out) = tumult(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no counterexample"), "{out}");
}

#[test]
fn a_search_past_its_budget_or_its_time_is_inconclusive() {
    // Three servers with every feature outgrow any small budget at once.
    let (code, out) = tumult(&["--impl", "--threads", "1", "--memory", "64MiB"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("gave up at"), "{out}");
    let (code, out) = tumult(&["--impl", "--threads", "1", "--timeout", "1"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("timed out"), "{out}");
    let (code, out) = tumult(&["--impl", "--search", "random:3", "--timeout", "1"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("random walks"), "{out}");
}

#[test]
fn bad_search_arguments_are_refused() {
    let (code, out) = tumult(&["--impl", "--search", "random"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--timeout"), "{out}");
    let (code, out) = tumult(&["--search", "sideways"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("bfs, dfs, random"), "{out}");
    let (code, out) = tumult(&["--impl", "--max-append-entries", "0"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("max-append-entries"), "{out}");
}

#[cfg(feature = "mutants")]
#[test]
fn a_core_mutant_without_bounds_runs_its_demo_bounds_and_is_caught() {
    let (code, out) = tumult(&["--impl", "--bug", "membership-before-term-commit"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("demo bounds, as if run with --servers 3"),
        "{out}"
    );
    assert!(out.contains("COUNTEREXAMPLE"), "{out}");
    // Bounds given are used as they are: two servers in one term cannot
    // change their membership, and the hint names the demo's flags.
    let (code, out) = tumult(&[
        "--impl",
        "--bug",
        "membership-before-term-commit",
        "--servers",
        "2",
        "--max-term",
        "1",
        "--max-log",
        "1",
        "--max-crashes",
        "0",
        "--max-reads",
        "0",
        "--no-transfer",
        "--no-compaction",
        "--no-duplicates",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("hint: membership-before-term-commit shows with"),
        "{out}"
    );
}
