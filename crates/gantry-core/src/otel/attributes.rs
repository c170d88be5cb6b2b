//! Reading OTLP attributes: typed lookups that remember which keys were used, so that the
//! rest can be kept as they came.

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// An OTLP value as JSON: ints and doubles as numbers (non-finite doubles as null), bytes as
/// hex, arrays and key-value lists as arrays and objects.
pub fn any_to_json(value: &AnyValue) -> Value {
    value.value.as_ref().map(kind_to_json).unwrap_or(Value::Null)
}

fn kind_to_json(value: &AnyKind) -> Value {
    match value {
        AnyKind::StringValue(s) => Value::String(s.clone()),
        AnyKind::BoolValue(b) => Value::Bool(*b),
        AnyKind::IntValue(i) => Value::from(*i),
        AnyKind::DoubleValue(d) => serde_json::Number::from_f64(*d).map(Value::Number).unwrap_or(Value::Null),
        AnyKind::ArrayValue(a) => Value::Array(a.values.iter().map(any_to_json).collect()),
        AnyKind::KvlistValue(kv) => Value::Object(attributes_to_json(&kv.values)),
        AnyKind::BytesValue(b) => Value::String(hex(b)),
        // Only the profiling signal uses string-table references.
        _ => Value::Null,
    }
}

/// Key-value pairs as a JSON object (a repeated key keeps its last value).
pub fn attributes_to_json(pairs: &[KeyValue]) -> Map<String, Value> {
    pairs.iter().map(|kv| (kv.key.clone(), kv.value.as_ref().map(any_to_json).unwrap_or(Value::Null))).collect()
}

/// Lower-case hex of `bytes`, as OTLP JSON writes trace and span ids.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// The attributes of one span (or event), read by key.
pub struct Attrs<'a> {
    values: HashMap<&'a str, &'a AnyKind>,
    order: Vec<&'a str>,
    used: HashSet<&'a str>,
}

impl<'a> Attrs<'a> {
    /// Indexes `pairs`; a repeated key keeps its last value.
    pub fn new(pairs: &'a [KeyValue]) -> Self {
        let mut values = HashMap::with_capacity(pairs.len());
        let mut order = Vec::with_capacity(pairs.len());
        for kv in pairs {
            if let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                if values.insert(kv.key.as_str(), value).is_none() {
                    order.push(kv.key.as_str());
                }
            }
        }
        Self { values, order, used: HashSet::new() }
    }

    fn take(&mut self, key: &str) -> Option<&'a AnyKind> {
        let (&k, &v) = self.values.get_key_value(key)?;
        self.used.insert(k);
        Some(v)
    }

    /// Whether `key` is present (without using it).
    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The first of `keys` holding a string.
    pub fn str(&mut self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| match self.take(k)? {
            AnyKind::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The first of `keys` holding a whole number (an int, an integral double, or a numeric string).
    pub fn int(&mut self, keys: &[&str]) -> Option<i64> {
        keys.iter().find_map(|k| match self.take(k)? {
            AnyKind::IntValue(i) => Some(*i),
            AnyKind::DoubleValue(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
            AnyKind::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// Like `int`, for counts: negative or too large values are unknown.
    pub fn count(&mut self, keys: &[&str]) -> Option<u32> {
        self.int(keys).and_then(|n| u32::try_from(n).ok())
    }

    /// The first of `keys` holding a finite number.
    pub fn float(&mut self, keys: &[&str]) -> Option<f64> {
        keys.iter().find_map(|k| match self.take(k)? {
            AnyKind::DoubleValue(d) if d.is_finite() => Some(*d),
            AnyKind::IntValue(i) => Some(*i as f64),
            AnyKind::StringValue(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        })
    }

    /// The first of `keys` holding a bool (or "true"/"false").
    pub fn bool(&mut self, keys: &[&str]) -> Option<bool> {
        keys.iter().find_map(|k| match self.take(k)? {
            AnyKind::BoolValue(b) => Some(*b),
            AnyKind::StringValue(s) => s.parse().ok(),
            _ => None,
        })
    }

    /// The first of `keys` holding strings: an array of strings, one string, or a string that
    /// is a JSON array of strings.
    pub fn strings(&mut self, keys: &[&str]) -> Vec<String> {
        for k in keys {
            let found = match self.take(k) {
                Some(AnyKind::ArrayValue(a)) => a
                    .values
                    .iter()
                    .filter_map(|v| match &v.value {
                        Some(AnyKind::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                Some(AnyKind::StringValue(s)) => match serde_json::from_str::<Vec<String>>(s) {
                    Ok(list) => list,
                    Err(_) => vec![s.clone()],
                },
                _ => Vec::new(),
            };
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// The first of `keys` as JSON: a string that parses as a JSON object or array becomes it.
    pub fn json(&mut self, keys: &[&str]) -> Option<Value> {
        keys.iter().find_map(|k| self.take(k).map(parse_json_text))
    }

    /// The first of `keys` holding JSON text, parsed (a string that is not JSON stays a string).
    pub fn json_text(&mut self, keys: &[&str]) -> Option<Value> {
        keys.iter().find_map(|k| match self.take(k)? {
            AnyKind::StringValue(s) => Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))),
            other => Some(kind_to_json(other)),
        })
    }

    /// Every `PREFIX{N}.{rest}` key, grouped by N (ascending) and keyed by `rest`.
    pub fn indexed(&mut self, prefix: &str) -> BTreeMap<usize, Map<String, Value>> {
        let mut groups: BTreeMap<usize, Map<String, Value>> = BTreeMap::new();
        for &key in &self.order {
            let Some(tail) = key.strip_prefix(prefix) else { continue };
            let Some((index, rest)) = tail.split_once('.') else { continue };
            let Ok(index) = index.parse::<usize>() else { continue };
            if let Some(value) = self.values.get(key) {
                groups.entry(index).or_default().insert(rest.to_string(), kind_to_json(value));
                self.used.insert(key);
            }
        }
        groups
    }

    /// The attributes no lookup has used.
    pub fn remaining(&self) -> Map<String, Value> {
        self.order
            .iter()
            .filter(|k| !self.used.contains(*k))
            .filter_map(|k| Some((k.to_string(), kind_to_json(self.values.get(k)?))))
            .collect()
    }
}

/// A string holding a JSON object or array becomes that JSON; anything else stays as is.
fn parse_json_text(value: &AnyKind) -> Value {
    match value {
        AnyKind::StringValue(s) => {
            let trimmed = s.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                if let Ok(parsed) = serde_json::from_str(s) {
                    return parsed;
                }
            }
            Value::String(s.clone())
        }
        other => kind_to_json(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(key: &str, value: AnyKind) -> KeyValue {
        KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
    }

    #[test]
    fn typed_lookups_and_the_rest() {
        let pairs = vec![
            kv("a.int", AnyKind::IntValue(7)),
            kv("a.str_int", AnyKind::StringValue("12".into())),
            kv("a.neg", AnyKind::IntValue(-3)),
            kv("a.float", AnyKind::DoubleValue(0.5)),
            kv(
                "a.list",
                AnyKind::ArrayValue(ArrayValue {
                    values: vec![AnyValue { value: Some(AnyKind::StringValue("stop".into())) }],
                }),
            ),
            kv("a.json_list", AnyKind::StringValue("[\"length\"]".into())),
            kv("p.0.role", AnyKind::StringValue("user".into())),
            kv("p.1.role", AnyKind::StringValue("assistant".into())),
            kv("p.0.content", AnyKind::StringValue("hi".into())),
            kv("p.x.content", AnyKind::StringValue("not indexed".into())),
            kv("kv", AnyKind::KvlistValue(KeyValueList { values: vec![kv("inner", AnyKind::BoolValue(true))] })),
            kv("bytes", AnyKind::BytesValue(vec![0xab, 0x01])),
        ];
        let mut attrs = Attrs::new(&pairs);
        assert_eq!(attrs.count(&["missing", "a.int"]), Some(7));
        assert_eq!(attrs.count(&["a.str_int"]), Some(12));
        assert_eq!(attrs.count(&["a.neg"]), None);
        assert_eq!(attrs.float(&["a.float"]), Some(0.5));
        assert_eq!(attrs.strings(&["a.list"]), vec!["stop"]);
        assert_eq!(attrs.strings(&["a.json_list"]), vec!["length"]);
        let groups = attrs.indexed("p.");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[&0]["role"], "user");
        assert_eq!(groups[&0]["content"], "hi");
        assert_eq!(groups[&1]["role"], "assistant");
        let rest = attrs.remaining();
        let keys: Vec<_> = rest.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["bytes", "kv", "p.x.content"]);
        assert_eq!(rest["kv"], serde_json::json!({"inner": true}));
        assert_eq!(rest["bytes"], "ab01");
    }
}
