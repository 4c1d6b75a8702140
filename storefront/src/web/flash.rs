//! One-time messages carried to the next page in the cookie session (as Flask's `flash`).

use poem::session::Session;
use serde::{Deserialize, Serialize};

const KEY: &str = "_flashes";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Success,
    Danger,
    Info,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Success => "success",
            Category::Danger => "danger",
            Category::Info => "info",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub category: String,
    pub message: String,
}

pub fn push(session: &Session, category: Category, message: impl Into<String>) {
    let mut flashes = peek(session);
    flashes.push(Flash {
        category: category.as_str().to_owned(),
        message: message.into(),
    });
    session.set(KEY, flashes);
}

/// Returns the pending messages and clears them, so each shows once.
pub fn take(session: &Session) -> Vec<Flash> {
    let flashes = peek(session);
    if !flashes.is_empty() {
        session.remove(KEY);
    }
    flashes
}

fn peek(session: &Session) -> Vec<Flash> {
    // A cookie we can't read (an old format, say) just means no messages.
    session.get::<Vec<Flash>>(KEY).unwrap_or_default()
}
