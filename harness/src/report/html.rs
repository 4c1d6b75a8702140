//! One self-contained HTML file a person opens from CI artifacts: a summary, failures
//! first, each scenario as a timeline (inline CSS, no scripts, screenshots inline).

use std::path::Path;

use anyhow::Context;
use askama::Template;

use super::RunReport;
use crate::scenarios::Outcome;
use crate::timeline::Actor;

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage<'a> {
    run: &'a RunReport,
    passed: usize,
    failed: usize,
    scenarios: Vec<ScenarioView<'a>>,
}

struct ScenarioView<'a> {
    name: &'a str,
    summary: &'a str,
    passed: bool,
    message: Option<&'a str>,
    seconds: f64,
    steps: Vec<StepView<'a>>,
}

struct StepView<'a> {
    at_ms: u64,
    actor: &'static str,
    summary: &'a str,
    detail: Option<&'a str>,
    /// A screenshot's PNG, base64.
    image: Option<&'a str>,
}

fn actor_name(actor: Actor) -> &'static str {
    match actor {
        Actor::Shopper => "shopper",
        Actor::Stripe => "stripe",
        Actor::Webhook => "webhook",
        Actor::Shop => "shop",
        Actor::Email => "email",
        Actor::Check => "check",
        Actor::Screenshot => "screenshot",
    }
}

pub fn write_html(run: &RunReport, path: &Path) -> anyhow::Result<()> {
    let mut scenarios: Vec<ScenarioView<'_>> = run
        .scenarios
        .iter()
        .map(|s| ScenarioView {
            name: &s.name,
            summary: &s.summary,
            passed: s.passed(),
            message: match &s.outcome {
                Outcome::Failed { message } => Some(message),
                Outcome::Skipped { reason } => Some(reason),
                Outcome::Passed => None,
            },
            seconds: s.seconds,
            steps: s
                .timeline
                .iter()
                .map(|step| {
                    let screenshot = step.actor == Actor::Screenshot;
                    StepView {
                        at_ms: step.at_ms,
                        actor: actor_name(step.actor),
                        summary: &step.summary,
                        detail: step.detail.as_deref().filter(|_| !screenshot),
                        image: step.detail.as_deref().filter(|_| screenshot),
                    }
                })
                .collect(),
        })
        .collect();
    // Failures first, then in catalogue order.
    scenarios.sort_by_key(|s| s.passed);
    let page = ReportPage {
        run,
        passed: run.passed(),
        failed: run.failed(),
        scenarios,
    };
    let html = page.render().context("rendering the HTML report")?;
    std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))
}
