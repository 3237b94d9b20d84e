//! Typed rule-pack params: declarations, values, overrides from the command line and config.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The type of a param.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A text.
    String,
    /// A list of texts (a condition tests membership with `x in p.name`).
    Strings,
    /// A list of regular expressions (a condition calls `p.name.is_match(text)`).
    Regexes,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::String => "string",
            ParamType::Strings => "strings",
            ParamType::Regexes => "regexes",
        }
    }
}

/// A param value, validated against its type.
#[derive(Clone, Debug)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
    Strings(Vec<String>),
    Regexes(Patterns),
}

/// A compiled list of regular expressions.
#[derive(Clone, Debug)]
pub struct Patterns(pub Arc<Vec<Regex>>);

impl Patterns {
    pub fn is_match(&self, text: &str) -> bool {
        self.0.iter().any(|r| r.is_match(text))
    }

    pub fn sources(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_string()).collect()
    }
}

impl PartialEq for ParamValue {
    fn eq(&self, other: &Self) -> bool {
        self.to_json() == other.to_json()
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Bool(v) => write!(f, "{v}"),
            ParamValue::String(v) => f.write_str(v),
            ParamValue::Strings(v) => f.write_str(&v.join(", ")),
            ParamValue::Regexes(v) => f.write_str(&v.sources().join(", ")),
        }
    }
}

impl ParamValue {
    /// The value as JSON, for the findings envelope and `rules show`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            ParamValue::Int(v) => Value::from(*v),
            ParamValue::Float(v) => Value::from(*v),
            ParamValue::Bool(v) => Value::from(*v),
            ParamValue::String(v) => Value::from(v.clone()),
            ParamValue::Strings(v) => Value::from(v.clone()),
            ParamValue::Regexes(v) => Value::from(v.sources()),
        }
    }

    /// Converts a JSON/YAML value to a value of type `ty`, or says what was expected.
    pub fn from_json(ty: ParamType, v: &serde_json::Value) -> Result<ParamValue, String> {
        use serde_json::Value;
        let texts = |v: &Value| -> Result<Vec<String>, String> {
            match v {
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!("expected a list of texts, found {other}")),
                    })
                    .collect(),
                Value::String(s) => Ok(vec![s.clone()]),
                Value::Null => Ok(Vec::new()),
                other => Err(format!("expected a list of texts, found {other}")),
            }
        };
        match (ty, v) {
            (ParamType::Int, Value::Number(n)) => n
                .as_i64()
                .map(ParamValue::Int)
                .ok_or_else(|| format!("expected a whole number, found {n}")),
            (ParamType::Float, Value::Number(n)) => n
                .as_f64()
                .map(ParamValue::Float)
                .ok_or_else(|| format!("expected a number, found {n}")),
            (ParamType::Bool, Value::Bool(b)) => Ok(ParamValue::Bool(*b)),
            (ParamType::String, Value::String(s)) => Ok(ParamValue::String(s.clone())),
            (ParamType::Strings, v) => texts(v).map(ParamValue::Strings),
            (ParamType::Regexes, v) => {
                let sources = texts(v)?;
                let compiled = sources
                    .iter()
                    .map(|s| {
                        Regex::new(s).map_err(|e| format!("bad regular expression `{s}`: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ParamValue::Regexes(Patterns(Arc::new(compiled))))
            }
            (ty, other) => Err(format!("expected {}, found {other}", describe(ty))),
        }
    }

    /// Parses a command-line value (`--param name=VALUE`) as type `ty`. Lists are
    /// comma-separated, or a JSON array.
    pub fn parse_cli(ty: ParamType, text: &str) -> Result<ParamValue, String> {
        use serde_json::Value;
        let t = text.trim();
        let v = match ty {
            ParamType::Int => t
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("expected a whole number, found `{t}`"))?,
            ParamType::Float => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Value::from)
                .ok_or_else(|| format!("expected a number, found `{t}`"))?,
            ParamType::Bool => match t {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("expected true or false, found `{t}`")),
            },
            ParamType::String => Value::String(text.to_string()),
            ParamType::Strings | ParamType::Regexes => {
                if t.starts_with('[') {
                    serde_json::from_str(t).map_err(|e| format!("bad JSON list `{t}`: {e}"))?
                } else if t.is_empty() {
                    Value::Array(Vec::new())
                } else {
                    Value::Array(
                        t.split(',')
                            .map(|s| Value::String(s.trim().into()))
                            .collect(),
                    )
                }
            }
        };
        ParamValue::from_json(ty, &v)
    }
}

fn describe(ty: ParamType) -> &'static str {
    match ty {
        ParamType::Int => "a whole number",
        ParamType::Float => "a number",
        ParamType::Bool => "true or false",
        ParamType::String => "a text",
        ParamType::Strings => "a list of texts",
        ParamType::Regexes => "a list of regular expressions",
    }
}

/// A declared param of a pack.
#[derive(Clone, Debug)]
pub struct ParamDecl {
    pub name: String,
    pub ty: ParamType,
    pub default: ParamValue,
    pub description: String,
}

/// Where an override came from, to name it in errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverrideOrigin {
    CommandLine,
    Config(String),
}

impl fmt::Display for OverrideOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OverrideOrigin::CommandLine => f.write_str("--param"),
            OverrideOrigin::Config(p) => write!(f, "config {p}"),
        }
    }
}

/// An override of one param, for every rule (`rule` = None) or for one rule.
#[derive(Clone, Debug)]
pub struct ParamOverride {
    pub rule: Option<String>,
    pub name: String,
    pub value: OverrideValue,
    pub origin: OverrideOrigin,
}

/// An override value before it is typed by the param's declaration.
#[derive(Clone, Debug)]
pub enum OverrideValue {
    Text(String),
    Json(serde_json::Value),
}

impl ParamOverride {
    /// Parses `--param name=value` or `--param rule-id.name=value`.
    pub fn parse_cli(arg: &str) -> Result<ParamOverride, String> {
        let (lhs, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("--param `{arg}`: expected NAME=VALUE or RULE-ID.NAME=VALUE"))?;
        let (rule, name) = match lhs.rsplit_once('.') {
            Some((rule, name)) => (Some(rule.trim().to_string()), name.trim().to_string()),
            None => (None, lhs.trim().to_string()),
        };
        if name.is_empty() || rule.as_deref() == Some("") {
            return Err(format!("--param `{arg}`: empty param or rule name"));
        }
        Ok(ParamOverride {
            rule,
            name,
            value: OverrideValue::Text(value.to_string()),
            origin: OverrideOrigin::CommandLine,
        })
    }

    /// Types the override by the param's declaration.
    pub fn typed(&self, ty: ParamType) -> Result<ParamValue, String> {
        match &self.value {
            OverrideValue::Text(t) => ParamValue::parse_cli(ty, t),
            OverrideValue::Json(v) => ParamValue::from_json(ty, v),
        }
    }
}

/// The effective params of one rule.
pub type EffectiveParams = BTreeMap<String, ParamValue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_values_are_typed() {
        assert_eq!(
            ParamValue::parse_cli(ParamType::Int, "45"),
            Ok(ParamValue::Int(45))
        );
        assert!(ParamValue::parse_cli(ParamType::Int, "4.5")
            .unwrap_err()
            .contains("whole number"));
        assert_eq!(
            ParamValue::parse_cli(ParamType::Strings, "s3, ec2").map(|v| v.to_json()),
            Ok(serde_json::json!(["s3", "ec2"]))
        );
        assert_eq!(
            ParamValue::parse_cli(ParamType::Strings, r#"["a,b"]"#).map(|v| v.to_json()),
            Ok(serde_json::json!(["a,b"]))
        );
        assert!(ParamValue::parse_cli(ParamType::Regexes, "(")
            .unwrap_err()
            .contains("bad regular expression"));
        assert!(ParamValue::parse_cli(ParamType::Float, "NaN").is_err());
    }

    #[test]
    fn overrides_parse_with_and_without_rule() {
        let o = ParamOverride::parse_cli("recent_days=60").unwrap();
        assert_eq!((o.rule, o.name.as_str()), (None, "recent_days"));
        let o = ParamOverride::parse_cli("old-key-in-use.recent_days=60").unwrap();
        assert_eq!(o.rule.as_deref(), Some("old-key-in-use"));
        assert!(ParamOverride::parse_cli("recent_days").is_err());
        assert!(ParamOverride::parse_cli(".x=1").is_err());
    }
}
