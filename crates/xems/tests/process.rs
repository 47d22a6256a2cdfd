//! Multi-process behaviour: file locking and SIGKILL crash safety. The test binary re-executes
//! itself (same test name, an env var selects the child role).
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use xems::{AutoCompaction, Store};

/// The two tests below must not run at the same time: a child forked by one test holds copies of
/// every descriptor of this process (the other test's locked store file included) until it
/// execs, which under load can briefly keep a just-closed store locked.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn spawn_self(test: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

#[test]
fn second_process_gets_locked() {
    if let Ok(path) = std::env::var("XEMS_LOCK_CHILD") {
        match Store::open(&path, opts()) {
            Ok((s, _)) => say(&format!(
                "RESULT ok {}",
                get(&s, "sb", "k").map_or(0, |v| v.len())
            )),
            Err(e) if e.is_locked() => say("RESULT locked"),
            Err(e) => say(&format!("RESULT other {e}")),
        }
        return;
    }
    let _serial = serial();
    let dir = temp_dir("lock");
    let path = dir.join("s.xem");
    let s = open(&path);
    s.set("sb", "k", b"12345", None).wait().unwrap();
    let result = |child: Child| {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // libtest may print "test <name> ... " on the same line before the child's output.
        text.lines()
            .find_map(|l| l.find("RESULT ").map(|at| l[at..].to_owned()))
            .unwrap_or_else(|| panic!("no result: {text}"))
    };
    let env = [("XEMS_LOCK_CHILD", path.display().to_string())];
    assert_eq!(
        result(spawn_self("second_process_gets_locked", &env)),
        "RESULT locked"
    );
    // Compaction replaces the file; the new file must be locked too.
    s.compact().wait().unwrap();
    assert_eq!(
        result(spawn_self("second_process_gets_locked", &env)),
        "RESULT locked"
    );
    // Once closed, the other process can open it (so the refusal above was the lock).
    s.close().wait().unwrap();
    assert_eq!(
        result(spawn_self("second_process_gets_locked", &env)),
        "RESULT ok 5"
    );
}

/// Each child run writes into its own sandbox, so the parent can retire old runs and keep the
/// file (and the test's run time) bounded.
fn sandbox(run: u64) -> String {
    format!("run{run}")
}

/// Key/value expected for op `i` (all of a run's keys carry the run number).
fn key(run: u64, i: u64, suffix: &str) -> String {
    format!("r{run}-{i}{suffix}")
}

/// Child: writes forever with up to 64 ops in flight, printing `ACK <i> <step>` after each
/// completion reports success. Op `i` by `i % 3`: 0 = set then rotate (grace 0);
/// 1 = set v1 then overwrite with v2; 2 = set then delete. With `auto`, the store compacts by
/// itself (small thresholds, so often); without, it is asked to now and then.
fn crash_child(path: &str, run: u64, auto: bool) {
    let options = if auto {
        opts().auto_compaction(Some(AUTO))
    } else {
        opts().auto_compaction(None)
    };
    let (s, _) = Store::open(path, options).unwrap();
    let sandbox = sandbox(run);
    let sb = sandbox.as_str();
    say("READY");
    let inflight = Arc::new((Mutex::new(0usize), Condvar::new()));
    for i in 0.. {
        let k = key(run, i, "");
        match i % 3 {
            0 => {
                track(&inflight, s.set(sb, &k, &value("a", i), None), i, 0);
                track(
                    &inflight,
                    s.rotate(sb, &k, &key(run, i, "-rot"), Duration::ZERO),
                    i,
                    1,
                );
            }
            1 => {
                track(&inflight, s.set(sb, &k, &value("a", i), None), i, 0);
                track(&inflight, s.set(sb, &k, &value("b", i), None), i, 1);
            }
            _ => {
                track(&inflight, s.set(sb, &k, &value("a", i), None), i, 0);
                track(&inflight, s.del(sb, &k), i, 1);
            }
        }
        if !auto && i % 50 == 49 {
            s.compact().on_complete(|_| {});
        }
    }
}

/// Keeps at most 64 ops in flight; prints the ACK from the completion callback.
fn track<T: Send + 'static>(
    inflight: &Arc<(Mutex<usize>, Condvar)>,
    c: xems::Completion<T>,
    i: u64,
    step: u8,
) {
    {
        let (m, cv) = &**inflight;
        let mut n = m.lock().unwrap();
        while *n >= 64 {
            n = cv.wait(n).unwrap();
        }
        *n += 1;
    }
    let inflight = inflight.clone();
    c.on_complete(move |r| {
        if r.is_ok() {
            say(&format!("ACK {i} {step}"));
        }
        let (m, cv) = &*inflight;
        *m.lock().unwrap() -= 1;
        cv.notify_all();
    });
}

/// Small thresholds so the child compacts every few hundred writes.
const AUTO: AutoCompaction = AutoCompaction {
    min_file_size: 8 << 10,
    dead_percent: 40,
};

/// Where a run's child is killed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kill {
    /// After a random short delay (sometimes before the store is even open).
    Random,
    /// As soon as a compaction's temporary file appears (mid-compaction, before the rename).
    TempFileSeen,
    /// As soon as the file at the path is a new generation (just after the rename: the old
    /// file is being wiped, the directory fsync may not have happened).
    GenerationChanged,
}

fn generation_at(path: &std::path::Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    Some(u64::from_le_bytes(bytes.get(60..68)?.try_into().ok()?))
}

/// Busy-polls (up to 20 s) until `seen` holds; returns whether it did.
fn poll_until(mut seen: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < until {
        if seen() {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// SIGKILLs a writing child `runs` times at the points `plan` picks. After each kill the parent
/// reopens the store and checks: every acknowledged write is present, nothing is half-applied
/// (a rotation is never both old and new, a value is never a mix), and the previous runs' data
/// (which has lived through later crashes, recoveries and compactions) is unchanged.
fn crash_loop(test: &str, runs: u64, auto: bool, mut plan: impl FnMut(&mut Rng) -> Kill) {
    const KEEP_RUNS: usize = 5;
    let dir = temp_dir("crash");
    let path = dir.join("s.xem");
    let temp = dir.join("s.xem.compact.tmp");
    drop(open(&path));
    let mut rng = Rng::from_clock();
    let seed = rng.0;
    let mut history: VecDeque<(u64, BTreeMap<String, Vec<u8>>)> = VecDeque::new();
    let (mut total_acks, mut dropped_tails, mut rewiped) = (0usize, 0usize, 0u64);
    let mut caught: HashMap<&'static str, usize> = HashMap::new();
    let mut generation = 0u64;
    for run in 0..runs {
        let env = [
            ("XEMS_CRASH_CHILD", path.display().to_string()),
            ("XEMS_CRASH_RUN", run.to_string()),
            ("XEMS_CRASH_AUTO", u8::from(auto).to_string()),
        ];
        let kill = plan(&mut rng);
        let mut child = spawn_self(test, &env);
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acks: HashMap<u64, [bool; 2]> = HashMap::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest may prefix the first line with "test <name> ... ".
                if line.ends_with("READY") {
                    let _ = ready_tx.send(());
                } else if let Some(rest) = line.find("ACK ").map(|at| &line[at + 4..]) {
                    let mut it = rest.split(' ');
                    let i: u64 = it.next().unwrap().parse().unwrap();
                    let step: usize = it.next().unwrap().parse().unwrap();
                    acks.entry(i).or_default()[step] = true;
                }
            }
            acks
        });
        match kill {
            Kill::Random => {
                // Mostly kill while writing; sometimes during startup/open (recovery of recovery).
                if rng.below(8) != 0 {
                    let _ = ready_rx.recv_timeout(Duration::from_secs(20));
                }
                std::thread::sleep(Duration::from_millis(rng.below(30)));
            }
            Kill::TempFileSeen => {
                let _ = ready_rx.recv_timeout(Duration::from_secs(20));
                if poll_until(|| std::fs::symlink_metadata(&temp).is_ok()) {
                    *caught.entry("temp file").or_default() += 1;
                }
            }
            Kill::GenerationChanged => {
                let _ = ready_rx.recv_timeout(Duration::from_secs(20));
                if poll_until(|| generation_at(&path).is_some_and(|g| g != generation)) {
                    *caught.entry("new generation").or_default() += 1;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        total_acks += acks
            .values()
            .map(|a| a.iter().filter(|&&x| x).count())
            .sum::<usize>();

        let ctx = |what: &str| format!("run {run} ({kill:?}, seed {seed}): {what}");
        let (s, rep) = Store::open(&path, opts().auto_compaction(None))
            .unwrap_or_else(|e| panic!("{}", ctx(&e.to_string())));
        assert!(
            std::fs::symlink_metadata(&temp).is_err(),
            "{}",
            ctx("a compaction's temporary file outlived the reopen")
        );
        dropped_tails += usize::from(rep.dropped_tail.is_some());
        rewiped += rep.rewiped;
        let sb = sandbox(run);
        let max_i = acks.keys().copied().max().map_or(0, |m| m + 1);
        let mut present = BTreeMap::new();
        // In-flight ops are bounded (64), so nothing exists beyond the last ack + 64.
        for i in 0..max_i + 80 {
            let ctx = format!("run {run} op {i} (seed {seed})");
            let acked = acks.get(&i).copied().unwrap_or_default();
            let k = key(run, i, "");
            let v = get(&s, &sb, &k);
            match i % 3 {
                0 => {
                    let kr = key(run, i, "-rot");
                    let r = get(&s, &sb, &kr);
                    assert!(v.is_none() || r.is_none(), "{ctx}: half-applied rotation");
                    if acked[1] {
                        assert!(
                            v.is_none() && r.is_some(),
                            "{ctx}: acknowledged rotation lost"
                        );
                    } else if acked[0] {
                        assert!(v.is_some() || r.is_some(), "{ctx}: acknowledged set lost");
                    }
                    for (name, x) in [(k, v), (kr, r)] {
                        if let Some(x) = x {
                            assert_eq!(x, value("a", i), "{ctx}");
                            present.insert(name, x);
                        }
                    }
                }
                1 => {
                    if acked[1] {
                        assert_eq!(v, Some(value("b", i)), "{ctx}: acknowledged overwrite lost");
                    } else if acked[0] {
                        assert!(v.is_some(), "{ctx}: acknowledged set lost");
                    }
                    if let Some(x) = v {
                        assert!(
                            x == value("a", i) || x == value("b", i),
                            "{ctx}: wrong value"
                        );
                        present.insert(k, x);
                    }
                }
                _ => {
                    // Acknowledged set without acknowledged delete: either state is legal.
                    if acked[1] {
                        assert!(v.is_none(), "{ctx}: acknowledged delete lost");
                    }
                    if let Some(x) = v {
                        assert_eq!(x, value("a", i), "{ctx}");
                        present.insert(k, x);
                    }
                }
            }
        }
        assert_eq!(
            s.len(&sb),
            present.len(),
            "run {run} (seed {seed}): stray records"
        );
        // Earlier runs' records are exactly as verified then.
        for (old_run, old) in &history {
            let osb = sandbox(*old_run);
            assert_eq!(
                s.len(&osb),
                old.len(),
                "run {old_run} changed after run {run} (seed {seed})"
            );
            for (k, v) in old {
                assert_eq!(
                    get(&s, &osb, k).as_ref(),
                    Some(v),
                    "run {old_run} key {k} after run {run} (seed {seed})"
                );
            }
        }
        history.push_back((run, present));
        if history.len() > KEEP_RUNS {
            let (old_run, old) = history.pop_front().unwrap();
            assert_eq!(s.clear(&sandbox(old_run)).wait().unwrap(), old.len() as u64);
        }
        let expected: usize = history.iter().map(|(_, m)| m.len()).sum();
        assert_eq!(
            s.stats().live_records,
            expected as u64,
            "run {run} (seed {seed})"
        );
        generation = s.stats().generation;
        s.close().wait().unwrap();
    }
    assert!(
        total_acks > 2000,
        "the children acknowledged too little to mean anything: {total_acks}"
    );
    eprintln!("{test}: {runs} kills, {total_acks} acks, {dropped_tails} torn tails, {rewiped} re-wipes, caught mid-compaction {caught:?}, generation {generation} (seed {seed})");
    if auto {
        // The point of the test: kills landed inside automatic compactions, both before and
        // after the rename. (Each is polled for up to 20 s; missing most would mean the
        // store stopped compacting by itself.)
        for what in ["temp file", "new generation"] {
            let n = caught.get(what).copied().unwrap_or(0);
            assert!(n >= 5, "only {n} kills caught at the {what} (seed {seed})");
        }
    }
}

fn child_role() -> Option<(String, u64, bool)> {
    let path = std::env::var("XEMS_CRASH_CHILD").ok()?;
    let run = std::env::var("XEMS_CRASH_RUN").unwrap().parse().unwrap();
    let auto = std::env::var("XEMS_CRASH_AUTO").is_ok_and(|v| v == "1");
    Some((path, run, auto))
}

/// 200 kills of a child that writes and asks for compactions now and then.
#[test]
fn crash_recovery_after_sigkill() {
    if let Some((path, run, auto)) = child_role() {
        crash_child(&path, run, auto);
        return;
    }
    let _serial = serial();
    crash_loop("crash_recovery_after_sigkill", 200, false, |_| Kill::Random);
}

/// 90 kills of a child whose store compacts by itself: a third at random points, a third as
/// soon as a compaction's temporary file exists, a third as soon as the renamed new
/// generation is in place.
#[test]
fn crash_during_automatic_compaction() {
    if let Some((path, run, auto)) = child_role() {
        crash_child(&path, run, auto);
        return;
    }
    let _serial = serial();
    crash_loop(
        "crash_during_automatic_compaction",
        90,
        true,
        |rng| match rng.below(3) {
            0 => Kill::Random,
            1 => Kill::TempFileSeen,
            _ => Kill::GenerationChanged,
        },
    );
}
