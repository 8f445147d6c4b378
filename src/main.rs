//! The `cellvia` command line. All analysis lives in the library; this file
//! only turns arguments into a validated config and outcomes into exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
