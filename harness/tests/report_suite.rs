//! The suite's outputs, through the binary: JUnit XML (parsed, its
//! structure checked), `summary.md`, `index.html` with a link per run, and
//! `tumult report` on a suite directory.

use std::path::{Path, PathBuf};
use std::process::Command;

fn tumult(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .args(args)
        .output()
        .expect("tumult runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tumult-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const PASSES: &str = "[cluster]\nnodes = 3\nshards = 1\n[workload]\nclients = 2\nkeys = 2\nrate = 50\nduration = \"2s\"\n[[nemesis]]\nat = \"1s\"\ndo = \"partition\"\ngroups = [[\"leader:0\"], [\"rest\"]]\n[[nemesis]]\nat = \"1500ms\"\ndo = \"heal\"\n";
/// Expects a failure that does not happen: every seed is an unexpected result.
const UNMET: &str = "[cluster]\nnodes = 3\nshards = 1\n[workload]\nclients = 2\nkeys = 2\nrate = 50\nduration = \"1s\"\n[expect]\nverdict = \"fail\"\nchecks = [\"linearizable\"]\n";

fn suite(dir: &Path) -> (i32, String, PathBuf, PathBuf) {
    let scenarios = dir.join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    std::fs::write(scenarios.join("passes.toml"), PASSES).unwrap();
    std::fs::write(scenarios.join("unmet.toml"), UNMET).unwrap();
    let out = dir.join("out");
    let junit = dir.join("reports").join("junit.xml");
    let (code, log) = tumult(&[
        "suite",
        scenarios.to_str().unwrap(),
        "--seeds",
        "1..=2",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    (code, log, out, junit)
}

#[test]
fn junit_xml_has_suites_cases_and_failures() {
    let dir = temp("junit");
    let (code, log, out, junit) = suite(&dir);
    assert_eq!(code, 1, "an unmet expectation fails the suite: {log}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("4"));
    assert_eq!(root.attribute("failures"), Some("2"));
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 2, "one testsuite per scenario");
    let mut cases = 0;
    let mut failures = 0;
    for s in &suites {
        let name = s.attribute("name").unwrap();
        let mine: Vec<_> = s
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(s.attribute("tests"), Some(mine.len().to_string().as_str()));
        for c in mine {
            cases += 1;
            assert!(c.attribute("name").unwrap().starts_with("seed-"));
            assert!(c.attribute("classname").unwrap().ends_with(name));
            assert!(c.attribute("time").unwrap().parse::<f64>().is_ok());
            if let Some(f) = c.children().find(|n| n.has_tag_name("failure")) {
                failures += 1;
                assert_eq!(name, "unmet", "only the unmet scenario fails");
                assert!(f.attribute("message").unwrap().contains("expected fail"));
                assert!(
                    f.text().unwrap().contains("reproduce: tumult run"),
                    "the failure says how to reproduce"
                );
            }
        }
    }
    assert_eq!((cases, failures), (4, 2));

    // The other outputs of a suite.
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    assert!(md.contains("2/4 runs met"), "{md}");
    assert!(
        md.contains("| unmet | 1 |") && md.contains("--seed 2`"),
        "{md}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["total"], 4);
    let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    for run in [
        "passes/seed-1/report.html",
        "passes/seed-2/report.html",
        "unmet/seed-1/report.html",
        "unmet/seed-2/report.html",
    ] {
        assert!(index.contains(run), "index links {run}");
        assert!(out.join(run).exists(), "{run} written");
    }

    // `tumult report` on the suite directory re-renders the index, elsewhere too.
    let elsewhere = dir.join("elsewhere.html");
    let (code, log) = tumult(&[
        "report",
        out.to_str().unwrap(),
        "-o",
        elsewhere.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{log}");
    let page = std::fs::read_to_string(&elsewhere).unwrap();
    assert!(
        page.contains("out/unmet/seed-1/report.html"),
        "links stay valid from another directory"
    );
    let (code, _) = tumult(&["report", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, log) = tumult(&["report", dir.join("nothing-here").to_str().unwrap()]);
    assert_eq!(code, 2, "not a run or suite directory: {log}");
}
