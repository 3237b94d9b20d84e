//! The HTML report in a real browser (Debian's Chromium, headless; `scripts/chromium.sh`
//! installs it): the page parses into what the findings JSON says, its SVG charts draw, it is
//! self-contained, and hostile text from an inventory can neither run a script nor fetch
//! anything. Plus the Markdown summary, checked against the findings JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{bin, installed, root, EXAMPLE_JSON};
use serde_json::{json, Value};

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// Colours of the page (src/emit/html.rs) that the screenshot is searched for.
fn severity_rgb(s: &str) -> [u8; 3] {
    match s {
        "critical" => [0xb9, 0x1c, 0x1c],
        "high" => [0xea, 0x58, 0x0c],
        "medium" => [0xca, 0x8a, 0x04],
        "low" => [0x25, 0x63, 0xeb],
        _ => [0x6b, 0x72, 0x80],
    }
}
const COVERAGE_FULL_RGB: [u8; 3] = [0x15, 0x80, 0x3d];

/// The browser: `IAM_AUDIT_CHROMIUM`, else Debian's `chromium`, installed on first use.
fn chromium() -> String {
    installed("chromium.sh")
}

/// Runs headless Chromium on a local file with its own profile; returns stdout.
fn browse(page: &Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .env("HOME", profile.path())
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The DOM Chromium built from the page.
fn dom(page: &Path) -> String {
    browse(page, &["--dump-dom"])
}

/// A screenshot of the page: width, height and RGB pixels.
struct Shot {
    width: usize,
    pixels: Vec<[u8; 3]>,
}

impl Shot {
    fn take(page: &Path, width: u32, height: u32) -> Shot {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shot.png");
        browse(
            page,
            &[
                &format!("--screenshot={}", file.display()),
                &format!("--window-size={width},{height}"),
            ],
        );
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&file).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let step = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        let pixels = buf[..info.buffer_size()]
            .chunks(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Shot {
            width: info.width as usize,
            pixels,
        }
    }

    /// Pixels within 3 per channel of `rgb`.
    fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels
            .iter()
            .filter(|p| p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 3))
            .count()
    }

    /// The widest horizontal run of `rgb` on any row.
    fn widest_run(&self, rgb: [u8; 3]) -> usize {
        let mut best = 0;
        for row in self.pixels.chunks(self.width) {
            let mut run = 0;
            for p in row {
                if p.iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 3) {
                    run += 1;
                    best = best.max(run);
                } else {
                    run = 0;
                }
            }
        }
        best
    }
}

/// Evaluates `input` into `out` (HTML, Markdown and JSON); returns the exit code.
fn evaluate(input: &Path, out: &Path, extra: &[&str]) -> i32 {
    let o = bin()
        .arg("evaluate")
        .arg(input)
        .args(["--format", "html,md,json", "--fail-on", "none", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.status.code().unwrap()
}

fn the_file(dir: &Path, prefix: &str, suffix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .unwrap_or_else(|| panic!("no {prefix}*{suffix} in {}", dir.display()))
}

fn findings_json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(the_file(dir, "findings_", ".json")).unwrap())
        .unwrap()
}

/// Open findings per severity, from the findings JSON.
fn open_counts(f: &Value) -> Vec<(String, usize)> {
    SEVERITIES
        .iter()
        .map(|s| {
            let n = f["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["severity"] == *s && x["status"] == "open")
                .count();
            (s.to_string(), n)
        })
        .collect()
}

#[test]
fn the_report_renders_what_the_findings_json_says_with_waivers_and_charts() {
    let out = tempfile::tempdir().unwrap();
    evaluate(
        Path::new(EXAMPLE_JSON),
        out.path(),
        &[
            "--config",
            "examples/iam-audit.yaml",
            "--waivers",
            "examples/waivers.yaml",
        ],
    );
    let f = findings_json(out.path());
    let page = the_file(out.path(), "report_", ".html");
    let dom = dom(&page);

    // Every finding has its row, and a waived one says by whom, until when and why.
    let all = f["findings"].as_array().unwrap();
    assert!(all.len() > 20, "{}", all.len());
    for x in all {
        assert!(
            dom.contains(&format!("id=\"f-{}\"", x["id"].as_str().unwrap())),
            "no row for {x}"
        );
    }
    let waived: Vec<&Value> = all.iter().filter(|x| x["status"] == "waived").collect();
    assert!(!waived.is_empty());
    for x in &waived {
        let w = &x["waiver"];
        let text = format!(
            "waived until {} by {}: {}",
            w["expires"].as_str().unwrap(),
            w["owner"].as_str().unwrap(),
            w["reason"].as_str().unwrap()
        );
        let row_start = dom
            .find(&format!("id=\"f-{}\"", x["id"].as_str().unwrap()))
            .unwrap();
        let row = &dom[row_start..row_start + dom[row_start..].find("</tr>").unwrap()];
        assert!(row.contains(&text), "{row}");
        // On the remediation list too, marked.
        assert!(dom.matches(&text).count() >= 2, "{text}");
    }
    // The expired waiver is reported, not applied.
    let expired = f["waivers"]["expired"].as_array().unwrap();
    assert_eq!(expired.len(), 1);
    assert!(dom.contains("Expired waivers (no longer applied)"));
    assert!(dom.contains(expired[0]["reason"].as_str().unwrap()));

    // The severity chart says what the JSON says, bar by bar.
    let counts = open_counts(&f);
    for (s, n) in &counts {
        assert!(
            dom.contains(&format!("<title>{s}: {n}</title>")),
            "{s}: {n}"
        );
    }
    // The unaudited account is on the page with its reason.
    for i in f["accounts"]["incomplete"].as_array().unwrap() {
        assert!(dom.contains(i["id"].as_str().unwrap()));
    }
    assert!(dom.contains("Accounts not (fully) collected"));
    // Every account has its MFA coverage row; production ones are marked.
    for a in f["summary"]["metrics"]["accounts"].as_array().unwrap() {
        assert!(dom.contains(a["account_id"].as_str().unwrap()));
    }

    // Drawn: each severity with open findings shows its colour, a severity without any
    // finding shows none, the widest bar is the most frequent severity's, and the 100%
    // MFA coverage bar is there.
    let shot = Shot::take(&page, 1300, 9000);
    let any = |s: &str| all.iter().any(|x| x["severity"] == s);
    for (s, n) in &counts {
        let seen = shot.count(severity_rgb(s));
        if *n > 0 {
            assert!(seen > 100, "{s}: {seen} pixels");
        } else if !any(s) {
            assert_eq!(seen, 0, "{s} has no finding but its colour is drawn");
        }
    }
    let (top, top_n) = counts.iter().max_by_key(|(_, n)| *n).unwrap();
    assert!(*top_n > 0);
    let widest = shot.widest_run(severity_rgb(top));
    assert!(
        (370..=390).contains(&widest),
        "{top}: widest run {widest} px, expected the 380 px full bar"
    );
    let full = f["summary"]["metrics"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["mfa_coverage_pct"] == json!(100.0));
    assert!(full);
    assert!(shot.widest_run(COVERAGE_FULL_RGB) >= 118);
}

#[test]
fn the_report_is_self_contained() {
    let out = tempfile::tempdir().unwrap();
    evaluate(Path::new(EXAMPLE_JSON), out.path(), &[]);
    let html = std::fs::read_to_string(the_file(out.path(), "report_", ".html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"")
    );
    for banned in [
        "<script", "src=", "url(", "@import", "<link", "http://", "https://",
    ] {
        assert!(!html.contains(banned), "{banned}");
    }
    // Links stay on the page.
    for (i, _) in html.match_indices("href=\"") {
        assert_eq!(&html[i + 6..i + 7], "#", "{}", &html[i..i + 40]);
    }
}

/// The example inventory, to be altered by a test.
fn example() -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(EXAMPLE_JSON)).unwrap()).unwrap()
}

/// The account `id` of an inventory.
fn account<'a>(inv: &'a mut Value, id: &str) -> &'a mut Value {
    inv["accounts"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == id)
        .unwrap()
}

/// Counts connections to a loopback listener until dropped.
struct Trap {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
            }
        });
        Trap { port, hits }
    }
}

#[test]
fn hostile_inventory_text_neither_runs_nor_fetches() {
    let trap = Trap::start();
    let p = trap.port;
    let mut inv = example();
    let account = account(&mut inv, "987654321098");
    account["name"] = json!(format!(
        "Prod<img src=\"http://127.0.0.1:{p}/account.png\"><script>document.title='pwned'</script>"
    ));
    let user = &mut account["users"][0];
    user["name"] = json!(format!(
        "x\"><iframe src=\"http://127.0.0.1:{p}/user\"></iframe>[md](http://127.0.0.1:{p}/md)"
    ));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("inventory_20260306_120000.json");
    std::fs::write(&input, serde_json::to_string(&inv).unwrap()).unwrap();
    let out = dir.path().join("out");
    evaluate(&input, &out, &[]);
    let page = the_file(&out, "report_", ".html");
    let dom = dom(&page);
    for element in ["<img", "<iframe", "<script"] {
        assert!(!dom.contains(element), "{element} in the DOM");
    }
    assert!(dom.contains("Prod&lt;img src=\"http://127.0.0.1"));
    assert!(!dom.contains("pwned</title>"));
    Shot::take(&page, 1300, 4000);

    // An escaping bug would still be contained: the same page with live markup injected
    // fetches nothing, because its Content-Security-Policy forbids it.
    let html = std::fs::read_to_string(&page).unwrap();
    let injected = html.replacen(
        "<main>",
        &format!(
            "<main><img src=\"http://127.0.0.1:{p}/injected.png\"><link rel=\"stylesheet\" href=\"http://127.0.0.1:{p}/x.css\">\
             <script>document.title='pwned'</script>"
        ),
        1,
    );
    assert_ne!(injected, html);
    let injected_page = dir.path().join("injected.html");
    std::fs::write(&injected_page, injected).unwrap();
    let dom = self::dom(&injected_page);
    assert!(
        dom.contains("<img src=\"http://127.0.0.1"),
        "the injection took"
    );
    assert!(!dom.contains("pwned</title>"), "a script ran");
    Shot::take(&injected_page, 1300, 2000);
    // The listener is live: a plain request reaches it (so zero below means zero).
    std::net::TcpStream::connect(("127.0.0.1", p)).unwrap();
    let waited = std::time::Instant::now();
    while trap.hits.load(Ordering::SeqCst) == 0 && waited.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        trap.hits.load(Ordering::SeqCst),
        1,
        "the pages fetched from the network"
    );

    // The Markdown summary: no HTML, no link made of the hostile text.
    let md = std::fs::read_to_string(the_file(&out, "report_", ".md")).unwrap();
    assert!(!md.contains("<img") && !md.contains("<iframe") && !md.contains("<script"));
    assert!(!md.contains("](http"), "{md}");
    assert!(!md.contains("http://"), "an autolink: {md}");
}

#[test]
fn long_lists_are_cut_and_say_where_the_rest_is_and_outliers_are_listed() {
    let mut inv = example();
    let account = account(&mut inv, "444444444444");
    let users = account["users"].as_array_mut().unwrap();
    // 2,100 console users without MFA: more findings and tasks than the page lists.
    for i in 0..2_100 {
        users.push(json!({
            "name": format!("user{i:04}"),
            "password": {"enabled": true, "last_used": "2026-03-01T00:00:00Z", "last_changed": "2026-01-01T00:00:00Z"}
        }));
    }
    // One key older than two years in this production account: an outlier.
    users.push(json!({
        "name": "zz-ancient",
        "password": {"enabled": false},
        "access_keys": [{"id": "AKIAZZANCIENTEXAMPLE", "status": "Active", "created": "2023-01-02T00:00:00Z",
                          "last_used": "2026-03-05T00:00:00Z", "last_used_service": "s3", "last_used_region": "us-east-1"}]
    }));
    users.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("inventory_20260306_120000.json");
    std::fs::write(&input, serde_json::to_string(&inv).unwrap()).unwrap();
    let out = dir.path().join("out");
    evaluate(&input, &out, &[]);
    let f = findings_json(&out);
    let total = f["findings"].as_array().unwrap().len();
    assert!(total > 2_100, "{total}");
    let page = the_file(&out, "report_", ".html");
    let dom = dom(&page);
    assert_eq!(dom.matches(" id=\"f-").count(), 2_000);
    assert!(dom.contains(&format!(
        "{} more not shown here: see the findings JSON.",
        total - 2_000
    )));
    assert!(dom.contains("more not shown here: see the remediation CSV."));
    // The outlier, counted and listed.
    assert_eq!(f["summary"]["metrics"]["all"]["outliers"], 1);
    assert!(dom.contains("Active keys older than two years in production accounts: 1."));
    assert!(dom.contains("AKIAZZANCIENTEXAMPLE"));
    // Still a page a browser draws in one piece.
    Shot::take(&page, 1300, 3000);

    // The Markdown summary lists the 50 most severe open findings and counts the rest.
    let md = std::fs::read_to_string(the_file(&out, "report_", ".md")).unwrap();
    let open: usize = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "open" && x["severity"] != "info")
        .count();
    let section = &md[md.find("## Most severe open findings").unwrap()..];
    // Up to the next section (remediation progress follows when the input has events).
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let rows = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| severity"))
        .count();
    assert_eq!(rows, 50);
    assert!(md.contains(&format!("\n{} more open finding(s)", open - 50)));
}

#[test]
fn the_markdown_summary_says_what_the_findings_json_says() {
    let out = tempfile::tempdir().unwrap();
    let code = evaluate(
        Path::new(EXAMPLE_JSON),
        out.path(),
        &["--waivers", "examples/waivers.yaml"],
    );
    assert_eq!(code, 3, "an example account is not audited");
    let f = findings_json(out.path());
    let md = std::fs::read_to_string(the_file(out.path(), "report_", ".md")).unwrap();
    let counts = open_counts(&f);
    let waived = f["waivers"]["waived_findings"].as_u64().unwrap();
    let row = format!(
        "| {} | {} | {} | {} | {} | {} |",
        counts[0].1, counts[1].1, counts[2].1, counts[3].1, counts[4].1, waived
    );
    assert!(md.contains(&row), "{row}\n{md}");
    assert!(md.contains("**Incomplete**"));
    for i in f["accounts"]["incomplete"].as_array().unwrap() {
        assert!(md.contains(&format!("| {} |", i["id"].as_str().unwrap())));
    }
    let m = &f["summary"]["metrics"];
    for a in m["accounts"].as_array().unwrap() {
        let pct = a["mfa_coverage_pct"]
            .as_f64()
            .map_or("n/a".into(), |p| format!("{p}%"));
        assert!(
            md.lines().any(|l| l
                .starts_with(&format!("| {} |", a["account_id"].as_str().unwrap()))
                && l.ends_with(&format!("| {pct} |"))),
            "{a}"
        );
    }
    let k = &m["all"]["active_key_age"];
    assert!(md.contains(&format!(
        "| {} | {} | {} | {} | {} |",
        k["0-30"], k["31-90"], k["91-365"], k["365+"], m["all"]["outliers"]
    )));
    // A waived finding is not among the open ones listed.
    for x in f["findings"].as_array().unwrap() {
        if x["status"] == "waived" {
            let key = x["access_key_id"]
                .as_str()
                .or(x["username"].as_str())
                .unwrap();
            let listed = md
                .lines()
                .filter(|l| l.contains(&format!("| {} |", x["rule_id"].as_str().unwrap())))
                .any(|l| l.contains(key));
            assert!(!listed, "{x}");
        }
    }
}

/// What CloudTrail adds to the page, drawn by Chromium: remediated findings marked with the
/// call that fixed them, the remediation progress with the seed's offboarding, and with
/// `--history` the trend of the runs (a line per series through one point per run).
#[test]
fn remediated_findings_progress_and_the_trend_are_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let mut page = PathBuf::new();
    for (i, as_of) in ["2026-02-06 12:00:00", "2026-03-06 12:00:00"]
        .iter()
        .enumerate()
    {
        let out = dir.path().join(format!("run{i}"));
        let o = bin()
            .args(["evaluate", "tests/data/remediated/report.csv"])
            .args(["--events", "tests/data/remediated/events.csv"])
            .args(["--events", "tests/data/remediated/cloudtrail.json"])
            .args([
                "--format",
                "html,json",
                "--fail-on",
                "none",
                "--as-of",
                as_of,
            ])
            .arg("--history")
            .arg(&history)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        page = the_file(&out, "report_", ".html");
    }
    let dom = dom(&page);
    // The fix of each remediated finding, on its row.
    for text in [
        "remediated: DeleteAccessKey by admin-user at 2026-03-01 10:30:00 UTC",
        "remediated: DeleteLoginProfile by security-team at 2026-03-01 10:31:00 UTC",
        "remediated: UpdateAccessKey by alice at 2026-03-04 08:00:00 UTC from 198.51.100.7",
    ] {
        assert!(dom.contains(text), "{text}");
    }
    // The progress section with the seed's offboarding, in order.
    let progress = &dom[dom.find("<section id=\"progress\">").unwrap()..];
    let progress = &progress[..progress.find("</section>").unwrap()];
    assert!(progress.contains("old-contractor"));
    assert!(progress.contains(
        "DeleteAccessKey AKIAIOSFODNN7EXAMPLE 2026-03-01 10:30 by admin-user → \
         DeleteLoginProfile 2026-03-01 10:31 by security-team → \
         DeleteUser 2026-03-02 14:20 by security-team"
    ));
    // The trend: two runs, a line through two points for each drawn series.
    let trend = &dom[dom.find("<section id=\"trend\">").unwrap()..];
    let trend = &trend[..trend.find("</section>").unwrap()];
    assert!(trend.contains("2 run(s) of the history"));
    let lines = trend.matches("<polyline").count();
    assert!(lines >= 3, "{trend}");
    for points in trend.split("points=\"").skip(1) {
        let points = &points[..points.find('"').unwrap()];
        assert_eq!(points.split(' ').count(), 2, "{points}");
    }
}
