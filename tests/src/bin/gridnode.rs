//! The `gridnode` binary built inside the test package, so integration tests get `CARGO_BIN_EXE_gridnode`.
fn main() -> std::process::ExitCode {
    gridnode::cli::main()
}
