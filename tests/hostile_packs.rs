#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]
//! Malicious or broken rule packs, run through the real binary as a user would:
//! `iam-audit evaluate examples/inventory_<stamp>.json --rules <PACK> --out <tmp> --fail-on none`.
//!
//! Every case must end quickly (well under [`WALL_BOUND`] even in a debug build), inside a
//! memory cap ([`MEM_CAP_KB`] of address space), without a panic, with exit code 2 and an error
//! that names the file (and, where it means something, `line:col` and the rule id). Problems
//! found while loading or compiling are pack errors (nothing is written); problems found while
//! evaluating are rule errors (every other rule's findings are still written).
//!
//! Packs are generated at test time into temporary folders. Run with `--nocapture` to see the
//! time, peak memory and error text of each case.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_iam-audit");
const EXAMPLE_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/inventory_20260306_120000.json"
);
/// Users in the example inventory (two of them without access keys).
const EXAMPLE_USERS: usize = 15;
/// Address space the child may map (KiB). A normal run of the stock pack on the example needs
/// under 100 MB with [`THREADS`] workers; a blow-up (alias bomb, unbounded string or array)
/// needs far more and dies on an allocation failure instead of exiting 2.
const MEM_CAP_KB: u64 = 1 << 20;
/// Worker threads of the child. Pinned because every worker thread reserves its own stack and
/// malloc arena, so the address space a run needs grows with the machine's cores.
const THREADS: &str = "4";
/// Generous bound on a case's wall time (debug build, tests running in parallel).
const WALL_BOUND: Duration = Duration::from_secs(10);
/// A case still running after this is a hang: the child is killed and the test fails.
const KILL_AFTER: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Packs

/// A temporary folder holding a pack folder `pack/` and a sibling `outside/` for files a pack
/// must never read.
struct Pack {
    root: tempfile::TempDir,
}

impl Pack {
    /// A pack whose manifest lists `ids` (one param `n`).
    fn new(ids: &[&str]) -> Pack {
        let listed: String = ids.iter().map(|id| format!("  - {id}\n")).collect();
        Pack::with_manifest(&format!(
            "pack: hostile\ntitle: Hostile pack\nparams:\n  n: {{type: int, default: 1, description: d}}\nrules:\n{listed}"
        ))
    }

    fn with_manifest(manifest: &str) -> Pack {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("pack")).unwrap();
        std::fs::create_dir(root.path().join("outside")).unwrap();
        let pack = Pack { root };
        pack.write("pack.yaml", manifest);
        pack
    }

    fn dir(&self) -> PathBuf {
        self.root.path().join("pack")
    }

    fn outside(&self) -> PathBuf {
        self.root.path().join("outside")
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.dir().join(name), contents).unwrap();
    }

    /// Writes `<id>.yaml`, a user-scope rule; the condition starts on line 6.
    fn rule(&self, id: &str, condition: &str) {
        self.write(&format!("{id}.yaml"), rule_yaml(id, condition));
    }

    /// A rule that fires on every user: its findings must survive a hostile neighbour.
    fn sane(&self) {
        self.rule("sane", "user.name != \"\"");
    }
}

fn rule_yaml(id: &str, condition: &str) -> String {
    format!(
        "id: {id}\ntitle: T\nseverity: high\nscope: user\ncondition: |\n  {}\nmessage: \"{{user.name}} hit\"\ndescription: d\nremediation: r\n",
        condition.replace('\n', "\n  ")
    )
}

// ---------------------------------------------------------------------------------------------
// Running the binary

struct Run {
    case: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    /// Peak resident set (KiB), when `/usr/bin/time` is installed.
    peak_kb: Option<u64>,
    out: tempfile::TempDir,
}

impl Run {
    fn findings(&self) -> serde_json::Value {
        let path = self.out.path().join("findings_20260306_120000.json");
        let text = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {}: {e}\n{}", self.case, path.display(), self.stderr));
        serde_json::from_slice(&text).expect("findings JSON")
    }

    fn written(&self) -> Vec<String> {
        std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect()
    }
}

/// Runs `iam-audit evaluate` on the example inventory with `rules`, under the memory cap, and
/// prints what a user would see.
fn evaluate(case: &str, rules: &Path) -> Run {
    evaluate_with(case, rules, &[])
}

/// [`evaluate`] with more arguments.
fn evaluate_with(case: &str, rules: &Path, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().expect("tempdir");
    let logs = tempfile::tempdir().expect("tempdir");
    let peak_file = logs.path().join("peak");
    let time = Path::new("/usr/bin/time");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEM_CAP_KB} && exec \"$@\""))
        .arg("hostile-pack");
    if time.exists() {
        cmd.arg(time).arg("-f").arg("%M").arg("-o").arg(&peak_file);
    }
    cmd.arg(BIN)
        .arg("evaluate")
        .arg(EXAMPLE_JSON)
        .arg("--rules")
        .arg(rules)
        .arg("--out")
        .arg(out.path())
        .arg("--fail-on")
        .arg("none")
        .args(extra)
        .env("RAYON_NUM_THREADS", THREADS)
        .env_remove("IAM_AUDIT_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(logs.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(logs.path().join("stderr")).unwrap());
    // Its own process group, so a hung run can be killed with everything it started.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn bash");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > KILL_AFTER {
            let _ = Command::new("kill")
                .args(["-KILL", "--"])
                .arg(format!("-{}", child.id()))
                .status();
            let _ = child.wait();
            panic!("{case}: still running after {KILL_AFTER:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(logs.path().join(name)).unwrap_or_default())
            .to_string()
    };
    let peak_kb = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|s| s.lines().last().and_then(|l| l.trim().parse().ok()));
    let run = Run {
        case: case.to_string(),
        code: status.code(),
        stdout: read("stdout"),
        stderr: read("stderr"),
        elapsed,
        peak_kb,
        out,
    };
    // The error a user sees: the rule errors after the summary table, else the first lines.
    let text = match run.stderr.find("Rule errors:") {
        Some(at) => &run.stderr[at..],
        None => &run.stderr[..],
    };
    let shown: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .take(6)
        .map(|l| l.get(..300).unwrap_or(l))
        .collect();
    println!(
        "[hostile] {case}: {:.3} s, peak RSS {}, exit {:?}, stderr {} bytes\n    {}",
        elapsed.as_secs_f64(),
        peak_kb.map_or("n/a".to_string(), |k| format!(
            "{:.1} MB",
            k as f64 / 1024.0
        )),
        run.code,
        run.stderr.len(),
        shown.join("\n    ")
    );
    run
}

/// The run ended on its own, in time, without a panic, inside the memory cap, with exit 2.
fn assert_clean_exit_2(run: &Run) {
    let case = &run.case;
    assert!(
        run.elapsed < WALL_BOUND,
        "{case}: took {:?} (bound {WALL_BOUND:?})\n{}",
        run.elapsed,
        run.stderr
    );
    for bad in [
        "panicked",
        "overflowed its stack",
        "memory allocation",
        "Command terminated",
    ] {
        assert!(
            !run.stderr.contains(bad),
            "{case}: stderr has `{bad}`:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        run.code,
        Some(2),
        "{case}: exit code (None: killed by a signal)\n{}",
        run.stderr
    );
    assert!(
        run.stdout.is_empty(),
        "{case}: stdout must stay empty: {}",
        run.stdout
    );
    // A clear error, not a wall of text.
    assert!(
        run.stderr.len() < 16 * 1024,
        "{case}: stderr is {} bytes",
        run.stderr.len()
    );
}

/// A pack error: exit 2, every needle in stderr, nothing written.
fn assert_pack_error(run: &Run, needles: &[&str]) {
    assert_clean_exit_2(run);
    assert!(
        run.stderr.contains("rule pack error"),
        "{}: not reported as a pack error:\n{}",
        run.case,
        run.stderr
    );
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{}: stderr lacks `{needle}`:\n{}",
            run.case,
            run.stderr
        );
    }
    assert!(
        run.written().is_empty(),
        "{}: a refused pack writes nothing: {:?}",
        run.case,
        run.written()
    );
}

/// A rule error of `rule` whose message has `needle` (or one of the `|`-separated needles):
/// exit 2, the rule listed under "Rule errors" on stderr and in the findings JSON, and the
/// `sane` rule's findings still written.
fn assert_rule_error(run: &Run, rule: &str, needle: &str) {
    assert_clean_exit_2(run);
    assert!(
        run.stderr.contains("Rule errors:") && run.stderr.contains(&format!("  {rule} on ")),
        "{}: `{rule}` not listed as a rule error:\n{}",
        run.case,
        run.stderr
    );
    let findings = run.findings();
    assert_eq!(findings["summary"]["exit_code"], 2);
    let errors = findings["summary"]["rule_errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        assert_eq!(e["rule_id"], rule, "{}: {e}", run.case);
        let message = e["message"].as_str().unwrap();
        assert!(
            needle.split('|').any(|n| message.contains(n)),
            "{}: rule error `{message}` lacks `{needle}`",
            run.case
        );
    }
    let sane = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == "sane")
        .count();
    assert_eq!(
        sane, EXAMPLE_USERS,
        "{}: the sane rule's findings must all be written",
        run.case
    );
}

/// A pack with the rule `id` (condition `condition`) and the sane rule, run.
fn run_condition(case: &str, condition: &str) -> Run {
    let pack = Pack::new(&[case, "sane"]);
    pack.rule(case, condition);
    pack.sane();
    evaluate(case, &pack.dir())
}

// ---------------------------------------------------------------------------------------------
// Baseline: the harness itself

#[test]
fn baseline_stock_pack_fits_the_caps() {
    let run = evaluate(
        "baseline-stock",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/stock"),
    );
    // The example has an account that could not be audited: exit 3, not 2.
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.elapsed < WALL_BOUND);
    assert!(!run.stderr.contains("panicked"));
    if let Some(kb) = run.peak_kb {
        assert!(
            kb < MEM_CAP_KB / 4,
            "a normal run must fit the cap comfortably"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Conditions that misbehave at run time: rule errors

/// An endless condition is stopped by the operations limit or, on a machine busy enough to
/// run fewer than 200,000 operations in 250 ms, by the wall-clock limit: either is the
/// sandbox stopping it (which fires first depends on the machine, not on the code).
const ENDLESS_STOPPED: &str = "Too many operations|exceeded the wall-clock limit";

#[test]
fn infinite_loop() {
    let run = run_condition("spin-loop", "loop {}\ntrue");
    assert_rule_error(&run, "spin-loop", ENDLESS_STOPPED);
}

#[test]
fn infinite_while() {
    let run = run_condition("spin-while", "let i = 0;\nwhile true { i += 1; }\ntrue");
    assert_rule_error(&run, "spin-while", ENDLESS_STOPPED);
}

#[test]
fn deep_recursion() {
    let run = run_condition("recurse", "fn f(x) { f(x + 1) }\nf(0) > 0");
    assert_rule_error(&run, "recurse", "Stack overflow");
}

#[test]
fn wide_recursion() {
    // Two calls per level: the call-depth limit alone would allow 2^16 calls.
    let run = run_condition("recurse-wide", "fn f(x) { f(x + 1) + f(x + 1) }\nf(0) > 0");
    assert_rule_error(&run, "recurse-wide", "Stack overflow");
}

#[test]
fn enormous_string_pad() {
    let run = run_condition(
        "big-pad",
        "let s = \"x\";\ns.pad(100000000, \"x\");\ns != \"\"",
    );
    assert_rule_error(&run, "big-pad", "Length of string");
}

#[test]
fn enormous_string_doubling() {
    let run = run_condition("big-concat", "let s = \"x\";\nloop { s += s; }\ntrue");
    assert_rule_error(&run, "big-concat", "Length of string");
}

#[test]
fn enormous_array() {
    let run = run_condition("big-array", "let a = [];\na.pad(100000000, 0);\ntrue");
    assert_rule_error(&run, "big-array", "Size of array");
}

#[test]
fn enormous_nested_arrays() {
    // 10,000 arrays of 10,000: 100 M values if only the outer array were counted.
    let run = run_condition(
        "big-nested",
        "let a = [];\nfor i in 0..10000 { let b = []; b.pad(9999, i); a.push(b); }\ntrue",
    );
    assert_rule_error(&run, "big-nested", "Size of array");
}

/// Rhai re-counts a map's size on every insertion, so filling one is quadratic: in a debug
/// build the wall clock stops it before the size limit does.
#[test]
fn enormous_map() {
    let run = run_condition(
        "big-map",
        "let m = #{};\nfor i in 0..100000 { m[i.to_string()] = i; }\ntrue",
    );
    assert_rule_error(&run, "big-map", "Size of object map|wall-clock limit");
}

#[test]
fn many_large_strings() {
    let run = run_condition(
        "big-strings",
        "let s = \"x\";\ns.pad(60000, \"x\");\nlet v = [];\nfor i in 0..1000 { v.push(s + i); }\ntrue",
    );
    assert_rule_error(&run, "big-strings", "Length of string");
}

/// Native functions on 10,000-element arrays take milliseconds each: the wall-clock limit
/// must stop the loop well before the operations limit would, and after two records the rule
/// is no longer run on the rest of the batch.
#[test]
fn slow_operations_hit_the_wall_clock() {
    let run = run_condition(
        "slow-ops",
        "let a = [];\na.pad(10000, 1);\nlet b = [];\nb.pad(10000, 1);\nloop { a == b; }",
    );
    assert_rule_error(&run, "slow-ops", "");
    assert!(
        run.stderr.contains("wall-clock limit of 250 ms"),
        "{}",
        run.stderr
    );
    let findings = run.findings();
    let errors = findings["summary"]["rule_errors"].as_array().unwrap();
    assert_eq!(errors[0]["more"], EXAMPLE_USERS - 5);
    assert!(errors
        .iter()
        .any(|e| e["message"].as_str().unwrap().contains("not evaluated")));
}

/// A native function that panics on what a rule gives it: Rust's sort may panic on a
/// comparison that is not a total order, as floats with NaN are. The panic is the rule's error
/// (on every record it happens on), never a crash of the run.
#[test]
fn sorting_nan_is_a_rule_error_not_a_crash() {
    let run = run_condition(
        "nan-sort",
        "let a = [];\nfor i in 0..40 { a.push(if i % 3 == 0 { 0.0 / 0.0 } else { 40.0 - i }); }\na.sort();\na.len() > 0",
    );
    assert_rule_error(&run, "nan-sort", "evaluation aborted by a panic");
    assert!(run.stderr.contains("total order"), "{}", run.stderr);
    let findings = run.findings();
    let errors = findings["summary"]["rule_errors"].as_array().unwrap();
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("nan-sort.yaml: "));
    assert_eq!(errors.len(), 5);
    assert_eq!(errors[0]["more"], EXAMPLE_USERS - 5);
}

/// Each evaluation is well under the per-evaluation limit, but the rule as a whole spends
/// more than `--rule-budget-ops`: it is stopped, reported with the budget, and its findings
/// are left out; every other rule's findings are written.
#[test]
fn a_rule_over_its_run_budget_is_stopped() {
    let case = "costly";
    let pack = Pack::new(&[case, "sane"]);
    pack.rule(case, "let i = 0;\nwhile i < 5000 { i += 1; }\ntrue");
    pack.sane();
    let run = evaluate_with(case, &pack.dir(), &["--rule-budget-ops", "50000"]);
    assert_rule_error(&run, case, "exceeded its budget of 50000 operations");
    assert!(
        run.stderr.contains("costly on all records: "),
        "{}",
        run.stderr
    );
    let findings = run.findings();
    assert!(
        !findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == case),
        "a stopped rule's findings are left out"
    );
    // Its count of records does not depend on when it was stopped.
    let counts = findings["summary"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == case)
        .unwrap()
        .clone();
    assert_eq!(counts["evaluations"], EXAMPLE_USERS);
    assert_eq!(counts["findings"], 0);
    // The budget from the config file; a flag wins over it.
    let config = pack.outside().join("iam-audit.yaml");
    std::fs::write(&config, "rule_budget_ops: 50_000\n").unwrap();
    let config = config.display().to_string();
    let run = evaluate_with(case, &pack.dir(), &["--config", &config]);
    assert_rule_error(&run, case, "exceeded its budget of 50000 operations");
    let run = evaluate_with(
        case,
        &pack.dir(),
        &["--config", &config, "--rule-budget-ops", "100000000"],
    );
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    std::fs::write(&config, "fail_on: none\nrule_budget_ops: 0\n").unwrap();
    let run = evaluate_with(case, &pack.dir(), &["--config", &config]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "iam-audit.yaml:2:18: rule_budget_ops: `0`: a budget of 0 would stop every rule"
        ),
        "{}",
        run.stderr
    );
    // The same pack within the default budget: no rule error (the example has an account
    // that could not be audited: exit 3), a finding per user.
    let run = evaluate(case, &pack.dir());
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(!run.stderr.contains("Rule errors:"), "{}", run.stderr);
    let fired = run.findings()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == case)
        .count();
    assert_eq!(fired, EXAMPLE_USERS);
}

#[test]
fn rule_budget_flag_is_validated() {
    let pack = Pack::new(&["sane"]);
    pack.sane();
    for (value, needle) in [
        ("0", "a budget of 0 would stop every rule"),
        ("1000000000000000", "above the largest budget"),
        ("lots", "not a whole number of operations"),
    ] {
        let run = evaluate_with("budget-flag", &pack.dir(), &["--rule-budget-ops", value]);
        assert_eq!(run.code, Some(2), "{value}: {}", run.stderr);
        assert!(
            run.stderr.contains("--rule-budget-ops") && run.stderr.contains(needle),
            "{value}: {}",
            run.stderr
        );
        assert!(run.written().is_empty());
    }
}

#[test]
fn calling_sleep() {
    // There is no `sleep` (nor any clock or I/O) in the sandbox: the pack is refused before
    // any record is evaluated, naming the call.
    let run = run_condition("sleeper", "sleep(3600);\ntrue");
    assert_pack_error(&run, &["sleeper.yaml:6:3: unknown function `sleep`"]);
}

#[test]
fn huge_thrown_error_is_truncated() {
    let run = run_condition("thrower", "let s = \"x\";\ns.pad(15000, \"x\");\nthrow s;");
    assert_rule_error(&run, "thrower", "xxxx");
    let message = run.findings()["summary"]["rule_errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.len() < 2000, "{} bytes", message.len());
}

#[test]
fn error_on_some_records_only() {
    // Two users of the example have no access key: `user.keys[0]` fails for them only.
    let case = "first-key";
    let pack = Pack::new(&[case, "sane"]);
    pack.rule(case, "user.keys[0].age_days > 0");
    pack.sane();
    let run = evaluate(case, &pack.dir());
    assert_rule_error(&run, case, "out of bounds");
    let findings = run.findings();
    let errors = findings["summary"]["rule_errors"].as_array().unwrap();
    let records: Vec<&str> = errors
        .iter()
        .map(|e| e["record"].as_str().unwrap())
        .collect();
    assert_eq!(
        records,
        ["444444444444/jane.doe", "987654321098/maria.garcia"]
    );
    assert!(run.stderr.contains("first-key on 444444444444/jane.doe"));
    // The rule still fires on every record it could evaluate.
    let fired = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == case)
        .count();
    assert_eq!(fired, EXAMPLE_USERS - 2);
    let run_counts = findings["summary"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == case)
        .unwrap()
        .clone();
    assert_eq!(run_counts["evaluations"], EXAMPLE_USERS);
}

// ---------------------------------------------------------------------------------------------
// Conditions refused at compile time: pack errors naming file:line:col

#[test]
fn import_is_refused() {
    let pack = Pack::new(&["importer"]);
    pack.rule("importer", "import \"x\" as y;\ntrue");
    let run = evaluate("import", &pack.dir());
    assert_pack_error(&run, &["importer.yaml:6:", "does not compile"]);
}

#[test]
fn eval_is_refused() {
    let pack = Pack::new(&["evaluator"]);
    pack.rule("evaluator", "let x = 1;\neval(\"true\")");
    let run = evaluate("eval", &pack.dir());
    assert_pack_error(&run, &["evaluator.yaml:7:3", "does not compile", "eval"]);
}

#[test]
fn print_and_debug_are_refused() {
    for (case, cond) in [
        ("printer", "print(\"leak\");\ntrue"),
        ("debugger", "debug(\"leak\");\ntrue"),
    ] {
        let pack = Pack::new(&[case]);
        pack.rule(case, cond);
        let run = evaluate(case, &pack.dir());
        assert_pack_error(
            &run,
            &[&format!("{case}.yaml:6:3"), "does not compile", &cond[..5]],
        );
        assert!(!run.stderr.contains("leak"));
    }
}

#[test]
fn deeply_nested_expression_is_refused() {
    // 5,000 levels: 10,000 would be over the condition size limit.
    let depth = 5_000;
    let cond = format!("{}1{} > 0", "(".repeat(depth), ")".repeat(depth));
    let pack = Pack::new(&["nested-expr"]);
    pack.rule("nested-expr", &cond);
    let run = evaluate("rhai-nesting-5000", &pack.dir());
    assert_pack_error(&run, &["nested-expr.yaml:6:", "does not compile"]);
}

/// 300,000 statements (600 kB): Rhai's optimizer is quadratic in the statements of a block
/// (18 s in a release build), so a condition's size is limited.
#[test]
fn huge_condition_is_refused() {
    let cond = "1;".repeat(300_000) + "\ntrue";
    let pack = Pack::new(&["huge-cond"]);
    pack.rule("huge-cond", &cond);
    let run = evaluate("huge-condition", &pack.dir());
    assert_pack_error(
        &run,
        &[
            "huge-cond.yaml:6:3",
            "condition is 600006 bytes",
            "at most 16384",
        ],
    );
}

/// Just under the limit, the worst shape still compiles quickly.
#[test]
fn largest_condition_compiles_quickly() {
    let cond = "1;".repeat(8_000) + "\nuser.name == \"\"";
    let pack = Pack::new(&["big-cond", "sane"]);
    pack.rule("big-cond", &cond);
    pack.sane();
    let run = evaluate("largest-condition", &pack.dir());
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.elapsed < WALL_BOUND, "{:?}", run.elapsed);
}

/// A message with 60,000 placeholders (each one compiled, and carried by every finding).
#[test]
fn huge_message_is_refused() {
    let pack = Pack::new(&["loud"]);
    pack.write(
        "loud.yaml",
        rule_yaml("loud", "true").replace(
            "message: \"{user.name} hit\"",
            &format!("message: \"{}\"", "{user.name}".repeat(60_000)),
        ),
    );
    let run = evaluate("huge-message", &pack.dir());
    assert_pack_error(
        &run,
        &["loud.yaml", "message is 660000 bytes", "at most 4096"],
    );
}

/// A 30 KB string param copied by a firing rule into its message, eight times: each
/// finding's message is cut (per value and in all), so a rule cannot copy huge strings into
/// every finding. (Huge evidence: `tests/rule_engine.rs`.)
#[test]
fn huge_placeholder_values_are_cut() {
    let big = format!("é{}", "x".repeat(30_000));
    let pack = Pack::with_manifest(&format!(
        "pack: hostile\ntitle: Hostile pack\nparams:\n  big: {{type: string, default: '{big}', description: d}}\nrules:\n  - copier\n"
    ));
    pack.write(
        "copier.yaml",
        rule_yaml("copier", "true").replace(
            "message: \"{user.name} hit\"",
            &format!("message: \"{{user.name}}: {}\"", "{p.big} ".repeat(8)),
        ),
    );
    let run = evaluate("huge-placeholders", &pack.dir());
    // 3: the example has an account that was not audited; no rule error.
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    let findings = run.findings();
    let all = findings["findings"].as_array().unwrap();
    assert_eq!(all.len(), EXAMPLE_USERS);
    for f in all {
        let message = f["message"].as_str().unwrap();
        assert!(message.len() <= 4_096, "{} bytes", message.len());
        assert!(message.ends_with('…'), "{message}");
        assert!(
            message.starts_with(&format!("{}: éxxx", f["username"].as_str().unwrap())),
            "{message}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile YAML: pack errors naming the file

/// A manifest whose param default is a billion-laughs bomb (`serde_json::Value` accepts any
/// shape, so nothing stops the expansion but the parser's budget).
#[test]
fn alias_bomb_in_manifest() {
    let mut m = String::from("pack: hostile\ntitle: t\nparams:\n");
    m.push_str("  a0: {type: strings, default: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol], description: d}\n");
    for i in 1..10 {
        let p = i - 1;
        m.push_str(&format!(
            "  a{i}: {{type: strings, default: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}], description: d}}\n"
        ));
    }
    m.push_str("rules: []\n");
    let pack = Pack::with_manifest(&m);
    let run = evaluate("alias-bomb-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml:"]);
}

/// A rule whose `references` repeat a 500 kB scalar through aliases: 1,000 aliases, 500 MB.
#[test]
fn alias_bomb_of_long_scalars() {
    let big = "x".repeat(500_000);
    let aliases = vec!["*s"; 1000].join(", ");
    let text = format!(
        "id: scalars\ntitle: &s {big}\nseverity: high\nscope: user\ncondition: \"true\"\nmessage: m\ndescription: d\nremediation: r\nreferences: [{aliases}]\n"
    );
    let pack = Pack::new(&["scalars"]);
    pack.write("scalars.yaml", text);
    let run = evaluate("alias-bomb-scalars", &pack.dir());
    assert_pack_error(&run, &["scalars.yaml:"]);
}

#[test]
fn flow_nesting_10000_deep() {
    let depth = 10_000;
    let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    // In a param default (any shape) and in a rule file.
    let pack = Pack::with_manifest(&format!(
        "pack: hostile\ntitle: t\nparams:\n  deep: {{type: strings, default: {deep}, description: d}}\nrules: []\n"
    ));
    let run = evaluate("yaml-flow-10000-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml:4:"]);

    let pack = Pack::new(&["deep"]);
    pack.write(
        "deep.yaml",
        format!("id: deep\ntitle: t\nreferences: {deep}\n"),
    );
    let run = evaluate("yaml-flow-10000-rule", &pack.dir());
    assert_pack_error(&run, &["deep.yaml:3:"]);
}

#[test]
fn block_nesting_10000_deep() {
    let depth = 10_000;
    let deep = format!("{}1", "- ".repeat(depth));
    let pack = Pack::with_manifest(&format!(
        "pack: hostile\ntitle: t\nparams:\n  deep:\n    type: strings\n    default:\n      {deep}\n    description: d\nrules: []\n"
    ));
    let run = evaluate("yaml-dash-10000-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml:7:"]);

    let pack = Pack::new(&["deep"]);
    pack.write(
        "deep.yaml",
        format!("id: deep\ntitle: t\ntags:\n  {deep}\n"),
    );
    let run = evaluate("yaml-dash-10000-rule", &pack.dir());
    assert_pack_error(&run, &["deep.yaml:4:"]);

    // Mappings nested by indentation, one space a level, in a param default (any shape):
    // 10,000 levels take 50 MB (refused by size); 1,000 levels take 500 kB.
    let nested = |depth: usize| {
        let mut text = String::from(
            "pack: hostile\ntitle: t\nrules: []\nparams:\n  deep:\n    type: strings\n    description: d\n    default:\n",
        );
        for level in 0..depth {
            text.push_str(&" ".repeat(level + 6));
            text.push_str("k:\n");
        }
        text
    };
    let pack = Pack::with_manifest(&nested(10_000));
    let run = evaluate("yaml-indent-10000-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml", "bytes"]);
    let pack = Pack::with_manifest(&nested(1_000));
    let run = evaluate("yaml-indent-1000-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml:", "nested too deeply"]);
}

#[test]
fn fifty_megabyte_files_are_refused_by_size() {
    let big = 50 * 1024 * 1024;
    // A rule file: valid YAML, one enormous description.
    let pack = Pack::new(&["big"]);
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(pack.dir().join("big.yaml")).unwrap());
    f.write_all(b"id: big\ntitle: t\ndescription: ").unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..50 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\n").unwrap();
    f.flush().unwrap();
    drop(f);
    let run = evaluate("50mb-rule-file", &pack.dir());
    assert_pack_error(&run, &["big.yaml", "bytes", "at most 1048576"]);

    // The manifest itself (sparse: no 50 MB written).
    let pack = Pack::new(&[]);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(pack.dir().join("pack.yaml"))
        .unwrap();
    f.set_len(big).unwrap();
    drop(f);
    let run = evaluate("50mb-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml", "52428800 bytes"]);
}

#[test]
fn binary_rule_file_is_refused() {
    // Not UTF-8.
    let pack = Pack::new(&["binary"]);
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    pack.write("binary.yaml", &bytes);
    let run = evaluate("binary-not-utf8", &pack.dir());
    assert_pack_error(&run, &["binary.yaml", "UTF-8"]);

    // UTF-8, but control characters YAML does not allow.
    let pack = Pack::new(&["control"]);
    pack.write(
        "control.yaml",
        "id: control\ntitle: \u{0}\u{1}\u{2}\u{7f}\n",
    );
    let run = evaluate("binary-control-chars", &pack.dir());
    assert_pack_error(&run, &["control.yaml:2:"]);
}

#[test]
fn path_traversal_in_rule_ids_is_refused() {
    // A file outside the pack with the name the traversal points at. Its only content is an
    // unknown key: if it were read, the error would name that key.
    let pack = Pack::new(&["../outside/secret", "../../etc/passwd", "/etc/passwd"]);
    std::fs::write(pack.outside().join("secret.yaml"), "top_secret_marker: 1\n").unwrap();
    let run = evaluate("path-traversal", &pack.dir());
    assert_pack_error(
        &run,
        &[
            "pack.yaml: rule id `../outside/secret` must be a kebab-case slug",
            "pack.yaml: rule id `../../etc/passwd` must be a kebab-case slug",
            "pack.yaml: rule id `/etc/passwd` must be a kebab-case slug",
        ],
    );
    assert!(
        !run.stderr.contains("top_secret_marker"),
        "a file outside the pack was read:\n{}",
        run.stderr
    );

    // Below the manifest check, the pack folder's reader refuses any path that leaves it.
    use iam_audit::rules::pack::{DirFiles, PackFiles};
    let files = DirFiles(pack.dir());
    for name in [
        "../outside/secret.yaml",
        "/etc/passwd",
        "./pack.yaml",
        "tests/../../x",
    ] {
        let err = files.read(name).expect_err(name);
        assert!(
            err.contains("not a path inside the pack folder"),
            "{name}: {err}"
        );
    }
}

#[test]
fn symlink_out_of_the_pack_is_refused() {
    // A valid rule outside the pack, linked in: refused, not read.
    let pack = Pack::new(&["linked"]);
    std::fs::write(
        pack.outside().join("linked.yaml"),
        rule_yaml("linked", "true"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        pack.outside().join("linked.yaml"),
        pack.dir().join("linked.yaml"),
    )
    .unwrap();
    let run = evaluate("symlink-outside", &pack.dir());
    assert_pack_error(
        &run,
        &["linked.yaml cannot be read", "outside the pack folder"],
    );

    // A link to an endless device would otherwise be read forever.
    let pack = Pack::new(&["zero"]);
    std::os::unix::fs::symlink("/dev/zero", pack.dir().join("zero.yaml")).unwrap();
    let run = evaluate("symlink-dev-zero", &pack.dir());
    assert_pack_error(&run, &["zero.yaml", "outside the pack folder"]);

    // A link inside the pack folder is fine.
    let pack = Pack::new(&["alias", "sane"]);
    pack.write("target.yaml", rule_yaml("alias", "false"));
    std::os::unix::fs::symlink("target.yaml", pack.dir().join("alias.yaml")).unwrap();
    pack.sane();
    let run = evaluate("symlink-inside", &pack.dir());
    assert_eq!(run.code, Some(3), "{}", run.stderr);

    // So is a pack folder that is itself a link.
    let link = pack.outside().join("pack-link");
    std::os::unix::fs::symlink(pack.dir(), &link).unwrap();
    let run = evaluate("symlinked-pack-folder", &link);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
}

#[test]
fn fifo_rule_file_is_refused() {
    // Opening a named pipe for reading blocks until a writer comes: never open it.
    let pack = Pack::new(&["pipe"]);
    let status = Command::new("mkfifo")
        .arg(pack.dir().join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let run = evaluate("fifo", &pack.dir());
    assert_pack_error(&run, &["pipe.yaml", "not a regular file"]);
}

#[test]
fn duplicate_keys_are_refused() {
    let pack = Pack::new(&["dup"]);
    pack.write(
        "dup.yaml",
        rule_yaml("dup", "true").replace("severity: high\n", "severity: high\nseverity: info\n"),
    );
    let run = evaluate("duplicate-key-rule", &pack.dir());
    assert_pack_error(&run, &["dup.yaml:4:1", "duplicate"]);

    let pack = Pack::with_manifest(
        "pack: hostile\ntitle: t\nparams:\n  n: {type: int, default: 1, description: d}\n  n: {type: int, default: 2, description: d}\nrules: []\n",
    );
    let run = evaluate("duplicate-key-manifest", &pack.dir());
    assert_pack_error(&run, &["pack.yaml:5:3", "duplicate"]);
}

#[test]
fn hundred_thousand_rule_manifest() {
    // As a flow list it fits the file-size limit (690 kB) ...
    let ids: Vec<String> = (0..100_000).map(|i| format!("r{i}")).collect();
    let pack = Pack::with_manifest(&format!(
        "pack: hostile\ntitle: t\nrules: [{}]\n",
        ids.join(",")
    ));
    let run = evaluate("100000-rule-manifest", &pack.dir());
    assert_pack_error(
        &run,
        &["pack.yaml: lists 100000 rules; a pack may have at most 1000"],
    );
    // ... as a block list it does not.
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let pack = Pack::new(&refs);
    let run = evaluate("100000-rule-manifest-block", &pack.dir());
    assert_pack_error(&run, &["pack.yaml: file is", "at most 1048576 bytes"]);
}

/// Within the rule limit, a thousand missing rule files: the problems listed are capped.
#[test]
fn thousand_missing_rule_files() {
    let ids: Vec<String> = (0..1_000).map(|i| format!("rule-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let pack = Pack::new(&refs);
    let run = evaluate("1000-missing-rule-files", &pack.dir());
    assert_pack_error(
        &run,
        &[
            "rule `rule-0` is listed but",
            "rule-0.yaml cannot be read",
            "... and 950 more problems",
        ],
    );
}

/// Not hostile, but guarded by the same reader: a manifest named relative to the working
/// folder (`--rules pack.yaml`) still loads.
#[test]
fn manifest_path_relative_to_the_working_folder() {
    let pack = Pack::new(&["sane"]);
    pack.sane();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .current_dir(pack.dir())
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--rules",
            "pack.yaml",
            "--fail-on",
            "none",
        ])
        .arg("--out")
        .arg(out.path())
        .env_remove("IAM_AUDIT_LOG")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
