//! Reports of a run: the summary table on the terminal, JSON, JUnit XML for CI, and one
//! self-contained HTML file with a timeline per scenario.

mod html;
mod junit;

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::scenarios::ScenarioReport;

pub use html::write_html;
pub use junit::write_junit;

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// `sqlite` or `postgres`.
    pub database: String,
    pub seconds: f64,
    pub scenarios: Vec<ScenarioReport>,
}

impl RunReport {
    /// Passed, skipped ones not counted.
    pub fn passed(&self) -> usize {
        self.scenarios
            .iter()
            .filter(|s| s.passed() && !s.skipped())
            .count()
    }

    pub fn failed(&self) -> usize {
        self.scenarios.iter().filter(|s| !s.passed()).count()
    }

    pub fn skipped(&self) -> usize {
        self.scenarios.iter().filter(|s| s.skipped()).count()
    }

    /// The closing table, failures with their message.
    pub fn summary_table(&self) -> String {
        let width = self
            .scenarios
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for s in &self.scenarios {
            let mark = match &s.outcome {
                crate::scenarios::Outcome::Passed => "PASS",
                crate::scenarios::Outcome::Skipped { .. } => "SKIP",
                crate::scenarios::Outcome::Failed { .. } => "FAIL",
            };
            out.push_str(&format!(
                "{mark}  {:width$}  {:>6.2} s\n",
                s.name, s.seconds
            ));
            if let crate::scenarios::Outcome::Failed { message: text }
            | crate::scenarios::Outcome::Skipped { reason: text } = &s.outcome
            {
                let message = text;
                for line in message.lines() {
                    out.push_str(&format!("      {line}\n"));
                }
            }
        }
        out.push_str(&format!(
            "{:.1} s on {}\nscenarios: {} passed, {} failed, {} skipped\n",
            self.seconds,
            self.database,
            self.passed(),
            self.failed(),
            self.skipped()
        ));
        out
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }
}
