//! Analyses over an inventory and a report: summary metrics, what the events did to each key
//! and user, the findings those events remediated, remediation progress and offboardings,
//! the remediation list.

pub mod lifecycle;
pub mod metrics;
pub mod progress;
pub mod remediated;
pub mod remediation;
