//! Rule documentation generated from rule metadata (the README's rule table).

use std::fmt::Write as _;

use crate::rules::params::ParamValue;
use crate::rules::RuleSet;

/// Markers around the generated table in the README.
pub const START: &str = "<!-- rules-table:start (generated from rules/; do not edit by hand) -->";
pub const END: &str = "<!-- rules-table:end -->";

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown table of every rule, then every param with its default.
pub fn markdown(set: &RuleSet) -> String {
    let mut s = String::new();
    for pack in &set.packs {
        let _ = writeln!(s, "**Pack `{}`** — {}\n", pack.name, cell(&pack.title));
        let _ = writeln!(s, "| id | scope | severity | title | tags |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in &pack.rules {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} |",
                r.id,
                r.scope,
                r.severity,
                cell(&r.title),
                r.tags
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        if !pack.params.is_empty() {
            let _ = writeln!(s, "\n| param | type | default | meaning |");
            let _ = writeln!(s, "|---|---|---|---|");
            for p in &pack.params {
                let default = match &p.default {
                    ParamValue::Strings(v) if v.is_empty() => "(empty)".to_string(),
                    ParamValue::Regexes(v) if v.0.is_empty() => "(empty)".to_string(),
                    other => other.to_json().to_string(),
                };
                let _ = writeln!(
                    s,
                    "| `{}` | {} | `{}` | {} |",
                    p.name,
                    p.ty.as_str(),
                    cell(&default),
                    cell(&p.description)
                );
            }
        }
    }
    s
}
