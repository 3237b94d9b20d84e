//! Command-line interface: arguments, one module per command, and the one place where results
//! become exit codes.

pub mod args;
pub mod diff;
pub mod evaluate;
pub mod exit;
pub mod rules;
#[cfg(feature = "aws")]
pub mod scan;
pub mod trend;

use clap::FromArgMatches;

pub use args::*;

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
        Command::Trend(args) => trend::run(args),
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
