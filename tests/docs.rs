//! The README's rule table is generated from the rule metadata; this fails when it is stale
//! (regenerate with `UPDATE_DOCS=1 cargo test --test docs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use iam_audit::rules::docs::{markdown, END, START};
use iam_audit::rules::RuleSet;

#[test]
fn readme_rule_table_is_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let set = RuleSet::load(&[]).expect("stock pack");
    let table = markdown(&set);
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the rule table markers");
    };
    let current = &readme[a + START.len()..b];
    let wanted = format!("\n{table}");
    if current != wanted {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{wanted}{}", &readme[..a + START.len()], &readme[b..]);
            std::fs::write(path, updated).expect("write README");
        } else {
            panic!(
                "README rule table is stale: run `UPDATE_DOCS=1 cargo test --test docs` and commit"
            );
        }
    }
    for r in set.packs[0].rules.iter() {
        assert!(table.contains(&format!("`{}`", r.id)));
    }
}
