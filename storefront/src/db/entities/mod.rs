//! Table entities. Kept apart from the app code so app edits don't re-run the derive macros.

pub mod orders;
pub mod products;
