//! User feedback on recorded calls (thumbs, ratings, categories) and its aggregates.

use crate::ids::TraceId;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// A feedback or review score: `true`/`false`, a number, or a category name.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackValue {
    Bool(bool),
    Number(f64),
    Category(String),
}

impl FeedbackValue {
    /// The value as a number for means: a number as it is, `true` = 1, `false` = 0.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            FeedbackValue::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            FeedbackValue::Number(n) => Some(*n),
            FeedbackValue::Category(_) => None,
        }
    }

    /// The kind as a word, for error messages: "boolean", "number" or "category".
    pub fn kind(&self) -> &'static str {
        match self {
            FeedbackValue::Bool(_) => "boolean",
            FeedbackValue::Number(_) => "number",
            FeedbackValue::Category(_) => "category",
        }
    }
}

impl fmt::Display for FeedbackValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedbackValue::Bool(b) => write!(f, "{b}"),
            FeedbackValue::Number(n) => write!(f, "{n}"),
            FeedbackValue::Category(c) => f.write_str(c),
        }
    }
}

/// Whole numbers go out as JSON integers, so a rating of 4 reads back as `4`, not `4.0`.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

impl Serialize for FeedbackValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FeedbackValue::Bool(b) => serializer.serialize_bool(*b),
            // The guard keeps the value inside i64's exact range, so the cast loses nothing.
            FeedbackValue::Number(n) if n.fract() == 0.0 && n.abs() < MAX_EXACT_INTEGER => {
                serializer.serialize_i64(*n as i64)
            }
            FeedbackValue::Number(n) => serializer.serialize_f64(*n),
            FeedbackValue::Category(c) => serializer.serialize_str(c),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FeedbackValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false, a number or a category string")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Bool(v))
    }

    // Precision beyond 2^53 does not matter for a score.
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Number(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Number(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Category(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<FeedbackValue, E> {
        Ok(FeedbackValue::Category(v))
    }
}

// Written by hand rather than `#[serde(untagged)]`: untagged enums fail with "data did not
// match any variant", which does not tell a client that null, objects and arrays are refused.
impl<'de> Deserialize<'de> for FeedbackValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Feedback as a client sends it for one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFeedback {
    /// What is rated, e.g. "thumbs", "rating", "category".
    pub name: String,
    pub value: FeedbackValue,
    #[serde(default)]
    pub comment: Option<String>,
    /// Who gave it; the API records "api" when none is named.
    #[serde(default)]
    pub author: Option<String>,
}

/// One piece of stored feedback; a trace may have many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: Uuid,
    pub trace_id: TraceId,
    pub name: String,
    pub value: FeedbackValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// What feedback aggregates are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackGroupBy {
    /// The registered prompt version of the trace, as `NAME@VERSION`.
    Prompt,
    /// The model the client asked for.
    Model,
}

impl FeedbackGroupBy {
    /// The name used in queries and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackGroupBy::Prompt => "prompt",
            FeedbackGroupBy::Model => "model",
        }
    }

    /// Parses `prompt` or `model`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "prompt" => Some(FeedbackGroupBy::Prompt),
            "model" => Some(FeedbackGroupBy::Model),
            _ => None,
        }
    }
}

/// The aggregate of one feedback name within one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackAggregate {
    /// `NAME@VERSION` or the model; `None` for traces made without a registered prompt.
    pub group: Option<String>,
    /// The feedback name.
    pub name: String,
    /// Every value of that name in the group.
    pub count: u64,
    /// How many of them were numbers or booleans.
    pub numeric_count: u64,
    /// Mean of the numeric and boolean values (true = 1); `None` when there were none.
    pub mean: Option<f64>,
    /// How often each category was given.
    #[serde(default)]
    pub categories: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_parse_from_json_and_back() {
        let parsed: Vec<FeedbackValue> = serde_json::from_value(json!([true, 4, 0.5, "off-topic", -2])).unwrap();
        assert_eq!(
            parsed,
            vec![
                FeedbackValue::Bool(true),
                FeedbackValue::Number(4.0),
                FeedbackValue::Number(0.5),
                FeedbackValue::Category("off-topic".into()),
                FeedbackValue::Number(-2.0)
            ]
        );
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json!([true, 4, 0.5, "off-topic", -2]));
        assert_eq!(parsed[0].as_number(), Some(1.0));
        assert_eq!(parsed[3].as_number(), None);
    }

    #[test]
    fn null_objects_and_arrays_are_refused_clearly() {
        for bad in [json!(null), json!({"a": 1}), json!([1])] {
            let err = serde_json::from_value::<FeedbackValue>(bad.clone()).unwrap_err().to_string();
            assert!(err.contains("expected true, false, a number or a category string"), "{bad}: {err}");
        }
        let err = serde_json::from_value::<NewFeedback>(json!({"name": "x", "value": null})).unwrap_err();
        assert!(err.to_string().starts_with("invalid type: null"), "{err}");
    }
}
