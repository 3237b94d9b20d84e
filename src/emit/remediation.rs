//! `remediation_<stamp>.csv`: the prioritized task list.

use std::io::Write;

use crate::analysis::remediation::Task;
use crate::inventory::stock_csv::neutralize;

/// Header of the remediation list.
pub const HEADER: &str =
    "priority,severity,due_date,account_id,account_name,username,access_key_id,rule_id,action,status,waiver";

/// Writes the remediation list: the report's tasks (see [`crate::analysis::remediation::tasks`]).
pub fn write(tasks: &[Task<'_>], w: &mut dyn Write) -> std::io::Result<()> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(w);
    csv.write_record(HEADER.split(','))?;
    for t in tasks {
        let f = t.finding;
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
            crate::finding::Status::Open => "open",
            crate::finding::Status::Waived => "waived",
            crate::finding::Status::Remediated => "remediated",
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
        csv.write_record(row.iter().map(|c| neutralize(c).into_owned()))?;
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
