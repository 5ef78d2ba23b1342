//! `verifier`: the grading service and CLI.
fn main() {}
