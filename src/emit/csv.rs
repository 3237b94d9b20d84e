//! `--format csv`: the stock CSVs the original tool wrote (`iam_audit_report_<stamp>.csv`,
//! `cloudtrail_events_<stamp>.csv`, `root_audit_report_<stamp>.csv`) and the prioritized task
//! list `remediation_<stamp>.csv`.

use std::io::Write;

use crate::emit::emitter::{Emitter, OutputFile, OutputOptions};
use crate::inventory::stock_csv::{
    safe_cell, write_events, write_report, write_root, WriteOptions,
};
use crate::inventory::Field;
use crate::run::RunReport;

pub struct Csv;

impl Emitter for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn describe(&self) -> &'static str {
        "the stock CSVs and the remediation list"
    }

    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>> {
        let inv = &*run.inventory;
        let stamp = &opts.stamp;
        let keys_only = opts.stock_keys_only;
        let mut files = vec![OutputFile::new(
            format!("iam_audit_report_{stamp}.csv"),
            move |w| write_report(inv, &WriteOptions { keys_only }, w),
        )];
        if inv.has(Field::Events) {
            files.push(OutputFile::new(
                format!("cloudtrail_events_{stamp}.csv"),
                move |w| write_events(inv, w),
            ));
        }
        if inv.has(Field::Root) && inv.accounts.iter().any(|a| a.root.is_some()) {
            files.push(OutputFile::new(
                format!("root_audit_report_{stamp}.csv"),
                move |w| write_root(inv, w),
            ));
        }
        files.push(OutputFile::new(
            format!("remediation_{stamp}.csv"),
            move |w| write_remediation(run, w),
        ));
        files
    }
}

/// Header of the remediation list.
pub const HEADER: &str =
    "priority,severity,due_date,account_id,account_name,username,access_key_id,rule_id,action,status,waiver";

/// Writes the remediation list: the run's tasks (see [`crate::analysis::remediation::tasks`]).
pub fn write_remediation(run: &RunReport, w: &mut dyn Write) -> std::io::Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w);
    csv.write_record(HEADER.split(','))?;
    for t in run.tasks() {
        let f = run.task_finding(t);
        let s = &f.subject;
        let action = format!("{} {}", f.message, first_sentence(&f.rule.remediation));
        let priority = t.priority.to_string();
        let due = t.due.format("%Y-%m-%d").to_string();
        // A waived task stays on the list, marked, with its waiver (it is due when that ends).
        let waiver = f
            .waiver
            .as_deref()
            .map(|w| {
                format!(
                    "until {} by {}: {}",
                    w.waiver.expires.format("%Y-%m-%d"),
                    w.waiver.owner,
                    w.waiver.reason
                )
            })
            .unwrap_or_default();
        let status = match f.status {
            crate::vocab::Status::Open => "open",
            crate::vocab::Status::Waived => "waived",
            crate::vocab::Status::Remediated => "remediated",
        };
        let row = [
            priority.as_str(),
            f.severity.as_str(),
            due.as_str(),
            s.account_id.as_deref().unwrap_or(""),
            s.account_name.as_deref().unwrap_or(""),
            s.username.as_deref().unwrap_or(""),
            s.access_key_id.as_deref().unwrap_or(""),
            f.rule.id.as_str(),
            action.as_str(),
            status,
            waiver.as_str(),
        ];
        // Trimmed and neutralised as the stock writer does: no formula, even after spaces.
        csv.write_record(row.iter().map(|c| safe_cell(c).into_owned()))?;
    }
    csv.flush()
}

/// The first sentence of a rule's remediation text (the action of a task).
pub fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text.lines().next().unwrap_or(""),
    }
}
