#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `findings_<stamp>.sarif` as GitHub code scanning needs it: every file the binary writes here
//! passes the OASIS SARIF 2.1.0 schema (errata 01, `tests/data/sarif/`) and the checks the
//! schema cannot make (GitHub's: numeric `security-severity`, a relative pseudo-path and a line
//! on every result, our own fingerprints, the 5,000-results limit). Microsoft's SARIF Multitool
//! with GitHub's rule kinds runs on the same files in `scripts/sarif-multitool.sh`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use serde_json::{json, Value};

mod common;

use common::{
    bin, read_json, root, EXAMPLE_CONFIG, EXAMPLE_CSV_INPUT, EXAMPLE_JSON, EXAMPLE_WAIVERS, STAMP,
};

/// The example inventory's account whose role could not be assumed.
const FAILED_ACCOUNT: &str = "666666666666";

/// The OASIS schema, compiled once (draft-04, with the formats draft-04 knows: `uri`,
/// `date-time`).
fn schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema = read_json(&root().join("tests/data/sarif/sarif-schema-2.1.0.json"));
        jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the SARIF schema compiles")
    })
}

/// Runs `evaluate` with `args` (plus `--out DIR --quiet`), asserts it wrote outputs (exit 0, 1
/// or 3), and returns the SARIF file, checked against the schema and GitHub's rules.
fn evaluate(args: &[&str], out: &Path) -> Value {
    let assert = bin()
        .arg("evaluate")
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .assert();
    let code = assert.get_output().status.code();
    assert!(
        matches!(code, Some(0 | 1 | 3)),
        "evaluate {args:?} exited {code:?}: {}",
        String::from_utf8_lossy(&assert.get_output().stderr)
    );
    let path = out.join(format!("findings_{STAMP}.sarif"));
    let doc = read_json(&path);
    check(&doc, &path);
    doc
}

fn inventory_args(extra: &[&'static str]) -> Vec<&'static str> {
    let mut a = vec![
        EXAMPLE_JSON,
        "--config",
        EXAMPLE_CONFIG,
        "--format",
        "sarif,json",
    ];
    a.extend_from_slice(extra);
    a
}

fn csv_args() -> Vec<&'static str> {
    let mut a = EXAMPLE_CSV_INPUT.to_vec();
    a.extend(["--config", EXAMPLE_CONFIG, "--format", "sarif,json"]);
    a
}

fn run0(doc: &Value) -> &Value {
    &doc["runs"][0]
}

fn results(doc: &Value) -> &Vec<Value> {
    run0(doc)["results"]
        .as_array()
        .expect("results is an array")
}

fn rules(doc: &Value) -> &Vec<Value> {
    run0(doc)["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules is an array")
}

fn notifications(doc: &Value) -> Vec<Value> {
    run0(doc)["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn uri(r: &Value) -> &str {
    r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .expect("artifactLocation.uri")
}

fn line_hash(r: &Value) -> &str {
    r["partialFingerprints"]["primaryLocationLineHash"]
        .as_str()
        .expect("primaryLocationLineHash")
}

/// The rule entry a result points at.
fn rule_of<'a>(doc: &'a Value, r: &Value) -> &'a Value {
    &rules(doc)[r["ruleIndex"].as_u64().expect("ruleIndex") as usize]
}

/// Everything a SARIF file must satisfy: the OASIS schema, then what GitHub needs beyond it.
fn check(doc: &Value, path: &Path) {
    let errors: Vec<String> = schema()
        .iter_errors(doc)
        .take(20)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not pass the SARIF 2.1.0 schema:\n{}",
        path.display(),
        errors.join("\n")
    );
    let name = path.display();
    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1, "{name}: one run");
    let run = run0(doc);
    assert_eq!(run["tool"]["driver"]["name"], "iam-audit");
    assert!(run["results"].is_array(), "{name}: results always set");
    assert!(
        run["tool"]["driver"]["rules"].is_array(),
        "{name}: rules always set"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);

    // automationDetails.id: iam-audit/<org or offline>/<as_of>, so the category is
    // `iam-audit/<org>/`.
    let id = run["automationDetails"]["id"]
        .as_str()
        .expect("automationDetails.id");
    let parts: Vec<&str> = id.split('/').collect();
    assert!(
        parts.len() == 3 && parts[0] == "iam-audit" && !parts[1].is_empty(),
        "{name}: automationDetails.id `{id}`"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(parts[2]).is_ok(),
        "{name}: automationDetails.id ends with as_of: `{id}`"
    );

    // Rules: unique ids, security-severity a number in (0, 10] (GitHub reads it as a
    // string), tags within GitHub's 20, help as text and Markdown.
    let mut ids = BTreeSet::new();
    for rule in rules(doc) {
        let rid = rule["id"].as_str().expect("rule id");
        assert!(ids.insert(rid), "{name}: rule {rid} listed twice");
        let props = &rule["properties"];
        let tags = props["tags"].as_array().expect("rule tags");
        assert!(tags.len() <= 20, "{name}: {rid} has {} tags", tags.len());
        match props.get("security-severity") {
            Some(v) => {
                let s = v.as_str().unwrap_or_else(|| {
                    panic!("{name}: {rid}: security-severity {v} is not a string")
                });
                let n: f64 = s.parse().unwrap_or_else(|_| {
                    panic!("{name}: {rid}: security-severity `{s}` is not a number")
                });
                assert!(
                    n > 0.0 && n <= 10.0,
                    "{name}: {rid}: security-severity {n} not in (0, 10]"
                );
                assert!(
                    tags.iter().any(|t| t == "security"),
                    "{name}: {rid}: a security rule carries the tag `security`"
                );
            }
            None => assert_eq!(
                props["severity"], "info",
                "{name}: {rid}: only info rules go without security-severity"
            ),
        }
        for key in ["text", "markdown"] {
            let help = rule["help"][key].as_str().unwrap_or_default();
            assert!(help.trim().len() > 20, "{name}: {rid}: help.{key} `{help}`");
        }
        for key in ["shortDescription", "fullDescription"] {
            assert!(
                !rule[key]["text"].as_str().unwrap_or_default().is_empty(),
                "{name}: {rid}: {key}"
            );
        }
    }

    // Results: a relative pseudo-path with no scheme and line 1, our own fingerprint, a
    // rule that exists, at most GitHub's 5,000.
    let res = results(doc);
    assert!(res.len() <= 5_000, "{name}: {} results", res.len());
    let mut hashes = BTreeSet::new();
    for r in res {
        let u = uri(r);
        assert!(u.starts_with("aws/"), "{name}: uri `{u}`");
        let first_segment = u.split('/').next().unwrap();
        assert!(
            !first_segment.contains(':') && !u.starts_with('/') && !u.contains("//"),
            "{name}: uri `{u}` must be relative without a scheme"
        );
        assert!(
            !u.chars().any(|c| c.is_whitespace() || c == '\\'),
            "{name}: uri `{u}`"
        );
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"], 1,
            "{name}: {u}: region.startLine"
        );
        let h = line_hash(r);
        let (hex, line) = h.split_once(':').expect("hash:line");
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && line == "1",
            "{name}: primaryLocationLineHash `{h}`"
        );
        assert!(
            hashes.insert(h.to_string()),
            "{name}: fingerprint {h} twice"
        );
        let finding_id = r["properties"]["finding_id"].as_str().expect("finding_id");
        assert_eq!(&finding_id[..16], hex, "{name}: hash from the finding id");
        assert_eq!(
            rule_of(doc, r)["id"],
            r["ruleId"],
            "{name}: ruleIndex points at ruleId"
        );
        let text = r["message"]["text"].as_str().expect("message.text");
        assert!(!text.is_empty(), "{name}: empty message");
    }
}

/// Results by finding id.
fn by_finding_id(doc: &Value) -> BTreeMap<String, &Value> {
    results(doc)
        .iter()
        .map(|r| {
            (
                r["properties"]["finding_id"].as_str().unwrap().to_string(),
                r,
            )
        })
        .collect()
}

#[test]
fn the_schema_is_the_oasis_errata01_and_rejects_what_github_would() {
    let text = read_json(&root().join("tests/data/sarif/sarif-schema-2.1.0.json"));
    assert_eq!(text["$schema"], "http://json-schema.org/draft-04/schema#");
    assert_eq!(
        text["id"],
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    );
    let ok = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t"}}, "results": [
            {"message": {"text": "m."}, "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": "aws/1/iam"}, "region": {"startLine": 1}}}]}
        ]}]
    });
    assert!(schema().is_valid(&ok));
    let mut no_message = ok.clone();
    no_message["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!schema().is_valid(&no_message), "a result needs a message");
    let mut line_zero = ok.clone();
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(0);
    assert!(!schema().is_valid(&line_zero), "lines start at 1");
    // Formats are checked where draft-04 knows them (`uri`; `uri-reference` came with
    // draft-06, so `check` tests the pseudo-paths itself).
    let mut bad_uri = ok;
    bad_uri["runs"][0]["tool"]["driver"]["informationUri"] = json!("not a uri");
    assert!(!schema().is_valid(&bad_uri), "formats are checked");
}

#[test]
fn example_inventory_sarif_has_every_open_finding_and_the_unaudited_account() {
    let out = tempfile::tempdir().unwrap();
    let doc = evaluate(&inventory_args(&[]), out.path());
    let findings = read_json(&out.path().join(format!("findings_{STAMP}.json")));
    assert_eq!(
        run0(&doc)["automationDetails"]["id"],
        "iam-audit/o-exampleorgid/2026-03-06T12:00:00Z"
    );

    // Every open finding above info is a result, with the same id; no info finding is.
    let sarif = by_finding_id(&doc);
    let mut expected = BTreeSet::new();
    let mut info = 0;
    for f in findings["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        if f["severity"] == "info" {
            info += 1;
            assert!(
                !sarif.contains_key(id),
                "info finding {id} left out by default"
            );
        } else if f["status"] == "open" {
            expected.insert(id.to_string());
            let r = sarif[id];
            assert_eq!(r["ruleId"], f["rule_id"]);
            assert_eq!(line_hash(r), format!("{}:1", &id[..16]));
        }
    }
    assert!(info > 0, "the example has info findings to leave out");
    assert_eq!(
        sarif.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "results are exactly the open findings above info"
    );
    assert_eq!(run0(&doc)["properties"]["omitted"]["info"], info);
    assert!(results(&doc)
        .iter()
        .all(|r| r.get("suppressions").is_none()));

    // Levels follow severities; most severe first.
    let rank = |r: &Value| match r["properties"]["severity"].as_str().unwrap() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    };
    let ranks: Vec<i32> = results(&doc).iter().map(rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "sorted by severity");
    for r in results(&doc) {
        let want = match rank(r) {
            0 | 1 => "error",
            2 => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], want);
    }

    // Pseudo-paths per identity.
    let uris: BTreeSet<&str> = results(&doc).iter().map(uri).collect();
    for u in [
        "aws/987654321098/iam/user/admin-user",
        "aws/111111111111/iam/user/deploy-user/access-key/AKIAIADEPLOY0EXAMPLE",
        "aws/444444444444/iam",
        "aws/organization/iam/user/deploy-user",
    ] {
        assert!(uris.contains(u), "{u} in {uris:?}");
    }

    // The account whose role could not be assumed: a notification and a result.
    let notes = notifications(&doc);
    let note = notes
        .iter()
        .find(|n| n["properties"]["account_id"] == FAILED_ACCOUNT)
        .expect("a notification for the failed account");
    assert_eq!(note["level"], "error");
    assert_eq!(note["descriptor"]["id"], "account-not-audited");
    assert!(note["message"]["text"]
        .as_str()
        .unwrap()
        .contains("AccessDenied"));
    let r = results(&doc)
        .iter()
        .find(|r| r["ruleId"] == "account-not-audited")
        .expect("an account-not-audited result");
    assert_eq!(r["properties"]["account_id"], FAILED_ACCOUNT);
    assert_eq!(uri(r), format!("aws/{FAILED_ACCOUNT}/iam"));
    assert_eq!(r["level"], "error");
    assert_eq!(rule_of(&doc, r)["properties"]["security-severity"], "8.0");
}

#[test]
fn fingerprints_do_not_depend_on_the_input_format() {
    let json_out = tempfile::tempdir().unwrap();
    let csv_out = tempfile::tempdir().unwrap();
    let from_json = evaluate(
        &inventory_args(&["--sarif-include", "info"]),
        json_out.path(),
    );
    let mut args = csv_args();
    args.extend(["--sarif-include", "info"]);
    let from_csv = evaluate(&args, csv_out.path());
    assert_eq!(
        run0(&from_csv)["automationDetails"]["id"],
        "iam-audit/offline/2026-03-06T12:00:00Z",
        "no organization id in the stock CSVs"
    );
    // The same finding is the same rule at the same identity (events: the same event).
    let key = |r: &Value| {
        (
            r["ruleId"].as_str().unwrap().to_string(),
            uri(r).to_string(),
            r["message"]["text"].as_str().unwrap().to_string(),
        )
    };
    let index = |doc: &Value| -> BTreeMap<(String, String, String), String> {
        results(doc)
            .iter()
            .map(|r| (key(r), line_hash(r).to_string()))
            .collect()
    };
    let a = index(&from_json);
    let b = index(&from_csv);
    let mut shared = 0;
    for (k, h) in &a {
        if let Some(h2) = b.get(k) {
            shared += 1;
            assert_eq!(
                h, h2,
                "{k:?}: fingerprint differs between JSON and CSV input"
            );
        }
    }
    assert!(
        shared >= 15,
        "only {shared} findings in common between the inventory and the stock CSVs"
    );
    // And by identity alone: a (rule, location) pair never changes fingerprints.
    let hashes = |doc: &Value| -> BTreeMap<(String, String), BTreeSet<String>> {
        let mut m: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for r in results(doc) {
            m.entry((r["ruleId"].as_str().unwrap().into(), uri(r).into()))
                .or_default()
                .insert(line_hash(r).into());
        }
        m
    };
    let (ha, hb) = (hashes(&from_json), hashes(&from_csv));
    for (k, v) in &ha {
        if let Some(v2) = hb.get(k) {
            assert!(
                v.intersection(v2).count() > 0,
                "{k:?}: no fingerprint in common"
            );
        }
    }
}

#[test]
fn sarif_is_byte_identical_across_runs() {
    let outs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let args = inventory_args(&[
        "--waivers",
        EXAMPLE_WAIVERS,
        "--sarif-include",
        "info,waived",
    ]);
    for o in &outs {
        evaluate(&args, o.path());
    }
    let name = format!("findings_{STAMP}.sarif");
    let a = std::fs::read(outs[0].path().join(&name)).unwrap();
    let b = std::fs::read(outs[1].path().join(&name)).unwrap();
    assert!(a == b, "two runs on the same input wrote different SARIF");
    assert!(a.ends_with(b"}\n"));
}

#[test]
fn info_and_waived_are_left_out_unless_asked() {
    // Default: waived findings are not results (GitHub ignores suppressions).
    let out = tempfile::tempdir().unwrap();
    let default = evaluate(&inventory_args(&["--waivers", EXAMPLE_WAIVERS]), out.path());
    let findings = read_json(&out.path().join(format!("findings_{STAMP}.json")));
    let waived: BTreeMap<String, &Value> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "waived")
        .map(|f| (f["id"].as_str().unwrap().to_string(), f))
        .collect();
    assert!(!waived.is_empty(), "the example waivers waive something");
    let ids = by_finding_id(&default);
    assert!(waived.keys().all(|id| !ids.contains_key(id)));
    assert_eq!(
        run0(&default)["properties"]["omitted"]["waived"],
        waived.len()
    );
    assert!(results(&default)
        .iter()
        .all(|r| r["properties"]["severity"] != "info"));

    // Asked for: info results are notes, waived results carry an external suppression with
    // the waiver's reason.
    let out = tempfile::tempdir().unwrap();
    let all = evaluate(
        &inventory_args(&[
            "--waivers",
            EXAMPLE_WAIVERS,
            "--sarif-include",
            "info,waived",
        ]),
        out.path(),
    );
    let ids = by_finding_id(&all);
    let infos: Vec<&&Value> = ids
        .values()
        .filter(|r| r["properties"]["severity"] == "info")
        .collect();
    assert!(!infos.is_empty());
    for r in infos {
        assert_eq!(r["level"], "note");
        assert!(rule_of(&all, r)["properties"]
            .get("security-severity")
            .is_none());
    }
    for (id, f) in &waived {
        let r = ids
            .get(id)
            .unwrap_or_else(|| panic!("waived {id} included"));
        let s = &r["suppressions"][0];
        assert_eq!(s["kind"], "external");
        assert_eq!(s["status"], "accepted");
        assert_eq!(s["justification"], f["waiver"]["reason"]);
        assert_eq!(s["properties"]["owner"], f["waiver"]["owner"]);
        assert_eq!(r["properties"]["status"], "waived");
    }
    assert_eq!(
        results(&all)
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .count(),
        waived.len()
    );

    // One without the other.
    let out = tempfile::tempdir().unwrap();
    let only_waived = evaluate(
        &inventory_args(&["--waivers", EXAMPLE_WAIVERS, "--sarif-include", "waived"]),
        out.path(),
    );
    assert!(results(&only_waived)
        .iter()
        .all(|r| r["properties"]["severity"] != "info"));
    assert_eq!(
        results(&only_waived)
            .iter()
            .filter(|r| r.get("suppressions").is_some())
            .count(),
        waived.len()
    );
}

#[test]
fn format_list_accepts_sarif_alone_and_refuses_an_unknown_format() {
    let out = tempfile::tempdir().unwrap();
    evaluate(&[EXAMPLE_JSON, "--format", "sarif"], out.path());
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names, [format!("findings_{STAMP}.sarif")]);
    let refused = bin()
        .args(["evaluate", EXAMPLE_JSON, "--format", "sarif,pdf", "--out"])
        .arg(out.path())
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        err.contains("--format pdf: unknown format (available: csv, json, sarif, html, md)"),
        "{err}"
    );
}

#[test]
fn over_githubs_limit_the_most_severe_are_kept_and_the_run_says_so() {
    // 5,100 never-used active keys (medium) and 3 console users without MFA (critical).
    let mut users: Vec<Value> = (0..5_100)
        .map(|i| {
            json!({
                "name": format!("user-{i:05}"),
                "password": {"enabled": false},
                "access_keys": [{"id": format!("AKIABIG{i:013}"), "status": "Active",
                                 "created": "2025-01-01T00:00:00Z"}],
            })
        })
        .collect();
    for i in 0..3 {
        users.push(json!({
            "name": format!("console-{i}"),
            "password": {"enabled": true, "last_used": "2026-03-05T10:00:00Z",
                         "last_changed": "2026-01-01T00:00:00Z"},
        }));
    }
    let inv = json!({
        "schema_version": 1,
        "source": {"kind": "scan"},
        "accounts": [{"id": "100000000001", "name": "Big",
                      "collection": {"status": "complete"}, "users": users}],
    });
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("inventory_{STAMP}.json"));
    std::fs::write(&input, serde_json::to_vec(&inv).unwrap()).unwrap();
    let out = dir.path().join("out");
    let assert = bin()
        .arg("evaluate")
        .arg(&input)
        .args(["--format", "sarif,json", "--out"])
        .arg(&out)
        .assert();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("GitHub code scanning keeps at most 5000 results"),
        "a warning on stderr: {stderr}"
    );
    let path = out.join(format!("findings_{STAMP}.sarif"));
    let doc = read_json(&path);
    check(&doc, &path);
    let findings = read_json(&out.join(format!("findings_{STAMP}.json")));
    let total = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .count();
    assert!(total > 5_000, "{total} findings");
    let res = results(&doc);
    assert_eq!(res.len(), 5_000);
    let critical = res
        .iter()
        .filter(|r| r["properties"]["severity"] == "critical")
        .count();
    assert_eq!(critical, 3, "every critical finding kept");
    let dropped = total - 5_000;
    assert_eq!(run0(&doc)["properties"]["omitted"]["over_limit"], dropped);
    let notes = notifications(&doc);
    let note = notes
        .iter()
        .find(|n| n["descriptor"]["id"] == "results-truncated")
        .expect("a results-truncated notification");
    assert_eq!(note["level"], "warning");
    let text = note["message"]["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!("{dropped} of {total} results were left out")),
        "{text}"
    );
}

#[test]
fn unaudited_accounts_are_results_even_when_no_rule_of_the_run_reports_them() {
    // The CIS pack has no `account-not-audited` rule: the SARIF still reports the account,
    // described by the stock rule, with the id the stock rule gives it.
    let cis_out = tempfile::tempdir().unwrap();
    let cis = evaluate(
        &[
            EXAMPLE_JSON,
            "--rules",
            "builtin:cis-aws",
            "--format",
            "sarif",
        ],
        cis_out.path(),
    );
    let stock_out = tempfile::tempdir().unwrap();
    let stock = evaluate(&inventory_args(&[]), stock_out.path());
    let unaudited = |doc: &Value| -> Vec<(String, String)> {
        results(doc)
            .iter()
            .filter(|r| r["ruleId"] == "account-not-audited")
            .map(|r| {
                (
                    r["properties"]["account_id"].as_str().unwrap().to_string(),
                    line_hash(r).to_string(),
                )
            })
            .collect()
    };
    assert_eq!(unaudited(&cis).len(), 1);
    assert_eq!(unaudited(&cis), unaudited(&stock));
    assert_eq!(unaudited(&cis)[0].0, FAILED_ACCOUNT);
    let rule = rules(&cis)
        .iter()
        .find(|r| r["id"] == "account-not-audited")
        .expect("the stock rule describes it");
    assert_eq!(rule["properties"]["pack"], "stock");
    assert!(notifications(&cis)
        .iter()
        .any(|n| n["properties"]["account_id"] == FAILED_ACCOUNT));
}
