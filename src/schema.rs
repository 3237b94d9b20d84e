//! JSON Schemas (draft-07, for editors and validators) generated from the Rust types, and
//! committed under `schemas/`. A test fails when a committed schema is stale.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;

fn schema_of<T: JsonSchema>() -> String {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Every generated schema: (file name under `schemas/`, content).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (
            "inventory.schema.json",
            schema_of::<crate::inventory::Inventory>(),
        ),
        (
            "findings.schema.json",
            schema_of::<crate::wire::FindingsV1>(),
        ),
        (
            "history-line.schema.json",
            schema_of::<crate::wire::HistoryLineV1>(),
        ),
        ("trend.schema.json", schema_of::<crate::wire::TrendV1>()),
        (
            "pack.schema.json",
            schema_of::<crate::rules::pack::RawPack>(),
        ),
        (
            "rule.schema.json",
            schema_of::<crate::rules::pack::RawRule>(),
        ),
        (
            "fixture.schema.json",
            schema_of::<crate::rules::fixtures::FixtureFile>(),
        ),
        ("config.schema.json", schema_of::<crate::config::Config>()),
        (
            "waivers.schema.json",
            schema_of::<crate::waivers::WaiversFile>(),
        ),
    ]
}
