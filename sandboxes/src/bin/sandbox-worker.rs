//! A stand-alone sandbox worker process, for the crate's own tests and tools. The `verifier`
//! binary serves the same role through its hidden worker argument.

fn main() {
    std::process::exit(sandboxes::worker_main());
}
