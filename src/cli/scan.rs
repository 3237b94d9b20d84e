//! `iam-audit scan`: collect the Organization live, then the same analysis and outputs as
//! `evaluate`.

use std::collections::BTreeSet;
use std::io::IsTerminal;

use chrono::{SubsecRound, Utc};

use crate::cli::args::ScanArgs;
use crate::cli::evaluate::{analyze, settings};
use crate::cli::exit::Outcome;
use crate::collect::options::TrailLocation;
use crate::collect::{scan, ScanError, ScanOptions};
use crate::error::Error;
use crate::rules::RuleSet;

fn ids(list: &[String]) -> Result<BTreeSet<String>, Error> {
    list.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(s)
            } else {
                Err(Error::Usage(format!("`{s}` is not a 12-digit account id")))
            }
        })
        .collect()
}

/// The external id as STS takes it (2-1224 characters of `[\w+=,.@:/-]`). The error never
/// shows the value: it is a secret.
fn external_id(id: Option<&str>) -> Result<Option<String>, Error> {
    let Some(id) = id else { return Ok(None) };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@:/_-".contains(c);
    if (2..=1224).contains(&id.len()) && id.chars().all(ok_char) {
        Ok(Some(id.to_string()))
    } else {
        Err(Error::Usage(
            "--external-id (or IAM_AUDIT_EXTERNAL_ID): expected 2 to 1224 characters, each a \
             letter, a digit or one of +=,.@:/_- (the value is not shown)"
                .into(),
        ))
    }
}

/// Runs the scan, prints the summary, returns the outcome.
pub fn run(args: &ScanArgs, quiet: bool) -> Result<Outcome, Error> {
    if args.common.as_of.is_some() {
        return Err(Error::Usage(
            "--as-of applies to `evaluate`; a scan measures every age from its own start".into(),
        ));
    }
    let s = settings(&args.common)?;
    let compiled = RuleSet::load(&s.rules)?.compile(&s.overrides)?;
    let cloudtrail_s3 = args
        .cloudtrail_s3
        .as_deref()
        .map(TrailLocation::parse)
        .transpose()
        .map_err(|e| Error::Usage(format!("--cloudtrail-s3: {e}")))?;
    let opts = ScanOptions {
        profile: args.profile.clone(),
        endpoint_url: args.endpoint_url.clone(),
        role_name: args.role_name.clone(),
        external_id: external_id(args.external_id.as_deref())?,
        session_name: args.session_name.clone(),
        accounts: ids(&args.accounts)?,
        exclude_accounts: ids(&args.exclude_accounts)?,
        ou: args.ou.clone(),
        // The numbers were checked as the command line was parsed (`cli::args`): each is
        // within its range, so no duration or date below can overflow.
        concurrency: args.concurrency,
        // LookupEvents keeps 90 days; the trail's bucket what its lifecycle keeps.
        cloudtrail_days: if cloudtrail_s3.is_some() {
            args.cloudtrail_days
        } else {
            args.cloudtrail_days.min(90)
        },
        cloudtrail_s3,
        cloudtrail_role: args.cloudtrail_role.clone(),
        cloudtrail_regions: args.cloudtrail_regions.clone(),
        region: args.region.clone(),
        report_deadline: std::time::Duration::from_secs(args.report_deadline),
        account_deadline: std::time::Duration::from_secs(args.account_deadline),
        call_timeout: std::time::Duration::from_secs(args.call_timeout),
        ..ScanOptions::default()
    };
    if opts.cloudtrail_s3.is_none() && args.cloudtrail_days > 90 {
        tracing::warn!(
            "--cloudtrail-days {}: LookupEvents keeps 90 days, so 90 are read; \
             --cloudtrail-s3 reads more from the organization trail",
            args.cloudtrail_days
        );
    }
    let as_of = Utc::now().trunc_subsecs(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ScanError::Runtime)?;
    // A progress bar on stderr, only when a person is watching it.
    let progress = if !quiet && std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let scanned = runtime.block_on(async {
        tokio::select! {
            r = scan(&opts, as_of, &progress) => r,
            _ = tokio::signal::ctrl_c() => Err(ScanError::Interrupted),
        }
    });
    progress.finish_and_clear();
    let inv = scanned?;
    let run = analyze(inv, as_of, &s, &compiled, Vec::new())?;
    if !quiet {
        crate::cli::evaluate::print_summary(&run);
    }
    Ok(run.outcome)
}
