//! `iam-audit trend`: a history of twelve monthly runs of the real CLI over edited copies of
//! the example inventory, checked against numbers worked out by hand; the periods, the
//! formats, damaged lines, an empty or missing history; the trend in the HTML report; a
//! baseline taken from the history.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{bin, read_json, EXAMPLE_JSON};
use serde_json::{json, Value};

/// The four-rule pack whose findings the comments below count by hand: critical = a console
/// user without MFA in a production account; high = an active key older than 365 days;
/// medium = an active key 91 to 365 days old; low = a console user without MFA outside
/// production.
const PACK: &str = "tests/data/trend/pack";

/// `2026-MM-01T00:00:00Z` for month 1..=12.
fn as_of(month: u32) -> String {
    format!("2026-{month:02}-01T00:00:00Z")
}

fn user<'a>(inv: &'a mut Value, account: &str, name: &str) -> &'a mut Value {
    inv["accounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == account)
        .unwrap()["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("{account} {name}"))
}

const PROD: &str = "444444444444";
const DEV: &str = "555666777888";

/// The example inventory cut to two accounts and edited for month `m` (1 = January 2026):
///
/// Production (444444444444, tagged production):
/// - jane.doe: console, MFA, no key.
/// - svc-reporting: console without MFA until MFA is added in April; key N created
///   2025-12-20.
/// - shared-dev: no console; key L created 2024-05-02 (deleted in July), key M created
///   2025-09-14.
///
/// Development (555666777888, not production):
/// - dev.lead: console, MFA, no key.
/// - test-user: no console; key Z created 2025-11-10 (deleted in June).
/// - contractor-a: console without MFA from February; MFA added in May.
/// - contractor-b: console without MFA from March; console removed in August.
/// - contractor-c: console without MFA from September; MFA added in November.
fn inventory(m: u32) -> Value {
    let mut inv = read_json(&common::root().join(EXAMPLE_JSON));
    inv["collected_at"] = json!(as_of(m));
    inv["events"] = json!([]);
    let accounts: Vec<Value> = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"] == PROD || a["id"] == DEV)
        .cloned()
        .collect();
    inv["accounts"] = Value::Array(accounts);
    let keep = |a: &mut Value, names: &[&str]| {
        a["collection"] = json!({"status": "complete"});
        let users: Vec<Value> = a["users"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| names.contains(&u["name"].as_str().unwrap()))
            .cloned()
            .collect();
        a["users"] = Value::Array(users);
    };
    for a in inv["accounts"].as_array_mut().unwrap() {
        if a["id"] == PROD {
            keep(a, &["jane.doe", "svc-reporting", "shared-dev"]);
        } else {
            keep(a, &["dev.lead", "test-user"]);
        }
        // Nothing dated after January 2026: users, sign-ins, last uses.
        for u in a["users"].as_array_mut().unwrap() {
            u["created"] = json!("2022-01-01T00:00:00Z");
            if u["password"]["enabled"] == true {
                u["password"] = json!({"enabled": true});
            }
            let keys = u.get_mut("access_keys").and_then(Value::as_array_mut);
            for k in keys.into_iter().flatten() {
                k.as_object_mut().unwrap().remove("last_used");
                k.as_object_mut().unwrap().remove("last_used_service");
                k.as_object_mut().unwrap().remove("last_used_region");
            }
        }
    }
    let key_created = |inv: &mut Value, account: &str, name: &str, dates: &[&str]| {
        let keys = user(inv, account, name)["access_keys"]
            .as_array_mut()
            .unwrap();
        keys.truncate(dates.len());
        for (k, d) in keys.iter_mut().zip(dates) {
            k["created"] = json!(d);
        }
    };
    key_created(&mut inv, PROD, "svc-reporting", &["2025-12-20T00:00:00Z"]);
    // L, then M (once L is deleted, only M).
    if m < 7 {
        key_created(
            &mut inv,
            PROD,
            "shared-dev",
            &["2024-05-02T00:00:00Z", "2025-09-14T00:00:00Z"],
        );
    } else {
        let keys = user(&mut inv, PROD, "shared-dev")["access_keys"]
            .as_array_mut()
            .unwrap();
        keys.remove(0);
        keys[0]["created"] = json!("2025-09-14T00:00:00Z");
    }
    user(&mut inv, DEV, "dev.lead")["access_keys"] = json!([]);
    if m < 6 {
        key_created(&mut inv, DEV, "test-user", &["2025-11-10T00:00:00Z"]);
    } else {
        user(&mut inv, DEV, "test-user")["access_keys"] = json!([]);
    }
    if m >= 4 {
        let mfa =
            json!([{"serial": "arn:aws:iam::444444444444:mfa/svc-reporting", "type": "virtual"}]);
        user(&mut inv, PROD, "svc-reporting")["mfa_devices"] = mfa;
    }
    // Contractors: copies of dev.lead (console, MFA) without MFA until they get it.
    let lead = user(&mut inv, DEV, "dev.lead").clone();
    let contractor = |name: &str, console: bool, mfa: bool| {
        let mut u = lead.clone();
        u["name"] = json!(name);
        u["id"] = json!(format!("AIDA{}", name.to_uppercase().replace('-', "")));
        u["arn"] = json!(format!("arn:aws:iam::{DEV}:user/{name}"));
        u["password"] = json!({"enabled": console});
        if !mfa {
            u.as_object_mut().unwrap().remove("mfa_devices");
        }
        u
    };
    let mut added = Vec::new();
    if m >= 2 {
        added.push(contractor("contractor-a", true, m >= 5));
    }
    if m >= 3 {
        added.push(contractor("contractor-b", m < 8, false));
    }
    if m >= 9 {
        added.push(contractor("contractor-c", true, m >= 11));
    }
    let dev = inv["accounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == DEV)
        .unwrap();
    dev["users"].as_array_mut().unwrap().extend(added);
    inv
}

fn evaluate(
    dir: &Path,
    history: &Path,
    input: &Path,
    at: &str,
    extra: &[&str],
) -> std::process::Output {
    bin()
        .arg("evaluate")
        .arg(input)
        .args([
            "--rules",
            PACK,
            "--fail-on",
            "none",
            "--quiet",
            "--as-of",
            at,
        ])
        .args(if extra.contains(&"--format") {
            &[][..]
        } else {
            &["--format", "json"][..]
        })
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--history")
        .arg(history)
        .args(extra)
        .output()
        .unwrap()
}

/// Twelve monthly runs (2026-01-01 to 2026-12-01) into `dir/history.jsonl`.
fn twelve_months(dir: &Path) -> PathBuf {
    let history = dir.join("history.jsonl");
    for m in 1..=12 {
        let input = dir.join(format!("inventory_m{m:02}.json"));
        std::fs::write(&input, serde_json::to_vec_pretty(&inventory(m)).unwrap()).unwrap();
        let o = evaluate(dir, &history, &input, &as_of(m), &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "month {m}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    history
}

fn trend(history: &Path, args: &[&str]) -> std::process::Output {
    bin().arg("trend").arg(history).args(args).output().unwrap()
}

fn trend_json(history: &Path, by: &str) -> Value {
    let o = trend(history, &["--by", by, "--format", "json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn column(t: &Value, pointer: &str) -> Vec<Value> {
    t["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.pointer(pointer).cloned().unwrap_or(Value::Null))
        .collect()
}

fn nums(v: &[f64]) -> Vec<Value> {
    v.iter().map(|x| json!(x)).collect()
}

fn ints(v: &[u64]) -> Vec<Value> {
    v.iter().map(|x| json!(x)).collect()
}

#[test]
fn twelve_monthly_runs_give_the_numbers_worked_out_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let history = twelve_months(tmp.path());
    let t = trend_json(&history, "month");
    assert_eq!(t["schema_version"], 1);
    assert_eq!(t["by"], "month");
    assert_eq!(t["runs"], 12);
    let months: Vec<Value> = (1..=12).map(|m| json!(format!("2026-{m:02}"))).collect();
    assert_eq!(column(&t, "/period"), months);
    let times: Vec<Value> = (1..=12).map(|m| json!(as_of(m))).collect();
    assert_eq!(column(&t, "/as_of"), times);
    assert_eq!(column(&t, "/runs"), ints(&[1; 12]));

    // Console users: jane, svc-reporting, dev.lead (3); + contractor-a in Feb (4); +
    // contractor-b in Mar (5); contractor-b loses the console in Aug (4); + contractor-c in
    // Sep (5).
    assert_eq!(
        column(&t, "/console_users"),
        ints(&[3, 4, 5, 5, 5, 5, 5, 4, 5, 5, 5, 5])
    );
    // MFA users / console users, cut to two decimals:
    // Jan 2/3 = 66.66 (jane, dev.lead); Feb 2/4 = 50; Mar 2/5 = 40; Apr 3/5 = 60
    // (svc-reporting); May 4/5 = 80 (contractor-a), Jun, Jul 80; Aug 4/4 = 100; Sep 4/5 = 80
    // (contractor-c), Oct 80; Nov 5/5 = 100, Dec 100.
    assert_eq!(
        column(&t, "/mfa_coverage_pct/organization"),
        nums(&[66.66, 50.0, 40.0, 60.0, 80.0, 80.0, 80.0, 100.0, 80.0, 80.0, 100.0, 100.0])
    );
    // Production: jane with MFA, svc-reporting without until April: 1/2 = 50, then 2/2.
    let mut prod = vec![50.0; 3];
    prod.extend([100.0; 9]);
    assert_eq!(column(&t, "/mfa_coverage_pct/production"), nums(&prod));

    // Key ages on the 1st of each month (midnight to midnight, whole days):
    //   N (2025-12-20): Jan 12, Feb 43, Mar 71, Apr 102, ..., Dec 346 -> 0-30, 31-90 x2, 91-365.
    //   L (2024-05-02): Jan 365 + 244 = 609 -> 365+ until deleted in July.
    //   M (2025-09-14): Jan 17+31+30+31 = 109, Sep 109 + 243 = 352, Oct 382 -> 365+ from Oct.
    //   Z (2025-11-10): Jan 21+31 = 52, Feb 83, Mar 111 -> 91-365 from Mar; deleted in June.
    let buckets = |p: &str| column(&t, &format!("/active_keys_by_age/{p}"));
    assert_eq!(buckets("0-30"), ints(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    // Jan Z; Feb N, Z; Mar N.
    assert_eq!(
        buckets("31-90"),
        ints(&[1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    );
    // Jan M; Feb M; Mar M, Z; Apr, May N, M, Z; Jun to Sep N, M; Oct on N.
    assert_eq!(
        buckets("91-365"),
        ints(&[1, 1, 2, 3, 3, 2, 2, 2, 2, 1, 1, 1])
    );
    // L until June; M from October.
    let old = ints(&[1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    assert_eq!(buckets("365+"), old);
    assert_eq!(column(&t, "/keys_older_than_365_days"), old);

    // Open findings, by who is what in which month:
    //   critical C  svc-reporting without MFA       Jan-Mar
    //   high     HL key L > 365 days                Jan-Jun
    //   high     HM key M > 365 days                Oct-Dec
    //   medium   MM key M 91-365 days               Jan-Sep
    //   medium   MZ key Z 91-365 days               Mar-May
    //   medium   MN key N 91-365 days               Apr-Dec
    //   low      LA contractor-a without MFA        Feb-Apr
    //   low      LB contractor-b without MFA        Mar-Jul
    //   low      LC contractor-c without MFA        Sep-Oct
    assert_eq!(
        column(&t, "/open/critical"),
        ints(&[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        column(&t, "/open/high"),
        ints(&[1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1])
    );
    assert_eq!(
        column(&t, "/open/medium"),
        ints(&[1, 1, 2, 3, 3, 2, 2, 2, 2, 1, 1, 1])
    );
    assert_eq!(
        column(&t, "/open/low"),
        ints(&[0, 1, 2, 2, 1, 1, 1, 0, 1, 1, 0, 0])
    );
    // New: Jan all 3 (C, HL, MM: nothing before); Feb LA; Mar MZ, LB; Apr MN; Sep LC; Oct HM.
    // Resolved: Apr C; May LA; Jun MZ; Jul HL; Aug LB; Oct MM; Nov LC.
    assert_eq!(
        column(&t, "/new"),
        ints(&[3, 1, 2, 1, 0, 0, 0, 0, 1, 1, 0, 0])
    );
    assert_eq!(
        column(&t, "/resolved"),
        ints(&[0, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 0])
    );

    // Time to remediate, days from first seen to the first run without it:
    //   C  Jan 1 -> Apr 1 = 31+28+31 = 90           (critical, April)
    //   LA Feb 1 -> May 1 = 28+31+30 = 89           (low, May)
    //   MZ Mar 1 -> Jun 1 = 31+30+31 = 92           (medium, June)
    //   HL Jan 1 -> Jul 1 = 31+28+31+30+31+30 = 181 (high, July)
    //   LB Mar 1 -> Aug 1 = 31+30+31+30+31 = 153    (low, August)
    //   MM Jan 1 -> Oct 1 = 181+31+31+30 = 273      (medium, October)
    //   LC Sep 1 -> Nov 1 = 30+31 = 61              (low, November)
    let ttr = |sev: &str, what: &str| column(&t, &format!("/time_to_remediate/{sev}/{what}"));
    let n = Value::Null;
    let at = |month: usize, v: f64| {
        let mut c = vec![Value::Null; 12];
        c[month - 1] = json!(v);
        c
    };
    assert_eq!(ttr("critical", "mean_days"), at(4, 90.0));
    assert_eq!(ttr("critical", "p90_days"), at(4, 90.0));
    assert_eq!(ttr("high", "mean_days"), at(7, 181.0));
    let mut low = vec![n.clone(); 12];
    low[4] = json!(89.0);
    low[7] = json!(153.0);
    low[10] = json!(61.0);
    assert_eq!(ttr("low", "mean_days"), low);
    assert_eq!(ttr("low", "p90_days"), low);
    let mut medium = vec![n; 12];
    medium[5] = json!(92.0);
    medium[9] = json!(273.0);
    assert_eq!(ttr("medium", "mean_days"), medium);
    assert_eq!(
        ttr("low", "resolved"),
        ints(&[0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0])
    );
    // Over the year:
    //   low    [61, 89, 153]: mean 303 / 3 = 101; p90 = the ceil(0.9*3) = 3rd smallest = 153
    //   medium [92, 273]: mean 365 / 2 = 182.5; p90 = the ceil(0.9*2) = 2nd smallest = 273
    let all = &t["time_to_remediate"];
    assert_eq!(
        all["low"],
        json!({"resolved": 3, "mean_days": 101.0, "p90_days": 153.0})
    );
    assert_eq!(
        all["medium"],
        json!({"resolved": 2, "mean_days": 182.5, "p90_days": 273.0})
    );
    assert_eq!(
        all["critical"],
        json!({"resolved": 1, "mean_days": 90.0, "p90_days": 90.0})
    );
    assert_eq!(
        all["high"],
        json!({"resolved": 1, "mean_days": 181.0, "p90_days": 181.0})
    );

    // The output holds to its published schema.
    let schema = read_json(&common::root().join("schemas/trend.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&t));

    // By run: twelve rows, one per run, labelled by as_of, the same numbers.
    let r = trend_json(&history, "run");
    assert_eq!(column(&r, "/period"), times);
    assert_eq!(column(&r, "/new"), column(&t, "/new"));
    assert_eq!(column(&r, "/open"), column(&t, "/open"));
    // By week: the 1st of each month falls in a week of its own.
    let w = trend_json(&history, "week");
    assert_eq!(
        column(&w, "/period")[..4],
        [
            json!("2026-W01"),
            json!("2026-W05"),
            json!("2026-W09"),
            json!("2026-W14")
        ]
    );
    assert_eq!(column(&w, "/resolved"), column(&t, "/resolved"));

    // The same trend, as a table and as Markdown.
    let o = trend(&history, &["--by", "month"]);
    assert_eq!(o.status.code(), Some(0));
    let table = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("period   as_of"), "{table}");
    assert!(lines[0].contains("mfa_org_%") && lines[0].contains("ttr_low_p90"));
    // Columns are aligned: every row is as wide as the header.
    let width = lines[0].len();
    for l in &lines[1..=12] {
        assert_eq!(l.len(), width, "{table}");
    }
    assert!(
        lines[1].starts_with("2026-01  2026-01-01T00:00:00Z"),
        "{table}"
    );
    assert!(lines[1].contains("66.66"), "{table}");
    assert!(table.contains("low 101.00 / 153.00 (3)"), "{table}");
    let o = trend(&history, &["--format", "md"]);
    assert_eq!(o.status.code(), Some(0));
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(
        md.starts_with("## Trend by month\n\n| period | as\\_of |"),
        "{md}"
    );
    assert_eq!(md.lines().filter(|l| l.starts_with("| 2026-")).count(), 12);
    assert!(
        md.contains("| 2026-04 | 2026-04-01T00:00:00Z | 1 | 60.00 | 100.00 | 5 |"),
        "{md}"
    );

    // --out: the same JSON in a private file, nothing on stdout.
    let file = tmp.path().join("trend.json");
    let o = trend(
        &history,
        &["--format", "json", "--out", file.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(read_json(&file), t);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Deterministic: the same history gives the same bytes.
    assert_eq!(
        trend(&history, &["--format", "json"]).stdout,
        trend(&history, &["--format", "json"]).stdout
    );
}

#[test]
fn the_last_run_of_a_week_represents_it_and_counts_add_up() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history.jsonl");
    // Monday and Wednesday of ISO week 2026-W02, then Monday of W03, each with its inventory.
    for (m, at) in [
        (1, "2026-01-05T00:00:00Z"),
        (2, "2026-01-07T00:00:00Z"),
        (3, "2026-01-12T00:00:00Z"),
    ] {
        let input = tmp.path().join(format!("inv{m}.json"));
        std::fs::write(&input, serde_json::to_vec(&inventory(m)).unwrap()).unwrap();
        assert_eq!(
            evaluate(tmp.path(), &history, &input, at, &[])
                .status
                .code(),
            Some(0)
        );
    }
    let runs = trend_json(&history, "run");
    let weeks = trend_json(&history, "week");
    assert_eq!(
        column(&weeks, "/period"),
        [json!("2026-W02"), json!("2026-W03")]
    );
    assert_eq!(column(&weeks, "/runs"), ints(&[2, 1]));
    assert_eq!(
        column(&weeks, "/as_of"),
        [json!("2026-01-07T00:00:00Z"), json!("2026-01-12T00:00:00Z")]
    );
    // Inventory 1 has C, HL, MM open; inventory 2 adds contractor-a (LA); inventory 3 adds
    // contractor-b (LB), and key Z is only 63 days old on 2026-01-12 (no MZ yet). Week 2: new
    // 3 (the first run: all) + 1 (LA) = 4; week 3: new 1 (LB).
    assert_eq!(column(&runs, "/new"), ints(&[3, 1, 1]));
    assert_eq!(column(&weeks, "/new"), ints(&[4, 1]));
    assert_eq!(column(&weeks, "/resolved"), ints(&[0, 0]));
    // The week shows its last run's state.
    assert_eq!(column(&weeks, "/open")[0], column(&runs, "/open")[1]);
    assert_eq!(column(&weeks, "/console_users"), ints(&[4, 5]));
}

#[test]
fn a_damaged_line_is_skipped_with_a_warning_naming_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history.jsonl");
    for (m, at) in [(1, "2026-01-01"), (2, "2026-02-01")] {
        let input = tmp.path().join(format!("inv{m}.json"));
        std::fs::write(&input, serde_json::to_vec(&inventory(m)).unwrap()).unwrap();
        evaluate(tmp.path(), &history, &input, at, &[]);
    }
    let good = trend(&history, &["--format", "json"]).stdout;
    let text = std::fs::read_to_string(&history).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{\"schema_version\": 1, \"as_of\": \"cut short");
    std::fs::write(&history, lines.join("\n") + "\n").unwrap();
    let o = trend(&history, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("history.jsonl:2: damaged history line skipped"),
        "{stderr}"
    );
    assert_eq!(o.stdout, good);
}

#[test]
fn an_empty_or_missing_history_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none.jsonl");
    let o = trend(&missing, &[]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("none.jsonl") && stderr.contains("no such history file"),
        "{stderr}"
    );
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let o = trend(&empty, &[]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("empty.jsonl") && stderr.contains("the history is empty"),
        "{stderr}"
    );
    let damaged = tmp.path().join("damaged.jsonl");
    std::fs::write(&damaged, "not json\n").unwrap();
    let o = trend(&damaged, &[]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("damaged.jsonl:1: damaged history line skipped"),
        "{stderr}"
    );
    assert!(stderr.contains("no readable line (1 damaged)"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn html_of(dir: &Path) -> String {
    let f = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .unwrap();
    std::fs::read_to_string(f).unwrap()
}

#[test]
fn the_html_report_draws_the_trend_with_a_point_per_run_only_with_history() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history.jsonl");
    for m in 1..=3 {
        let input = tmp.path().join(format!("inv{m}.json"));
        std::fs::write(&input, serde_json::to_vec(&inventory(m)).unwrap()).unwrap();
        let o = evaluate(tmp.path(), &history, &input, &as_of(m), &[]);
        assert_eq!(o.status.code(), Some(0));
    }
    // The fourth run with the HTML: three lines in the history and its own.
    let input = tmp.path().join("inv4.json");
    std::fs::write(&input, serde_json::to_vec(&inventory(4)).unwrap()).unwrap();
    let o = evaluate(
        tmp.path(),
        &history,
        &input,
        &as_of(4),
        &["--format", "html"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = html_of(tmp.path());
    assert!(html.contains("<section id=\"trend\">"));
    assert!(html.contains("<a href=\"#trend\">Trend</a>"));
    assert_eq!(html.matches("<circle class=\"trend-mfa-org\"").count(), 4);
    assert_eq!(html.matches("<circle class=\"trend-mfa-prod\"").count(), 4);
    assert_eq!(
        html.matches("<circle class=\"trend-open-critical\"")
            .count(),
        4
    );
    // The points say their values: production MFA coverage 50 % for three runs, then 100 %.
    assert_eq!(html.matches("production 50%</title>").count(), 3);
    assert_eq!(html.matches("production 100%</title>").count(), 1);
    // Still no script and nothing loaded.
    assert!(!html.contains("<script"));
    // Without --history: no trend.
    let plain = tempfile::tempdir().unwrap();
    let o = bin()
        .arg("evaluate")
        .arg(&input)
        .args([
            "--rules",
            PACK,
            "--fail-on",
            "none",
            "--quiet",
            "--as-of",
            &as_of(4),
        ])
        .args(["--format", "html", "--out"])
        .arg(plain.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let html = html_of(plain.path());
    assert!(!html.contains("id=\"trend\"") && !html.contains("trend-mfa-org"));
}

fn findings_json(dir: &Path) -> Value {
    let f = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("findings_")
        })
        .unwrap();
    read_json(&f)
}

#[test]
fn a_run_takes_its_baseline_from_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let history = tmp.path().join("history.jsonl");
    for m in [1, 2] {
        let input = tmp.path().join(format!("inv{m}.json"));
        std::fs::write(&input, serde_json::to_vec(&inventory(m)).unwrap()).unwrap();
        evaluate(tmp.path(), &history, &input, &as_of(m), &[]);
    }
    // April against the history: its baseline is the last line before April (February: C,
    // HL, MM, LA open). April has HL, MM, MZ, MN, LA, LB: new MZ, MN, LB; unchanged HL, MM,
    // LA; resolved C.
    let input = tmp.path().join("inv4.json");
    std::fs::write(&input, serde_json::to_vec(&inventory(4)).unwrap()).unwrap();
    let out = tmp.path().join("april");
    let o = bin()
        .arg("evaluate")
        .arg(&input)
        .args([
            "--rules",
            PACK,
            "--fail-on",
            "none",
            "--quiet",
            "--as-of",
            &as_of(4),
        ])
        .args(["--format", "json", "--out"])
        .arg(&out)
        .arg("--baseline")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let f = findings_json(&out);
    let b = &f["baseline"];
    assert_eq!(b["as_of"], "2026-02-01T00:00:00Z");
    assert_eq!(
        (b["new"].as_u64(), b["unchanged"].as_u64()),
        (Some(3), Some(3))
    );
    let resolved = b["resolved"].as_array().unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["rule_id"], "prod-console-without-mfa");
    assert_eq!(resolved[0]["severity"], "critical");
    assert_eq!(resolved[0]["title"], "Production console user without MFA");
    let mut new: Vec<&str> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["change"] == "new")
        .map(|x| x["rule_id"].as_str().unwrap())
        .collect();
    new.sort_unstable();
    assert_eq!(
        new,
        [
            "console-without-mfa-outside-production",
            "key-older-than-90-days",
            "key-older-than-90-days"
        ]
    );
    // --new-only gates on the new ones only: at high, none of the three (low, medium) gates...
    let gate = |fail_on: &str| {
        bin()
            .arg("evaluate")
            .arg(&input)
            .args([
                "--rules",
                PACK,
                "--quiet",
                "--as-of",
                &as_of(4),
                "--format",
                "json",
            ])
            .args(["--fail-on", fail_on, "--new-only", "--out"])
            .arg(tmp.path().join(format!("gate-{fail_on}")))
            .arg("--baseline")
            .arg(&history)
            .output()
            .unwrap()
            .status
            .code()
    };
    // ... though HL (high) is open; at medium, MZ and MN do.
    assert_eq!(gate("high"), Some(0));
    assert_eq!(gate("medium"), Some(1));
    // A history with no run before this one is refused, naming the file.
    let o = bin()
        .arg("evaluate")
        .arg(&input)
        .args([
            "--rules",
            PACK,
            "--quiet",
            "--as-of",
            "2025-12-01",
            "--format",
            "json",
            "--out",
        ])
        .arg(tmp.path().join("early"))
        .arg("--baseline")
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("history.jsonl") && stderr.contains("no run before 2025-12-01T00:00:00Z"),
        "{stderr}"
    );
}
