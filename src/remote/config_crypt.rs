//! rclone's encrypted config file: a file whose first line (blank and comment lines aside) is
//! `RCLONE_ENCRYPT_V0:` holds, in standard base64 after it, a 24-byte nonce and a NaCl
//! secretbox of the plain config, under the key SHA-256(`[` + password + `][rclone-config]`).
//! The password comes, as rclone takes it, from `--password-command` (or
//! `RCLONE_PASSWORD_COMMAND`), then `RCLONE_CONFIG_PASS`, then a prompt on the terminal when
//! stdin is one and `--ask-password` is not false. ftpvfs never writes the file back, and the
//! password never reaches a log or a command line of ours.

use base64::Engine;
use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use sha2::{Digest, Sha256};

/// Where the password may come from (`--password-command`, `--ask-password`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSource {
    /// The command that prints the password, as the user wrote it.
    pub command: Option<String>,
    /// Whether a terminal prompt is allowed.
    pub ask: bool,
}

impl Default for PasswordSource {
    fn default() -> Self {
        PasswordSource { command: None, ask: true }
    }
}

/// What a config file's text is.
pub enum Kind<'a> {
    /// Plain INI.
    Plain,
    /// Encrypted (version 0); the base64 payload after the marker line.
    Encrypted(&'a str),
    /// A newer encryption than this release knows.
    Unsupported,
}

/// Tells plain from encrypted text, as rclone does (blank, `#` and `;` lines skipped).
pub fn kind(text: &str) -> Kind<'_> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        offset += line.len();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if trimmed == "RCLONE_ENCRYPT_V0:" {
            return Kind::Encrypted(&text[offset..]);
        }
        if trimmed.starts_with("RCLONE_ENCRYPT_V") {
            return Kind::Unsupported;
        }
        return Kind::Plain;
    }
    Kind::Plain
}

/// Decrypts the payload with `password`.
///
/// # Errors
/// Bad base64, too short, or the wrong password.
pub fn decrypt(payload: &str, password: &str) -> Result<String, String> {
    let compact: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let data = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| format!("failed to load base64 encoded data: {e}"))?;
    if data.len() < 24 + 16 {
        return Err("configuration data too short".into());
    }
    let key = Sha256::digest(format!("[{password}][rclone-config]").as_bytes());
    let cipher = XSalsa20Poly1305::new(&key);
    let (nonce, sealed) = data.split_at(24);
    // NaCl secretbox: the 16-byte tag, then the ciphertext.
    let (tag, body) = sealed.split_at(16);
    let mut plain = body.to_vec();
    cipher
        .decrypt_in_place_detached(nonce.into(), b"", &mut plain, tag.into())
        .map_err(|_| "wrong password".to_string())?;
    String::from_utf8(plain).map_err(|_| "the decrypted configuration is not UTF-8".into())
}

/// Finds the password and decrypts `payload` with it.
///
/// # Errors
/// No source gave a password, the command failed, or the password is wrong; the message says
/// which, as rclone's does.
pub fn unlock(payload: &str, source: &PasswordSource, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let command = source.command.clone().filter(|c| !c.trim().is_empty()).or_else(|| env("RCLONE_PASSWORD_COMMAND"));
    if let Some(command) = command {
        let password = run_password_command(&command)?;
        return decrypt(payload, &password)
            .map_err(|_| "using --password-command derived password, unable to decrypt configuration".to_string());
    }
    if let Some(password) = env("RCLONE_CONFIG_PASS") {
        return decrypt(payload, &password)
            .map_err(|_| "using RCLONE_CONFIG_PASS env password, unable to decrypt configuration".to_string());
    }
    if source.ask && crate::sys::stdin_is_terminal() {
        for _ in 0..3 {
            eprintln!("Enter configuration password:");
            let password = crate::sys::read_password("password:").map_err(|e| format!("reading the password: {e}"))?;
            match decrypt(payload, &password) {
                Ok(text) => return Ok(text),
                Err(_) => eprintln!("Couldn't decrypt configuration, most likely wrong password."),
            }
        }
        return Err("unable to decrypt configuration: wrong password".into());
    }
    Err("unable to decrypt configuration and not allowed to ask for password - set RCLONE_CONFIG_PASS to your configuration password".into())
}

/// Runs `--password-command` (split as rclone splits it: spaces, `"` quotes with `""` inside)
/// with stdin and stderr inherited; its output, less the line end, is the password.
fn run_password_command(command: &str) -> Result<String, String> {
    let args = super::split_quoted(command);
    let Some((program, rest)) = args.split_first() else {
        return Err("--password-command is empty".into());
    };
    // The one place outside the auth proxy that starts a program: the user's own command.
    let out = std::process::Command::new(program)
        .args(rest)
        .stdin(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("password command failed: {e}"))?;
    if !out.status.success() {
        return Err(format!("password command failed: {}", out.status));
    }
    let text = String::from_utf8(out.stdout).map_err(|_| "password contains invalid utf8 characters".to_string())?;
    let password = text.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err("--password-command returned empty string".into());
    }
    Ok(password)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Made by `rclone config encryption set --password-command "echo asdf"` (rclone 1.75.2) on
    // a config with [mem] type = memory and [disk] type = local.
    const ENCRYPTED: &str = "# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nliRarHcVW02Cn5WqBjPmlNkK2D9yplc70ZMmeqjV4bJ15LkTYKkOt5fkb6WQALm/N7pCbF5cPXrt0qb2UueSuQAVwTbDj26b/2n12sc6Z1DjoA==\n";

    #[test]
    fn a_config_rclone_encrypted_decrypts_with_its_password() {
        let Kind::Encrypted(payload) = kind(ENCRYPTED) else { panic!("not detected") };
        let text = decrypt(payload, "asdf").unwrap();
        assert!(text.contains("[mem]") && text.contains("type = local"), "{text}");
        assert!(decrypt(payload, "asdg").is_err());
        assert!(decrypt("!!!", "asdf").unwrap_err().contains("base64"));
        assert!(decrypt("AAAA", "asdf").unwrap_err().contains("too short"));
        assert!(matches!(kind("[a]\ntype = local\n"), Kind::Plain));
        assert!(matches!(kind("# c\nRCLONE_ENCRYPT_V1:\nxx"), Kind::Unsupported));
    }

    #[test]
    fn password_sources_in_rclones_order() {
        let Kind::Encrypted(payload) = kind(ENCRYPTED) else { panic!() };
        let env = |k: &str| (k == "RCLONE_CONFIG_PASS").then(|| "asdf".to_string());
        let no_ask = PasswordSource { command: None, ask: false };
        assert!(unlock(payload, &no_ask, &env).is_ok());
        let cmd = PasswordSource { command: Some("echo asdf".into()), ask: false };
        assert!(unlock(payload, &cmd, &|_| None).is_ok());
        let wrong = PasswordSource { command: Some("echo nope".into()), ask: false };
        assert!(unlock(payload, &wrong, &env).unwrap_err().contains("--password-command derived password"));
        assert!(unlock(payload, &no_ask, &|_| None).unwrap_err().contains("RCLONE_CONFIG_PASS"));
        let bad_env = |k: &str| (k == "RCLONE_CONFIG_PASS").then(|| "x".to_string());
        assert!(unlock(payload, &no_ask, &bad_env).unwrap_err().contains("RCLONE_CONFIG_PASS env password"));
    }
}
