//! Parsing an LLM judge's answer into a score and a reason; an unusable answer is an error,
//! never a guessed score.

use super::{JudgeParseError, MetricError};
use serde::Serialize;
use serde_json::{Map, Value};

/// A judge's score and its stated reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgeVerdict {
    /// The score, within the range the judge was given.
    pub score: f64,
    /// The judge's reason (empty when it gave none).
    pub reason: String,
}

/// Reads `{"score": .., "reason": ..}` (bare, fenced or amid prose) or `Score: N` / `Reason: ...`
/// lines, and checks the score lies within `[min, max]`.
pub fn parse_judge_output(text: &str, min: f64, max: f64) -> Result<JudgeVerdict, JudgeParseError> {
    if !(min.is_finite() && max.is_finite() && min <= max) {
        return Err(MetricError::InvalidScoreRange { min, max });
    }
    let verdict = match first_object_with_score(text) {
        Some(object) => verdict_from_object(&object)?,
        None => verdict_from_lines(text)?,
    };
    if !(min..=max).contains(&verdict.score) {
        return Err(MetricError::JudgeScoreOutOfRange { score: verdict.score, min, max });
    }
    Ok(verdict)
}

/// The first JSON object in the text that has a `score` key; trying every `{` finds objects
/// inside code fences and prose alike.
fn first_object_with_score(text: &str) -> Option<Map<String, Value>> {
    text.char_indices().filter(|&(_, c)| c == '{').find_map(|(start, _)| {
        let mut values = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
        match values.next() {
            Some(Ok(Value::Object(object))) if field(&object, "score").is_some() => Some(object),
            _ => None,
        }
    })
}

/// A field looked up without regard to case (`"Score"` is as clear as `"score"`).
fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| object.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn verdict_from_object(object: &Map<String, Value>) -> Result<JudgeVerdict, MetricError> {
    let score = match field(object, "score") {
        Some(Value::Number(number)) => number.as_f64(),
        Some(Value::Null) | None => return Err(MetricError::JudgeScoreMissing),
        Some(_) => None,
    };
    let score = score.ok_or_else(|| MetricError::JudgeScoreNotANumber {
        value: field(object, "score").map(Value::to_string).unwrap_or_default(),
    })?;
    let reason = match field(object, "reason") {
        Some(Value::String(reason)) => reason.trim().to_string(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Ok(JudgeVerdict { score, reason })
}

fn verdict_from_lines(text: &str) -> Result<JudgeVerdict, MetricError> {
    let lines: Vec<&str> = text.lines().collect();
    let score_text =
        lines.iter().find_map(|line| labelled_value(line, "score")).ok_or(MetricError::JudgeScoreMissing)?;
    let score = score_text
        .trim_end_matches(['*', '.'])
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|score| score.is_finite())
        .ok_or_else(|| MetricError::JudgeScoreNotANumber { value: format!("'{score_text}'") })?;
    // A reason may run over several lines, up to a score line or the end.
    let reason = match lines.iter().position(|line| labelled_value(line, "reason").is_some()) {
        Some(first) => {
            let mut parts = vec![labelled_value(lines[first], "reason").unwrap_or_default()];
            parts.extend(lines[first + 1..].iter().take_while(|line| labelled_value(line, "score").is_none()));
            parts.join("\n").trim().to_string()
        }
        None => String::new(),
    };
    Ok(JudgeVerdict { score, reason })
}

/// The value of a `Label: value` line, tolerating Markdown emphasis, headings and bullets.
fn labelled_value<'a>(line: &'a str, label: &str) -> Option<&'a str> {
    let line = line.trim_start_matches(|c: char| c == '*' || c == '#' || c == '-' || c == '_' || c.is_whitespace());
    let head = line.get(..label.len())?;
    if !head.eq_ignore_ascii_case(label) {
        return None;
    }
    let rest = line[label.len()..].trim_start_matches(['*', '_']).trim_start();
    let value = rest.strip_prefix(':')?;
    Some(value.trim_start_matches(['*', '_']).trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_bare_fenced_or_in_prose() {
        let bare = parse_judge_output(r#"{"score": 4, "reason": "mostly right"}"#, 1.0, 5.0).unwrap();
        assert_eq!(bare, JudgeVerdict { score: 4.0, reason: "mostly right".into() });
        let fenced = "Here is my verdict:\n```json\n{\"reason\": \"ok {fine}\", \"score\": 0.5}\n```\nThanks";
        assert_eq!(parse_judge_output(fenced, 0.0, 1.0).unwrap().score, 0.5);
        let nested = r#"Verdict {"details": {"x": 1}, "Score": 3}"#;
        assert_eq!(parse_judge_output(nested, 1.0, 5.0).unwrap(), JudgeVerdict { score: 3.0, reason: String::new() });
    }

    #[test]
    fn reads_score_and_reason_lines() {
        let text = "**Score:** 7\nReason: the answer is correct\nbut terse.";
        let verdict = parse_judge_output(text, 1.0, 10.0).unwrap();
        assert_eq!(verdict, JudgeVerdict { score: 7.0, reason: "the answer is correct\nbut terse.".into() });
        let reason_first = "Reason: fine\nScore: 2.5";
        assert_eq!(parse_judge_output(reason_first, 1.0, 5.0).unwrap().reason, "fine");
    }

    #[test]
    fn unusable_answers_are_errors_never_guesses() {
        assert_eq!(parse_judge_output("I think it is good", 1.0, 5.0).unwrap_err(), MetricError::JudgeScoreMissing);
        let text = r#"{"score": "high", "reason": "x"}"#;
        assert_eq!(
            parse_judge_output(text, 1.0, 5.0).unwrap_err(),
            MetricError::JudgeScoreNotANumber { value: "\"high\"".into() }
        );
        assert_eq!(parse_judge_output("Score: 8/10", 1.0, 10.0).unwrap_err().code(), "judge_score_not_a_number");
        assert_eq!(parse_judge_output("Score: NaN", 1.0, 10.0).unwrap_err().code(), "judge_score_not_a_number");
        let out_of_range = parse_judge_output(r#"{"score": 11}"#, 1.0, 10.0).unwrap_err();
        assert_eq!(out_of_range, MetricError::JudgeScoreOutOfRange { score: 11.0, min: 1.0, max: 10.0 });
        assert!(out_of_range.to_string().contains("[1, 10]"));
        assert_eq!(parse_judge_output("Score: 3", 5.0, 1.0).unwrap_err().code(), "invalid_score_range");
        assert_eq!(parse_judge_output(r#"{"score": null}"#, 1.0, 5.0).unwrap_err().code(), "judge_score_missing");
    }
}
