//! The command line: a flag table (`flags.rs`), the lexopt loop that checks what was typed
//! (`args.rs`), what it means (`config.rs`), help text (`help.rs`) and rclone's value syntax
//! (`units.rs`).

pub mod args;
pub mod config;
pub mod flags;
pub mod help;
pub mod units;

use std::fmt;

pub use args::{parse, Invocation, RawArgs};
pub use config::Config;

/// Why the command line could not be used; decides the exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad flag, value or argument: exit code 2.
    Usage(String),
    /// The arguments were fine but something they name is unusable: exit code 1.
    Fatal(String),
}

impl CliError {
    /// rclone's exit codes: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Fatal(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Fatal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}
