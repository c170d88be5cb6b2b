//! Rubrics: their validation, scores checked against them, and rubric files (TOML or YAML).

use super::{label_problem, ReviewError};
use gantry_core::prompts::{parse_structured, FileFormat, PromptError};
use gantry_types::{Criterion, FeedbackValue, NewReviewQueue, Rubric, Scale};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Most criteria a rubric may have.
const MAX_CRITERIA: usize = 50;
/// Most categories a scale may have.
const MAX_CATEGORIES: usize = 100;
/// Steps are compared with this tolerance, so 0.1-steps accept 0.3 despite binary floats.
const STEP_TOLERANCE: f64 = 1e-9;

fn rubric_error(message: String, param: String) -> ReviewError {
    ReviewError::InvalidRubric { message, param }
}

/// A name that can be typed as `NAME=VALUE` and used as a JSON key without quoting doubts.
pub(crate) fn identifier_ok(name: &str) -> bool {
    gantry_types::is_resource_name(name)
}

fn check_scale(scale: &Scale, param: &str) -> Result<(), ReviewError> {
    match scale {
        Scale::Numeric { min, max, step } => {
            if !min.is_finite() || !max.is_finite() || min >= max {
                return Err(rubric_error(format!("min must be below max, got min {min} and max {max}"), param.into()));
            }
            match step {
                Some(step) if !step.is_finite() || *step <= 0.0 || *step > max - min => Err(rubric_error(
                    format!("step must be above 0 and at most max - min ({}), got {step}", max - min),
                    format!("{param}.step"),
                )),
                Some(_) => Ok(()),
                None if min.fract() != 0.0 || max.fract() != 0.0 => Err(rubric_error(
                    format!("without a step the scale takes whole numbers, so min and max must be whole; got {min} and {max}"),
                    param.into(),
                )),
                None => Ok(()),
            }
        }
        Scale::Boolean => Ok(()),
        Scale::Categories { categories } => {
            if categories.is_empty() || categories.len() > MAX_CATEGORIES {
                return Err(rubric_error(
                    format!("a categories scale lists 1 to {MAX_CATEGORIES} categories, got {}", categories.len()),
                    format!("{param}.categories"),
                ));
            }
            let mut seen = HashSet::new();
            for (i, category) in categories.iter().enumerate() {
                if let Some(problem) = label_problem(category, "a category", 128) {
                    return Err(rubric_error(problem, format!("{param}.categories[{i}]")));
                }
                if !seen.insert(category) {
                    return Err(rubric_error(
                        format!("category '{category}' is listed twice"),
                        format!("{param}.categories[{i}]"),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Checks a rubric: 1 to 50 criteria with distinct names, each scale possible.
pub fn validate_rubric(rubric: &Rubric) -> Result<(), ReviewError> {
    if rubric.criteria.is_empty() || rubric.criteria.len() > MAX_CRITERIA {
        return Err(rubric_error(
            format!("a rubric has 1 to {MAX_CRITERIA} criteria, got {}", rubric.criteria.len()),
            "rubric.criteria".into(),
        ));
    }
    let mut seen = HashSet::new();
    for (i, criterion) in rubric.criteria.iter().enumerate() {
        let param = format!("rubric.criteria[{i}]");
        if !identifier_ok(&criterion.name) {
            return Err(rubric_error(
                format!(
                    "'{}' is not a valid criterion name: use 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit",
                    criterion.name
                ),
                format!("{param}.name"),
            ));
        }
        if !seen.insert(criterion.name.as_str()) {
            return Err(rubric_error(format!("criterion '{}' appears twice", criterion.name), format!("{param}.name")));
        }
        check_scale(&criterion.scale, &format!("{param}.scale"))?;
    }
    Ok(())
}

fn describe(scale: &Scale) -> String {
    match scale {
        Scale::Numeric { min, max, step: None } => format!("a whole number from {min} to {max}"),
        Scale::Numeric { min, max, step: Some(step) } => format!("a number from {min} to {max} in steps of {step}"),
        Scale::Boolean => "true or false".to_string(),
        Scale::Categories { categories } => format!("one of {}", categories.join(", ")),
    }
}

fn fits(scale: &Scale, value: &FeedbackValue) -> bool {
    match (scale, value) {
        (Scale::Numeric { min, max, step }, FeedbackValue::Number(v)) => {
            let step = step.unwrap_or(1.0);
            let steps = (v - min) / step;
            v.is_finite()
                && v >= min
                && v <= max
                && (steps - steps.round()).abs() <= STEP_TOLERANCE * steps.abs().max(1.0)
        }
        (Scale::Boolean, FeedbackValue::Bool(_)) => true,
        (Scale::Categories { categories }, FeedbackValue::Category(c)) => categories.contains(c),
        _ => false,
    }
}

fn score_error(criterion: &Criterion, value: &FeedbackValue) -> ReviewError {
    let shown = match value {
        FeedbackValue::Category(c) => format!("'{c}'"),
        other => other.to_string(),
    };
    ReviewError::InvalidScores {
        message: format!("score for '{}' must be {}, got {shown}", criterion.name, describe(&criterion.scale)),
        criterion: criterion.name.clone(),
    }
}

/// Checks that `scores` gives every criterion of `rubric` a value its scale allows, and
/// nothing else. The error names the first criterion at fault.
pub fn validate_scores(rubric: &Rubric, scores: &BTreeMap<String, FeedbackValue>) -> Result<(), ReviewError> {
    for criterion in &rubric.criteria {
        match scores.get(&criterion.name) {
            None => {
                return Err(ReviewError::InvalidScores {
                    message: format!("missing a score for '{}' ({})", criterion.name, describe(&criterion.scale)),
                    criterion: criterion.name.clone(),
                })
            }
            Some(value) if !fits(&criterion.scale, value) => return Err(score_error(criterion, value)),
            Some(_) => {}
        }
    }
    if let Some(unknown) = scores.keys().find(|k| !rubric.criteria.iter().any(|c| &c.name == *k)) {
        let names: Vec<&str> = rubric.criteria.iter().map(|c| c.name.as_str()).collect();
        return Err(ReviewError::InvalidScores {
            message: format!("'{unknown}' is not a criterion of this queue (criteria: {})", names.join(", ")),
            criterion: unknown.clone(),
        });
    }
    Ok(())
}

/// A rubric file: the queue's description and instructions and its criteria.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RubricFile {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub instructions: Option<String>,
    pub criteria: Vec<Criterion>,
}

impl RubricFile {
    /// The queue `name` this file describes.
    pub fn into_queue(self, name: &str) -> NewReviewQueue {
        NewReviewQueue {
            name: name.to_string(),
            description: self.description,
            rubric: Rubric { criteria: self.criteria },
            instructions: self.instructions,
        }
    }
}

/// Reads a rubric file, TOML (`.toml`) or YAML (`.yaml`, `.yml`), and validates its rubric.
pub fn read_rubric_file(path: &Path) -> Result<RubricFile, ReviewError> {
    let source = path.display().to_string();
    let file_error = |message: String| ReviewError::RubricFile { path: source.clone(), message };
    let format = FileFormat::from_path(path)
        .ok_or_else(|| file_error("a rubric file ends in .toml, .yaml or .yml".to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|e| file_error(format!("cannot read it: {e}")))?;
    let file: RubricFile = parse_structured(&text, format, &source).map_err(|e| match e {
        PromptError::File { message, .. } => file_error(message),
        other => file_error(other.to_string()),
    })?;
    validate_rubric(&Rubric { criteria: file.criteria.clone() })
        .map_err(|e| file_error(format!("{} ({})", e, e.param().unwrap_or_default().replacen("rubric.", "", 1))))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn criterion(name: &str, scale: Scale) -> Criterion {
        Criterion { name: name.into(), description: None, scale }
    }

    fn rubric() -> Rubric {
        Rubric {
            criteria: vec![
                criterion("helpful", Scale::Numeric { min: 1.0, max: 5.0, step: None }),
                criterion("confidence", Scale::Numeric { min: 0.0, max: 1.0, step: Some(0.1) }),
                criterion("correct", Scale::Boolean),
                criterion("tone", Scale::Categories { categories: vec!["friendly".into(), "rude".into()] }),
            ],
        }
    }

    fn scores(pairs: &[(&str, FeedbackValue)]) -> BTreeMap<String, FeedbackValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    fn good() -> BTreeMap<String, FeedbackValue> {
        scores(&[
            ("helpful", FeedbackValue::Number(4.0)),
            ("confidence", FeedbackValue::Number(0.3)),
            ("correct", FeedbackValue::Bool(true)),
            ("tone", FeedbackValue::Category("friendly".into())),
        ])
    }

    #[test]
    fn scores_fit_the_rubric_or_name_the_criterion() {
        validate_rubric(&rubric()).unwrap();
        validate_scores(&rubric(), &good()).unwrap();
        let cases: Vec<(&str, FeedbackValue, &str)> = vec![
            ("helpful", FeedbackValue::Number(6.0), "score for 'helpful' must be a whole number from 1 to 5, got 6"),
            ("helpful", FeedbackValue::Number(2.5), "score for 'helpful' must be a whole number from 1 to 5, got 2.5"),
            ("helpful", FeedbackValue::Bool(true), "score for 'helpful' must be a whole number from 1 to 5, got true"),
            (
                "confidence",
                FeedbackValue::Number(0.35),
                "score for 'confidence' must be a number from 0 to 1 in steps of 0.1, got 0.35",
            ),
            ("correct", FeedbackValue::Number(1.0), "score for 'correct' must be true or false, got 1"),
            (
                "tone",
                FeedbackValue::Category("angry".into()),
                "score for 'tone' must be one of friendly, rude, got 'angry'",
            ),
        ];
        for (name, value, message) in cases {
            let mut s = good();
            s.insert(name.into(), value);
            let err = validate_scores(&rubric(), &s).unwrap_err();
            assert_eq!((err.to_string().as_str(), err.param()), (message, Some(format!("scores.{name}"))));
        }
        let mut s = good();
        s.remove("correct");
        let err = validate_scores(&rubric(), &s).unwrap_err();
        assert_eq!(err.to_string(), "missing a score for 'correct' (true or false)");
        let mut s = good();
        s.insert("length".into(), FeedbackValue::Number(1.0));
        let err = validate_scores(&rubric(), &s).unwrap_err();
        assert_eq!(
            err.to_string(),
            "'length' is not a criterion of this queue (criteria: helpful, confidence, correct, tone)"
        );
        assert_eq!(err.param().as_deref(), Some("scores.length"));
    }

    #[test]
    fn impossible_rubrics_are_refused() {
        let cases = vec![
            (Rubric { criteria: vec![] }, "rubric.criteria"),
            (
                Rubric { criteria: vec![criterion("a", Scale::Numeric { min: 5.0, max: 1.0, step: None })] },
                "rubric.criteria[0].scale",
            ),
            (
                Rubric { criteria: vec![criterion("a", Scale::Numeric { min: 0.5, max: 1.0, step: None })] },
                "rubric.criteria[0].scale",
            ),
            (
                Rubric { criteria: vec![criterion("a", Scale::Numeric { min: 0.0, max: 1.0, step: Some(0.0) })] },
                "rubric.criteria[0].scale.step",
            ),
            (
                Rubric { criteria: vec![criterion("a", Scale::Categories { categories: vec![] })] },
                "rubric.criteria[0].scale.categories",
            ),
            (
                Rubric {
                    criteria: vec![criterion("a", Scale::Categories { categories: vec!["x".into(), "x".into()] })],
                },
                "rubric.criteria[0].scale.categories[1]",
            ),
            (
                Rubric { criteria: vec![criterion("a", Scale::Boolean), criterion("a", Scale::Boolean)] },
                "rubric.criteria[1].name",
            ),
            (Rubric { criteria: vec![criterion("has space", Scale::Boolean)] }, "rubric.criteria[0].name"),
        ];
        for (rubric, param) in cases {
            let err = validate_rubric(&rubric).unwrap_err();
            assert_eq!((err.code(), err.param().as_deref()), ("invalid_rubric", Some(param)), "{err}");
        }
    }

    #[test]
    fn rubric_files_in_toml_and_yaml_agree() {
        let dir = tempfile::tempdir().unwrap();
        let toml = dir.path().join("r.toml");
        std::fs::write(
            &toml,
            "description = \"d\"\n[[criteria]]\nname = \"helpful\"\nscale = { type = \"numeric\", min = 1, max = 5 }\n\
             [[criteria]]\nname = \"correct\"\nscale = { type = \"boolean\" }\n",
        )
        .unwrap();
        let yaml = dir.path().join("r.yaml");
        std::fs::write(
            &yaml,
            "description: d\ncriteria:\n  - name: helpful\n    scale: {type: numeric, min: 1, max: 5}\n  - name: correct\n    scale:\n      type: boolean\n",
        )
        .unwrap();
        let from_toml = read_rubric_file(&toml).unwrap();
        assert_eq!(from_toml, read_rubric_file(&yaml).unwrap());
        assert_eq!(from_toml.criteria[0].scale, Scale::Numeric { min: 1.0, max: 5.0, step: None });

        std::fs::write(&toml, "[[criteria]]\nname = \"x\"\nscale = { type = \"stars\" }\n").unwrap();
        let err = read_rubric_file(&toml).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: field 'criteria[0].scale.type'", toml.display())), "{err}");
        assert!(err.contains("unknown variant `stars`, expected one of `numeric`, `boolean`, `categories`"), "{err}");
        std::fs::write(&toml, "criteria = []\n").unwrap();
        let err = read_rubric_file(&toml).unwrap_err().to_string();
        assert!(err.ends_with("a rubric has 1 to 50 criteria, got 0 (criteria)"), "{err}");
        let err = read_rubric_file(&dir.path().join("r.json")).unwrap_err().to_string();
        assert!(err.contains("ends in .toml, .yaml or .yml"), "{err}");
    }
}
