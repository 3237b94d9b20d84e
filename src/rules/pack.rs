//! Rule packs: raw YAML types (`deny_unknown_fields`), validated into [`Pack`] and [`Rule`].
//!
//! A pack is a folder with a manifest `pack.yaml` that names its rules, and one YAML file per
//! rule whose stem is the rule id. Nothing is discovered implicitly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::rules::params::{ParamDecl, ParamType, ParamValue};
use crate::vocab::{Scope, Severity};

/// More rules than any pack needs.
pub const MAX_RULES: usize = 1_000;

/// Largest pack file accepted (bytes); a bigger file is refused before parsing.
pub const MAX_PACK_FILE_BYTES: usize = crate::yaml::MAX_FILE_BYTES;

use crate::yaml::parse_yaml;

/// The manifest `pack.yaml`, as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPack {
    /// Pack name (kebab-case), e.g. `stock`.
    pub pack: String,
    /// One line saying what the pack is.
    pub title: String,
    /// What the pack covers and where its criteria come from.
    #[serde(default)]
    pub description: String,
    /// Typed params the rules read as `p.<name>`.
    #[serde(default)]
    pub params: BTreeMap<String, RawParam>,
    /// Rule ids, each the stem of a YAML file beside the manifest.
    pub rules: Vec<String>,
}

/// A param declaration, as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Value used unless overridden by `--param` or the config file.
    #[schemars(with = "serde_json::Value")]
    pub default: serde_json::Value,
    pub description: String,
}

/// A rule file, as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Kebab-case slug, unique across loaded packs, equal to the file stem.
    pub id: String,
    /// Short title (SARIF short description, tables).
    pub title: String,
    pub severity: Severity,
    pub scope: Scope,
    /// Only with `scope: event`: the rule sees failed calls too (a CloudTrail record with an
    /// `errorCode`, a failed console sign-in). By default an event rule sees only successful
    /// calls: a failed call changed nothing.
    #[serde(default)]
    #[schemars(with = "bool", extend("default" = false))]
    pub include_failed: Option<Spanned<bool>>,
    /// A Rhai expression (or statements ending in one) that returns `true` when the rule fires.
    #[schemars(with = "String")]
    pub condition: Spanned<String>,
    /// Finding message; `{expr}` is replaced by the value of a Rhai expression such as
    /// `{user.name}` or `{p.recent_days}`.
    pub message: String,
    /// Why it matters.
    pub description: String,
    /// What to do about it.
    pub remediation: String,
    #[serde(default)]
    pub references: Vec<String>,
    /// E.g. `seed/high-risk`, `cis-aws-v7.0/2.10`, `aws-smm/phase-1/multi-factor-authentication`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The CloudTrail calls that fix what a finding of this rule is about, acting on its key
    /// or user after the inventory saw it: `DeleteAccessKey`, `UpdateAccessKey` (to
    /// `Inactive`), `DeleteLoginProfile`, `EnableMFADevice`, `DeleteUser`. Such a finding is
    /// reported `remediated` and does not gate. Default: a `key` rule's key deleted or
    /// deactivated or its user deleted; a `user` rule's user deleted. Only for `key` and `user`
    /// rules.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub remediated_by: Option<Spanned<Vec<String>>>,
}

/// A validated rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub scope: Scope,
    /// An event rule that also sees failed calls (`include_failed: true`).
    pub include_failed: bool,
    pub condition: String,
    /// 1-based line of the condition's first line in the rule file.
    pub condition_line: u64,
    /// Columns before the condition's text on its lines (indentation of a block scalar, or
    /// what precedes a one-line value).
    pub condition_col: u64,
    pub message: String,
    pub description: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub tags: Vec<String>,
    /// Name of the pack the rule belongs to.
    pub pack: String,
    /// Where the rule was read from (`builtin:stock/<id>.yaml` or a path).
    pub file: String,
    /// The calls that fix its findings (see [`RawRule::remediated_by`]; the default filled in).
    pub remediated_by: Vec<String>,
}

/// A validated pack.
#[derive(Clone, Debug)]
pub struct Pack {
    pub name: String,
    pub title: String,
    pub description: String,
    pub params: Vec<ParamDecl>,
    pub rules: Vec<Rule>,
    /// Every rule id the manifest lists (also those whose file did not load).
    pub listed: Vec<String>,
    /// `builtin:<name>` or the folder it was read from.
    pub origin: String,
}

impl Rule {
    /// What each finding of this rule carries of it.
    pub fn info(&self) -> crate::finding::RuleInfo {
        crate::finding::RuleInfo {
            id: self.id.clone(),
            title: self.title.clone(),
            severity: self.severity,
            scope: self.scope,
            remediation: self.remediation.clone(),
            tags: self.tags.clone(),
            remediated_by: self.remediated_by.clone(),
        }
    }

    /// `line:col` in the rule file of a byte offset into the condition (or of its line
    /// and column, both 1-based, as Rhai counts them).
    pub fn position(&self, line: usize, col: usize) -> String {
        let last = self.condition.trim_end().lines().count().max(1);
        let line = line.clamp(1, last);
        format!(
            "{}:{}",
            self.condition_line + line as u64 - 1,
            self.condition_col + col.max(1) as u64
        )
    }

    /// [`Rule::position`] of a byte offset into the condition.
    pub fn position_of_offset(&self, offset: usize) -> String {
        let before = self.condition.get(..offset).unwrap_or(&self.condition);
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        self.position(line, col)
    }
}

impl Pack {
    pub fn param(&self, name: &str) -> Option<&ParamDecl> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Reads the files of a pack: from the binary (built-in packs) or from a folder.
pub trait PackFiles {
    /// Display name of a file, for messages (`rules/stock/x.yaml`, `builtin:stock/x.yaml`).
    fn display(&self, file: &str) -> String;
    /// The file's text, or a message saying why it cannot be read.
    fn read(&self, file: &str) -> Result<String, String>;
    /// The fixture files of the pack (`tests/<name>.yaml`), sorted.
    fn fixture_files(&self) -> Vec<String>;
}

/// A pack folder on disk.
pub struct DirFiles(pub PathBuf);

impl PackFiles for DirFiles {
    fn display(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }

    fn fixture_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.0.join("tests"))
            .map(|d| {
                d.filter_map(std::result::Result::ok)
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.ends_with(".yaml"))
                    .map(|n| format!("tests/{n}"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn read(&self, file: &str) -> Result<String, String> {
        use std::io::Read;
        // Only a path down from the pack folder: never `..`, `/...` or `./`.
        if !Path::new(file)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!("`{file}` is not a path inside the pack folder"));
        }
        let path = self.0.join(file);
        // Through symbolic links too, only a file inside the pack folder is read.
        let base = if self.0.as_os_str().is_empty() {
            Path::new(".")
        } else {
            self.0.as_path()
        };
        let folder = std::fs::canonicalize(base).map_err(|e| e.to_string())?;
        let real = std::fs::canonicalize(&path).map_err(|e| e.to_string())?;
        if !real.starts_with(&folder) {
            return Err(
                "it is a symbolic link to a file outside the pack folder; refused".to_string(),
            );
        }
        // Never open a pipe or a device: opening a pipe blocks, a device may never end.
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".to_string());
        }
        let too_big = |len: u64| {
            format!("file is {len} bytes; a pack file may be at most {MAX_PACK_FILE_BYTES} bytes")
        };
        if meta.len() > MAX_PACK_FILE_BYTES as u64 {
            return Err(too_big(meta.len()));
        }
        // Bounded even if the file grows after the check.
        let mut bytes = Vec::new();
        std::fs::File::open(&real)
            .and_then(|f| {
                f.take(MAX_PACK_FILE_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(|e| e.to_string())?;
        if bytes.len() > MAX_PACK_FILE_BYTES {
            return Err(too_big(bytes.len() as u64));
        }
        String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))
    }
}

/// A pack compiled into the binary.
pub struct EmbeddedFiles {
    pub name: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

impl PackFiles for EmbeddedFiles {
    fn display(&self, file: &str) -> String {
        format!("builtin:{}/{}", self.name, file)
    }

    fn fixture_files(&self) -> Vec<String> {
        self.files
            .iter()
            .map(|(n, _)| n.to_string())
            .filter(|n| n.starts_with("tests/"))
            .collect()
    }

    fn read(&self, file: &str) -> Result<String, String> {
        self.files
            .iter()
            .find(|(n, _)| *n == file)
            .map(|(_, text)| text.to_string())
            .ok_or_else(|| "no such file in the built-in pack".to_string())
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

fn is_param_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Loads and validates one pack. Returns every problem found, each naming its file.
pub fn load_pack(files: &dyn PackFiles) -> Result<Pack, Vec<String>> {
    match load_pack_partial(files) {
        (Some(pack), problems) if problems.is_empty() => Ok(pack),
        (_, problems) => Err(problems),
    }
}

/// Loads one pack as far as it can: the pack with every rule that is valid (none when the
/// manifest itself cannot be read), and every problem found, each naming its file.
pub fn load_pack_partial(files: &dyn PackFiles) -> (Option<Pack>, Vec<String>) {
    let manifest_name = files.display("pack.yaml");
    let text = match files.read("pack.yaml") {
        Ok(t) => t,
        Err(e) => return (None, vec![format!("{manifest_name}: {e}")]),
    };
    let raw: RawPack = match parse_yaml(&manifest_name, &text) {
        Ok(r) => r,
        Err(e) => return (None, vec![e]),
    };
    if raw.rules.len() > MAX_RULES {
        // Refused before a rule file is read or compiled.
        return (
            None,
            vec![format!(
                "{manifest_name}: lists {} rules; a pack may have at most {MAX_RULES}",
                raw.rules.len()
            )],
        );
    }
    let mut problems = Vec::new();
    if !is_slug(&raw.pack) {
        problems.push(format!(
            "{manifest_name}: pack name `{}` must be kebab-case (a-z, 0-9, -)",
            raw.pack
        ));
    }
    let mut params = Vec::new();
    for (name, p) in &raw.params {
        if !is_param_name(name) {
            problems.push(format!(
                "{manifest_name}: param name `{name}` must be snake_case (a-z, 0-9, _)"
            ));
        }
        match ParamValue::from_json(p.ty, &p.default) {
            Ok(default) => params.push(ParamDecl {
                name: name.clone(),
                ty: p.ty,
                default,
                description: p.description.clone(),
            }),
            Err(e) => problems.push(format!(
                "{manifest_name}: param `{name}` ({}): default: {e}",
                p.ty.as_str()
            )),
        }
    }
    let declared: BTreeSet<&str> = raw.params.keys().map(String::as_str).collect();
    let mut rules = Vec::new();
    let mut seen = BTreeSet::new();
    for id in &raw.rules {
        if !seen.insert(id.as_str()) {
            problems.push(format!("{manifest_name}: rule `{id}` is listed twice"));
            continue;
        }
        if !is_slug(id) {
            // Never a path: `../x` or `a/b` would read outside the pack.
            problems.push(format!(
                "{manifest_name}: rule id `{id}` must be a kebab-case slug (a-z, 0-9, -)"
            ));
            continue;
        }
        let file = format!("{id}.yaml");
        let display = files.display(&file);
        let text = match files.read(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!(
                    "{manifest_name}: rule `{id}` is listed but {display} cannot be read: {e}"
                ));
                continue;
            }
        };
        match parse_yaml::<RawRule>(&display, &text) {
            Ok(r) => match validate_rule(r, id, &raw.pack, &display, &declared, &text) {
                Ok(rule) => rules.push(rule),
                Err(mut e) => problems.append(&mut e),
            },
            Err(e) => problems.push(e),
        }
    }
    let pack = Pack {
        name: raw.pack,
        title: raw.title,
        description: raw.description,
        params,
        rules,
        listed: raw.rules,
        origin: String::new(),
    };
    (Some(pack), problems)
}

fn validate_rule(
    r: RawRule,
    stem: &str,
    pack: &str,
    display: &str,
    declared: &BTreeSet<&str>,
    text: &str,
) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    if r.id != stem {
        problems.push(format!(
            "{display}: id `{}` must equal the file stem `{stem}`",
            r.id
        ));
    }
    if !is_slug(&r.id) {
        problems.push(format!(
            "{display}: id `{}` must be a kebab-case slug (a-z, 0-9, -)",
            r.id
        ));
    }
    for (field, value) in [
        ("title", &r.title),
        ("message", &r.message),
        ("description", &r.description),
        ("remediation", &r.remediation),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{display}: `{field}` must not be empty"));
        }
    }
    let (condition_line, condition_col) = condition_start(
        text,
        r.condition.referenced.line() as usize,
        r.condition.referenced.column() as usize,
    );
    let condition = r.condition.value;
    let include_failed = match r.include_failed {
        Some(v) if r.scope != Scope::Event => {
            problems.push(format!(
                "{display}:{}:{}: `include_failed` applies only to `scope: event` rules (this \
                 rule's scope is `{}`); remove it",
                v.referenced.line(),
                v.referenced.column(),
                r.scope
            ));
            false
        }
        Some(v) => v.value,
        None => false,
    };
    if condition.trim().is_empty() {
        problems.push(format!(
            "{display}:{condition_line}: `condition` must not be empty"
        ));
    }
    let remediated_by = match r.remediated_by {
        None => crate::finding::default_remediated_by(r.scope),
        Some(v) => {
            let at = format!(
                "{display}:{}:{}",
                v.referenced.line(),
                v.referenced.column()
            );
            let mut names: Vec<String> = Vec::new();
            for name in v.value {
                if !crate::finding::REMEDIATING_EVENTS.contains(&name.as_str()) {
                    problems.push(format!(
                        "{at}: `remediated_by`: `{name}` is not a call that fixes a finding \
                         (expected one of {})",
                        crate::finding::REMEDIATING_EVENTS.join(", ")
                    ));
                } else if !names.contains(&name) {
                    names.push(name);
                }
            }
            if !names.is_empty() && !matches!(r.scope, Scope::Key | Scope::User) {
                problems.push(format!(
                    "{at}: `remediated_by` applies to rules about a key or a user \
                     (this rule's scope is `{}`); remove it",
                    r.scope
                ));
            }
            names
        }
    };
    let probe = Rule {
        id: String::new(),
        title: String::new(),
        severity: r.severity,
        scope: r.scope,
        include_failed,
        condition: condition.clone(),
        condition_line,
        condition_col,
        message: String::new(),
        description: String::new(),
        remediation: String::new(),
        references: Vec::new(),
        tags: Vec::new(),
        pack: String::new(),
        file: String::new(),
        remediated_by: Vec::new(),
    };
    for (name, offset) in crate::rules::refs::param_ref_offsets(&condition) {
        if !declared.contains(name.as_str()) {
            problems.push(format!(
                "{display}:{}: `p.{name}` is not a param of pack `{pack}` (declared: {})",
                probe.position_of_offset(offset),
                declared.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for name in crate::rules::refs::param_refs(&r.message) {
        if !declared.contains(name.as_str()) {
            problems.push(format!(
                "{display}: message: `p.{name}` is not a param of pack `{pack}` (declared: {})",
                declared.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(Rule {
            id: r.id,
            title: r.title.trim().to_string(),
            severity: r.severity,
            scope: r.scope,
            include_failed,
            condition,
            condition_line,
            condition_col,
            message: r.message.trim().to_string(),
            description: r.description.trim().to_string(),
            remediation: r.remediation.trim().to_string(),
            references: r.references,
            tags: r.tags,
            pack: pack.to_string(),
            file: display.to_string(),
            remediated_by,
        })
    } else {
        Err(problems)
    }
}

/// Where a condition's text starts in its file: (1-based line, columns before the text),
/// from the position serde-saphyr gives for the value: its first character (for a block
/// scalar, the first character of its text; a `|`/`>` indicator, if given instead, means the
/// text starts on the next non-blank line at the block's indentation).
fn condition_start(text: &str, line: usize, column: usize) -> (u64, u64) {
    let line = line.max(1);
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line - 1).copied().unwrap_or_default();
    let rest: String = here.chars().skip(column.saturating_sub(1)).collect();
    if rest.starts_with('|') || rest.starts_with('>') {
        for (i, l) in lines.iter().enumerate().skip(line) {
            if !l.trim().is_empty() {
                let indent = l.len() - l.trim_start().len();
                return ((i + 1) as u64, indent as u64);
            }
        }
        return (line as u64 + 1, 0);
    }
    let quoted = rest.starts_with('"') || rest.starts_with('\'');
    (
        line as u64,
        (column.saturating_sub(1) + usize::from(quoted)) as u64,
    )
}

/// Loads a pack from a folder (or from a `pack.yaml` path).
pub fn load_dir(path: &Path) -> Result<Pack, Vec<String>> {
    let dir = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    if !dir.join("pack.yaml").is_file() {
        return Err(vec![format!(
            "{}: not a rule pack (no pack.yaml manifest in this folder)",
            path.display()
        )]);
    }
    /// Problems listed for one pack in a run; the rest are counted (`rules validate` lists all).
    const MAX_PROBLEMS: usize = 50;
    let files = DirFiles(dir.clone());
    let manifest = files.display("pack.yaml");
    let mut pack = load_pack(&files).map_err(|mut problems| {
        if problems.len() > MAX_PROBLEMS {
            let more = problems.len() - MAX_PROBLEMS;
            problems.truncate(MAX_PROBLEMS);
            problems.push(format!(
                "{manifest}: ... and {more} more problems in this pack"
            ));
        }
        problems
    })?;
    pack.origin = dir.display().to_string();
    Ok(pack)
}
