//! Analyses over an inventory and a report: summary metrics, what the events did to each key
//! and user, the findings those events remediated, the remediation list.

pub mod lifecycle;
pub mod metrics;
pub mod remediated;
pub mod remediation;
