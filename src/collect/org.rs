//! Organizations discovery: the Organization's id, its management account, and every account
//! with its status, OU path and tags. Made with the caller's own credentials.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::collect::error::{describe, ScanError};
use crate::collect::needs::{Needs, Principal};
use crate::collect::pages::Pages;
use crate::inventory::DataSource;

/// What discovery calls, as the caller (the management account or a delegated administrator).
pub const NEEDS: Needs = Needs {
    principal: Principal::Caller,
    actions: &[
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "organizations:ListParents",
        "organizations:DescribeOrganizationalUnit",
        "organizations:ListTagsForResource",
    ],
};

/// An account of the Organization, before collection.
#[derive(Clone, Debug)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub status: String,
    pub ou_path: Vec<String>,
    pub ou_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// What discovery could not read about the account.
    pub notes: Vec<String>,
    /// Its OU path could not be read (a note says why): `--ou` cannot tell whether it is in.
    pub ou_unknown: bool,
}

/// The Organization: its id, the management account and every account.
pub struct Org {
    pub id: Option<String>,
    pub management_account: String,
    pub accounts: Vec<OrgAccount>,
}

/// Lists the accounts (paginated to a null token; empty pages are fine), their OU paths and
/// tags.
pub async fn discover(
    org: &aws_sdk_organizations::Client,
    concurrency: usize,
) -> Result<Org, ScanError> {
    let err = |e: String| ScanError::Discovery(e);
    let described = org
        .describe_organization()
        .send()
        .await
        .map_err(|e| err(describe(&e)))?;
    let (id, management) = described
        .organization()
        .map(|o| {
            (
                o.id().map(str::to_string),
                o.master_account_id().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default();
    let mut accounts = Vec::new();
    let mut pages = Pages::new(DataSource::Organizations, "ListAccounts");
    let mut token = None;
    loop {
        let page = org
            .list_accounts()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        token = pages
            .next(page.next_token())
            .map_err(|e| err(e.to_string()))?;
        for a in page.accounts() {
            accounts.push(OrgAccount {
                id: a.id().unwrap_or_default().to_string(),
                name: a.name().unwrap_or_default().to_string(),
                status: a
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                ou_path: Vec::new(),
                ou_ids: Vec::new(),
                tags: BTreeMap::new(),
                notes: Vec::new(),
                ou_unknown: false,
            });
        }
        if token.is_none() {
            break;
        }
    }
    // OU paths and tags, `concurrency` accounts at a time; each OU's name is asked once.
    let ou_names: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>> =
        Arc::default();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, account) in accounts.iter().enumerate() {
        let (org, ou_names, limit, id) = (
            org.clone(),
            ou_names.clone(),
            limit.clone(),
            account.id.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, place_account(&org, &ou_names, &id).await)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (index, placed) = done.map_err(|e| err(format!("discovery task failed: {e}")))?;
        let (path, ids, tags, notes) = placed;
        let account = &mut accounts[index];
        account.ou_unknown = path.is_none();
        let (path, ids) = path.zip(ids).unwrap_or_default();
        account.ou_path = path;
        account.ou_ids = ids;
        account.tags = tags;
        account.notes = notes;
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Org {
        id,
        management_account: management,
        accounts,
    })
}

type OuNames = std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>;

/// An account's OU path (names, ids: `None` when it could not be read), tags, and notes on
/// what could not be read.
type Placed = (
    Option<Vec<String>>,
    Option<Vec<String>>,
    BTreeMap<String, String>,
    Vec<String>,
);

/// An account's OU path (names and ids, root first) and tags.
async fn place_account(
    org: &aws_sdk_organizations::Client,
    ou_names: &OuNames,
    account: &str,
) -> Placed {
    let mut notes = Vec::new();
    // An account that cannot be placed is still audited: its note says what is unknown.
    let (path, ids) = match ou_path(org, ou_names, account).await {
        Ok((path, ids)) => (Some(path), Some(ids)),
        Err(e) => {
            notes.push(format!(
                "the account's OU path could not be read ({}): OU-based selection (--ou) cannot place it",
                match e {
                    ScanError::Discovery(m) => m,
                    other => other.to_string(),
                }
            ));
            (None, None)
        }
    };
    let (tags, tag_notes) = account_tags(org, account).await;
    notes.extend(tag_notes);
    (path, ids, tags, notes)
}

/// An account's OU path: names and ids, root first.
async fn ou_path(
    org: &aws_sdk_organizations::Client,
    ou_names: &OuNames,
    account: &str,
) -> Result<(Vec<String>, Vec<String>), ScanError> {
    use aws_sdk_organizations::types::ParentType;
    let err = |e: String| ScanError::Discovery(e);
    let mut child = account.to_string();
    let mut path = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let parents = org
            .list_parents()
            .child_id(&child)
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        let Some(parent) = parents.parents().first() else {
            break;
        };
        let pid = parent.id().unwrap_or_default().to_string();
        if parent.r#type() == Some(&ParentType::Root) {
            path.push("Root".to_string());
            ids.push(pid);
            break;
        }
        let cell = ou_names
            .lock()
            .map_err(|_| err("OU name cache poisoned".into()))?
            .entry(pid.clone())
            .or_default()
            .clone();
        let name = cell
            .get_or_try_init(|| async {
                let ou = org
                    .describe_organizational_unit()
                    .organizational_unit_id(&pid)
                    .send()
                    .await
                    .map_err(|e| err(describe(&e)))?;
                Ok::<_, ScanError>(
                    ou.organizational_unit()
                        .and_then(|o| o.name())
                        .unwrap_or(&pid)
                        .to_string(),
                )
            })
            .await?
            .clone();
        path.push(name);
        ids.push(pid.clone());
        child = pid;
    }
    path.reverse();
    ids.reverse();
    Ok((path, ids))
}

/// An account's tags, and a note when they could not all be read.
async fn account_tags(
    org: &aws_sdk_organizations::Client,
    account: &str,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut tags = BTreeMap::new();
    let mut pages = Pages::new(DataSource::Organizations, "ListTagsForResource");
    let mut token = None;
    let mut notes = Vec::new();
    loop {
        // An account whose tags cannot be read is still audited, but the gap is said: a
        // production tag may be missing from the classification.
        let page = match org
            .list_tags_for_resource()
            .resource_id(account)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "the account's tags could not be read (ListTagsForResource: {}); tag-based classification may miss it",
                    describe(&e)
                ));
                break;
            }
        };
        for t in page.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
        token = match pages.next(page.next_token()) {
            Ok(t) => t,
            Err(e) => {
                notes.push(format!(
                    "the account's tags could not all be read ({e}); tag-based classification may miss it"
                ));
                None
            }
        };
        if token.is_none() {
            break;
        }
    }
    (tags, notes)
}
