//! The fuzz targets, shared by the `cargo fuzz` binaries (`fuzz/fuzz_targets/`, nightly) and
//! the bounded run of the test command on stable (`tests/fuzz.rs`). Each takes any bytes and
//! feeds them to one reader of untrusted input; the reader may refuse them with an error, and
//! must never panic, hang or allocate without bound.

use std::path::Path;

use iam_audit::inventory::{stock_csv, Inventory, SourceKind};

/// Every target by name, with the seed files (relative to the crate root) its inputs start from.
pub const TARGETS: &[(&str, &[&str])] = &[
    (
        "stock_report",
        &[
            "examples/iam_audit_report_20260306_120000.csv",
            "tests/data/stock/report.csv",
        ],
    ),
    (
        "stock_events",
        &[
            "examples/cloudtrail_events_20260306_120000.csv",
            "tests/data/stock/events.csv",
        ],
    ),
    (
        "stock_root",
        &[
            "examples/root_audit_report_20260306_120000.csv",
            "tests/data/stock/root.csv",
        ],
    ),
    ("credential_report", &["tests/data/credential_reports"]),
    (
        "cloudtrail",
        &[
            "tests/data/cloudtrail",
            "tests/data/remediated/cloudtrail.json",
        ],
    ),
    (
        "inventory_json",
        &["examples/inventory_20260306_120000.json"],
    ),
    ("detect", &["examples", "tests/data/credential_reports"]),
    ("rule", &["rules/stock", "rules/cis-aws"]),
    ("fixture", &["rules/stock/tests", "rules/cis-aws/tests"]),
    ("waivers", &["examples/waivers.yaml"]),
    ("config", &["examples/iam-audit.yaml"]),
];

/// Feeds `data` to the reader `target` names.
///
/// # Panics
///
/// On an unknown target name (and whenever the reader itself panics: that is the bug fuzzing
/// looks for).
pub fn run(target: &str, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match target {
        "stock_report" => {
            let _ = stock_csv::read_report(Path::new("fuzz.csv"), data);
        }
        "stock_events" => {
            let mut inv = Inventory::new(SourceKind::StockCsv);
            let _ = stock_csv::read_events(Path::new("fuzz.csv"), data, &mut inv);
        }
        "stock_root" => {
            let mut inv = Inventory::new(SourceKind::StockCsv);
            let _ = stock_csv::read_root(Path::new("fuzz.csv"), data, &mut inv);
        }
        "credential_report" => {
            let _ = iam_audit::input::credential_report::read_file(Path::new("fuzz.csv"), data);
            let _ = iam_audit::input::credential_report::parse(&text);
        }
        "cloudtrail" => {
            let keep = iam_audit::input::cloudtrail::Keep::default_events();
            let _ = iam_audit::input::cloudtrail::read_bytes(
                data,
                "fuzz.json",
                Some("111111111111"),
                &keep,
            );
        }
        "inventory_json" => {
            let _ = iam_audit::inventory::json::read_inventory(Path::new("fuzz.json"), data);
            let _ = iam_audit::input::organizations::parse(Path::new("fuzz.json"), data);
        }
        "detect" => {
            let _ = iam_audit::input::detect::detect(data);
            let _ = iam_audit::input::detect::detect_start(data);
        }
        "rule" => {
            let files = OneRule(text.into_owned());
            let _ = iam_audit::rules::pack::load_pack(&files);
        }
        "fixture" => {
            let _ = iam_audit::rules::fixtures::parse("fuzz.yaml", &text);
        }
        "waivers" => {
            let _ = iam_audit::waivers::parse("fuzz.yaml", &text);
        }
        "config" => {
            let _ = iam_audit::config::Config::parse(Path::new("fuzz.yaml"), &text);
        }
        other => panic!("no fuzz target `{other}`"),
    }
}

/// A pack whose one rule file is the fuzzed text.
struct OneRule(String);

const PACK: &str = "pack: fuzz\ntitle: Fuzz\ndescription: One fuzzed rule.\nparams:\n  days:\n    type: int\n    default: 30\n    description: Days.\nrules: [fuzz-rule]\n";

impl iam_audit::rules::pack::PackFiles for OneRule {
    fn display(&self, file: &str) -> String {
        format!("fuzz/{file}")
    }

    fn read(&self, file: &str) -> Result<String, String> {
        match file {
            "pack.yaml" => Ok(PACK.to_string()),
            "fuzz-rule.yaml" => Ok(self.0.clone()),
            other => Err(format!("no file {other}")),
        }
    }

    fn fixture_files(&self) -> Vec<String> {
        Vec::new()
    }
}
