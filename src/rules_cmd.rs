//! `vitals check rules` and `vitals test rules`: promtool-compatible rule tooling.

use std::path::PathBuf;

use clap::Subcommand;

/// `vitals check …`.
#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Check rule files (as `promtool check rules`).
    Rules {
        /// Rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// `vitals test …`.
#[derive(Subcommand, Debug)]
pub enum TestCommand {
    /// Run rule unit tests (as `promtool test rules`).
    Rules {
        /// Unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs `vitals check rules`; returns the process exit code.
pub fn check(cmd: CheckCommand) -> i32 {
    let CheckCommand::Rules { files } = cmd;
    rules::check::check_files(&files, &mut std::io::stdout(), &mut std::io::stderr())
}

/// Runs `vitals test rules`; returns the process exit code.
pub fn test(cmd: TestCommand) -> i32 {
    let TestCommand::Rules { files } = cmd;
    rules::unittest::run_files(&files, &mut std::io::stdout(), &mut std::io::stderr())
}
