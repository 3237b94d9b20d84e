//! The command line's arguments: one struct per command, the flags they share.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Audit IAM credentials across every account of an AWS Organization.
#[derive(Debug, Parser)]
#[command(name = "iam-audit", version, about, long_about = None)]
pub struct Cli {
    /// Print nothing but errors (no summary table).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More log output on stderr (-v, -vv).
    #[arg(long, short, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the largest variant does not matter (without the
// `aws` feature, `Evaluate` is much larger than the others).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate rules offline on files you hold: inventories, stock reports, credential reports,
    /// CloudTrail files.
    Evaluate(EvaluateArgs),
    /// Collect every account of the AWS Organization, evaluate, write all outputs.
    #[cfg(feature = "aws")]
    Scan(ScanArgs),
    /// Compare two runs' findings JSON: new, resolved, unchanged findings and metric changes.
    Diff(DiffArgs),
    /// The run history (`--history FILE`) per run, week or month: MFA coverage, key ages, open
    /// findings, new and resolved, time to remediate.
    #[command(after_long_help = crate::cli::args::TREND_HELP)]
    Trend(TrendArgs),
    /// Rule authoring: list, show, validate and test rule packs.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run's `findings_<stamp>.json`.
    pub old: PathBuf,
    /// The later run's `findings_<stamp>.json`.
    pub new: PathBuf,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Also list the unchanged findings in the table.
    #[arg(long)]
    pub unchanged: bool,
}

#[derive(Debug, Args)]
pub struct TrendArgs {
    /// The history file that `--history` appends to (JSON Lines).
    #[arg(value_name = "HISTORY.jsonl")]
    pub history: PathBuf,
    /// One row per run, per ISO week or per calendar month (UTC); the last run of a week or
    /// month represents it.
    #[arg(long, value_enum, default_value_t = TrendBy::Month)]
    pub by: TrendBy,
    /// table (aligned text), json (versioned, schemas/trend.schema.json) or md (a Markdown
    /// table).
    #[arg(long, value_enum, default_value_t = TrendFormat::Table)]
    pub format: TrendFormat,
    /// Write to this file (created 0600, atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `trend --by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrendBy {
    Run,
    Week,
    Month,
}

/// `trend --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrendFormat {
    Table,
    Json,
    Md,
}

/// How `trend` computes its columns (the end of `trend --help`).
pub const TREND_HELP: &str = "\
Columns (of the run that represents each period: the last one):
  MFA coverage of console users (organization, production), console users, active keys
  by age (0-30, 31-90, 91-365, 365+ days; 365+ is the keys older than 365 days), open
  findings by severity.
New and resolved: between consecutive runs, summed over the runs of the period (the first
run of the history: everything open is new).
Time to remediate (days, by severity): a finding open in one run and not in the next was
resolved at that next run's as_of; its time is that as_of minus its first-seen time. Mean
and 90th percentile (nearest rank: the ceil(0.9 n)-th smallest), of the findings resolved
in the period; the JSON also gives them over the whole history.
Damaged history lines are skipped with a warning naming file:line. No line: exit 2.
";

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// List the rules of the loaded packs (id, scope, severity, pack, title).
    List(RulesListArgs),
    /// Everything about one rule: metadata, params (default and effective), condition, fixtures.
    Show(RulesShowArgs),
    /// Check packs and report every problem at once, each with file:line:col (exit 2 on any).
    Validate(RulesValidateArgs),
    /// Run the packs' fixtures: a pass/fail matrix and a diff per failure (exit 1 on failure).
    Test(RulesTestArgs),
}

/// Which packs `rules list` and `rules show` look at.
#[derive(Debug, Args)]
pub struct PackArgs {
    /// Rule pack: a pack folder or `builtin:NAME` (repeatable; default builtin:stock).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<String>,
    /// Config file (its `rules` and params).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RulesListArgs {
    #[command(flatten)]
    pub packs: PackArgs,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct RulesShowArgs {
    /// The rule id.
    pub id: String,
    #[command(flatten)]
    pub packs: PackArgs,
    /// Override a param, to see its effective value: NAME=VALUE or RULE-ID.NAME=VALUE.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// text or json.
    #[arg(long, default_value = "text")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct RulesValidateArgs {
    /// Pack folders (or a file in one), or `builtin:NAME`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RulesTestArgs {
    /// Pack folders, fixture files (`<pack>/tests/<rule>.yaml`), or `builtin:NAME`.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Only the fixtures of this rule (repeatable).
    #[arg(long, value_name = "RULE-ID")]
    pub rule: Vec<String>,
}

/// Flags of `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// AWS profile (else the default credential chain: environment, SSO, instance role).
    #[arg(long)]
    pub profile: Option<String>,
    /// Role assumed in each member account: the least-privilege audit role of `deploy/`.
    #[arg(long, default_value = "IamAuditRole")]
    pub role_name: String,
    /// External id required by the role's trust policy (2-1224 characters: letters, digits
    /// and `+=,.@:/_-`). Prefer the environment variable: a command line shows in `ps` and
    /// in shell history.
    #[arg(
        long,
        value_name = "ID",
        env = "IAM_AUDIT_EXTERNAL_ID",
        hide_env_values = true
    )]
    pub external_id: Option<String>,
    /// Session name of the assumed roles, as CloudTrail records it in each member account
    /// (2-64 characters: letters, digits and `+=,.@_-`).
    #[arg(long, default_value = "iam-audit", value_parser = parse_session_name)]
    pub session_name: String,
    /// Only these account ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// Skip these account ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude_accounts: Vec<String>,
    /// Only accounts under this OU (id or name).
    #[arg(long)]
    pub ou: Option<String>,
    /// Accounts collected at once, at most 64 (the caller's STS and Organizations rate limits
    /// are shared by every account).
    #[arg(long, value_name = "N", default_value_t = 8, allow_negative_numbers = true,
          value_parser = parse_concurrency)]
    pub concurrency: usize,
    /// Days of CloudTrail history, 1 to 36500: at most 90 are read with LookupEvents (its
    /// maximum); with --cloudtrail-s3, as many as the trail's bucket keeps.
    #[arg(long, value_name = "DAYS", default_value_t = 90, allow_negative_numbers = true,
          value_parser = parse_days)]
    pub cloudtrail_days: u32,
    /// Read CloudTrail from the organization trail's bucket instead of LookupEvents:
    /// s3://BUCKET/PREFIX (the trail's S3 key prefix, before /AWSLogs/). Only the log files of
    /// the days of --cloudtrail-days and of the IAM events region are read (see
    /// --cloudtrail-regions), as the caller or as --cloudtrail-role.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub cloudtrail_s3: Option<String>,
    /// Role ARN to read the trail's bucket with (e.g. in the log archive account), assumed
    /// with --external-id and --session-name; default: the caller's own credentials.
    #[arg(long, value_name = "ROLE-ARN", requires = "cloudtrail_s3", value_parser = parse_role_arn)]
    pub cloudtrail_role: Option<String>,
    /// Regions of the trail to read, comma-separated, or `all` (every region folder: sign-ins
    /// recorded outside the IAM region) [default: the IAM events region, where IAM and root
    /// sign-in events are recorded].
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "cloudtrail_s3", value_parser = parse_trail_region)]
    pub cloudtrail_regions: Vec<String>,
    /// Region where CloudTrail records IAM events (default: the IAM region of the caller's
    /// partition: us-east-1, us-gov-west-1 or cn-north-1); also the SDK's region when the
    /// environment and profile set none.
    #[arg(long, value_parser = parse_region)]
    pub region: Option<String>,
    /// Seconds to wait for an account's credential report before falling back to per-user
    /// calls (1 to 86400).
    #[arg(long, value_name = "SECONDS", default_value_t = 120, allow_negative_numbers = true,
          value_parser = parse_deadline)]
    pub report_deadline: u64,
    /// Seconds each data source of one account (and the role assumption) may take, 1 to
    /// 86400; past it that source is reported as not finished and what the others read is kept.
    #[arg(long, value_name = "SECONDS", default_value_t = 900, allow_negative_numbers = true,
          value_parser = parse_deadline)]
    pub account_deadline: u64,
    /// Seconds one attempt of an AWS call may take, 1 to 3600 (a call with its retries: six
    /// times that).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, allow_negative_numbers = true,
          value_parser = parse_call_timeout)]
    pub call_timeout: u64,
    /// Send every AWS call to this endpoint (the SDK's AWS_ENDPOINT_URL* variables work too).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The largest `--concurrency`: accounts collected at once.
pub const MAX_CONCURRENCY: u64 = 64;
/// The largest number of days a flag or the config file accepts (`--cloudtrail-days`,
/// `--history-keep`, `sla_days`): 100 years.
pub const MAX_DAYS: u64 = 36_500;
/// The largest `--call-timeout`, in seconds: an hour.
pub const MAX_CALL_TIMEOUT: u64 = 3_600;
/// The largest `--report-deadline` and `--account-deadline`, in seconds: a day.
pub const MAX_DEADLINE: u64 = 86_400;

/// A whole number from 1 to `max` (no sign, no exponent, no fraction); the error names the
/// range (clap names the flag).
fn whole(s: &str, max: u64, unit: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number {unit}from 1 to {max}")),
    }
}

/// `--concurrency`: 1 to [`MAX_CONCURRENCY`].
fn parse_concurrency(s: &str) -> Result<usize, String> {
    whole(s, MAX_CONCURRENCY, "").and_then(|n| usize::try_from(n).map_err(|e| e.to_string()))
}

/// A number of days: 1 to [`MAX_DAYS`].
fn parse_days(s: &str) -> Result<u32, String> {
    whole(s, MAX_DAYS, "of days ").and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
}

/// `--call-timeout`: 1 to [`MAX_CALL_TIMEOUT`] seconds.
fn parse_call_timeout(s: &str) -> Result<u64, String> {
    whole(s, MAX_CALL_TIMEOUT, "of seconds ")
}

/// `--report-deadline`, `--account-deadline`: 1 to [`MAX_DEADLINE`] seconds.
fn parse_deadline(s: &str) -> Result<u64, String> {
    whole(s, MAX_DEADLINE, "of seconds ")
}

/// An IAM role ARN (`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME`).
fn parse_role_arn(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a role ARN (arn:aws:iam::123456789012:role/NAME)"
        ))
    }
}

/// A region name, or `all`.
fn parse_trail_region(s: &str) -> Result<String, String> {
    if s == "all" {
        Ok(s.to_string())
    } else {
        parse_region(s)
    }
}

/// An AWS region name (`us-east-1`, `us-gov-west-1`, `cn-north-1`, ...).
fn parse_region(s: &str) -> Result<String, String> {
    let ok = (4..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.contains('-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("`{s}` is not an AWS region name (e.g. us-east-1)"))
    }
}

/// An STS role session name: what AssumeRole accepts (`[\w+=,.@-]{2,64}`).
fn parse_session_name(s: &str) -> Result<String, String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    if (2..=64).contains(&s.len()) && s.chars().all(ok_char) {
        Ok(s.to_string())
    } else {
        Err("2 to 64 characters, each a letter, a digit or one of +=,.@_-".into())
    }
}

/// Flags shared by the commands that evaluate rules.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Rule pack to load: a pack folder or `builtin:NAME` (repeatable; default builtin:stock).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<String>,
    /// Config file (YAML): rules, params, production_accounts, fail_on, format, out, sla_days.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override a param: NAME=VALUE for every rule, or RULE-ID.NAME=VALUE for one rule.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Output folder [default: .]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Output formats, comma-separated (the help lists the registered ones; see
    /// [`crate::emit::EMITTERS`]).
    #[arg(long, value_name = "LIST")]
    pub format: Option<String>,
    /// Exit 1 when a finding is at or above this severity: critical, high, medium, low, none
    /// [default: critical]
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// The instant ages are measured from (`YYYY-MM-DD HH:MM:SS`, ISO-8601, or `YYYY-MM-DD`).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Regular expression for production account names [default: (?i)prod]
    #[arg(long, value_name = "REGEX")]
    pub production_accounts: Option<String>,
    /// Write the stock report as the original tool did: key rows only (no N/A rows for users
    /// without keys).
    #[arg(long)]
    pub stock_keys_only: bool,
    /// Findings JSON of an earlier run, or a run history (`--history` file, told by content:
    /// its last line before this run's as_of is the baseline): each finding is marked new or
    /// unchanged, and the findings that are gone are listed as resolved.
    #[arg(long, value_name = "OLD_findings.json|HISTORY.jsonl")]
    pub baseline: Option<PathBuf>,
    /// Gate (--fail-on) only on findings that are new since --baseline.
    #[arg(long, requires = "baseline")]
    pub new_only: bool,
    /// Waivers file (YAML): findings accepted by an owner for a reason until a date.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Also put these in the SARIF file, comma-separated: info, waived [default: neither]
    #[arg(long, value_name = "LIST")]
    pub sarif_include: Option<String>,
    /// Append one JSON line for this run to this history file (JSON Lines; created if
    /// missing; safe with two runs at once): what `trend` and time-to-remediate read.
    #[arg(long, value_name = "HISTORY.jsonl")]
    pub history: Option<PathBuf>,
    /// With --history: drop lines older than this many days before this run's as_of (1 to
    /// 36500).
    #[arg(long, value_name = "DAYS", requires = "history", allow_negative_numbers = true,
          value_parser = parse_days)]
    pub history_keep: Option<u32>,
    /// Rhai operations one rule may spend over the whole run; a rule over it is stopped and
    /// reported as a rule error (exit 2) [default: 1000000000]
    #[arg(long, value_name = "N", value_parser = parse_rule_budget_ops)]
    pub rule_budget_ops: Option<u64>,
}

fn parse_rule_budget_ops(s: &str) -> Result<u64, String> {
    crate::rules::script::parse_rule_budget_ops(s)
}

#[derive(Debug, Args)]
#[command(
    after_long_help = crate::cli::args::EVALUATE_FORMATS,
    after_help = "Every accepted format, with how to obtain it with the AWS CLI: --help"
)]
pub struct EvaluateArgs {
    /// What to evaluate: `inventory_<stamp>.json`, `iam_audit_report_<stamp>.csv`, AWS IAM
    /// credential reports (CSV or `aws iam get-credential-report` JSON, one per account), or
    /// folders of them. Several inputs are evaluated as one (an account found twice: the
    /// newest collection is used, with a warning).
    #[arg(required = true, num_args = 1.., value_name = "INPUT")]
    pub input: Vec<PathBuf>,
    /// Events: `cloudtrail_events_<stamp>.csv`, or CloudTrail files — log files (`.json`,
    /// `.json.gz`), folders and organization-trail trees, `aws cloudtrail lookup-events`
    /// output, JSON Lines. Repeatable.
    #[arg(long, value_name = "FILE_OR_FOLDER")]
    pub events: Vec<PathBuf>,
    /// `root_audit_report_<stamp>.csv` with root credentials (with a stock report CSV).
    #[arg(long, value_name = "ROOT.csv")]
    pub root: Option<PathBuf>,
    /// `aws organizations list-accounts` output: account names for credential reports and
    /// CloudTrail events, and the accounts no input covers (listed as not audited).
    #[arg(long, value_name = "ACCOUNTS.json")]
    pub accounts_file: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The formats `evaluate` reads, with how to obtain each (the end of `evaluate --help`).
pub const EVALUATE_FORMATS: &str = "\
Accepted inputs (told by content, not by file name), and how to obtain them:
  inventory_<stamp>.json
      iam-audit scan --out DIR
  iam_audit_report_<stamp>.csv (with --events cloudtrail_events_<stamp>.csv
  and --root root_audit_report_<stamp>.csv)
      the stock reports of the original tool
  IAM credential report, CSV (one per account)
      aws iam generate-credential-report
      aws iam get-credential-report --query Content --output text | base64 -d > 111111111111.csv
      (or the console: IAM > Credential report > Download report)
  IAM credential report, JSON (one per account; its GeneratedTime is the run's as_of)
      aws iam get-credential-report > 111111111111.json
  a folder of any of these; several inputs (evaluated as one report)

Accepted --events (repeatable):
  cloudtrail_events_<stamp>.csv
      the stock events report
  CloudTrail log files (.json.gz, .json), a folder, an organization trail's tree
      aws s3 sync s3://BUCKET/AWSLogs/ logs/
  lookup-events output
      aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateAccessKey > events.json
  JSON Lines: one CloudTrail record per line (data-lake exports)

--accounts-file (account names; accounts no input covers):
      aws organizations list-accounts > accounts.json
";
