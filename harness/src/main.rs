//! The `tumult` command line (SPEC.md §1).

/// mimalloc: the simulator allocates and frees many small buffers (HTTP/2
/// frames, protobuf messages, redb pages); glibc's allocator was about 12%
/// of a simulation's wall time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tumult_harness::cli::main()
}
