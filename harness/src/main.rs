//! The `tumult` command line (SPEC.md §1).

fn main() -> std::process::ExitCode {
    tumult_harness::cli::main()
}
