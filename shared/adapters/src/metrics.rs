//! CloudWatch Embedded Metric Format: one JSON line on stdout per event, which Lambda's
//! log pipeline turns into metrics (namespace `ExpertMatching`, by function and overall).
//! No API calls, so recording a metric can never slow down or fail a request.

use serde_json::{Map, Value, json};
use std::sync::OnceLock;

pub const NAMESPACE: &str = "ExpertMatching";

static FUNCTION: OnceLock<String> = OnceLock::new();

/// Names the function in every metric; called once at start-up.
pub fn set_function(name: &str) {
    let _ = FUNCTION.set(name.to_owned());
}

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// The EMF line for these values (None when there is nothing to record).
pub fn line(values: &[(&str, f64, Unit)]) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let function = FUNCTION.get().map_or("local", String::as_str);
    let definitions: Vec<Value> = values
        .iter()
        .map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [["Function"], []], "Metrics": definitions }],
        }),
    );
    root.insert("Function".into(), json!(function));
    for (name, value, _) in values {
        root.insert((*name).to_owned(), json!(value));
    }
    Some(Value::Object(root).to_string())
}

pub fn emit(values: &[(&str, f64, Unit)]) {
    if let Some(line) = line(values) {
        println!("{line}");
    }
}

pub fn count(name: &str, value: u64) {
    if value > 0 {
        emit(&[(name, value as f64, Unit::Count)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_declare_their_metrics() {
        let line: Value = serde_json::from_str(
            &line(&[
                ("ViewsCounted", 1.0, Unit::Count),
                ("TossLatency", 12.5, Unit::Milliseconds),
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"],
            "Milliseconds"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"], []])
        );
        assert_eq!(line["ViewsCounted"], 1.0);
        assert!(line["Function"].is_string());
        assert!(super::line(&[]).is_none());
    }
}
