//! A JUnit XML report of a run's gate, so CI systems show each threshold as a test case.

use gantry_types::EvalRun;
use quick_xml::escape::escape;
use std::fmt::Write as _;

/// The report: one test suite for the run, one test case per gate check.
pub fn report(run: &EvalRun) -> String {
    let checks = run.gate.as_ref().map(|g| g.checks.as_slice()).unwrap_or_default();
    let failures = checks.iter().filter(|c| !c.passed).count();
    let seconds = run.finished_at.map(|f| (f - run.created_at).num_milliseconds() as f64 / 1000.0).unwrap_or(0.0);
    let suite = escape(run.suite.as_str());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(xml, "<testsuites name=\"gantry eval\" tests=\"{}\" failures=\"{failures}\">", checks.len());
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\" \
         timestamp=\"{}\">",
        checks.len(),
        run.created_at.format("%Y-%m-%dT%H:%M:%S")
    );
    xml.push_str("    <properties>\n");
    for (name, value) in [
        ("run_id", run.id.clone()),
        ("target", run.target.clone()),
        ("dataset", format!("{}@{}", run.dataset, run.dataset_version)),
        ("items", run.items_done.to_string()),
        ("failed_items", run.items_failed.to_string()),
        ("baseline_run_id", run.baseline_run_id.clone().unwrap_or_default()),
    ] {
        let _ = writeln!(xml, "      <property name=\"{name}\" value=\"{}\"/>", escape(value.as_str()));
    }
    xml.push_str("    </properties>\n");
    for check in checks {
        let name = escape(format!("{}.{}", check.evaluator, check.metric));
        let _ = write!(xml, "    <testcase classname=\"{suite}\" name=\"{name}\" time=\"0\">");
        match (&check.reason, check.passed) {
            (Some(reason), false) => {
                let reason = escape(reason.as_str());
                let _ =
                    write!(xml, "\n      <failure message=\"{reason}\" type=\"threshold\">{reason}</failure>\n    ");
            }
            _ => {
                let _ = write!(xml, "<system-out>value {:.6}</system-out>", check.value);
            }
        }
        xml.push_str("</testcase>\n");
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::report;
    use gantry_types::{EvalRun, EvalRunStatus, GateCheck, GateReport};

    #[test]
    fn failures_become_failed_test_cases_with_escaped_text() {
        let check = |name: &str, passed: bool, reason: Option<&str>| GateCheck {
            evaluator: name.into(),
            metric: "mean".into(),
            value: 0.25,
            threshold: Some(0.5),
            baseline: None,
            max_regression: None,
            passed,
            reason: reason.map(str::to_string),
        };
        let run = EvalRun {
            id: "r1".into(),
            suite: "qa <smoke>".into(),
            dataset: "d".into(),
            dataset_version: 2,
            target: "model:m".into(),
            config: serde_json::Value::Null,
            status: EvalRunStatus::Completed,
            created_at: chrono::Utc::now(),
            finished_at: None,
            items_total: 4,
            items_done: 4,
            items_failed: 0,
            summaries: vec![],
            gate: Some(GateReport {
                passed: false,
                checks: vec![check("em", false, Some("0.25 < 0.5 & worse")), check("f1", true, None)],
            }),
            baseline_run_id: None,
        };
        let xml = report(&run);
        assert!(xml.contains("<testsuite name=\"qa &lt;smoke&gt;\" tests=\"2\" failures=\"1\""));
        assert!(xml.contains("<failure message=\"0.25 &lt; 0.5 &amp; worse\" type=\"threshold\">"));
        assert!(xml.contains("name=\"f1.mean\" time=\"0\"><system-out>value 0.250000</system-out></testcase>"));
        assert!(xml.contains("<property name=\"dataset\" value=\"d@2\"/>"));
    }
}
