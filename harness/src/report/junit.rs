//! JUnit XML: one test case per scenario, a failure with its message and the timeline.

use std::path::Path;

use anyhow::Context;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::RunReport;
use crate::scenarios::Outcome;

pub fn write_junit(run: &RunReport, path: &Path) -> anyhow::Result<()> {
    let mut report = Report::new("harness");
    let mut suite = TestSuite::new(format!("scenarios ({})", run.database));
    for s in &run.scenarios {
        let status = match &s.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped { reason } => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(reason.clone());
                st
            }
            Outcome::Failed { message } => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(message.lines().next().unwrap_or("failed").to_string());
                let steps: Vec<String> = s
                    .timeline
                    .iter()
                    .filter(|step| step.actor != crate::timeline::Actor::Screenshot)
                    .map(|step| format!("{:>6} ms  {:?}  {}", step.at_ms, step.actor, step.summary))
                    .collect();
                st.set_description(format!("{message}\n\nsteps:\n{}", steps.join("\n")));
                st
            }
        };
        let mut case = TestCase::new(s.name.clone(), status);
        case.set_classname("harness.scenarios");
        case.set_time(std::time::Duration::from_secs_f64(s.seconds));
        suite.add_test_case(case);
    }
    report.add_test_suite(suite);
    let xml = report.to_string().context("rendering JUnit XML")?;
    std::fs::write(path, xml).with_context(|| format!("writing {}", path.display()))
}
