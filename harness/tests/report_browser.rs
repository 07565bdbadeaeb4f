//! Run reports opened in a real headless Chromium (`/usr/bin/chromium`,
//! Debian's package; `.ci/run` installs it): the page renders without
//! console errors, and the timeline, the nemesis bands, the leadership
//! figure and the charts are there. Screenshots go to
//! `target/test-output/report_browser/`.
//!
//! Also: a 100,000-operation history renders to a page of bounded size, and
//! a model (trace conformance) violation shows the trace around it.

use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// `target/test-output/report_browser/NAME`, fresh.
fn output_dir(name: &str) -> PathBuf {
    let d = workspace()
        .join("target")
        .join("test-output")
        .join("report_browser")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("test output dir");
    d
}

fn tumult(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tumult"))
        .current_dir(workspace())
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

fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests of the reports need Debian's chromium \
         (`apt-get install -y chromium`; .ci/run installs it)"
    );
    CHROMIUM
}

/// What Chromium made of a page.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

/// Opens `page` in headless Chromium twice: once dumping the DOM after
/// scripts ran, once saving a screenshot to `png`. Console messages (which
/// include uncaught errors) are collected from Chromium's log.
fn render(page: &Path, png: &Path) -> Rendered {
    let bin = chromium();
    let url = format!(
        "file://{}",
        std::fs::canonicalize(page).expect("page exists").display()
    );
    let profile = png.with_extension("profile");
    let run = |extra: &[String], tag: &str| {
        let profile = profile.with_extension(tag);
        let _ = std::fs::remove_dir_all(&profile);
        let mut cmd = Command::new(bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(&url);
        let out = cmd.output().expect("chromium starts");
        let _ = std::fs::remove_dir_all(&profile);
        assert!(
            out.status.success(),
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let dom = run(&["--dump-dom".to_string()], "dom");
    let shot = run(&[format!("--screenshot={}", png.display())], "shot");
    assert!(png.exists(), "screenshot written to {}", png.display());
    let console = [&dom.stderr, &shot.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .filter(|l| l.contains(":CONSOLE"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    Rendered {
        dom: String::from_utf8_lossy(&dom.stdout).into_owned(),
        console,
    }
}

/// The common checks of a rendered run report.
fn assert_renders(r: &Rendered, page: &Path) {
    assert!(
        r.console.is_empty(),
        "console messages on {}: {:#?}",
        page.display(),
        r.console
    );
    assert!(
        r.dom.contains("data-report-ready=\"1\""),
        "the page's scripts ran to the end without errors ({})",
        page.display()
    );
    assert!(
        r.dom.contains("<ul id=\"js-errors\"></ul>"),
        "no script errors recorded"
    );
    let rendered = r
        .dom
        .split("id=\"timeline\"")
        .nth(1)
        .and_then(|s| s.split("data-rendered=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("the timeline script marked the timeline as drawn");
    assert!(rendered > 0, "the timeline drew something");
    for marker in [
        "id=\"timeline-canvas\"",
        "id=\"leadership\"",
        "id=\"chart-throughput\"",
        "id=\"chart-latency-raw\"",
        "id=\"chart-latency\"",
        "id=\"reproduce\"",
    ] {
        assert!(r.dom.contains(marker), "{marker} present");
    }
}

#[test]
fn a_run_report_renders_in_chromium_with_timeline_bands_and_charts() {
    let out = output_dir("leader-isolation");
    let (code, log) = tumult(&[
        "run",
        "scenarios/leader-isolation.toml",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(code == 0 || code == 1, "{log}");
    let run = out.join("leader-isolation").join("seed-1");
    let page = run.join("report.html");
    assert!(
        page.exists(),
        "tumult run writes report.html by default: {log}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(only_svg_namespace(&html), "no network resources");
    let r = render(&page, &out.join("leader-isolation.png"));
    assert_renders(&r, &page);
    assert!(
        r.dom.matches("nemesis-band nb-partition").count() >= 2,
        "partition bands drawn"
    );
    assert!(
        r.dom
            .contains("tumult run scenarios/leader-isolation.toml --seed 1"),
        "reproduce command shown"
    );
    assert!(r.dom.contains("class=\"reign\""), "leaders drawn");
    // latency-raw: a mark per operation (merged only where they crowd), in
    // plotters' SVG, with the partition shaded behind it.
    let raw = r
        .dom
        .split("id=\"chart-latency-raw\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .expect("latency-raw drawn");
    assert!(
        raw.matches("<circle").count() > 100,
        "operations drawn as points"
    );
    assert!(raw.contains("#F28E2B"), "the partition shaded");
    // The suite index of the run, too.
    assert!(out.join("index.html").exists() && out.join("summary.md").exists());
    let idx = render(&out.join("index.html"), &out.join("index.png"));
    assert!(idx.console.is_empty(), "{:#?}", idx.console);
    assert!(
        idx.dom.contains("leader-isolation/seed-1/report.html"),
        "index links the run report"
    );
    assert!(
        idx.dom
            .contains("<tr class=\"scenario\" data-group=\"g0\">"),
        "a row for the scenario"
    );
}

fn only_svg_namespace(html: &str) -> bool {
    html.match_indices("http")
        .all(|(i, _)| html[i..].starts_with("http://www.w3.org/"))
}

#[test]
fn a_linearizability_violation_shows_the_key_and_the_checkers_view() {
    let out = output_dir("stale-local-reads");
    let (code, log) = tumult(&[
        "run",
        "scenarios/stale-local-reads.toml",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--no-report",
    ]);
    assert_eq!(code, 0, "the scenario expects its failure: {log}");
    let run = out.join("stale-local-reads").join("seed-1");
    assert!(
        !run.join("report.html").exists(),
        "--no-report writes no report"
    );
    let custom = out.join("custom.html");
    let (code, log) = tumult(&[
        "report",
        run.to_str().unwrap(),
        "-o",
        custom.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{log}");
    let r = render(&custom, &out.join("stale-local-reads.png"));
    assert_renders(&r, &custom);
    for marker in [
        "id=\"lin-violation\"",
        "id=\"lin-table\"",
        "class=\"cited\"",
        "id=\"lin-ops\"",
        "id=\"lin-link\"",
    ] {
        assert!(r.dom.contains(marker), "{marker} present");
    }
    if run.join("history.lin.html").exists() {
        assert!(
            r.dom.contains("id=\"lin-frame\""),
            "the checker's visualization is embedded"
        );
    }
}

/// A synthetic run directory: `ops` operations over 5 clients, a partition
/// band, leaders, and the given verdict checks.
fn synthetic_run(dir: &Path, ops: u64, checks: serde_json::Value) {
    use std::fmt::Write;
    std::fs::create_dir_all(dir).unwrap();
    let mut h = String::new();
    let mut index = 0u64;
    let mut line = |h: &mut String, body: String| {
        writeln!(h, "{{\"index\":{index},{body}}}").unwrap();
        index += 1;
    };
    line(
        &mut h,
        r#""type":"trace","node":"n1","shard":0,"event":"become-leader","term":1,"time":1000000"#
            .into(),
    );
    let clients = 5u64;
    let per_client = ops / clients;
    let step = 1_000_000u64; // an operation a millisecond per client
    let partition_at = per_client * step / 3;
    let heal_at = per_client * step / 2;
    let mut process = [0u64, 1, 2, 3, 4];
    let mut value = 0i64;
    let mut t = 2_000_000u64;
    for i in 0..per_client {
        if t >= partition_at && t < partition_at + step {
            line(
                &mut h,
                format!(
                    r#""type":"nemesis","f":"partition","value":[["n1"],["n2","n3"]],"time":{t}"#
                ),
            );
            line(
                &mut h,
                format!(
                    r#""type":"trace","node":"n2","shard":0,"event":"become-leader","term":2,"time":{t}"#
                ),
            );
        }
        if t >= heal_at && t < heal_at + step {
            line(&mut h, format!(r#""type":"nemesis","f":"heal","time":{t}"#));
            line(
                &mut h,
                format!(
                    r#""type":"trace","node":"n1","shard":0,"event":"become-follower","term":2,"time":{t}"#
                ),
            );
        }
        for (c, p) in process.iter_mut().enumerate() {
            value += 1;
            let start = t + c as u64 * 100_000;
            let (kind, err) = match (i + c as u64) % 97 {
                0 => ("info", r#","error":"timeout""#),
                1 => ("fail", r#","error":"mismatch""#),
                _ => ("ok", ""),
            };
            let f = if value % 2 == 0 { "write" } else { "read" };
            let v = if f == "write" {
                value.to_string()
            } else {
                "null".into()
            };
            line(
                &mut h,
                format!(
                    r#""type":"invoke","process":{p},"f":"{f}","key":"k{c}","value":{v},"time":{start}"#
                ),
            );
            line(
                &mut h,
                format!(
                    r#""type":"{kind}","process":{p},"f":"{f}","key":"k{c}","value":{v},"time":{}{err}"#,
                    start + 700_000
                ),
            );
            if kind == "info" {
                *p += clients;
            }
        }
        t += step;
    }
    std::fs::write(dir.join("history.jsonl"), h).unwrap();
    std::fs::write(
        dir.join("scenario.toml"),
        "name = \"synthetic\"\n[cluster]\nnodes = 3\nshards = 1\n[workload]\nclients = 5\nkeys = 5\nduration = \"20s\"\n",
    )
    .unwrap();
    let verdict = serde_json::json!({
        "scenario": "synthetic", "seed": 7, "verdict": "fail", "expected": "pass", "met": false,
        "counted_checks": ["linearizable", "model", "recovery", "assertion"],
        "checks": checks,
        "counts": {"ok": ops, "fail": 0, "info": 0},
        "availability": {"overall": 1.0}, "sim_seconds": t as f64 / 1e9, "wall_seconds": 1.0,
        "history_entries": index, "history_sha256": "0", "reproduce": "tumult run synthetic.toml --seed 7",
    });
    std::fs::write(
        dir.join("verdict.json"),
        serde_json::to_vec_pretty(&verdict).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_history_of_100_000_operations_renders_to_a_bounded_page() {
    let out = output_dir("large");
    let run = out.join("synthetic").join("seed-7");
    let pass = serde_json::json!({"result": "pass", "detail": "", "figures": {}});
    synthetic_run(
        &run,
        100_000,
        serde_json::json!({"linearizable": pass, "model": pass, "recovery": pass, "assertion": pass}),
    );
    let (code, log) = tumult(&["report", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{log}");
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("data-mode=\"raster\""),
        "many operations are rasterized"
    );
    assert!(
        html.len() < 400_000,
        "page of {} bytes for 100,000 operations",
        html.len()
    );
    let elements = html.matches('<').count();
    assert!(elements < 3_000, "{elements} tags for 100,000 operations");
    let r = render(&page, &out.join("large.png"));
    assert_renders(&r, &page);
    assert!(
        r.dom.contains("nemesis-band nb-partition"),
        "the partition band is drawn"
    );
}

#[test]
fn a_model_violation_shows_the_failing_event_and_the_trace_around_it() {
    let out = output_dir("model");
    let run = out.join("synthetic").join("seed-7");
    let pass = serde_json::json!({"result": "pass", "detail": "", "figures": {}});
    // The partition's `become-leader` of n2 is the failing event: find its index.
    synthetic_run(&run, 2_000, serde_json::json!({"assertion": pass}));
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let failing: serde_json::Value = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "become-leader" && e["node"] == "n2")
        .unwrap();
    let index = failing["index"].as_u64().unwrap();
    let detail = format!(
        "election-safety at history index {index} (time {} ns), node n2, shard 0: two leaders in term 2\n  event: {{\"event\":\"become-leader\",\"term\":2}}\n  state before the event:\n    n1 leader term 2",
        failing["time"]
    );
    let mut verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("verdict.json")).unwrap()).unwrap();
    verdict["checks"]["model"] = serde_json::json!({"result": "fail", "detail": detail, "figures": {},
            "evidence": {"history_index": index, "node": "n2", "shard": 0}});
    std::fs::write(
        run.join("verdict.json"),
        serde_json::to_vec_pretty(&verdict).unwrap(),
    )
    .unwrap();
    let (code, log) = tumult(&["report", run.to_str().unwrap()]);
    assert_eq!(code, 0, "{log}");
    let page = run.join("report.html");
    let r = render(&page, &out.join("model.png"));
    assert_renders(&r, &page);
    assert!(r.dom.contains("id=\"model-violation\""));
    assert!(
        r.dom.contains("id=\"model-context\""),
        "the trace around the event is shown"
    );
    assert!(
        r.dom.contains("class=\"focus\""),
        "the failing event is highlighted"
    );
    assert!(r.dom.contains("two leaders in term 2"));
    // The shard's servers as the checker rebuilt them, and the protocol
    // timeline with the event marked.
    assert!(r.dom.contains("id=\"model-nodes\""), "the servers' table");
    // (n2 emits nothing before the event, so only n1 was rebuilt.)
    assert!(
        r.dom.contains("<tr><td><b>n1</b></td><td>leader</td>"),
        "n1 leads"
    );
    assert!(
        r.dom.contains("id=\"model-timeline\""),
        "the protocol timeline"
    );
}
