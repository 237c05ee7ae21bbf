//! `hotline`: the CBM hotline node and its operator, tester and auditor commands.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
