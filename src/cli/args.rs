//! `RawArgs`: what the user typed, each value checked against its flag's kind as it is read.
//! No meaning is given here (see `config.rs`) and nothing touches the disk or network.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use crate::cli::flags::{self, FlagDef, ValueKind};
use crate::cli::units::{self, PortRange};
use crate::cli::CliError;

/// One typed flag value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A boolean flag.
    Bool(bool),
    /// How many times a counting flag (`-v`) was given.
    Count(u8),
    /// A duration (`Duration::MAX` is `off`).
    Duration(Duration),
    /// An unsigned integer.
    Int(u64),
    /// An octal mode.
    Mode(u32),
    /// A port range.
    PortRange(PortRange),
    /// A size, `None` for `off`.
    Size(Option<u64>),
    /// Free text, or a checked keyword (cache mode, log level).
    Text(String),
}

/// What `ftpvfs` was asked to do.
#[derive(Debug, PartialEq)]
pub enum Invocation {
    /// Print the top-level help.
    Help,
    /// Print `ftpvfs serve --help`.
    ServeHelp,
    /// Print the version.
    Version,
    /// Print `rclone obscure`'s form of a password.
    Obscure(String),
    /// Call the rc server (`ftpvfs rc COMMAND ...`); the arguments after `rc`.
    Rc(Vec<String>),
    /// Run the server.
    Serve(RawArgs),
}

/// The flags and positional argument of `ftpvfs serve`, as typed (checked, not interpreted).
#[derive(Debug, Default, PartialEq)]
pub struct RawArgs {
    /// The REMOTE:PATH argument.
    pub remote: Option<String>,
    /// Flag values by long name; flags not given are absent.
    pub values: BTreeMap<&'static str, Value>,
}

impl RawArgs {
    /// Whether the flag was given on the command line.
    pub fn given(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// Checks `text` against the kind of `flag` and returns the typed value.
///
/// # Errors
/// A [`CliError::Usage`] naming the flag and what is wrong with the value.
pub fn check_value(flag: &FlagDef, text: &str) -> Result<Value, CliError> {
    let bad = |why: String| CliError::Usage(format!("invalid value {text:?} for --{}: {why}", flag.name));
    Ok(match flag.kind {
        ValueKind::Bool => match text.to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "t" | "yes" => Value::Bool(true),
            "false" | "0" | "f" | "no" => Value::Bool(false),
            _ => return Err(bad("expected true or false".into())),
        },
        ValueKind::Count => Value::Count(1),
        ValueKind::Duration => Value::Duration(units::parse_duration(text).map_err(|e| bad(e.0))?),
        ValueKind::Int => Value::Int(text.trim().parse().map_err(|_| bad("expected a non-negative integer".into()))?),
        ValueKind::Mode => Value::Mode(units::parse_mode(text).map_err(|e| bad(e.0))?),
        ValueKind::PortRange => Value::PortRange(PortRange::parse(text).map_err(|e| bad(e.0))?),
        ValueKind::Size => Value::Size(units::parse_size(text).map_err(|e| bad(e.0))?),
        ValueKind::CacheMode => match text.to_ascii_lowercase().as_str() {
            m @ ("off" | "minimal" | "writes" | "full") => Value::Text(m.to_string()),
            _ => return Err(bad("expected off, minimal, writes or full".into())),
        },
        ValueKind::LogLevel => match text.to_ascii_uppercase().as_str() {
            l @ ("DEBUG" | "INFO" | "NOTICE" | "ERROR") => Value::Text(l.to_string()),
            _ => return Err(bad("expected DEBUG, INFO, NOTICE or ERROR".into())),
        },
        ValueKind::Text => Value::Text(text.to_string()),
        ValueKind::Bandwidth => {
            crate::data::bandwidth::Timetable::parse(text).map_err(bad)?;
            Value::Text(text.to_string())
        }
    })
}

/// Parses the whole command line (without the program name).
///
/// # Errors
/// [`CliError::Usage`] for an unknown flag or subcommand, a missing or bad value, or a wrong
/// number of positional arguments.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Invocation, CliError> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_args(args);
    match parser.next().map_err(usage)? {
        None => Err(CliError::Usage("missing command: try `ftpvfs serve ./files` or `ftpvfs --help`".into())),
        Some(Long("help") | Short('h')) => Ok(Invocation::Help),
        Some(Long("version") | Short('V')) => Ok(Invocation::Version),
        Some(Value(cmd)) if cmd == "serve" => parse_serve(&mut parser),
        Some(Value(cmd)) if cmd == "rc" => {
            let rest: Result<Vec<String>, _> = parser.raw_args().map_err(usage)?.map(OsString::into_string).collect();
            rest.map(Invocation::Rc).map_err(|_| CliError::Usage("rc arguments must be valid UTF-8".into()))
        }
        Some(Value(cmd)) if cmd == "obscure" => {
            let password = match parser.next().map_err(usage)? {
                Some(Value(p)) => {
                    p.into_string().map_err(|_| CliError::Usage("the password is not valid UTF-8".into()))?
                }
                _ => return Err(CliError::Usage("usage: ftpvfs obscure PASSWORD".into())),
            };
            if parser.next().map_err(usage)?.is_some() {
                return Err(CliError::Usage("usage: ftpvfs obscure PASSWORD".into()));
            }
            Ok(Invocation::Obscure(password))
        }
        Some(Value(cmd)) => {
            Err(CliError::Usage(format!("unknown command {:?}: try `ftpvfs --help`", cmd.to_string_lossy())))
        }
        Some(other) => Err(CliError::Usage(format!("{}: try `ftpvfs --help`", other.unexpected()))),
    }
}

fn parse_serve(parser: &mut lexopt::Parser) -> Result<Invocation, CliError> {
    use lexopt::prelude::*;
    let mut raw = RawArgs::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        let def = match arg {
            Long("help") | Short('h') => return Ok(Invocation::ServeHelp),
            Long(name) => flags::find_long(name).ok_or_else(|| CliError::Usage(format!("unknown flag: --{name}")))?,
            Short(c) => flags::find_short(c).ok_or_else(|| CliError::Usage(format!("unknown shorthand flag: -{c}")))?,
            Value(v) => {
                let v = v.into_string().map_err(|v| {
                    CliError::Usage(format!("REMOTE:PATH {:?} is not valid UTF-8", v.to_string_lossy()))
                })?;
                if raw.remote.replace(v).is_some() {
                    return Err(CliError::Usage("serve takes exactly one REMOTE:PATH argument".into()));
                }
                continue;
            }
        };
        let value = match def.kind {
            ValueKind::Count => {
                let n = match raw.values.get(def.name) {
                    Some(self::Value::Count(n)) => n.saturating_add(1),
                    _ => 1,
                };
                self::Value::Count(n)
            }
            ValueKind::Bool => match parser.optional_value() {
                Some(v) => check_value(def, &text_of(def, v)?)?,
                None => self::Value::Bool(true),
            },
            _ => {
                let v =
                    parser.value().map_err(|_| CliError::Usage(format!("flag needs an argument: --{}", def.name)))?;
                check_value(def, &text_of(def, v)?)?
            }
        };
        raw.values.insert(def.name, value);
    }
    defaults_from_env(&mut raw, &|name| std::env::var(name).ok())?;
    // Secrets given this way stay out of the environment of the programs ftpvfs starts (the
    // auth proxy's); nothing else runs yet.
    for secret in ["RCLONE_PASS", "RCLONE_RC_PASS"] {
        std::env::remove_var(secret);
    }
    Ok(Invocation::Serve(raw))
}

/// rclone's rule for every flag not given on the command line: `RCLONE_<FLAG>` (upper case,
/// `-` as `_`: `RCLONE_PASS`, `RCLONE_VFS_CACHE_MODE`) sets it. This keeps secrets such as
/// `--pass` off command lines, which every local user can read.
fn defaults_from_env(raw: &mut RawArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<(), CliError> {
    for def in flags::SERVE_FLAGS {
        if raw.given(def.name) {
            continue;
        }
        let var = format!("RCLONE_{}", def.name.to_ascii_uppercase().replace('-', "_"));
        let Some(text) = env(&var).filter(|v| !v.is_empty()) else { continue };
        let value = match def.kind {
            ValueKind::Count => self::Value::Count(
                text.trim()
                    .parse()
                    .map_err(|_| CliError::Usage(format!("invalid value {text:?} in ${var}: expected a count")))?,
            ),
            _ => check_value(def, &text).map_err(|e| CliError::Usage(format!("{e} (from ${var})")))?,
        };
        raw.values.insert(def.name, value);
    }
    Ok(())
}

fn text_of(def: &FlagDef, v: OsString) -> Result<String, CliError> {
    v.into_string().map_err(|_| CliError::Usage(format!("the value of --{} is not valid UTF-8", def.name)))
}

fn usage(e: lexopt::Error) -> CliError {
    CliError::Usage(e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<RawArgs, CliError> {
        let mut all = vec![OsString::from("serve")];
        all.extend(args.iter().map(OsString::from));
        match parse(all)? {
            Invocation::Serve(raw) => Ok(raw),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn flags_take_values_with_space_or_equals() {
        let raw = serve(&["./files", "--addr", ":0", "--passive-port=4000-4010", "--read-only"]).unwrap();
        assert_eq!(raw.remote.as_deref(), Some("./files"));
        assert_eq!(raw.values["addr"], Value::Text(":0".into()));
        assert_eq!(raw.values["passive-port"], Value::PortRange(PortRange { first: 4000, last: 4010 }));
        assert_eq!(raw.values["read-only"], Value::Bool(true));
    }

    #[test]
    fn verbosity_counts() {
        let raw = serve(&["-vv", "x"]).unwrap();
        assert_eq!(raw.values["verbose"], Value::Count(2));
        let raw = serve(&["-v", "x", "-v"]).unwrap();
        assert_eq!(raw.values["verbose"], Value::Count(2));
    }

    #[test]
    fn bad_values_and_unknown_flags_are_usage_errors() {
        for args in [
            &["x", "--bogus"][..],
            &["x", "--dir-cache-time", "5x"],
            &["x", "--file-perms", "999"],
            &["x", "--passive-port", "abc"],
            &["x", "--vfs-cache-mode", "sometimes"],
            &["x", "y"],
            &["x", "--addr"],
            &["x", "--read-only=maybe"],
        ] {
            assert!(matches!(serve(args), Err(CliError::Usage(_))), "{args:?} should be refused");
        }
    }

    #[test]
    fn flags_not_given_come_from_rclone_environment_variables() {
        let env = |name: &str| match name {
            "RCLONE_PASS" => Some("from-env".to_string()),
            "RCLONE_READ_ONLY" => Some("true".to_string()),
            "RCLONE_ADDR" => Some(":9".to_string()),
            "RCLONE_VERBOSE" => Some("2".to_string()),
            _ => None,
        };
        let mut raw = serve(&["x", "--addr", ":0"]).unwrap();
        defaults_from_env(&mut raw, &env).unwrap();
        assert_eq!(raw.values["pass"], Value::Text("from-env".into()));
        assert_eq!(raw.values["read-only"], Value::Bool(true));
        assert_eq!(raw.values["addr"], Value::Text(":0".into()), "the command line wins");
        assert_eq!(raw.values["verbose"], Value::Count(2));
        let bad = |name: &str| (name == "RCLONE_DIR_CACHE_TIME").then(|| "soon".to_string());
        let err = defaults_from_env(&mut serve(&["x"]).unwrap(), &bad).unwrap_err().to_string();
        assert!(err.contains("$RCLONE_DIR_CACHE_TIME"), "{err}");
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse([OsString::from("--help")]).unwrap(), Invocation::Help);
        assert_eq!(parse([OsString::from("--version")]).unwrap(), Invocation::Version);
        assert_eq!(parse(["serve", "--help"].map(OsString::from)).unwrap(), Invocation::ServeHelp);
        assert!(parse(["bogus"].map(OsString::from)).is_err());
    }
}
