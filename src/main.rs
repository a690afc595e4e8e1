use std::process::ExitCode;

/// mimalloc rather than the system allocator: reading an 835 builds and
/// drops a few small vectors per claim, and glibc's free lists took about a
/// seventh of parse time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    remitd::cli::main()
}
