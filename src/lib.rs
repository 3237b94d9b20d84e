//! iam-audit: audit IAM credentials across every account of an AWS Organization.
//!
//! Flow: readers (stock CSV, inventory JSON) build an [`inventory::Inventory`]; the
//! [`engine`] evaluates rule packs ([`rules`]) over it at one `as_of` instant and returns a
//! [`engine::Report`]; [`emit`] translates the report into files.

pub mod analysis;
pub mod baseline;
pub mod cli;
pub mod collect;
pub mod config;
pub mod emit;
pub mod engine;
pub mod error;
pub mod finding;
pub mod history;
pub mod input;
pub mod inventory;
pub mod rules;
pub mod run;
pub mod schema;
pub mod trend;
pub mod vocab;
pub mod waivers;
pub mod wire;
pub mod yaml;
