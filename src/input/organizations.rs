//! `aws organizations list-accounts` output (`--accounts-file`): the names of the accounts,
//! which accounts the Organization has (so that one without a credential report is said, not
//! forgotten), which are suspended or closed, and the Organization's id and management
//! account (from the account ARNs).

use std::path::Path;

use serde::Deserialize;

use crate::error::InputError;

/// One account of the list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedAccount {
    pub id: String,
    pub name: String,
    /// `State` (`ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED`), else the older `Status`
    /// (`ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`).
    pub state: String,
}

impl ListedAccount {
    /// Not audited on purpose: suspended or closed.
    pub fn inactive(&self) -> bool {
        !self.state.eq_ignore_ascii_case("ACTIVE") && !self.state.is_empty()
    }
}

/// The Organization's accounts, as listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgAccounts {
    pub organization_id: Option<String>,
    pub management_account_id: Option<String>,
    /// Sorted by id.
    pub accounts: Vec<ListedAccount>,
}

impl OrgAccounts {
    pub fn name_of(&self, id: &str) -> Option<&str> {
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.as_str())
            .filter(|n| !n.is_empty())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListJson {
    accounts: Vec<AccountJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccountJson {
    id: String,
    #[serde(default)]
    arn: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

/// Reads `aws organizations list-accounts` output (several pages joined by the CLI).
///
/// # Errors
///
/// Not that JSON, or an account id that is not twelve digits.
pub fn read(path: &Path) -> Result<OrgAccounts, InputError> {
    let bytes =
        std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))?;
    parse(path, &bytes)
}

/// [`read`] of bytes already read from `path`.
///
/// # Errors
///
/// As [`read`].
pub fn parse(path: &Path, bytes: &[u8]) -> Result<OrgAccounts, InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let list: ListJson = serde_json::from_slice(bytes).map_err(|e| {
        InputError::new(
            path,
            format!(
                "not the output of `aws organizations list-accounts` (expected {{\"Accounts\": [...]}}): {e}"
            ),
        )
        .at(e.line() as u64, Some(e.column() as u64))
    })?;
    let mut out = OrgAccounts::default();
    for (i, a) in list.accounts.into_iter().enumerate() {
        if a.id.len() != 12 || !a.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InputError::new(
                path,
                format!(
                    "Accounts[{i}]: Id `{}` is not a twelve-digit account id",
                    a.id
                ),
            ));
        }
        // arn:aws:organizations::<management>:account/o-<org>/<id>
        if let Some(arn) = &a.arn {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() == 6 && parts[2] == "organizations" {
                if let Some(org) = parts[5]
                    .strip_prefix("account/")
                    .and_then(|r| r.split('/').next())
                    .filter(|o| o.starts_with("o-"))
                {
                    out.organization_id.get_or_insert_with(|| org.to_string());
                }
                if !parts[4].is_empty() {
                    out.management_account_id
                        .get_or_insert_with(|| parts[4].to_string());
                }
            }
        }
        out.accounts.push(ListedAccount {
            id: a.id,
            name: a.name.unwrap_or_default(),
            state: a.state.or(a.status).unwrap_or_default(),
        });
    }
    out.accounts.sort_by(|a, b| a.id.cmp(&b.id));
    out.accounts.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}
