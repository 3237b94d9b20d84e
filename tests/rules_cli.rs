//! `iam-audit rules list | show | validate | test` as a rule author runs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;

use common::{bin, root};

/// Runs the binary; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A key-scope rule file whose condition is a block scalar starting on line 6.
fn rule(id: &str, severity: &str, second_line: &str) -> String {
    format!(
        "id: {id}\ntitle: T\nseverity: {severity}\nscope: key\ncondition: |\n  key.status == \"Active\" &&\n    {second_line}\nmessage: m\ndescription: d\nremediation: r\n"
    )
}

const FIXTURE_HEAD: &str = "as_of: 2026-01-01T00:00:00Z\ncases:\n";

/// One account, one user, one Active key created `age` days before 2026-01-01.
fn case(name: &str, expect: &str, created: &str) -> String {
    case_with(name, expect, "", created)
}

/// [`case`] with more fields (`extra`, indented lines) after `expect`.
fn case_with(name: &str, expect: &str, extra: &str, created: &str) -> String {
    format!(
        "  - name: {name}\n    expect: {expect}\n{extra}    accounts:\n      - id: \"111111111111\"\n        name: a\n        users:\n          - name: u\n            access_keys:\n              - id: AKIAAAAAAAAAAAAAAAAA\n                status: Active\n                created: {created}\n"
    )
}

/// Every built-in pack folder of the repository.
fn shipped_packs() -> Vec<String> {
    let mut packs: Vec<String> = std::fs::read_dir(root().join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("pack.yaml").is_file())
        .map(|p| format!("rules/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    packs.sort();
    assert!(packs.contains(&"rules/stock".to_string()));
    // The README's authoring guide's example pack.
    packs.push("examples/rules/my-team".to_string());
    packs
}

#[test]
fn list_shows_every_rule_as_a_table_and_as_json() {
    let (code, table, _) = run(&["rules", "list"]);
    assert_eq!(code, 0);
    let header = table.lines().next().unwrap();
    for col in ["ID", "SCOPE", "SEVERITY", "PACK", "TITLE"] {
        assert!(header.contains(col), "{header}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("console-without-mfa "))
        .unwrap();
    assert!(
        row.contains("user") && row.contains("critical") && row.contains("stock"),
        "{row}"
    );
    let (code, json, _) = run(&["rules", "list", "--format", "json"]);
    assert_eq!(code, 0);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), table.lines().count() - 1);
    let old = rows.iter().find(|r| r["id"] == "old-key-in-use").unwrap();
    assert_eq!(old["scope"], "key");
    assert_eq!(old["severity"], "high");
    assert_eq!(old["pack"], "stock");
    assert_eq!(old["title"], "Long-lived access key in active use");
    let (code, _, err) = run(&["rules", "list", "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("--format `xml`"), "{err}");
}

#[test]
fn show_gives_metadata_params_with_effective_values_condition_and_fixtures() {
    let (code, text, _) = run(&[
        "rules",
        "show",
        "old-key-in-use",
        "--param",
        "old-key-in-use.recent_days=10",
    ]);
    assert_eq!(code, 0);
    assert!(text.starts_with("old-key-in-use — Long-lived access key in active use\n"));
    assert!(text.contains("severity:   high"), "{text}");
    assert!(
        text.contains("recent_days (int): default 30, effective 10  (overridden)"),
        "{text}"
    );
    assert!(
        text.contains("max_key_age_days (int): default 365, effective 365\n"),
        "{text}"
    );
    assert!(text.contains("Condition (builtin:stock/old-key-in-use.yaml:"));
    assert!(text.contains("key.age_days > p.max_key_age_days"));
    assert!(text.contains("Fixtures (builtin:stock/tests/old-key-in-use.yaml, "));
    assert!(text.contains("no-finding    created exactly 365 days ago is not older than 365 days"));

    let (code, json, _) = run(&["rules", "show", "two-active-keys", "--format", "json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["scope"], "user");
    assert!(!doc["fixtures"]["cases"].as_array().unwrap().is_empty());

    let (code, _, err) = run(&["rules", "show", "no-such-rule"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no loaded rule has the id `no-such-rule`"),
        "{err}"
    );
}

#[test]
fn validate_reports_every_problem_at_once_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pack.yaml",
        "pack: broken\ntitle: Broken\nparams:\n  days:\n    type: int\n    default: 30\n    description: days\nrules:\n  - bad-syntax\n  - bad-field\n  - bad-param\n  - missing-title\n  - bad-enum\n  - no-fixture\n  - not-firing\n  - missing-file\n  - ../escape\n  - bad-fixture\n  - bad-call\n",
    );
    write(
        d,
        "bad-syntax.yaml",
        &rule("bad-syntax", "high", "key.age_days > (("),
    );
    write(
        d,
        "bad-field.yaml",
        &rule("bad-field", "high", "key.agee_days > 3"),
    );
    write(
        d,
        "bad-param.yaml",
        &rule("bad-param", "high", "key.age_days > p.dayz"),
    );
    write(d, "bad-enum.yaml", &rule("bad-enum", "severe", "true"));
    write(
        d,
        "bad-call.yaml",
        &rule(
            "bad-call",
            "high",
            "key.id.starts_wth(\"AKIA\") && sleep(1) && key.id.sub_string(1, 2, 3) == \"\"",
        ),
    );
    write(d, "no-fixture.yaml", &rule("no-fixture", "high", "true"));
    write(d, "not-firing.yaml", &rule("not-firing", "high", "true"));
    write(d, "bad-fixture.yaml", &rule("bad-fixture", "high", "true"));
    write(
        d,
        "missing-title.yaml",
        "id: missing-title\nseverity: high\nscope: key\ncondition: \"true\"\nmessage: m\ndescription: d\nremediation: r\n",
    );
    for id in [
        "bad-syntax",
        "bad-field",
        "bad-param",
        "missing-title",
        "bad-enum",
        "bad-call",
    ] {
        let text = format!(
            "rule: {id}\n{FIXTURE_HEAD}{}",
            case("a", "finding", "2020-01-01T00:00:00Z")
        );
        write(d, &format!("tests/{id}.yaml"), &text);
    }
    write(
        d,
        "tests/not-firing.yaml",
        &format!(
            "rule: not-firing\n{FIXTURE_HEAD}{}",
            case("a", "no-finding", "2020-01-01T00:00:00Z")
        ),
    );
    write(
        d,
        "tests/bad-fixture.yaml",
        &format!("rule: bad-fixture\n{FIXTURE_HEAD}  - name: a\n    expect: finnding\n"),
    );
    write(
        d,
        "tests/orphan.yaml",
        &format!(
            "rule: orphan\n{FIXTURE_HEAD}{}",
            case("a", "finding", "2020-01-01T00:00:00Z")
        ),
    );
    let path = d.to_str().unwrap();
    let (code, out, _) = run(&["rules", "validate", path]);
    assert_eq!(code, 2, "{out}");
    let p = |f: &str| format!("{path}/{f}");
    let expected = [
        // The condition's second line is line 7 of the file, indented by 4.
        format!(
            "{}:7:20: `p.dayz` is not a param of pack `broken`",
            p("bad-param.yaml")
        ),
        format!(
            "{}:7:5: `key.agee_days` is not a field of `key`",
            p("bad-field.yaml")
        ),
        format!("{}:7:", p("bad-syntax.yaml")),
        format!("{}:7:1: missing field `title`", p("missing-title.yaml")),
        format!("{}:3:11: unknown variant `severe`", p("bad-enum.yaml")),
        // Functions that do not exist, found before any record is evaluated.
        format!(
            "{}:7:12: unknown function `starts_wth`; did you mean `starts_with`?",
            p("bad-call.yaml")
        ),
        format!("{}:7:34: unknown function `sleep`", p("bad-call.yaml")),
        format!(
            "{}:7:53: `sub_string` takes 1 or 2 argument(s) after the value it is called on, not 3",
            p("bad-call.yaml")
        ),
        format!("{}: rule `missing-file` is listed but", p("pack.yaml")),
        format!(
            "{}: rule id `../escape` must be a kebab-case slug",
            p("pack.yaml")
        ),
        format!(
            "{}: rule `no-fixture` has no fixture file",
            p("no-fixture.yaml")
        ),
        format!(
            "{}: rule `not-firing` has no firing fixture",
            p("tests/not-firing.yaml")
        ),
        format!(
            "{}:5:13: unknown variant `finnding`",
            p("tests/bad-fixture.yaml")
        ),
        format!(
            "{}: no rule `orphan` in pack `broken`",
            p("tests/orphan.yaml")
        ),
    ];
    for e in &expected {
        assert!(
            out.lines().any(|l| l.starts_with(e.as_str())),
            "missing `{e}` in:\n{out}"
        );
    }
    assert!(out.contains("condition does not compile"), "{out}");
    assert!(
        out.ends_with(&format!("{} problem(s)\n", out.lines().count() - 1)),
        "{out}"
    );
    assert_eq!(out.lines().count() - 1, expected.len(), "{out}");
}

#[test]
fn validate_accepts_the_shipped_packs_and_catches_duplicate_ids() {
    let mut args = vec!["rules", "validate"];
    let packs = shipped_packs();
    args.extend(packs.iter().map(String::as_str));
    let (code, out, _) = run(&args);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("ok: {} pack(s), ", packs.len())),
        "{out}"
    );
    // The same pack twice: every id is reported as a duplicate.
    let (code, out, _) = run(&["rules", "validate", "rules/stock", "builtin:stock"]);
    assert_eq!(code, 2);
    assert!(out.contains("pack name `stock` is used twice"), "{out}");
    assert!(
        out.contains("builtin:stock/two-active-keys.yaml: rule id `two-active-keys` is already defined in rules/stock/two-active-keys.yaml"),
        "{out}"
    );
}

#[test]
fn test_runs_the_shipped_fixtures_with_a_matrix() {
    let mut args = vec!["rules", "test"];
    let packs = shipped_packs();
    args.extend(packs.iter().map(String::as_str));
    let (code, out, _) = run(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("rules/stock (stock)\n"), "{out}");
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("old-key-in-use "))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[2], cols[1], "all cases pass: {row}");
    assert_eq!(cols[3], "0");
    let summary = out.lines().last().unwrap();
    assert!(summary.contains(" passed, 0 failed"), "{summary}");
    // The embedded copy runs the same fixtures.
    let (code, embedded, _) = run(&["rules", "test", "builtin:stock", "--rule", "old-key-in-use"]);
    assert_eq!(code, 0, "{embedded}");
    assert!(embedded.contains("old-key-in-use "), "{embedded}");
    assert!(!embedded.contains("two-active-keys"), "{embedded}");
}

#[test]
fn a_failing_case_exits_1_with_a_diff_and_known_gaps_are_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pack.yaml",
        "pack: mine\ntitle: Mine\nrules:\n  - old-key\n",
    );
    write(
        d,
        "old-key.yaml",
        &rule("old-key", "high", "key.age_days > 400"),
    );
    let fixture = format!(
        "rule: old-key\n{FIXTURE_HEAD}{}{}{}",
        case("two years old", "finding", "2024-01-01T00:00:00Z"),
        case("one year old fires", "finding", "2024-12-31T00:00:00Z"),
        case_with(
            "known gap, 380 days should fire",
            "known-gap",
            "    gap: finding\n",
            "2024-12-17T00:00:00Z"
        ),
    );
    write(d, "tests/old-key.yaml", &fixture);
    let path = d.to_str().unwrap();
    let (code, out, _) = run(&["rules", "test", path]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "FAIL old-key › one year old fires ({path}/tests/old-key.yaml)\n  - expected: finding\n  + actual:   no-finding\n    expected finding, got no-finding\n"
        )),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.trim_start().starts_with("old-key "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().take(5).collect::<Vec<_>>(),
        ["old-key", "3", "1", "1", "1"],
        "{out}"
    );
    assert!(
        out.ends_with("3 case(s): 1 passed, 1 failed, 1 known gap(s)\n"),
        "{out}"
    );
    // Fix the threshold: the failing case passes and the known gap is reported as closed.
    write(
        d,
        "old-key.yaml",
        &rule("old-key", "high", "key.age_days > 365"),
    );
    let (code, out, _) = run(&["rules", "test", &format!("{path}/tests/old-key.yaml")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "the known gap is closed: the rule now gives finding; change `expect` to `finding`"
        ),
        "{out}"
    );
    assert!(
        out.ends_with("3 case(s): 2 passed, 1 failed, 0 known gap(s)\n"),
        "{out}"
    );
}

#[test]
fn test_with_a_broken_pack_or_fixture_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "pack.yaml", "pack: mine\ntitle: Mine\nrules:\n  - r\n");
    write(d, "r.yaml", &rule("r", "high", "true"));
    write(d, "tests/r.yaml", "rule: r\nas_of: yesterday\ncases: []\n");
    let path = d.to_str().unwrap();
    let (code, out, _) = run(&["rules", "test", path]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(&format!("error: {path}/tests/r.yaml:2:")),
        "{out}"
    );
    let (code, out, _) = run(&["rules", "test", "/nonexistent/pack"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("/nonexistent/pack: no such file or folder"),
        "{out}"
    );
}

#[test]
fn validate_refuses_include_failed_outside_event_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "pack.yaml",
        "pack: failures\ntitle: F\nrules:\n  - denied-calls\n  - user-rule\n",
    );
    write(
        d,
        "denied-calls.yaml",
        "id: denied-calls\ntitle: T\nseverity: high\nscope: event\ninclude_failed: true\ncondition: event.failed\nmessage: m\ndescription: d\nremediation: r\n",
    );
    write(
        d,
        "user-rule.yaml",
        "id: user-rule\ntitle: T\nseverity: high\nscope: user\ninclude_failed: false\ncondition: user.password_enabled\nmessage: m\ndescription: d\nremediation: r\n",
    );
    for (id, event) in [
        ("denied-calls", "    events:\n      - {time: 2026-01-01T00:00:00Z, name: DeactivateMFADevice, actor: mallory, account_id: \"111111111111\", error_code: AccessDenied}\n"),
        ("user-rule", ""),
    ] {
        write(
            d,
            &format!("tests/{id}.yaml"),
            &format!("rule: {id}\n{FIXTURE_HEAD}  - name: a\n    expect: finding\n{event}"),
        );
    }
    let path = d.to_str().unwrap();
    let (code, out, _) = run(&["rules", "validate", path]);
    assert_eq!(code, 2, "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with(path)).collect();
    assert_eq!(
        problems,
        [format!(
            "{path}/user-rule.yaml:5:17: `include_failed` applies only to `scope: event` rules \
             (this rule's scope is `user`); remove it"
        )],
        "{out}"
    );
}
