//! Command-line interface: arguments, one module per command, and the one place where results
//! become exit codes.

pub mod diff;
pub mod evaluate;
pub mod exit;
pub mod rules;
#[cfg(feature = "aws")]
pub mod scan;

use clap::{Args, FromArgMatches, Parser, Subcommand};
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
    /// Evaluate rules offline on a stock CSV report (with its events CSV) or an inventory JSON.
    Evaluate(EvaluateArgs),
    /// Collect every account of the AWS Organization, evaluate, write all outputs.
    #[cfg(feature = "aws")]
    Scan(ScanArgs),
    /// Compare two runs' findings JSON: new, resolved, unchanged findings and metric changes.
    Diff(DiffArgs),
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
    /// Role assumed in each member account.
    #[arg(long, default_value = "OrganizationAccountAccessRole")]
    pub role_name: String,
    /// External id required by the role's trust policy.
    #[arg(long)]
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
    /// Accounts collected at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Days of CloudTrail history (at most 90, the LookupEvents maximum).
    #[arg(long, default_value_t = 90)]
    pub cloudtrail_days: u32,
    /// Region where CloudTrail records IAM events (default: the IAM region of the caller's
    /// partition: us-east-1, us-gov-west-1 or cn-north-1); also the SDK's region when the
    /// environment and profile set none.
    #[arg(long, value_parser = parse_region)]
    pub region: Option<String>,
    /// Seconds to wait for an account's credential report before falling back to per-user
    /// calls.
    #[arg(long, default_value_t = 120)]
    pub report_deadline: u64,
    /// Seconds one account may take in all; past it the account is reported as not audited.
    #[arg(long, default_value_t = 900)]
    pub account_deadline: u64,
    /// Seconds one attempt of an AWS call may take (a call with its retries: six times that).
    #[arg(long, default_value_t = 30)]
    pub call_timeout: u64,
    /// Send every AWS call to this endpoint (the SDK's AWS_ENDPOINT_URL* variables work too).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
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
    /// Findings JSON of an earlier run: each finding is marked new or unchanged, and the
    /// findings that are gone are listed as resolved.
    #[arg(long, value_name = "OLD_findings.json")]
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
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// `iam_audit_report_<stamp>.csv` or `inventory_<stamp>.json`.
    pub input: PathBuf,
    /// `cloudtrail_events_<stamp>.csv` to evaluate event rules (with a CSV input).
    #[arg(long, value_name = "EVENTS.csv")]
    pub events: Option<PathBuf>,
    /// `root_audit_report_<stamp>.csv` with root credentials (with a CSV input).
    #[arg(long, value_name = "ROOT.csv")]
    pub root: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The command line, with the `--format` help made from the registered output formats.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let format = |c: clap::Command| {
        c.mut_arg("format", |a| {
            a.help(crate::emit::Format::help())
                .long_help(crate::emit::Format::long_help())
        })
    };
    let cmd = Cli::command().mut_subcommand("evaluate", format);
    #[cfg(feature = "aws")]
    let cmd = cmd.mut_subcommand("scan", format);
    cmd
}

/// Parses the arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> std::process::ExitCode {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    init_logging(cli.verbose, cli.quiet);
    let outcome = match &cli.command {
        Command::Evaluate(args) => evaluate::run(args, cli.quiet),
        #[cfg(feature = "aws")]
        Command::Scan(args) => scan::run(args, cli.quiet),
        Command::Diff(args) => diff::run(args),
        Command::Rules(command) => rules::run(command),
    };
    exit::report(outcome)
}

/// The crates whose logs stay at warn at most, whatever `-v` or `IAM_AUDIT_LOG` ask for: the
/// AWS SDK (`aws_config`, `aws_sdk_*`, `aws_smithy_*`, `aws_sigv4`, `aws_credential_types`,
/// `aws_runtime`, `aws_types`, ...) and the HTTP and TLS stack under it. At debug and trace
/// they print requests, and request bodies carry SSO bearer tokens and web-identity tokens.
/// Each name also covers the crates named after it with a `_` (`hyper` covers `hyper_util`).
const CAPPED_CRATES: [&str; 6] = ["aws", "hyper", "h2", "rustls", "reqwest", "tower"];

/// The SDK's variables that make it log request and response bodies, secrets included.
const SDK_BODY_LOG_VARS: [&str; 2] = ["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"];

/// Whether an event or span of `target` at `level` may be logged at all: the
/// [`CAPPED_CRATES`] only at warn and error, everything else as the user's filter says.
fn log_allowed(target: &str, level: tracing::Level) -> bool {
    if level <= tracing::Level::WARN {
        return true;
    }
    let krate = target.split("::").next().unwrap_or(target);
    !CAPPED_CRATES.iter().any(|c| {
        krate == *c
            || krate
                .strip_prefix(c)
                .is_some_and(|rest| rest.starts_with('_'))
    })
}

/// The subscriber: the user's filter, then the cap of [`log_allowed`], which no directive of
/// the user's filter can lift (both must let an event through).
fn subscriber<W>(
    filter: tracing_subscriber::EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::FilterExt;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;
    let cap =
        tracing_subscriber::filter::filter_fn(|meta| log_allowed(meta.target(), *meta.level()));
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(false)
            .without_time()
            .with_filter(filter.and(cap)),
    )
}

/// The warning for the [`SDK_BODY_LOG_VARS`] that are set (their values are never shown).
fn body_log_warning(is_set: impl Fn(&str) -> bool) -> Option<String> {
    let set: Vec<&str> = SDK_BODY_LOG_VARS
        .into_iter()
        .filter(|v| is_set(v))
        .collect();
    let (names, verb, these, it) = match set.as_slice() {
        [] => return None,
        [one] => (one.to_string(), "is", "this variable makes", "it"),
        more => (more.join(" and "), "are", "these variables make", "them"),
    };
    Some(format!(
        "{names} {verb} set: iam-audit keeps the AWS SDK's logs at warn, but {these} the SDK \
         able to log secrets (request and response bodies); unset {it}"
    ))
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("IAM_AUDIT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing::subscriber::set_global_default(subscriber(filter, std::io::stderr));
    if let Some(warning) = body_log_warning(|v| std::env::var_os(v).is_some()) {
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_sdk_and_its_http_stack_log_at_warn_at_most() {
        for target in [
            "aws_smithy_runtime::client",
            "aws_smithy_runtime::client::orchestrator",
            "aws_smithy_http_client::hyper_legacy",
            "aws_config::sso::token",
            "aws_config",
            "aws_sdk_sts::operation::assume_role_with_web_identity",
            "aws_sdk_iam",
            "aws_sigv4::http_request::sign",
            "aws_credential_types::provider",
            "aws_runtime::retries",
            "aws_types",
            "hyper",
            "hyper::proto::h1::io",
            "hyper_util::client::legacy::connect::http",
            "h2::codec",
            "rustls::client::hs",
            "reqwest::connect",
            "tower::buffer",
        ] {
            for level in [Level::TRACE, Level::DEBUG, Level::INFO] {
                assert!(!log_allowed(target, level), "{target} {level}");
            }
            for level in [Level::WARN, Level::ERROR] {
                assert!(log_allowed(target, level), "{target} {level}");
            }
        }
    }

    #[test]
    fn iam_audits_own_logs_and_lookalike_names_are_not_capped() {
        for target in [
            "iam_audit::collect",
            "iam_audit",
            "awsome",
            "hyperloop",
            "h2o",
        ] {
            for level in [Level::TRACE, Level::DEBUG, Level::INFO, Level::WARN] {
                assert!(log_allowed(target, level), "{target} {level}");
            }
        }
    }

    /// What the subscriber writes for a filter, given events of iam-audit and of the SDK.
    fn logged(filter: &str) -> String {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let filter = tracing_subscriber::EnvFilter::new(filter);
        tracing::subscriber::with_default(subscriber(filter, move || buf.clone()), || {
            tracing::trace!(target: "iam_audit::collect", "own trace");
            tracing::debug!(target: "iam_audit::collect", "own debug");
            let span = tracing::trace_span!(target: "aws_smithy_runtime::client", "sdk_span");
            let _entered = span.enter();
            tracing::trace!(target: "aws_smithy_runtime::client", "sdk trace body=token");
            tracing::debug!(target: "aws_sigv4::http_request", "sdk debug canonical");
            tracing::info!(target: "hyper_util::client", "sdk info");
            tracing::warn!(target: "aws_config::sso", "sdk warn");
            tracing::error!(target: "aws_smithy_runtime::client", "sdk error");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn no_filter_lifts_the_cap() {
        for filter in [
            "trace",
            "debug",
            "aws_smithy_runtime=trace,aws_sigv4=trace,hyper_util=trace,trace",
            "aws_smithy_runtime::client=trace,iam_audit=trace,warn",
            "[sdk_span]=trace,trace",
        ] {
            let text = logged(filter);
            for dropped in ["sdk trace", "sdk debug", "sdk info", "sdk_span"] {
                assert!(!text.contains(dropped), "{filter}: {dropped} in {text}");
            }
            for kept in ["sdk warn", "sdk error", "own debug"] {
                assert!(text.contains(kept), "{filter}: no {kept} in {text}");
            }
        }
        assert!(logged("trace").contains("own trace"));
        assert!(!logged("info").contains("own debug"));
    }

    #[test]
    fn body_logging_variables_are_named_never_their_values() {
        assert_eq!(body_log_warning(|_| false), None);
        let one = body_log_warning(|v| v == "LOG_SENSITIVE_BODIES").unwrap();
        assert!(one.starts_with("LOG_SENSITIVE_BODIES is set: "), "{one}");
        assert!(one.contains("warn") && one.contains("unset"), "{one}");
        assert!(!one.contains("LOG_SIGNABLE_BODY"), "{one}");
        let both = body_log_warning(|_| true).unwrap();
        assert!(
            both.starts_with("LOG_SENSITIVE_BODIES and LOG_SIGNABLE_BODY are set: "),
            "{both}"
        );
    }
}
