use std::process::ExitCode;

/// mimalloc rather than the system allocator: reading an 835 builds and
/// drops a few small vectors per claim, and glibc's free lists took about a
/// seventh of parse time. Built without transparent huge pages
/// (`no_thp`): each thread's first arena otherwise comes in 2 MiB pages,
/// which put about 7 MiB on the peak resident memory of a two-thread read
/// for no measurable speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    remitd::cli::main()
}
