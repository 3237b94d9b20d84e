//! What `evaluate` reads, and the formats AWS hands out that both `evaluate` and `scan` parse:
//!
//! - [`detect`]: what a file is, told by its content, and the refusal for a file given where it
//!   is not read;
//! - [`credential_report`]: the IAM credential report (CSV or `get-credential-report` JSON;
//!   key-slot matching for `scan`);
//! - [`cloudtrail_record`]: one CloudTrail record turned into an event;
//! - [`cloudtrail`]: CloudTrail files (log files, organization-trail trees, lookup-events
//!   output, JSON Lines), streamed;
//! - [`organizations`]: `aws organizations list-accounts` output (account names);
//! - [`merge`]: several inventories as one.
//!
//! [`load`] reads the files given to `evaluate` into one inventory.

pub mod cloudtrail;
pub mod cloudtrail_record;
pub mod credential_report;
pub mod detect;
pub mod merge;
pub mod organizations;
pub mod walk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::InputError;
use crate::input::credential_report::ReportFile;
use crate::input::detect::{Kind, Position};
use crate::input::organizations::OrgAccounts;
use crate::inventory::{
    json, stock_csv, Account, CollectionError, CollectionStatus, DataSource, Field, Inventory,
    SkippedAccount, SourceKind,
};

fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// A file that could not be read in `position`: when its content says it is something else
/// (a CloudTrail log as the input, the report CSV as `--events`, ...), what it is and what
/// would use it; else the reader's own error, with its line and column.
fn refuse_or(path: &Path, bytes: &[u8], position: Position, e: InputError) -> InputError {
    let kind = detect::detect(bytes);
    if kind.read_in(position) {
        e
    } else {
        InputError::new(path, kind.refusal(position))
    }
}

fn warn(note: String) -> String {
    tracing::warn!("{note}");
    note
}

/// The files given to `evaluate`.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// Inventories, stock reports, credential reports, or folders of them.
    pub inputs: Vec<PathBuf>,
    /// Stock events CSVs, CloudTrail files or folders.
    pub events: Vec<PathBuf>,
    /// A stock root report CSV.
    pub root: Option<PathBuf>,
    /// `aws organizations list-accounts` output.
    pub accounts_file: Option<PathBuf>,
    /// Draw a progress bar while reading CloudTrail files.
    pub progress: bool,
}

/// The input files, with a folder replaced by the files under it (sorted).
fn expand(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let files = walk::files_under(p, &|_| true, &|_| true)?;
            if files.is_empty() {
                return Err(InputError::new(p, "the folder holds no files"));
            }
            out.extend(files.into_iter().map(|f| (f, true)));
        } else {
            out.push((p.clone(), false));
        }
    }
    Ok(out)
}

/// Reads everything `evaluate` was given into one inventory: each input (inventory JSON,
/// stock report CSV, credential reports — one account each — or folders of them), combined
/// when there are several ([`merge::combine`]); then the events (stock events CSVs and
/// CloudTrail files) and the stock root report.
///
/// # Errors
///
/// The first input that cannot be read, naming the file (and line): a file of a kind that is
/// not read in its position gets what it is and what would read it.
pub fn load(given: &Inputs) -> Result<Inventory, InputError> {
    let org = given
        .accounts_file
        .as_deref()
        .map(organizations::read)
        .transpose()?;
    let mut parts: Vec<(String, Inventory)> = Vec::new();
    let mut reports: Vec<ReportFile> = Vec::new();
    let mut folder_notes: Vec<String> = Vec::new();
    for (path, in_folder) in expand(&given.inputs)? {
        let bytes = read_file(&path)?;
        // Told from the start of the file: an inventory may be hundreds of megabytes, and
        // is parsed once, by its reader.
        let kind = detect::detect_start(&bytes[..bytes.len().min(detect::START)]);
        let json_named = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        match kind {
            Kind::CredentialReportCsv | Kind::CredentialReportJson => {
                reports.push(credential_report::read_file(&path, &bytes)?);
            }
            Kind::InventoryJson => {
                parts.push((file_name(&path), json::read_inventory(&path, &bytes)?));
            }
            Kind::StockReport => {
                parts.push((file_name(&path), stock_csv::read_report(&path, &bytes)?));
            }
            // A large JSON whose start does not tell: read as an inventory; if it is not one,
            // the whole content says what it is.
            Kind::OtherJson if bytes.len() >= detect::START => {
                match json::read_inventory(&path, &bytes) {
                    Ok(inv) => parts.push((file_name(&path), inv)),
                    Err(e) => match detect::detect(&bytes) {
                        Kind::CredentialReportJson => {
                            reports.push(credential_report::read_file(&path, &bytes)?);
                        }
                        other if in_folder => folder_notes.push(warn(format!(
                            "{}: skipped: {}",
                            path.display(),
                            other.describe()
                        ))),
                        Kind::InventoryJson | Kind::OtherJson => return Err(e),
                        other => {
                            return Err(InputError::new(&path, other.refusal(Position::Input)))
                        }
                    },
                }
            }
            _ if in_folder => folder_notes.push(warn(format!(
                "{}: skipped: {}",
                path.display(),
                kind.describe()
            ))),
            Kind::OtherJson => {
                parts.push((file_name(&path), json::read_inventory(&path, &bytes)?));
            }
            Kind::Other if json_named => {
                parts.push((file_name(&path), json::read_inventory(&path, &bytes)?));
            }
            Kind::Other => parts.push((
                file_name(&path),
                stock_csv::read_report(&path, &bytes)
                    .map_err(|e| refuse_or(&path, &bytes, Position::Input, e))?,
            )),
            _ => return Err(InputError::new(&path, kind.refusal(Position::Input))),
        }
    }
    if !reports.is_empty() {
        parts.push((
            "credential reports".to_string(),
            from_credential_reports(reports, org.as_ref()),
        ));
    }
    if parts.is_empty() {
        let first = given.inputs.first().cloned().unwrap_or_default();
        return Err(InputError::new(
            first,
            format!(
                "nothing to evaluate: no inventory, stock report or credential report among the inputs ({})",
                folder_notes.join("; ")
            ),
        ));
    }
    let only_json = parts
        .iter()
        .all(|(_, inv)| inv.source.kind != SourceKind::StockCsv);
    let only_inventories = parts
        .iter()
        .all(|(_, inv)| inv.source.kind == SourceKind::InventoryJson);
    let mut inv = merge::combine(parts);
    inv.notes.extend(folder_notes);
    read_events(given, &mut inv, only_inventories)?;
    if let Some(p) = &given.root {
        if only_json {
            return Err(InputError::new(
                p,
                "--root goes with a stock report CSV; an inventory JSON already holds root credentials and a credential report has its root row",
            ));
        }
        let bytes = read_file(p)?;
        stock_csv::read_root(p, &bytes, &mut inv)
            .map_err(|e| refuse_or(p, &bytes, Position::Root, e))?;
        inv.source.files.push(file_name(p));
    }
    if let Some(org) = &org {
        name_accounts(&mut inv, org);
    }
    inv.normalize();
    Ok(inv)
}

/// Reads `--events`: stock events CSVs, and CloudTrail files and folders (read together).
fn read_events(
    given: &Inputs,
    inv: &mut Inventory,
    only_inventories: bool,
) -> Result<(), InputError> {
    let mut cloudtrail: Vec<PathBuf> = Vec::new();
    let mut stock = false;
    for p in &given.events {
        if p.is_dir() {
            cloudtrail.push(p.clone());
            continue;
        }
        let start = detect::read_start(p)?;
        let kind = detect::detect_start(&start);
        if kind.is_cloudtrail() {
            cloudtrail.push(p.clone());
            continue;
        }
        if only_inventories {
            return Err(InputError::new(
                p,
                "a stock events CSV goes with a stock report or credential reports; an inventory JSON already holds its events (CloudTrail files can be added to it)",
            ));
        }
        let bytes = read_file(p)?;
        stock_csv::read_events(p, &bytes, inv)
            .map_err(|e| refuse_or(p, &bytes, Position::Events, e))?;
        inv.source.files.push(file_name(p));
        stock = true;
    }
    if cloudtrail.is_empty() {
        return Ok(());
    }
    let details_before = inv.events.is_empty() || inv.has(Field::EventDetails);
    let read = cloudtrail::read_paths(
        &cloudtrail,
        &cloudtrail::Keep::default_events(),
        given.progress,
    )?;
    for s in read.skipped.iter().take(20) {
        tracing::warn!("skipped: {s}");
    }
    if read.skipped.is_empty() {
        tracing::info!("{}", read.summary());
        inv.notes.push(read.summary());
    } else {
        inv.notes.push(warn(read.summary()));
    }
    let names: BTreeMap<&str, &str> = inv
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    let mut events = read.events;
    for e in &mut events {
        if let Some(name) = names.get(e.account_id.as_str()) {
            e.account_name = (*name).to_string();
        }
    }
    inv.events.extend(events);
    inv.unavailable.remove(&Field::Events);
    if details_before && !stock {
        inv.unavailable.remove(&Field::EventDetails);
    }
    for p in &cloudtrail {
        inv.source.files.push(file_name(p));
    }
    inv.normalize();
    inv.events.dedup();
    Ok(())
}

/// The accounts of `--accounts-file`: names for the accounts and their events, and the
/// accounts without data said as such (suspended and closed ones skipped).
fn name_accounts(inv: &mut Inventory, org: &OrgAccounts) {
    for account in &mut inv.accounts {
        if let Some(name) = org.name_of(&account.id) {
            if account.name.is_empty() || account.name == account.id {
                account.name = name.to_string();
            }
        }
    }
    for e in &mut inv.events {
        if e.account_name.is_empty() {
            if let Some(name) = org.name_of(&e.account_id) {
                e.account_name = name.to_string();
            }
        }
    }
    if inv.organization_id.is_none() {
        inv.organization_id.clone_from(&org.organization_id);
    }
    if inv.management_account_id.is_none() {
        inv.management_account_id
            .clone_from(&org.management_account_id);
    }
    for listed in &org.accounts {
        if inv.accounts.iter().any(|a| a.id == listed.id)
            || inv.skipped.iter().any(|s| s.id == listed.id)
        {
            continue;
        }
        if listed.inactive() {
            inv.skipped.push(SkippedAccount {
                id: listed.id.clone(),
                name: listed.name.clone(),
                reason: listed.state.clone(),
            });
            continue;
        }
        let mut account = Account::new(listed.id.clone(), listed.name.clone());
        account.collection.status = CollectionStatus::Failed;
        account.collection.errors.push(CollectionError {
            source: DataSource::CredentialReport,
            message: "the account is in --accounts-file, but no input holds its data".into(),
        });
        inv.accounts.push(account);
    }
}

/// One inventory from credential reports, one account each. Two reports of one account: the
/// newest (by `GeneratedTime`; on a tie or without it, the later file) is used, with a
/// warning.
fn from_credential_reports(reports: Vec<ReportFile>, org: Option<&OrgAccounts>) -> Inventory {
    let mut inv = Inventory::new(SourceKind::CredentialReport);
    let mut by_account: BTreeMap<String, ReportFile> = BTreeMap::new();
    for report in reports {
        inv.source.files.push(file_name(&report.path));
        match by_account.remove(&report.account_id) {
            None => {
                by_account.insert(report.account_id.clone(), report);
            }
            Some(earlier) => {
                let keep_new = report.generated >= earlier.generated;
                inv.notes.push(warn(format!(
                    "account {}: two credential reports, {} and {}: the {} one, {}, is used",
                    report.account_id,
                    earlier.path.display(),
                    report.path.display(),
                    if report.generated == earlier.generated {
                        "later given"
                    } else {
                        "newest"
                    },
                    if keep_new {
                        &report.path
                    } else {
                        &earlier.path
                    }
                    .display()
                )));
                let kept = if keep_new { report } else { earlier };
                by_account.insert(kept.account_id.clone(), kept);
            }
        }
    }
    inv.collected_at = by_account.values().filter_map(|r| r.generated).max();
    let mut without_root = Vec::new();
    for (id, report) in &by_account {
        let name = org.and_then(|o| o.name_of(id)).unwrap_or(id);
        let account = report.to_account(name);
        if account.root.is_none() {
            without_root.push(id.clone());
        }
        inv.accounts.push(account);
    }
    if !without_root.is_empty() {
        inv.notes.push(warn(format!(
            "no root row in the credential report of {}: root rules are not evaluable there",
            without_root.join(", ")
        )));
    }
    if by_account.values().any(|r| r.generated.is_none()) {
        inv.notes.push(warn(
            "a credential report CSV does not say when AWS generated it: ages are measured from --as-of, else now; `aws iam get-credential-report` output carries its GeneratedTime".to_string(),
        ));
    }
    inv.unavailable.extend([
        // Key ids: each key is its slot.
        Field::KeyId,
        Field::UserId,
        Field::UserTags,
        Field::AccountTags,
        Field::AccountOuPath,
        Field::Events,
        Field::EventDetails,
        Field::OrgRootAccess,
    ]);
    inv.normalize();
    inv
}
