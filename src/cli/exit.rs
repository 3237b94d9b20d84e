//! Exit codes (SPEC §1), decided in one place.

use std::process::ExitCode;

use crate::error::Error;

/// Nothing at or above `--fail-on`.
pub const OK: u8 = 0;
/// Findings at or above `--fail-on`.
pub const FINDINGS: u8 = 1;
/// Usage, config, input or rule-pack error (also: a rule failed at run time).
pub const ERROR: u8 = 2;
/// No gating findings, but the inventory is incomplete.
pub const INCOMPLETE: u8 = 3;

/// How a run ended.
pub struct Outcome {
    pub gating_findings: usize,
    pub rule_errors: usize,
    pub incomplete: bool,
}

impl Outcome {
    /// The exit code: a rule error wins (the gate cannot be trusted), then gating findings,
    /// then an incomplete inventory.
    pub fn code(&self) -> u8 {
        if self.rule_errors > 0 {
            ERROR
        } else if self.gating_findings > 0 {
            FINDINGS
        } else if self.incomplete {
            INCOMPLETE
        } else {
            OK
        }
    }
}

/// Prints an error (if any) and returns the process exit code.
pub fn report(outcome: Result<Outcome, Error>) -> ExitCode {
    match outcome {
        Ok(o) => ExitCode::from(o.code()),
        Err(e) => {
            eprintln!("error: {e}");
            if let Error::Rules(_) = e {
                eprintln!(
                    "hint: fix the pack, or run without --rules to use the built-in stock pack"
                );
            }
            ExitCode::from(ERROR)
        }
    }
}
