//! Outputs cannot be turned against their readers: an inventory whose names are links,
//! GitHub math, dot segments, terminal escapes and spreadsheet formulas goes through the real
//! `evaluate`, and every file it writes (and the summary on stderr) shows those names as
//! text. Each check names the reader it protects: SARIF viewers (embedded links, SARIF
//! §3.11.6), URL resolvers (dot segments, RFC 3986 §5.2.4 and the WHATWG URL standard),
//! GitHub's Markdown (links, math, code spans), terminals (control characters), spreadsheets
//! (formulas after leading whitespace) and browsers (the HTML report's CSP).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

mod common;

use common::{bin, read_json, STAMP};

/// A link, if the Markdown or a SARIF viewer rendered it.
const LINK: &str = "[x](https://evil.example)";
/// GitHub math: `$...$` renders as LaTeX.
const MATH: &str = "$\\color{red}{PWNED}$";
/// A terminal escape (ESC), a bell and a carriage return that would rewrite the line.
const TERMINAL: &str = "red\u{1b}[31mX\u{7}\rOK";
/// A formula after leading spaces (spreadsheets skip them).
const FORMULA: &str = "  =HYPERLINK(\"https://evil.example\",\"x\")";
/// A formula after a space and a tab.
const FORMULA_TAB: &str = " \t+1+1";
/// A backtick, which would close a one-backtick code span.
const BACKTICK: &str = "tick`s";
/// A rule tag that would close a one-backtick code span and add a link.
const TAG: &str = "a`[t](https://evil.example)`b";
/// A C1 control (CSI) and DEL.
const C1: &str = "c1\u{9b}2J\u{7f}";

/// Every hostile user name, with the dot segments `.` and `..` (valid IAM user names).
fn hostile_names() -> Vec<&'static str> {
    vec![
        ".",
        "..",
        LINK,
        MATH,
        TERMINAL,
        FORMULA,
        FORMULA_TAB,
        BACKTICK,
        C1,
    ]
}

/// A console user without MFA with an old active key (critical and high findings).
fn user(i: usize, name: &str) -> Value {
    json!({
        "name": name,
        "id": format!("AIDAHOSTILE{i:09}"),
        "arn": format!("arn:aws:iam::111111111111:user/u{i}"),
        "created": "2022-01-01T00:00:00Z",
        "password": {"enabled": true, "last_used": "2026-03-01T00:00:00Z",
                     "last_changed": "2022-01-01T00:00:00Z"},
        "access_keys": [{
            "id": format!("AKIAHOSTILE{i:09}"),
            "status": "Active",
            "created": "2023-01-01T00:00:00Z",
            "last_used": "2026-03-01T00:00:00Z",
            "last_used_service": "s3",
            "last_used_region": "us-east-1"
        }]
    })
}

/// An inventory of one audited account of hostile users and one account that could not be
/// collected, whose name and error carry a link, math and a terminal escape.
fn hostile_inventory(dir: &Path) -> PathBuf {
    let users: Vec<Value> = hostile_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| user(i, n))
        .collect();
    let inv = json!({
        "schema_version": 1,
        "source": {"kind": "scan"},
        "collected_at": "2026-03-06T12:00:00Z",
        "organization_id": "o-hostile",
        "accounts": [
            {
                "id": "111111111111",
                "name": format!("Prod {MATH} {LINK}"),
                "ou_path": ["Root"],
                "collection": {"status": "complete"},
                "users": users
            },
            {
                "id": "222222222222",
                "name": format!("Lost{TERMINAL}"),
                "ou_path": ["Root"],
                "collection": {"status": "failed", "errors": [
                    {"source": "assume-role",
                     "message": format!("AccessDenied {LINK} {MATH} \\ {TERMINAL}")}
                ]},
                "users": []
            }
        ]
    });
    let path = dir.join(format!("inventory_{STAMP}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&inv).unwrap()).unwrap();
    path
}

/// A pack whose one rule throws the user's name: a rule error whose text carries it.
fn throwing_pack(dir: &Path) -> PathBuf {
    let pack = dir.join("pack");
    std::fs::create_dir(&pack).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "pack: hostile\ntitle: t\nrules: [thrower]\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("thrower.yaml"),
        format!(
            "id: thrower\ntitle: T\nseverity: low\nscope: user\ncondition: |\n  \
         if user.name.contains(\"red\") {{ throw user.name; }}\n  false\n\
         message: m\ndescription: d\nremediation: r\ntags: [{TAG:?}]\n"
        ),
    )
    .unwrap();
    pack
}

struct Run {
    out: PathBuf,
    stderr: String,
    _tmp: tempfile::TempDir,
}

impl Run {
    fn file(&self, prefix: &str, ext: &str) -> String {
        std::fs::read_to_string(self.out.join(format!("{prefix}_{STAMP}.{ext}"))).unwrap()
    }
}

/// `evaluate` of the hostile inventory with the stock rules and the throwing pack: exit 2
/// (a rule error), every output written.
fn run_hostile() -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let input = hostile_inventory(tmp.path());
    let pack = throwing_pack(tmp.path());
    let out = tmp.path().join("out");
    let o = bin()
        .arg("evaluate")
        .arg(&input)
        .args(["--rules", "builtin:stock", "--rules"])
        .arg(&pack)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    Run {
        out,
        stderr,
        _tmp: tmp,
    }
}

// ---------------------------------------------------------------------------------------------
// SARIF
// ---------------------------------------------------------------------------------------------

/// Where a plain-text SARIF message has an unescaped `[`, `]` or a `\` that escapes nothing
/// (SARIF §3.11.6: literal brackets and backslashes are escaped with a backslash, else a
/// viewer takes `[text](target)` for an embedded link).
fn unescaped_bracket(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '\\' | '[' | ']')) => {}
                _ => return Some(i),
            },
            '[' | ']' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Every `message.text` of a SARIF log, with its JSON pointer.
fn messages(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}/{k}");
                if k == "message" {
                    if let Some(t) = x["text"].as_str() {
                        out.push((here.clone(), t.to_string()));
                    }
                }
                messages(x, &here, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                messages(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A path segment a URL resolver takes for `.` or `..`: RFC 3986 compares after decoding
/// unreserved characters (§6.2.2.2, `%2E` is `.`), the WHATWG URL standard (browsers,
/// `new URL`) matches `%2e` case-insensitively.
fn dot_segment(seg: &str) -> Option<usize> {
    let lower = seg.to_ascii_lowercase().replace("%2e", ".");
    match lower.as_str() {
        "." => Some(1),
        ".." => Some(2),
        _ => None,
    }
}

/// Resolves the relative reference `r` against `base` (an absolute path ending in `/`):
/// merge (RFC 3986 §5.2.3), then remove dot segments (§5.2.4, with [`dot_segment`]).
fn resolve(base: &str, r: &str) -> String {
    let merged = format!("{base}{r}");
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = merged.split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match dot_segment(seg) {
            Some(1) => {
                if last {
                    out.push("");
                }
            }
            Some(_) => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            None => out.push(seg),
        }
    }
    out.join("/")
}

#[test]
fn the_resolver_removes_dot_segments_as_url_parsers_do() {
    let base = "/o/r/blob/main/";
    assert_eq!(resolve(base, "a/./b/../c"), "/o/r/blob/main/a/c");
    assert_eq!(
        resolve(base, "aws/1/iam/user/.."),
        "/o/r/blob/main/aws/1/iam/"
    );
    assert_eq!(resolve(base, "aws/1/user/%2E%2E"), "/o/r/blob/main/aws/1/");
    assert_eq!(resolve(base, "aws/1/user/.%2e/x"), "/o/r/blob/main/aws/1/x");
    assert_eq!(resolve(base, "aws/%2e"), "/o/r/blob/main/aws/");
    assert_eq!(resolve(base, "aws/..."), "/o/r/blob/main/aws/...");
    assert_eq!(
        resolve(base, "aws/%2E%2E%00"),
        "/o/r/blob/main/aws/%2E%2E%00"
    );
}

#[test]
fn sarif_messages_escape_brackets_and_backslashes() {
    let run = run_hostile();
    let doc: Value = serde_json::from_str(&run.file("findings", "sarif")).unwrap();
    let mut texts = Vec::new();
    messages(&doc, "", &mut texts);
    assert!(texts.len() > 10, "{texts:?}");
    for (at, text) in &texts {
        assert!(
            unescaped_bracket(text).is_none(),
            "{at}: an unescaped [, ] or \\ at {:?} in {text:?}",
            unescaped_bracket(text)
        );
    }
    let all: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
    // The link is text, escaped; so are the backslashes of the math and the error.
    assert!(
        all.iter()
            .any(|t| t.contains("\\[x\\](https://evil.example)")),
        "{all:#?}"
    );
    assert!(all.iter().any(|t| t.contains("$\\\\color{red}{PWNED}$")));
    // The rule error's text (the thrown name) and the unaudited account's reason.
    assert!(all.iter().any(|t| t.contains("thrower")), "{all:#?}");
    assert!(
        all.iter().any(|t| t.contains("AccessDenied \\[x\\]")),
        "{all:#?}"
    );
}

#[test]
fn sarif_help_markdown_keeps_a_rule_tag_in_its_code_span() {
    let run = run_hostile();
    let doc: Value = serde_json::from_str(&run.file("findings", "sarif")).unwrap();
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let rule = rules.iter().find(|r| r["id"] == "thrower").unwrap();
    let help = rule["help"]["markdown"].as_str().unwrap();
    let (text, spans) = split_code_spans(help);
    assert!(spans.iter().any(|s| s.trim() == TAG), "{spans:?} in {help}");
    assert!(
        !text.contains("evil.example"),
        "the tag left its code span: {help}"
    );
}

#[test]
fn sarif_pseudo_paths_do_not_resolve_as_dot_segments() {
    let run = run_hostile();
    let doc: Value = serde_json::from_str(&run.file("findings", "sarif")).unwrap();
    let base = "/owner/repo/blob/main/";
    let mut users = std::collections::BTreeMap::<String, String>::new();
    for r in doc["runs"][0]["results"].as_array().unwrap() {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert_eq!(
            resolve(base, uri),
            format!("{base}{uri}"),
            "{uri} resolves to another path"
        );
        for seg in uri.split('/') {
            assert_eq!(dot_segment(seg), None, "{uri}");
        }
        if let Some(u) = r["properties"]["username"].as_str() {
            let key = uri.split("/access-key/").next().unwrap().to_string();
            if let Some(other) = users.insert(key.clone(), u.to_string()) {
                assert_eq!(other, u, "{key} stands for two users");
            }
        }
    }
    let by_name: std::collections::BTreeMap<&str, &str> = users
        .iter()
        .map(|(k, v)| (v.as_str(), k.as_str()))
        .collect();
    assert!(
        by_name.contains_key(".") && by_name.contains_key(".."),
        "{users:?}"
    );
    assert_ne!(by_name["."], by_name[".."]);
    // A real WHATWG URL parser agrees, when Node.js is installed.
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        for path in by_name.values() {
            let script = "const [b, u] = process.argv.slice(1); \
                          process.stdout.write(new URL(u, b).pathname)";
            let o = std::process::Command::new("node")
                .args(["-e", script, &format!("https://github.example{base}"), path])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                format!("{base}{path}"),
                "new URL() moves {path}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

/// The Markdown outside code spans (CommonMark: a run of N backticks not escaped by a
/// backslash opens a span that the next run of exactly N backticks closes, backslashes being
/// literal inside), and the contents of the code spans.
fn split_code_spans(md: &str) -> (String, Vec<String>) {
    let b = md.as_bytes();
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && b[i + 1].is_ascii_punctuation() {
            text.push_str(&md[i..i + 2]);
            i += 2;
        } else if b[i] == b'`' {
            let mut n = 0;
            while i + n < b.len() && b[i + n] == b'`' {
                n += 1;
            }
            // Find the closing run of exactly n backticks.
            let mut j = i + n;
            let mut close = None;
            while j < b.len() {
                if b[j] == b'`' {
                    let mut m = 0;
                    while j + m < b.len() && b[j + m] == b'`' {
                        m += 1;
                    }
                    if m == n {
                        close = Some(j);
                        break;
                    }
                    j += m;
                } else {
                    j += 1;
                }
            }
            if let Some(j) = close {
                spans.push(md[i + n..j].to_string());
                text.push_str("CODE");
                i = j + n;
            } else {
                text.push_str(&md[i..i + n]);
                i += n;
            }
        } else {
            let c = md[i..].chars().next().unwrap();
            text.push(c);
            i += c.len_utf8();
        }
    }
    (text, spans)
}

/// Whether the character at byte `i` of `s` is backslash-escaped.
fn escaped(s: &str, i: usize) -> bool {
    s[..i].bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// A window of `s` around byte `i`, for messages.
fn around(s: &str, i: usize) -> &str {
    let mut a = i.saturating_sub(60);
    while !s.is_char_boundary(a) {
        a -= 1;
    }
    let mut b = (i + 60).min(s.len());
    while !s.is_char_boundary(b) {
        b += 1;
    }
    &s[a..b]
}

/// Nothing in `md` is markup that came from the input: no control characters, no link or
/// image (`](` with an unescaped `]`), no HTML but our own `<span>$</span>`, no `$` outside
/// one (GitHub math, which a backslash does not stop), no autolink, no code span over lines.
fn assert_inert_markdown(md: &str, what: &str) {
    for c in md.chars() {
        assert!(
            !c.is_control() || c == '\n',
            "{what}: control character {c:?} in the Markdown"
        );
    }
    let (text, spans) = split_code_spans(md);
    for (i, c) in text.char_indices() {
        match c {
            '$' => assert!(
                text[..i].ends_with("<span>") && text[i + 1..].starts_with("</span>"),
                "{what}: a bare $: {}",
                around(&text, i)
            ),
            '<' => assert!(
                text[i..].starts_with("<span>$</span>") || text[..i].ends_with("<span>$"),
                "{what}: HTML: {}",
                around(&text, i)
            ),
            ']' => assert!(
                escaped(&text, i) || !text[i + 1..].starts_with('('),
                "{what}: a link: {}",
                around(&text, i)
            ),
            _ => {}
        }
    }
    assert!(!text.contains("https://"), "{what}: an autolink");
    for s in &spans {
        assert!(
            !s.contains('\n'),
            "{what}: a code span over two lines: {s:?}"
        );
    }
}

#[test]
fn markdown_escapes_links_math_backticks_and_controls() {
    let run = run_hostile();
    let md = run.file("report", "md");
    assert_inert_markdown(&md, "report.md");
    // The names are text: the link, the backtick and the math escaped, the controls written
    // out (their backslash escaped).
    assert!(
        md.contains("| \\[x\\]\\(https\\://evil.example\\) |"),
        "{md}"
    );
    assert!(md.contains("| tick\\`s |"), "{md}");
    assert!(
        md.contains("| <span>$</span>\\\\color{red}{PWNED}<span>$</span> |"),
        "{md}"
    );
    assert!(md.contains("| red\\\\x1b\\[31mX\\\\x07 OK |"), "{md}");
    assert!(md.contains("| . |") && md.contains("| .. |"), "{md}");
}

#[test]
fn markdown_escapes_the_baselines_as_of() {
    let run = run_hostile();
    // The findings JSON of the run, with a hostile as_of, as the baseline of a second run.
    let mut baseline: Value = serde_json::from_str(&run.file("findings", "json")).unwrap();
    baseline["as_of"] = json!(format!("2026-03-01 {LINK} {MATH} <b>x</b> {TERMINAL}"));
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("baseline.json");
    std::fs::write(&base, serde_json::to_vec(&baseline).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let input = hostile_inventory(tmp.path());
    let out = tmp.path().join("out");
    let o = bin()
        .arg("evaluate")
        .arg(&input)
        .arg("--baseline")
        .arg(&base)
        .args(["--format", "md", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let md = std::fs::read_to_string(out.join(format!("report_{STAMP}.md"))).unwrap();
    assert!(md.contains("Since the baseline"), "{md}");
    assert_inert_markdown(&md, "report.md with a baseline");
    assert!(!md.contains("<b>"), "{md}");
    assert_no_controls(&stderr, "stderr with a baseline");
}

// ---------------------------------------------------------------------------------------------
// Terminal summary
// ---------------------------------------------------------------------------------------------

/// No C0 control but newline, no DEL, no C1 control.
fn assert_no_controls(s: &str, what: &str) {
    for (i, c) in s.char_indices() {
        assert!(
            !c.is_control() || c == '\n',
            "{what}: control character {c:?} in {:?}",
            around(s, i)
        );
    }
}

#[test]
fn the_terminal_summary_shows_control_characters_as_text() {
    let run = run_hostile();
    assert_no_controls(&run.stderr, "stderr");
    let summary = &run.stderr[run.stderr.find("iam-audit ").unwrap()..];
    // The rule error (its record and the thrown name) and the unaudited account.
    assert!(summary.contains("Rule errors:"), "{summary}");
    assert!(summary.contains("red\\x1b[31mX\\x07\\rOK"), "{summary}");
    assert!(summary.contains("Lostred\\x1b[31mX\\x07\\rOK"), "{summary}");
}

// ---------------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_cells_never_start_a_formula_even_after_whitespace() {
    let run = run_hostile();
    for prefix in ["remediation", "iam_audit_report"] {
        let text = run.file(prefix, "csv");
        let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let mut rows = 0;
        for rec in r.records() {
            let rec = rec.unwrap();
            rows += 1;
            for cell in &rec {
                let t = cell.trim_start();
                assert!(
                    !t.starts_with(['=', '+', '-', '@']) && !cell.starts_with(['\t', '\r']),
                    "{prefix}: a formula cell {cell:?}"
                );
            }
        }
        assert!(rows >= 9, "{prefix}: {rows} rows");
        assert!(text.contains("'=HYPERLINK"), "{prefix}: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------------------------

#[test]
fn the_html_policy_forbids_base_and_form_targets() {
    let run = run_hostile();
    let html = run.file("report", "html");
    let head = &html[..html.find("</head>").unwrap()];
    let policies: Vec<&str> = head
        .split("<meta http-equiv=\"Content-Security-Policy\" content=\"")
        .skip(1)
        .map(|p| &p[..p.find('"').unwrap()])
        .collect();
    let directives: Vec<&str> = policies
        .iter()
        .flat_map(|p| p.split(';').map(str::trim))
        .collect();
    for d in [
        "default-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(directives.contains(&d), "{d} in {policies:?}");
    }
    // The policy comes before anything a <base> or a form could use.
    assert!(head.find("Content-Security-Policy") < head.find("<title>"));
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_baseline_at_an_outputs_path_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let input = hostile_inventory(tmp.path());
    let out = tmp.path().join("out");
    let first = bin()
        .arg("evaluate")
        .arg(&input)
        .args(["--format", "json", "--quiet", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(1));
    // The baseline is the findings JSON this run would write again (with a baseline section).
    let findings = out.join(format!("findings_{STAMP}.json"));
    let before = std::fs::read(&findings).unwrap();
    let second = bin()
        .arg("evaluate")
        .arg(&input)
        .arg("--baseline")
        .arg(&findings)
        .args(["--format", "json,md", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert_eq!(
        std::fs::read(&findings).unwrap(),
        before,
        "the baseline was overwritten"
    );
    assert!(
        stderr.contains(&format!(
            "Not overwritten (it is an input): {}",
            findings.display()
        )),
        "{stderr}"
    );
    // The other outputs are written, with the baseline's counts.
    let md = std::fs::read_to_string(out.join(format!("report_{STAMP}.md"))).unwrap();
    assert!(md.contains("Since the baseline"), "{md}");
    let _ = read_json(&findings);
}
