//! CloudTrail, in each audited account: the IAM events of the last `--cloudtrail-days`
//! (LookupEvents, one event name at a time, rate-limited), in the region where IAM events are
//! recorded. Records are parsed by [`crate::input::cloudtrail_record`].

use std::time::Duration;

use aws_config::Region;
use chrono::{DateTime, Utc};

use crate::collect::error::CollectError;
use crate::collect::needs::{Needs, Principal};
use crate::collect::options::ScanOptions;
use crate::collect::org::OrgAccount;
use crate::collect::pages::Pages;
use crate::collect::source::chrono_time;
use crate::collect::source::{AccountContext, AccountSource, Collected, SourceFuture};
use crate::inventory::{DataSource, Event};

/// The CloudTrail events of one account. Not essential: without them the account is partial.
pub struct CloudTrail;

impl AccountSource for CloudTrail {
    fn data_source(&self) -> DataSource {
        DataSource::Cloudtrail
    }

    fn fills(&self) -> &'static [&'static str] {
        &["events", "accounts[].root.last_console_login"]
    }

    fn needs(&self) -> Needs {
        Needs {
            principal: Principal::AuditRole,
            actions: &["cloudtrail:LookupEvents"],
        }
    }

    fn essential(&self) -> bool {
        false
    }

    fn collect<'a>(
        &'a self,
        cx: &'a AccountContext<'a>,
        out: &'a mut Collected,
    ) -> SourceFuture<'a> {
        Box::pin(async move {
            // Its own retry quota and rate limiter per account, as for IAM.
            let ct = aws_sdk_cloudtrail::Client::from_conf(
                aws_sdk_cloudtrail::config::Builder::from(cx.config)
                    .region(Region::new(cx.ct_region.to_string()))
                    .retry_partition(aws_sdk_cloudtrail::config::retry::RetryPartition::new(
                        format!("cloudtrail-{}", cx.account.id),
                    ))
                    .build(),
            );
            out.events = collect_events(&ct, cx.account, cx.opts, cx.since, cx.until).await?;
            Ok(())
        })
    }

    /// The root user's last console sign-in: the later of the credential report's and the
    /// last successful root `ConsoleLogin` event.
    fn complete(&self, all: &mut Collected) {
        if let Some(root) = all.root.as_mut() {
            root.last_console_login = root.last_console_login.max(last_root_sign_in(&all.events));
        }
    }
}

/// The last successful root console sign-in among `events` (a failed sign-in is not one).
pub(crate) fn last_root_sign_in(events: &[Event]) -> Option<DateTime<Utc>> {
    events
        .iter()
        .filter(|e| e.name == "ConsoleLogin" && !e.failed())
        .filter(|e| e.actor_type.as_deref() == Some("Root") || e.actor == "root")
        .map(|e| e.time)
        .max()
}

/// CloudTrail LookupEvents (in the IAM events region), one event name per call, paginated to the end, at
/// most `cloudtrail_rps` requests per second.
pub(crate) async fn collect_events(
    ct: &aws_sdk_cloudtrail::Client,
    account: &OrgAccount,
    opts: &ScanOptions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Event>, CollectError> {
    use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
    let interval = Duration::from_secs_f64(1.0 / opts.cloudtrail_rps.max(0.01));
    let mut next_slot = tokio::time::Instant::now();
    let mut events = Vec::new();
    for name in &opts.event_names {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(name)
            .build()
            .map_err(|e| CollectError::Request {
                data_source: DataSource::Cloudtrail,
                message: e.to_string(),
            })?;
        let mut token: Option<String> = None;
        let mut pages = Pages::new(DataSource::Cloudtrail, format!("LookupEvents {name}"));
        loop {
            tokio::time::sleep_until(next_slot).await;
            next_slot = tokio::time::Instant::now() + interval;
            let out = ct
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(aws_smithy_types::DateTime::from_secs(since.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(until.timestamp()))
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    CollectError::call(DataSource::Cloudtrail, format!("LookupEvents {name}"), &e)
                })?;
            for e in out.events() {
                let Some(time) = e.event_time().and_then(chrono_time) else {
                    continue;
                };
                let mut event = Event {
                    time,
                    name: e.event_name().unwrap_or(name).to_string(),
                    actor: e.username().unwrap_or("N/A").to_string(),
                    account_id: account.id.clone(),
                    account_name: account.name.clone(),
                    resources: e
                        .resources()
                        .iter()
                        .filter_map(|r| r.resource_name().map(str::to_string))
                        .collect(),
                    ..Default::default()
                };
                // What CloudTrail recorded beside the name: a failed call's error code, the
                // source IP, the actor's type, a sign-in's outcome.
                if let Some(details) = e
                    .cloud_trail_event()
                    .and_then(crate::input::cloudtrail_record::details_of_json)
                {
                    details.apply(&mut event);
                }
                events.push(event);
            }
            token = pages.next(out.next_token())?;
            if token.is_none() {
                break;
            }
        }
    }
    Ok(events)
}
