//! Exit codes (SPEC §1), decided in one place.

use std::process::ExitCode;

use crate::error::Error;
use crate::run::{Gate, Verdict};

/// Nothing at or above `--fail-on`.
pub const OK: u8 = Verdict::Passed.exit_code();
/// Findings at or above `--fail-on`.
pub const FINDINGS: u8 = Verdict::Failed.exit_code();
/// Usage, config, input or rule-pack error (also: a rule failed at run time).
pub const ERROR: u8 = Verdict::Errors.exit_code();
/// No gating findings, but the inventory is incomplete.
pub const INCOMPLETE: u8 = Verdict::Incomplete.exit_code();

/// How a command ended without an error: every command returns `Result<Outcome, Error>` and
/// `main` hands it to [`report`], the one place that decides the exit code.
///
/// `evaluate` and `scan` fill it from their report. `diff`, `rules list` and `rules show` end
/// [`Outcome::CLEAN`]. `rules validate` counts its problems as rule errors (exit 2), `rules
/// test` its failed cases as gating findings (exit 1) and its errors as rule errors (exit 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub gating_findings: usize,
    pub rule_errors: usize,
    pub incomplete: bool,
}

impl Outcome {
    /// Nothing to report: exit 0.
    pub const CLEAN: Outcome = Outcome {
        gating_findings: 0,
        rule_errors: 0,
        incomplete: false,
    };

    /// The exit code (see [`Verdict::of`]).
    pub fn code(&self) -> u8 {
        Verdict::of(self.rule_errors, self.gating_findings, self.incomplete).exit_code()
    }
}

impl From<&Gate> for Outcome {
    /// The outcome of a run: its gate decision.
    fn from(g: &Gate) -> Outcome {
        Outcome {
            gating_findings: g.gating,
            rule_errors: g.rule_errors,
            incomplete: g.incomplete,
        }
    }
}

/// Prints an error (if any) on stderr and returns the process exit code: the outcome's, or
/// [`ERROR`] for any error.
pub fn report(outcome: Result<Outcome, Error>) -> ExitCode {
    match outcome {
        Ok(o) => ExitCode::from(o.code()),
        Err(e) => {
            eprintln!("error: {e}");
            if matches!(e, Error::Rules(_)) {
                eprintln!(
                    "hint: fix the pack, or run without --rules to use the built-in stock pack"
                );
            }
            ExitCode::from(ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(Outcome::CLEAN.code(), OK);
        let o = |gating_findings, rule_errors, incomplete| Outcome {
            gating_findings,
            rule_errors,
            incomplete,
        };
        assert_eq!(o(3, 0, true).code(), FINDINGS);
        assert_eq!(o(3, 1, true).code(), ERROR);
        assert_eq!(o(0, 0, true).code(), INCOMPLETE);
    }
}
