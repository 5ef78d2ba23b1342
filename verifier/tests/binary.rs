//! Makes `cargo test` build the `verifier` binary (the end-to-end tests in the `tests` crate run
//! it), and checks that it starts and describes itself.

#[test]
fn the_binary_starts_and_lists_its_commands() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_verifier"))
        .arg("--help")
        .output()
        .expect("run verifier --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "grade", "graders", "bench"] {
        assert!(
            help.contains(command),
            "--help does not mention {command}:\n{help}"
        );
    }
}
