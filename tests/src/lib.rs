//! Shared helpers for the end-to-end, conformance and hostile-input tests.
