//! Summary metrics of SPEC §4 (seed workflows 2 and 3): MFA coverage, key-age buckets,
//! outliers, usage patterns, keys per user. Computed once per account from the inventory.

use chrono::{DateTime, Utc};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::inventory::time::age_days;
use crate::inventory::{Account, Inventory, KeyStatus};

/// Days within which a key counts as recently used in the usage-pattern counts.
pub const RECENT_USE_DAYS: f64 = 30.0;
/// Age beyond which a key counts as old in the usage-pattern counts (the 365+ bucket).
pub const OLD_KEY_DAYS: f64 = 365.0;
/// Age beyond which an active key in a production account is an outlier (two years).
pub const OUTLIER_KEY_DAYS: f64 = 730.0;

/// How production accounts are recognised.
#[derive(Clone, Debug)]
pub struct Classifier {
    /// Matched against the account name (`production_accounts`, default `(?i)prod`).
    pub name_pattern: Regex,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            name_pattern: Regex::new(DEFAULT_PRODUCTION_ACCOUNTS).expect("static regex"),
        }
    }
}

/// Default `production_accounts` pattern.
pub const DEFAULT_PRODUCTION_ACCOUNTS: &str = "(?i)prod";

impl Classifier {
    /// Production when the name matches, or an `Environment`/`env` tag says prod/production.
    pub fn is_production(&self, account: &Account) -> bool {
        self.name_pattern.is_match(&account.name)
            || account.tags.iter().any(|(k, v)| {
                let k = k.to_ascii_lowercase();
                let v = v.to_ascii_lowercase();
                (k == "environment" || k == "env") && (v == "prod" || v == "production")
            })
    }
}

/// Active keys by age: 0–30, 31–90, 91–365, 365+ days.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgeBuckets {
    #[serde(rename = "0-30")]
    pub d0_30: u64,
    #[serde(rename = "31-90")]
    pub d31_90: u64,
    #[serde(rename = "91-365")]
    pub d91_365: u64,
    #[serde(rename = "365+")]
    pub d365_plus: u64,
}

impl AgeBuckets {
    pub fn add(&mut self, age: f64) {
        // Whole days, as a person reads the buckets: 30.5 days old is in 31-90.
        let days = age.ceil();
        if days <= 30.0 {
            self.d0_30 += 1;
        } else if days <= 90.0 {
            self.d31_90 += 1;
        } else if days <= 365.0 {
            self.d91_365 += 1;
        } else {
            self.d365_plus += 1;
        }
    }

    pub fn merge(&mut self, o: &AgeBuckets) {
        self.d0_30 += o.d0_30;
        self.d31_90 += o.d31_90;
        self.d91_365 += o.d91_365;
        self.d365_plus += o.d365_plus;
    }
}

/// Metrics of one account or of a set of accounts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub users: u64,
    /// Users with a console password.
    pub console_users: u64,
    /// Console users with at least one MFA device.
    pub mfa_users: u64,
    /// `mfa_users / console_users × 100`; absent when there are no console users.
    pub mfa_coverage_pct: Option<f64>,
    pub active_keys: u64,
    pub inactive_keys: u64,
    pub active_key_age: AgeBuckets,
    /// Active keys older than two years in production accounts.
    pub outliers: u64,
    /// Active keys older than 365 days and used within 30 days: migration priority.
    pub old_recently_used: u64,
    /// Active keys older than 365 days and never used: safe deletion candidates.
    pub old_never_used: u64,
    /// Users with two or more keys (power users).
    pub users_with_multiple_keys: u64,
    /// Most keys held by one user.
    pub max_keys_per_user: u64,
}

impl Metrics {
    /// Metrics of one account at `as_of`.
    pub fn of_account(account: &Account, production: bool, as_of: &DateTime<Utc>) -> Metrics {
        let mut m = Metrics {
            users: account.users.len() as u64,
            ..Metrics::default()
        };
        for user in &account.users {
            if user.password.enabled {
                m.console_users += 1;
                if !user.mfa_devices.is_empty() {
                    m.mfa_users += 1;
                }
            }
            let n = user.access_keys.len() as u64;
            m.max_keys_per_user = m.max_keys_per_user.max(n);
            if n >= 2 {
                m.users_with_multiple_keys += 1;
            }
            for key in &user.access_keys {
                if key.status != KeyStatus::Active {
                    m.inactive_keys += 1;
                    continue;
                }
                m.active_keys += 1;
                let age = age_days(as_of, &key.created);
                m.active_key_age.add(age);
                if production && age > OUTLIER_KEY_DAYS {
                    m.outliers += 1;
                }
                if age > OLD_KEY_DAYS {
                    match &key.last_used {
                        // A last use the source does not know is not "never used".
                        None if key.last_used_unknown => {}
                        None => m.old_never_used += 1,
                        Some(t) if age_days(as_of, t) <= RECENT_USE_DAYS => {
                            m.old_recently_used += 1;
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        m.finish();
        m
    }

    /// Adds another account's counts (coverage is recomputed by [`Metrics::finish`]).
    pub fn merge(&mut self, o: &Metrics) {
        self.users += o.users;
        self.console_users += o.console_users;
        self.mfa_users += o.mfa_users;
        self.active_keys += o.active_keys;
        self.inactive_keys += o.inactive_keys;
        self.active_key_age.merge(&o.active_key_age);
        self.outliers += o.outliers;
        self.old_recently_used += o.old_recently_used;
        self.old_never_used += o.old_never_used;
        self.users_with_multiple_keys += o.users_with_multiple_keys;
        self.max_keys_per_user = self.max_keys_per_user.max(o.max_keys_per_user);
    }

    pub fn finish(&mut self) {
        self.mfa_coverage_pct = coverage(self.mfa_users, self.console_users);
    }
}

/// Percentage cut (not rounded) to two decimals, `None` when there is nothing to cover: a
/// display value that never reads 100 while one console user lacks MFA (20,000 of 20,001 is
/// 99.99, not 100.00). Decisions are made on the counts, never on this value.
pub fn coverage(covered: u64, total: u64) -> Option<f64> {
    (total > 0).then(|| {
        // Integer arithmetic: exact for any count (f64 is exact below 2^53).
        let hundredths = u128::from(covered) * 10_000 / u128::from(total);
        hundredths as f64 / 100.0
    })
}

/// An outlier: an active key older than two years in a production account (SPEC §4).
#[derive(Clone, Debug, PartialEq)]
pub struct OutlierKey {
    pub account_id: String,
    pub account_name: String,
    pub username: String,
    pub access_key_id: String,
    /// Exact age in days at `as_of`.
    pub age_days: f64,
    pub last_used: Option<DateTime<Utc>>,
}

/// The outlier keys counted by [`Metrics::outliers`], oldest first (then account, user, key).
/// `metrics` are the inventory's own, which say which accounts are production.
pub fn outlier_keys(
    inv: &Inventory,
    metrics: &OrgMetrics,
    as_of: &DateTime<Utc>,
) -> Vec<OutlierKey> {
    let production: std::collections::BTreeSet<&str> = metrics
        .accounts
        .iter()
        .filter(|a| a.production)
        .map(|a| a.account_id.as_str())
        .collect();
    let mut out: Vec<OutlierKey> = inv
        .accounts
        .iter()
        .filter(|a| production.contains(a.id.as_str()))
        .flat_map(|a| {
            a.users.iter().flat_map(move |u| {
                u.access_keys.iter().filter_map(move |k| {
                    let age = age_days(as_of, &k.created);
                    (k.status == KeyStatus::Active && age > OUTLIER_KEY_DAYS).then(|| OutlierKey {
                        account_id: a.id.clone(),
                        account_name: a.name.clone(),
                        username: u.name.clone(),
                        access_key_id: k.id.clone(),
                        age_days: age,
                        last_used: k.last_used,
                    })
                })
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.age_days.total_cmp(&a.age_days).then_with(|| {
            (&a.account_id, &a.username, &a.access_key_id).cmp(&(
                &b.account_id,
                &b.username,
                &b.access_key_id,
            ))
        })
    });
    out
}

/// Whether each account is production, and its metrics, in the order of `inv.accounts`.
pub fn per_account(
    inv: &Inventory,
    classifier: &Classifier,
    as_of: &DateTime<Utc>,
) -> (Vec<bool>, Vec<Metrics>) {
    let production: Vec<bool> = inv
        .accounts
        .iter()
        .map(|a| classifier.is_production(a))
        .collect();
    let metrics = inv
        .accounts
        .iter()
        .zip(&production)
        .map(|(a, p)| Metrics::of_account(a, *p, as_of))
        .collect();
    (production, metrics)
}

/// Metrics of one account with its identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountMetrics {
    pub account_id: String,
    pub account_name: String,
    pub production: bool,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// Metrics of the whole inventory: per account, production segment, all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgMetrics {
    pub all: Metrics,
    pub production: Metrics,
    pub non_production: Metrics,
    pub accounts: Vec<AccountMetrics>,
}

impl OrgMetrics {
    /// The accounts' metrics, production accounts first, each group by account id.
    pub fn accounts_production_first(&self) -> Vec<&AccountMetrics> {
        let mut accounts: Vec<&AccountMetrics> = self.accounts.iter().collect();
        accounts
            .sort_by(|a, b| (!a.production, &a.account_id).cmp(&(!b.production, &b.account_id)));
        accounts
    }

    pub fn compute(inv: &Inventory, classifier: &Classifier, as_of: &DateTime<Utc>) -> OrgMetrics {
        let (production, metrics) = per_account(inv, classifier, as_of);
        OrgMetrics::from_accounts(inv, &production, metrics)
    }

    /// Totals of per-account metrics already computed (`production` and `metrics` are in the
    /// order of `inv.accounts`).
    pub fn from_accounts(
        inv: &Inventory,
        production: &[bool],
        metrics: Vec<Metrics>,
    ) -> OrgMetrics {
        let mut org = OrgMetrics::default();
        for ((account, &production), m) in inv.accounts.iter().zip(production).zip(metrics) {
            org.all.merge(&m);
            if production {
                org.production.merge(&m);
            } else {
                org.non_production.merge(&m);
            }
            org.accounts.push(AccountMetrics {
                account_id: account.id.clone(),
                account_name: account.name.clone(),
                production,
                metrics: m,
            });
        }
        org.all.finish();
        org.production.finish();
        org.non_production.finish();
        org
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{AccessKey, MfaDevice, MfaType, User};
    use chrono::TimeZone;

    fn key(
        id: &str,
        created_days_ago: i64,
        used_days_ago: Option<i64>,
        as_of: DateTime<Utc>,
    ) -> AccessKey {
        AccessKey {
            id: id.into(),
            status: KeyStatus::Active,
            created: as_of - chrono::Duration::days(created_days_ago),
            last_used: used_days_ago.map(|d| as_of - chrono::Duration::days(d)),
            last_used_service: None,
            last_used_region: None,
            ..Default::default()
        }
    }

    #[test]
    fn buckets_coverage_and_patterns() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
        let mut acct = Account::new("111111111111", "Production");
        let mut a = User::named("a");
        a.password.enabled = true;
        a.mfa_devices.push(MfaDevice {
            serial: None,
            kind: MfaType::Virtual,
            enabled_at: None,
        });
        a.access_keys = vec![key("K1", 30, Some(1), as_of), key("K2", 31, None, as_of)];
        let mut b = User::named("b");
        b.password.enabled = true;
        b.access_keys = vec![key("K3", 400, Some(2), as_of), key("K4", 800, None, as_of)];
        let mut c = User::named("c");
        c.password.enabled = true;
        c.access_keys = vec![key("K5", 90, None, as_of), key("K6", 365, None, as_of)];
        acct.users = vec![a, b, c];
        let classifier = Classifier::default();
        assert!(classifier.is_production(&acct));
        let m = Metrics::of_account(&acct, true, &as_of);
        assert_eq!((m.console_users, m.mfa_users), (3, 1));
        assert_eq!(m.mfa_coverage_pct, Some(33.33));
        assert_eq!(
            m.active_key_age,
            AgeBuckets {
                d0_30: 1,
                d31_90: 2,
                d91_365: 1,
                d365_plus: 2
            }
        );
        assert_eq!(
            (m.outliers, m.old_recently_used, m.old_never_used),
            (1, 1, 1)
        );
        assert_eq!((m.users_with_multiple_keys, m.max_keys_per_user), (3, 2));
    }

    #[test]
    fn coverage_never_reads_100_while_a_user_lacks_mfa() {
        // Rounded to two decimals, 20,000 of 20,001 was 100.00.
        assert_eq!(coverage(20_000, 20_001), Some(99.99));
        assert_eq!(coverage(u64::MAX - 1, u64::MAX), Some(99.99));
        assert_eq!(coverage(20_001, 20_001), Some(100.0));
        assert_eq!(coverage(2, 3), Some(66.66));
        assert_eq!(coverage(0, 0), None);
    }

    #[test]
    fn an_unknown_last_use_is_not_a_never_used_key() {
        let as_of = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
        let mut acct = Account::new("111111111111", "Dev");
        let mut u = User::named("u");
        let mut unknown = key("K1", 400, None, as_of);
        unknown.last_used_unknown = true;
        u.access_keys = vec![unknown, key("K2", 500, None, as_of)];
        acct.users = vec![u];
        let m = Metrics::of_account(&acct, false, &as_of);
        assert_eq!((m.old_never_used, m.old_recently_used), (1, 0));
    }

    #[test]
    fn production_by_tag() {
        let mut acct = Account::new("1", "Payments");
        let c = Classifier::default();
        assert!(!c.is_production(&acct));
        acct.tags.insert("Environment".into(), "Production".into());
        assert!(c.is_production(&acct));
        assert_eq!(coverage(0, 0), None);
    }
}
