//! `tumult check` as a user runs it: exit codes 0 (linearizable), 1
//! (violation), 2 (bad input, naming file and line), 3 (out of time).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tmp(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli_check");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn tumult(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tumult"))
        .args(args)
        .output()
        .expect("run tumult")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const WRITE_1: &str = r#"{"index":0,"type":"invoke","process":0,"f":"write","key":"k1","value":1,"time":0}
{"index":1,"type":"ok","process":0,"f":"write","key":"k1","value":1,"time":10}
"#;

fn read(index: u64, v: &str) -> String {
    format!(
        "{{\"index\":{index},\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"key\":\"k1\",\"value\":null,\"time\":20}}\n\
         {{\"index\":{},\"type\":\"ok\",\"process\":1,\"f\":\"read\",\"key\":\"k1\",\"value\":{v},\"time\":30}}\n",
        index + 1
    )
}

#[test]
fn linearizable_exits_0() {
    let h = tmp("ok.jsonl", &format!("{WRITE_1}{}", read(2, "1")));
    let o = tumult(&["check", h.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("linearizable (register; 2 operations, 1 keys"),
        "{}",
        text(&o)
    );
}

#[test]
fn violation_exits_1_and_draws_it() {
    let h = tmp("stale.jsonl", &format!("{WRITE_1}{}", read(2, "null")));
    let html = h.with_file_name("stale.lin.html");
    let _ = std::fs::remove_file(&html);
    let o = tumult(&["check", h.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("NOT linearizable: key \"k1\""), "{out}");
    assert!(out.contains("read() -> null"), "{out}");
    assert!(html.exists(), "{out}");
    let o = tumult(&["check", "--no-html", "--json", h.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["verdict"]["result"], "violation");
}

#[test]
fn bad_input_exits_2_naming_file_and_line() {
    let cases = [
        (
            "orphan.jsonl",
            format!("{WRITE_1}{}", read(2, "1").lines().nth(1).unwrap()),
            ":3:",
            "no open `invoke`",
        ),
        (
            "truncated.jsonl",
            format!("{WRITE_1}{}", &read(2, "1")[..50]),
            ":3:",
            "truncated",
        ),
        (
            "type.jsonl",
            WRITE_1.replace("\"ok\"", "\"finished\""),
            ":2:",
            "unknown type",
        ),
    ];
    for (name, body, line, what) in cases {
        let h = tmp(name, &body);
        let o = tumult(&["check", h.to_str().unwrap()]);
        assert_eq!(code(&o), 2, "{name}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{name}{line}")) && err.contains(what),
            "{name}: {err}"
        );
    }
    let o = tumult(&["check", "/nonexistent/history.jsonl"]);
    assert_eq!(code(&o), 2);
    let o = tumult(&["check", "--format", "edn", "x"]);
    assert_eq!(code(&o), 2);
    let o = tumult(&[
        "check",
        "--format",
        "jepsen-etcd",
        &tmp("bad.log", "INFO  jepsen.util - x\t:invoke\t:read\tnil\n").to_string_lossy(),
    ]);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn out_of_time_exits_3() {
    let h = tmp("slow.jsonl", &format!("{WRITE_1}{}", read(2, "1")));
    let o = tumult(&["check", "--timeout", "0", h.to_str().unwrap()]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("inconclusive"));
}

#[test]
fn corpus_formats() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/porcupine");
    let run = |format: &str, file: &str| {
        let o = tumult(&[
            "check",
            "--no-html",
            "--format",
            format,
            corpus.join(file).to_str().unwrap(),
        ]);
        code(&o)
    };
    assert_eq!(run("jepsen-etcd", "jepsen/etcd_002.log"), 0);
    assert_eq!(run("jepsen-etcd", "jepsen/etcd_000.log"), 1);
    assert_eq!(run("porcupine-kv", "kv/c10-ok.txt"), 0);
    assert_eq!(run("porcupine-kv", "kv/c10-bad.txt"), 1);
}

#[test]
fn jepsen_edn_histories_with_a_knossos_model() {
    let ok = tmp(
        "history.edn",
        "[{:process 0, :type :invoke, :f :cas, :value [0 1], :time 5}\n \
         {:process 0, :type :ok, :f :cas, :value [0 1], :time 9}\n \
         {:process :nemesis, :type :info, :f :start-partition, :value :majority}\n \
         {:process 1, :type :invoke, :f :read, :value nil}\n \
         {:process 1, :type :ok, :f :read, :value 1}]\n",
    );
    let check = |extra: &[&str], file: &Path| {
        let mut args = vec!["check", "--no-html", "--format", "jepsen-edn"];
        args.extend_from_slice(extra);
        args.push(file.to_str().unwrap());
        tumult(&args)
    };
    let o = check(&["--model", "cas-register", "--initial", "0"], &ok);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("cas-register"), "{}", text(&o));
    // From nil, the cas cannot have swapped.
    let o = check(&["--model", "cas-register"], &ok);
    assert_eq!(code(&o), 1, "{}", text(&o));
    // The model is required, fits the operations, and --initial is EDN.
    let o = check(&[], &ok);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("--model"), "{}", text(&o));
    let o = check(&["--model", "register"], &ok);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        text(&o).contains("history.edn:1:") && text(&o).contains("--model cas-register"),
        "{}",
        text(&o)
    );
    let o = check(&["--model", "cas-register", "--initial", "{:a"], &ok);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let o = tumult(&["check", "--model", "register", ok.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "--model without jepsen-edn: {}", text(&o));
    let bad = tmp(
        "bad.edn",
        "{:process 0, :type :invoke, :f :read}\n{:process 0 :type :ok :f :read :value [}\n",
    );
    let o = check(&["--model", "register"], &bad);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("bad.edn:2:"), "{}", text(&o));
}
