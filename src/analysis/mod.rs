//! Analyses over an inventory and a report: summary metrics, the remediation list.

pub mod metrics;
pub mod remediation;
