//! The records a condition sees: small handles (an `Arc` of the evaluation context and
//! indices) registered as Rhai types, so a condition reads `key.age_days` without any
//! per-record map being built. Their fields are declared in [`crate::rules::fields`].

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic};

use crate::analysis::lifecycle::Lifecycle;
use crate::analysis::metrics::{Classifier, Metrics};
use crate::inventory::time::age_days;
use crate::inventory::{AccessKey, Account, Event, Inventory, User};

/// Marker that starts the message of a "field not available" error.
pub const UNAVAILABLE: &str = "iam-audit:unavailable:";

/// Everything a record handle points into. Built once per evaluation run.
pub struct EvalCtx {
    pub inv: Arc<Inventory>,
    /// Account id and name of each account, shared by every finding about it.
    pub labels: Vec<(Arc<str>, Arc<str>)>,
    pub as_of: DateTime<Utc>,
    pub production: Vec<bool>,
    pub metrics: Vec<Metrics>,
    /// The events indexed by key and user, built by the first field that reads it (once per
    /// run, whichever thread gets there first).
    lifecycle: OnceLock<Arc<Lifecycle>>,
}

impl EvalCtx {
    pub fn new(inv: Arc<Inventory>, as_of: DateTime<Utc>, classifier: &Classifier) -> EvalCtx {
        let (production, metrics) = crate::analysis::metrics::per_account(&inv, classifier, &as_of);
        let labels = inv
            .accounts
            .iter()
            .map(|a| (Arc::from(a.id.as_str()), Arc::from(a.name.as_str())))
            .collect();
        EvalCtx {
            inv,
            labels,
            as_of,
            production,
            metrics,
            lifecycle: OnceLock::new(),
        }
    }

    /// What the events say happened to each key and user (see [`Lifecycle`]).
    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        self.lifecycle
            .get_or_init(|| Arc::new(Lifecycle::of(&self.inv)))
    }

    /// The index, if a field built it during the run (the run's cross-reference reuses it).
    pub fn built_lifecycle(&self) -> Option<Arc<Lifecycle>> {
        self.lifecycle.get().cloned()
    }

    pub(crate) fn days(&self, t: &DateTime<Utc>) -> f64 {
        age_days(&self.as_of, t)
    }
}

/// An access key as a condition sees it (`key`).
#[derive(Clone)]
pub struct KeyRec {
    pub ctx: Arc<EvalCtx>,
    pub a: u32,
    pub u: u32,
    pub k: u32,
}

/// An IAM user as a condition sees it (`user`, `key.user`, items of `users`).
#[derive(Clone)]
pub struct UserRec {
    pub ctx: Arc<EvalCtx>,
    pub a: u32,
    pub u: u32,
}

/// An account as a condition sees it (`account`).
#[derive(Clone)]
pub struct AccountRec {
    pub ctx: Arc<EvalCtx>,
    pub a: u32,
}

/// A CloudTrail event as a condition sees it (`event`).
#[derive(Clone)]
pub struct EventRec {
    pub ctx: Arc<EvalCtx>,
    pub e: u32,
}

impl KeyRec {
    pub fn account(&self) -> &Account {
        &self.ctx.inv.accounts[self.a as usize]
    }
    pub fn user(&self) -> &User {
        &self.account().users[self.u as usize]
    }
    pub fn key(&self) -> &AccessKey {
        &self.user().access_keys[self.k as usize]
    }
    pub fn user_rec(&self) -> UserRec {
        UserRec {
            ctx: self.ctx.clone(),
            a: self.a,
            u: self.u,
        }
    }
}

impl UserRec {
    pub fn account(&self) -> &Account {
        &self.ctx.inv.accounts[self.a as usize]
    }
    pub fn user(&self) -> &User {
        &self.account().users[self.u as usize]
    }
    pub fn account_rec(&self) -> AccountRec {
        AccountRec {
            ctx: self.ctx.clone(),
            a: self.a,
        }
    }
    pub(crate) fn keys(&self) -> Array {
        (0..self.user().access_keys.len() as u32)
            .map(|k| {
                Dynamic::from(KeyRec {
                    ctx: self.ctx.clone(),
                    a: self.a,
                    u: self.u,
                    k,
                })
            })
            .collect()
    }
}

impl AccountRec {
    pub fn account(&self) -> &Account {
        &self.ctx.inv.accounts[self.a as usize]
    }
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.ctx.metrics[self.a as usize]
    }
    pub(crate) fn users(&self) -> Array {
        (0..self.account().users.len() as u32)
            .map(|u| {
                Dynamic::from(UserRec {
                    ctx: self.ctx.clone(),
                    a: self.a,
                    u,
                })
            })
            .collect()
    }
}

impl EventRec {
    pub fn event(&self) -> &Event {
        &self.ctx.inv.events[self.e as usize]
    }
}
