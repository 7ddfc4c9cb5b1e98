fn main() -> std::process::ExitCode {
    gridnode::cli::main()
}
