//! Rule documentation generated from rule metadata: a reference page per pack
//! (`docs/rules/<pack>.md`) and the README's rule tables, between [`START`] and [`END`].
//! `tests/docs.rs` fails when either is stale; `UPDATE_DOCS=1 cargo test --test docs`
//! regenerates them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::inventory::ALL_FIELDS;
use crate::rules::fixtures::{Case, FixtureFile};
use crate::rules::pack::{Pack, Rule};
use crate::rules::params::ParamValue;
use crate::rules::refs::param_refs;
use crate::rules::scopes::{Binding, Variable, SCOPES};
use crate::rules::RuleSet;
use crate::yaml::parse_yaml;

/// Markers around the generated tables in the README.
pub const START: &str = "<!-- rules-table:start (generated from rules/; do not edit by hand) -->";
pub const END: &str = "<!-- rules-table:end -->";

/// Where the reference page of a shipped pack lives, relative to the repository root.
pub fn page_path(pack: &str) -> String {
    format!("docs/rules/{pack}.md")
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| format!("`{t}`"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_text(v: &ParamValue) -> String {
    match v {
        ParamValue::Strings(v) if v.is_empty() => "(empty)".to_string(),
        ParamValue::Regexes(v) if v.0.is_empty() => "(empty)".to_string(),
        other => other.to_json().to_string(),
    }
}

/// `NoFinding` → `no-finding`: the kebab-case name fixtures use for an expectation.
fn kebab(debug: &str) -> String {
    let mut out = String::new();
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// The README section: per pack, a line linking to its reference page, then a table of its
/// rules (each id linking to its entry on the page), then the names of its params.
pub fn readme_section(set: &RuleSet) -> String {
    let mut s = String::new();
    for (i, pack) in set.packs.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let page = page_path(&pack.name);
        let _ = writeln!(
            s,
            "**Pack `{}`** — {} ({} rules; `--rules builtin:{}`; [reference]({page}))\n",
            pack.name,
            cell(&pack.title),
            pack.rules.len(),
            pack.name
        );
        let _ = writeln!(s, "| id | scope | severity | title | tags |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for r in &pack.rules {
            let _ = writeln!(
                s,
                "| [`{id}`]({page}#{id}) | {} | {} | {} | {} |",
                r.scope,
                r.severity,
                cell(&r.title),
                tags(&r.tags),
                id = r.id,
            );
        }
        if !pack.params.is_empty() {
            let _ = writeln!(
                s,
                "\nParams ([types, defaults and meaning]({page}#params)): {}.",
                pack.params
                    .iter()
                    .map(|p| format!("`{}`", p.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    s
}

/// Reads the fixture files of a pack folder (`<dir>/tests/*.yaml`), sorted by file name.
pub fn read_fixtures(dir: &Path) -> Result<Vec<FixtureFile>, String> {
    let tests = dir.join("tests");
    let mut paths: Vec<_> = match std::fs::read_dir(&tests) {
        Ok(d) => d
            .filter_map(std::result::Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect(),
        Err(_) => return Ok(Vec::new()),
    };
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let display = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| format!("{display}: {e}"))?;
            parse_yaml::<FixtureFile>(&display, &text)
        })
        .collect()
}

/// The reference page of a shipped pack (`rules/<name>/`): its description and params, then
/// every rule with its metadata, condition and fixture cases. Links assume the page lives at
/// [`page_path`].
pub fn pack_page(pack: &Pack, fixtures: &[FixtureFile]) -> String {
    let mut cases: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for f in fixtures {
        cases.entry(f.rule.as_str()).or_default().extend(&f.cases);
    }
    let source = format!("../../rules/{}", pack.name);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- Generated from rules/{}/ by src/rules/docs.rs; do not edit by hand. Regenerate: UPDATE_DOCS=1 cargo test --test docs -->\n",
        pack.name
    );
    let _ = writeln!(s, "# Rule pack `{}`: {}\n", pack.name, pack.title.trim());
    if !pack.description.trim().is_empty() {
        let _ = writeln!(s, "{}\n", pack.description.trim());
    }
    let _ = writeln!(
        s,
        "Built into the binary: `--rules builtin:{name}` (repeatable, to run it beside other \
         packs). Source: [`rules/{name}/`]({source}/), one YAML file per rule, fixtures in \
         [`rules/{name}/tests/`]({source}/tests/).\n",
        name = pack.name
    );

    let _ = writeln!(s, "## Params\n");
    if pack.params.is_empty() {
        let _ = writeln!(s, "None.\n");
    } else {
        let _ = writeln!(
            s,
            "Override with `--param NAME=VALUE` (every rule that reads it) or \
             `--param RULE-ID.NAME=VALUE` (one rule), or `params` / `rule_params` in the \
             config file.\n"
        );
        let _ = writeln!(s, "| param | type | default | meaning | read by |");
        let _ = writeln!(s, "|---|---|---|---|---|");
        for p in &pack.params {
            let readers: Vec<String> = pack
                .rules
                .iter()
                .filter(|r| reads(r).contains(&p.name))
                .map(|r| format!("[`{id}`](#{id})", id = r.id))
                .collect();
            let _ = writeln!(
                s,
                "| `{}` | {} | `{}` | {} | {} |",
                p.name,
                p.ty.as_str(),
                cell(&default_text(&p.default)),
                cell(&p.description),
                if readers.is_empty() {
                    "—".to_string()
                } else {
                    readers.join(" ")
                }
            );
        }
        s.push('\n');
    }

    let _ = writeln!(s, "## Rules\n");
    let _ = writeln!(s, "| id | scope | severity | title |");
    let _ = writeln!(s, "|---|---|---|---|");
    for r in &pack.rules {
        let _ = writeln!(
            s,
            "| [`{id}`](#{id}) | {} | {} | {} |",
            r.scope,
            r.severity,
            cell(&r.title),
            id = r.id
        );
    }
    for r in &pack.rules {
        s.push('\n');
        rule_section(&mut s, pack, r, cases.get(r.id.as_str()).map(Vec::as_slice));
    }
    s.push('\n');
    fields_section(&mut s);
    s
}

/// Every scope's variables, then every record type's fields (from the declarations in
/// `src/rules/scopes.rs` and `src/rules/fields.rs`, so the list is the one conditions are
/// checked against and the getters are registered from).
fn fields_section(s: &mut String) {
    let _ = writeln!(s, "## Fields a condition can read\n");
    let _ = writeln!(
        s,
        "Every condition also sees `p`, the params. Ages are exact fractional days from \
         `as_of`; `()` means never, or not recorded where a field says so. A last use the \
         source could not tell (a key or password marked `last_used_unknown`) is never `()`: \
         the fields that read it make the record not evaluable. Methods: \
         `user.has_tag(NAME)`, `user.tag(NAME)` (also on `account`), and \
         `p.NAME.is_match(TEXT)` for a `regexes` param.\n"
    );
    let _ = writeln!(
        s,
        "An `event` rule sees only successful calls: a CloudTrail record with an `errorCode` \
         (or a failed console sign-in) changed nothing. A rule with `include_failed: true` \
         (only on `scope: event`) sees failed calls too and can tell them apart with \
         `event.failed` and `event.error_code`.\n"
    );
    let _ = writeln!(
        s,
        "Only some inputs provide this data: {}. A stock CSV has none of it but the key ids \
         (events and root credentials only with `--events` and `--root`). AWS credential \
         reports have no user ids, tags, MFA device kinds, events (unless `--events` is given) \
         or key ids: a key is named by its slot in the report (`access_key_1`, \
         `access_key_2`). A rule that reads a field built on data the input lacks is *not \
         evaluable* for that record, never a silent pass.\n",
        ALL_FIELDS
            .iter()
            .map(|f| format!("`{}`", f.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(s, "| scope | variables |");
    let _ = writeln!(s, "|---|---|");
    let mut variables: Vec<&Variable> = Vec::new();
    for def in &SCOPES {
        let _ = writeln!(
            s,
            "| `{}` | {} |",
            def.scope,
            def.variables
                .iter()
                .map(|v| format!("`{}`", v.name))
                .chain(["`p`".to_string()])
                .collect::<Vec<_>>()
                .join(", ")
        );
        for var in def.variables {
            if !variables.iter().any(|v| v.name == var.name) {
                variables.push(var);
            }
        }
    }
    for var in variables {
        let _ = writeln!(s, "\n### `{}`\n", var.name);
        let kind = match var.binding {
            Binding::Record(kind) => kind,
            Binding::Plain(doc) => {
                let _ = writeln!(s, "{doc}.");
                continue;
            }
        };
        let _ = writeln!(s, "| field | meaning |");
        let _ = writeln!(s, "|---|---|");
        for f in kind.fields() {
            let _ = writeln!(s, "| `{}.{}` | {} |", var.name, f.name, cell(f.doc));
        }
    }
}

/// The params a rule's condition and message read.
fn reads(rule: &Rule) -> Vec<String> {
    let mut names: Vec<String> = param_refs(&rule.condition)
        .into_iter()
        .chain(param_refs(&rule.message))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn rule_section(s: &mut String, pack: &Pack, r: &Rule, cases: Option<&[&Case]>) {
    let _ = writeln!(s, "### `{}`\n", r.id);
    let _ = writeln!(s, "**{}**\n", r.title);
    let _ = writeln!(s, "| severity | scope | tags |");
    let _ = writeln!(s, "|---|---|---|");
    let _ = writeln!(
        s,
        "| {} | {} | {} |\n",
        r.severity,
        r.scope,
        if r.tags.is_empty() {
            "—".to_string()
        } else {
            tags(&r.tags)
        }
    );
    let _ = writeln!(s, "{}\n", r.description);
    if r.include_failed {
        let _ = writeln!(
            s,
            "Sees failed calls too (`include_failed: true`), not only successful ones.\n"
        );
    }
    let condition = r.condition.trim_end();
    let f = fence(condition);
    let _ = writeln!(s, "**Condition**\n\n{f}rhai\n{condition}\n{f}\n");
    let params = reads(r);
    if !params.is_empty() {
        let _ = writeln!(
            s,
            "Params: {}.\n",
            params
                .iter()
                .map(|p| format!("[`{p}`](#params)"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(s, "**Message**\n\n> {}\n", r.message);
    let _ = writeln!(s, "**Remediation**\n\n{}\n", r.remediation);
    if !r.references.is_empty() {
        let _ = writeln!(s, "**References**\n");
        for link in &r.references {
            let _ = writeln!(s, "- <{link}>");
        }
        s.push('\n');
    }
    let file = format!("../../rules/{}/tests/{}.yaml", pack.name, r.id);
    match cases {
        Some(cases) if !cases.is_empty() => {
            let _ = writeln!(
                s,
                "**Fixtures** ([`tests/{}.yaml`]({file}), {} cases)\n",
                r.id,
                cases.len()
            );
            for c in cases {
                let expect = kebab(&format!("{:?}", c.expect));
                let _ = writeln!(s, "- {expect}: {}", c.name.trim());
            }
        }
        _ => {
            let _ = writeln!(s, "**Fixtures**: none.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(kebab("NoFinding"), "no-finding");
        assert_eq!(kebab("Finding"), "finding");
        assert_eq!(fence("a"), "```");
        assert_eq!(fence("x ```` y"), "`````");
    }
}
