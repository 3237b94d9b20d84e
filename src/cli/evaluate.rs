//! `iam-audit evaluate`: the offline analysis of a stock CSV or an inventory JSON.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use regex::Regex;

use crate::analysis::metrics::Classifier;
use crate::cli::args::{CommonArgs, EvaluateArgs};
use crate::cli::exit::Outcome;
use crate::config::Config;
use crate::emit::{write_outputs, Format, OutputOptions};
use crate::error::Error;
use crate::inventory::time::{format_stamp, parse_date_or_time, stamp_in_file_name};
use crate::inventory::Inventory;
use crate::rules::params::ParamOverride;
use crate::rules::RuleSet;
use crate::run::{RunReport, RunSettings};
use crate::vocab::Severity;

/// Everything a run produced.
pub struct Run {
    pub report: RunReport,
    pub written: Vec<PathBuf>,
    pub skipped: Vec<PathBuf>,
    pub outcome: Outcome,
}

/// Settings resolved from flags, then the config file, then defaults.
pub struct Settings {
    pub rules: Vec<String>,
    pub overrides: Vec<ParamOverride>,
    pub out: PathBuf,
    pub formats: BTreeSet<Format>,
    pub fail_on: Option<Severity>,
    pub classifier: Classifier,
    pub sla: crate::analysis::remediation::SlaDays,
    pub stock_keys_only: bool,
    /// Findings JSON of an earlier run.
    pub baseline: Option<PathBuf>,
    /// Gate only on findings new since the baseline.
    pub new_only: bool,
    /// The waivers file's entries (read and checked up front), with `--waivers`.
    pub waivers: Option<Vec<crate::waivers::Located>>,
    pub sarif: crate::emit::SarifInclude,
    /// `--history FILE` and `--history-keep DAYS`.
    pub history: Option<(PathBuf, Option<u32>)>,
    /// Operations one rule may spend over the run (`--rule-budget-ops`, `rule_budget_ops`).
    pub rule_budget_ops: u64,
}

/// Parses `--fail-on critical|high|medium|low|none`.
pub fn parse_fail_on(s: &str) -> Result<Option<Severity>, Error> {
    crate::vocab::parse_fail_on(s).map_err(|e| Error::Usage(format!("--fail-on `{s}`: {e}")))
}

/// The packs to load and the param overrides, from `--rules` (else the config file's `rules`),
/// the config file's params, then `--param` (later overrides win).
pub fn rules_and_overrides(
    rules: &[String],
    config: Option<&Config>,
    params: &[String],
) -> Result<(Vec<String>, Vec<ParamOverride>), Error> {
    let mut overrides = config.map(|c| c.overrides.clone()).unwrap_or_default();
    for p in params {
        overrides.push(ParamOverride::parse_cli(p).map_err(Error::Usage)?);
    }
    let rules = if rules.is_empty() {
        config.map(|c| c.rules.clone()).unwrap_or_default()
    } else {
        rules.to_vec()
    };
    Ok((rules, overrides))
}

/// Resolves the common flags with the config file (validated as it is read).
pub fn settings(common: &CommonArgs) -> Result<Settings, Error> {
    let config = common.config.as_deref().map(Config::load).transpose()?;
    let cfg = config.as_ref();
    let (rules, overrides) = rules_and_overrides(&common.rules, cfg, &common.params)?;
    let formats = match &common.format {
        Some(f) => Format::parse_list(f).map_err(Error::Usage)?,
        None => cfg
            .and_then(|c| c.formats.clone())
            .unwrap_or_else(Format::all),
    };
    let fail_on = match &common.fail_on {
        Some(f) => parse_fail_on(f)?,
        None => cfg
            .and_then(|c| c.fail_on)
            .unwrap_or(Some(Severity::Critical)),
    };
    let name_pattern = match &common.production_accounts {
        Some(p) => {
            Regex::new(p).map_err(|e| Error::Usage(format!("production_accounts `{p}`: {e}")))?
        }
        None => cfg
            .and_then(|c| c.production_accounts.clone())
            .unwrap_or_else(|| Classifier::default().name_pattern),
    };
    Ok(Settings {
        rules,
        overrides,
        out: common
            .out
            .clone()
            .or_else(|| cfg.and_then(|c| c.out.clone()))
            .unwrap_or_else(|| PathBuf::from(".")),
        formats,
        fail_on,
        classifier: Classifier { name_pattern },
        sla: cfg.and_then(|c| c.sla_days).unwrap_or_default(),
        stock_keys_only: common.stock_keys_only,
        baseline: common.baseline.clone(),
        new_only: common.new_only,
        waivers: match common
            .waivers
            .clone()
            .or_else(|| cfg.and_then(|c| c.waivers.clone()))
        {
            Some(path) => {
                let waivers = crate::waivers::load(&path)?;
                for warning in crate::waivers::warnings(&waivers) {
                    tracing::warn!("{warning}");
                }
                Some(waivers)
            }
            None => None,
        },
        sarif: match &common.sarif_include {
            Some(list) => crate::emit::SarifInclude::parse(list).map_err(Error::Usage)?,
            None => crate::emit::SarifInclude::default(),
        },
        history: common.history.clone().map(|p| (p, common.history_keep)),
        rule_budget_ops: common
            .rule_budget_ops
            .or_else(|| cfg.and_then(|c| c.rule_budget_ops))
            .unwrap_or(crate::rules::script::DEFAULT_RULE_BUDGET_OPS),
    })
}

/// `as_of`: `--as-of`, else the stamp in the input's file name, else the inventory's
/// collection time, else now.
pub fn resolve_as_of(
    flag: Option<&str>,
    args: &EvaluateArgs,
    inv: &Inventory,
) -> Result<DateTime<Utc>, Error> {
    if let Some(s) = flag {
        return parse_date_or_time(s).ok_or_else(|| {
            Error::Usage(format!(
                "--as-of `{s}`: expected `YYYY-MM-DD HH:MM:SS`, ISO-8601 or `YYYY-MM-DD` (UTC)"
            ))
        });
    }
    // The stamp in the name of a single input file; else when the data was collected.
    let stamp = match args.input.as_slice() {
        [one] if one.is_file() => one
            .file_name()
            .and_then(|n| stamp_in_file_name(&n.to_string_lossy())),
        _ => None,
    };
    Ok(stamp.or(inv.collected_at).unwrap_or_else(Utc::now))
}

/// Resident memory in MB, for `-v` logs (Linux; 0 elsewhere).
fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

/// Runs `evaluate` and writes the outputs.
pub fn execute(args: &EvaluateArgs) -> Result<Run, Error> {
    let s = settings(&args.common)?;
    let ruleset = RuleSet::load(&s.rules)?;
    let compiled = ruleset.compile(&s.overrides)?;
    let started = std::time::Instant::now();
    let inv = crate::input::load(&crate::input::Inputs {
        inputs: args.input.clone(),
        events: args.events.clone(),
        root: args.root.clone(),
        accounts_file: args.accounts_file.clone(),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    })?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rss_mb = rss_mb(),
        "input read"
    );
    let as_of = resolve_as_of(args.common.as_of.as_deref(), args, &inv)?;
    let mut inputs = args.input.clone();
    inputs.extend(args.events.clone());
    inputs.extend(args.root.clone());
    inputs.extend(args.accounts_file.clone());
    analyze(inv, as_of, &s, &compiled, inputs)
}

/// Evaluates an inventory and writes every output: the part `evaluate` and `scan` share.
pub fn analyze(
    inv: Inventory,
    as_of: DateTime<Utc>,
    s: &Settings,
    compiled: &crate::rules::CompiledRules,
    inputs: Vec<PathBuf>,
) -> Result<Run, Error> {
    tracing::info!(
        accounts = inv.accounts.len(),
        users = inv.user_count(),
        keys = inv.key_count(),
        "inventory loaded"
    );
    // The baseline is read before the work, so a wrong path fails fast.
    let baseline = match &s.baseline {
        Some(p) if crate::history::is_history(p) => {
            Some((p.clone(), baseline_from_history(p, as_of, compiled)?))
        }
        Some(p) => Some((p.clone(), crate::baseline::load(p)?)),
        None => None,
    };
    // The baseline is an input too: an output at its path is not written over it.
    let mut inputs = inputs;
    inputs.extend(s.baseline.clone());
    compiled.set_rule_budget_ops(s.rule_budget_ops);
    let started = std::time::Instant::now();
    let report = crate::run::run(
        inv,
        compiled,
        &RunSettings {
            as_of,
            classifier: s.classifier.clone(),
            fail_on: s.fail_on,
            new_only: s.new_only,
            waivers: s.waivers.clone(),
            baseline,
            sla: s.sla,
        },
    );
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        findings = report.findings.len(),
        rss_mb = rss_mb(),
        "rules evaluated"
    );
    let outcome = Outcome::from(&report.gate);
    // The trend the HTML report draws: the history as it is and this run's line.
    let history = match &s.history {
        Some((path, keep)) if s.formats.iter().any(|f| f.name() == "html") => {
            Some(history_with(&report, path, *keep)?)
        }
        _ => None,
    };
    let started = std::time::Instant::now();
    let (written, skipped) = write_outputs(
        &report,
        &s.formats,
        &OutputOptions {
            out_dir: s.out.clone(),
            stamp: format_stamp(&as_of),
            stock_keys_only: s.stock_keys_only,
            inputs,
            sarif: s.sarif,
            history,
        },
    )?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rss_mb = rss_mb(),
        "outputs written"
    );
    if let Some((path, keep)) = &s.history {
        crate::history::record(&report, path, *keep)?;
        tracing::info!(history = %path.display(), "run recorded");
    }
    Ok(Run {
        report,
        written,
        skipped,
        outcome,
    })
}

/// The baseline of a run taken from a run history: its last line with an as_of before
/// `as_of` (on a tie, the later in the file).
fn baseline_from_history(
    path: &std::path::Path,
    as_of: DateTime<Utc>,
    compiled: &crate::rules::CompiledRules,
) -> Result<crate::wire::FindingsV1, Error> {
    let history = crate::history::read_warned(path)?;
    let line = history
        .lines
        .iter()
        .filter(|l| l.as_of < as_of)
        .max_by_key(|l| l.as_of)
        .ok_or_else(|| {
            crate::error::InputError::new(
                path,
                format!(
                    "the run history has no run before {} ({} line(s)) to take as the baseline: \
                     run once without --baseline, or pass an earlier findings JSON",
                    as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    history.lines.len()
                ),
            )
        })?;
    tracing::info!(history = %path.display(), as_of = %line.as_of, "baseline from the run history");
    Ok(crate::baseline::from_history(line, |id| {
        compiled
            .rules
            .iter()
            .find(|r| r.rule.id == id)
            .map(|r| (r.rule.title.clone(), r.rule.scope))
    }))
}

/// The history's lines (within `--history-keep` of this run) with this run's own line, oldest
/// first: what the HTML report draws.
fn history_with(
    report: &RunReport,
    path: &std::path::Path,
    keep: Option<u32>,
) -> Result<Vec<crate::wire::HistoryLineV1>, Error> {
    let before = crate::history::read(path)?;
    let line = crate::history::line_of(report, &before);
    let cutoff = keep.map(|d| report.as_of - chrono::Duration::days(i64::from(d)));
    let mut lines: Vec<_> = before
        .lines
        .into_iter()
        .filter(|l| cutoff.is_none_or(|c| l.as_of >= c))
        .collect();
    lines.push(line);
    lines.sort_by_key(|l| l.as_of);
    Ok(lines)
}

/// Prints the terminal summary of a run on stderr.
pub fn print_summary(run: &Run) {
    eprint!(
        "{}",
        crate::emit::summary::render(&run.report, &run.written, &run.skipped)
    );
}

/// The command: runs, prints the summary on stderr, returns the outcome.
pub fn run(args: &EvaluateArgs, quiet: bool) -> Result<Outcome, Error> {
    let run = execute(args)?;
    if !quiet {
        print_summary(&run);
    }
    let Run {
        outcome, report, ..
    } = run;
    // The process ends right after: handing a million-record report back to the allocator one
    // piece at a time would only delay the exit.
    std::mem::forget(report);
    Ok(outcome)
}
