//! The normalized inventory, its stock CSV readers and writers, and its JSON form.

pub mod json;
pub mod model;
pub mod stock_csv;
pub mod time;

pub use model::*;
