//! Every file of porcupine's corpus (`shared/corpus/porcupine`) gets the
//! verdict its EXPECTED.md gives, through the same layer `tumult check` uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tumult_models::history::{Entry, History};
use tumult_models::lin::{self, corpus, CheckOptions, Format, Verdict};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/porcupine")
}

/// file (relative to the corpus) -> Some(linearizable) or None (not tested).
fn expected() -> BTreeMap<String, Option<bool>> {
    let text = std::fs::read_to_string(corpus_dir().join("EXPECTED.md")).expect("EXPECTED.md");
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| file | expected |` and `| test | file | expected | model |`.
        let (file, verdict) = match cells.len() {
            4 => (cells[1], cells[2]),
            6 => (cells[2], cells[3]),
            _ => continue,
        };
        if !(file.starts_with("jepsen/") || file.starts_with("kv/")) {
            continue;
        }
        let v = match verdict {
            "linearizable" => Some(true),
            "NOT linearizable" => Some(false),
            v if v.starts_with("not tested") => None,
            v => panic!("EXPECTED.md: unknown verdict {v:?} for {file}"),
        };
        if let Some(prev) = out.insert(file.to_string(), v) {
            assert_eq!(prev, v, "EXPECTED.md disagrees with itself on {file}");
        }
    }
    out
}

fn files(sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(corpus_dir().join(sub))
        .unwrap_or_else(|e| panic!("{sub}: {e}"))
        .map(|e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn opts() -> CheckOptions {
    CheckOptions {
        timeout: std::time::Duration::from_secs(120),
        shrink: Some(std::time::Duration::from_secs(5)),
        ..CheckOptions::default()
    }
}

#[test]
fn every_corpus_file_gets_its_expected_verdict() {
    let expected = expected();
    let mut all = files("jepsen");
    all.extend(files("kv"));
    assert_eq!(all.len(), 109, "103 etcd logs and 6 kv logs");
    let mut wrong = Vec::new();
    for file in &all {
        let want = *expected
            .get(file)
            .unwrap_or_else(|| panic!("{file} is not in EXPECTED.md"));
        let format = if file.starts_with("kv/") {
            Format::PorcupineKv
        } else {
            Format::JepsenEtcd
        };
        let verdict_only = CheckOptions {
            shrink: None,
            ..opts()
        };
        let report = lin::check_file(&corpus_dir().join(file), format, &verdict_only)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let got = match &report.verdict {
            Verdict::Ok => true,
            Verdict::Violation { .. } => false,
            Verdict::Unknown => panic!("{file}: out of time"),
        };
        match want {
            Some(w) if w != got => {
                wrong.push(format!("{file}: expected linearizable={w}, got {got}"))
            }
            Some(_) => {}
            // etcd_095 is empty: nothing to check, trivially linearizable.
            None => assert!(got && report.operations == 0, "{file}"),
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

/// A shrunk violation is itself a history that cannot be linearized: keep
/// only the lines of the reported operations and check again.
#[test]
fn shrunk_etcd_violations_are_violations_on_their_own() {
    let expected = expected();
    let mut sizes = Vec::new();
    for file in files("jepsen") {
        if expected[&file] != Some(false) {
            continue;
        }
        let text = std::fs::read_to_string(corpus_dir().join(&file)).unwrap();
        let history = corpus::parse_jepsen_etcd(&text).unwrap();
        let report = lin::check_history(&history, &opts()).unwrap();
        let Verdict::Violation {
            key,
            ops,
            key_operations,
            ..
        } = &report.verdict
        else {
            panic!("{file}: {:?}", report.verdict)
        };
        assert_eq!(key, corpus::ETCD_KEY);
        assert!(!ops.is_empty() && ops.len() <= *key_operations);
        let keep: Vec<usize> = ops
            .iter()
            .flat_map(|o| std::iter::once(o.invoke_line).chain(o.complete_line))
            .collect();
        let sub = History {
            records: history
                .records
                .iter()
                .filter(|r| keep.contains(&r.line))
                .cloned()
                .collect(),
        };
        assert!(sub
            .records
            .iter()
            .all(|r| matches!(r.entry, Entry::Client(_))));
        let again = lin::check_history(&sub, &opts()).unwrap();
        assert!(
            matches!(again.verdict, Verdict::Violation { .. }),
            "{file}: the {} reported operations alone are linearizable",
            ops.len()
        );
        sizes.push(ops.len());
    }
    assert_eq!(sizes.len(), 79);
    sizes.sort();
    eprintln!(
        "shrunk etcd violations: min {} median {} max {} operations",
        sizes[0],
        sizes[sizes.len() / 2],
        sizes[sizes.len() - 1]
    );
}

/// In kv/c50-bad one key is a violation found in milliseconds, while the
/// biggest key alone takes porcupine seconds: the hard key must not hold
/// the verdict up, with one thread (time slices) or several (the running
/// check is stopped).
#[test]
fn a_hard_key_does_not_hold_up_a_violation_in_another() {
    let path = corpus_dir().join("kv/c50-bad.txt");
    for threads in [1, 2, 4] {
        let opts = CheckOptions {
            shrink: None,
            threads,
            ..opts()
        };
        let report = lin::check_file(&path, Format::PorcupineKv, &opts).unwrap();
        assert!(
            matches!(report.verdict, Verdict::Violation { .. }),
            "threads {threads}: {:?}",
            report.verdict
        );
        assert!(
            report.seconds < 2.0,
            "threads {threads}: the violation took {:.3} s",
            report.seconds
        );
        assert!(report
            .per_key
            .iter()
            .all(|k| k.result != lin::KeyResult::Unknown));
    }
}
