//! The node processes of a real run: `tumult node` started on loopback,
//! each on its own data directory, killed with SIGKILL, paused with
//! SIGSTOP and continued with SIGCONT. Each process writes its trace as
//! JSON lines on its stdout; a thread per process feeds them to the
//! recorder as they come (the nemesis' `leader:S` and the recovery check
//! need them live).
//!
//! No process outlives the run: [`Nodes`] kills and reaps every one when
//! dropped (on success, failure and panic), and each process asks the
//! kernel to kill it when the thread that started it goes (Ctrl-C or a
//! killed harness included; `PR_SET_PDEATHSIG`).

use crate::sim::recorder::Shared;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use tumult_engine::raft::NodeId;
use tumult_models::history::Entry;

/// How to start node `n`: the program and its arguments.
#[derive(Clone, Debug)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Where its stderr (the engine's log) goes, appended across restarts.
    pub log: PathBuf,
    /// Whether its stdout is a trace (history lines) for the recorder.
    pub trace: bool,
}

/// The node processes of one run.
pub struct Nodes {
    launch: BTreeMap<NodeId, Launch>,
    running: BTreeMap<NodeId, Child>,
    readers: Vec<JoinHandle<()>>,
    recorder: Shared,
    /// What went wrong starting processes or reading their traces.
    pub problems: Vec<String>,
}

impl Nodes {
    /// No process yet; [`Nodes::start`] starts one.
    pub fn new(launch: BTreeMap<NodeId, Launch>, recorder: Shared) -> Nodes {
        Nodes {
            launch,
            running: BTreeMap::new(),
            readers: Vec::new(),
            recorder,
            problems: Vec::new(),
        }
    }

    /// The process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.running.values().map(Child::id).collect()
    }

    /// Starts node `n` (killing a process of it that is still there).
    pub fn start(&mut self, n: NodeId) {
        self.kill(n);
        let Some(launch) = self.launch.get(&n) else {
            return;
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&launch.log);
        let stderr = match log {
            Ok(f) => Stdio::from(f),
            Err(_) => Stdio::null(),
        };
        let mut cmd = Command::new(&launch.program);
        let stdout = if launch.trace {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        cmd.args(&launch.args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    let recorder = std::sync::Arc::clone(&self.recorder);
                    self.readers
                        .push(std::thread::spawn(move || read_trace(n, out, &recorder)));
                }
                self.running.insert(n, child);
            }
            Err(e) => self.problems.push(format!(
                "n{n}: cannot start {}: {e}",
                launch.program.display()
            )),
        }
    }

    /// Kills node `n` at once (SIGKILL) and reaps it.
    pub fn kill(&mut self, n: NodeId) {
        if let Some(mut child) = self.running.remove(&n) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops (SIGSTOP) or continues (SIGCONT) node `n`.
    pub fn pause(&self, n: NodeId, paused: bool) {
        if let Some(child) = self.running.get(&n) {
            let signal = if paused { libc::SIGSTOP } else { libc::SIGCONT };
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill sends a signal to our own child, nothing else.
                unsafe {
                    libc::kill(pid, signal);
                }
            }
        }
    }

    /// Kills every process and waits until every trace line they wrote is
    /// in the recorder.
    pub fn shutdown(&mut self) {
        let all: Vec<NodeId> = self.running.keys().copied().collect();
        for n in all {
            self.kill(n);
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Feeds node `n`'s trace lines to the recorder until its stdout closes.
fn read_trace(n: NodeId, out: std::process::ChildStdout, recorder: &Shared) {
    for (i, line) in BufReader::new(out).lines().enumerate() {
        let Ok(line) = line else {
            return;
        };
        let parsed = serde_json::from_str(&line)
            .map_err(|e| e.to_string())
            .and_then(Entry::from_json);
        let mut r = recorder.lock().expect("recorder");
        match parsed {
            Ok(Entry::Trace(t)) => r.trace(n, t.shard.unwrap_or(0), &t.event, t.time),
            Ok(_) => r
                .problems
                .push(format!("n{n} stdout line {}: not a trace event", i + 1)),
            Err(e) => r
                .problems
                .push(format!("n{n} stdout line {}: {e}: {line}", i + 1)),
        }
    }
}
