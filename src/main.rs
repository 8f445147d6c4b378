//! The `cellvia` command line. All analysis lives in the library; this file
//! only turns arguments into a validated config and outcomes into exit codes.

mod cli;

/// mimalloc keeps freed pages for reuse. With the system allocator, every
/// full-image buffer (12 MB at 2048x1536) was returned to the kernel and
/// page-faulted back in, and two threads serialised on those faults:
/// 2048x1536 fields went from 5.1 to 6.3 images/s on 2 threads (1 -> 2
/// threads 1.72x -> 1.94x), LDC images +8 % (`cellvia bench`, 2 cores).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
