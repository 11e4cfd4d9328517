//! `director top`: a live full-screen view of a running daemon (ratatui on crossterm).
//!
//! - `view` (pure): the daemon's answers -> header lines, rows, rates, the selection
//! - `draw`: a `View` -> the screen
//!
//! `run` is the loop: every refresh it asks the control socket for the status and the
//! traffic, then waits for keys until the next one; `d` / `e` drain / enable the selected
//! real server through the control socket (`director real drain|enable`), and the daemon's
//! answer shows in the footer.

pub mod draw;
mod run;
pub mod view;

pub use run::{once, run};
