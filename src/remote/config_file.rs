//! The rclone config file: where it is (`--config`, `RCLONE_CONFIG`, then rclone.conf next to
//! the executable, `$XDG_CONFIG_HOME/rclone/rclone.conf`, `~/.config/rclone/rclone.conf`,
//! `~/.rclone.conf`) and its INI format (`[name]` sections of `key = value` lines, `#` and `;`
//! comments). A missing file is not an error; the name `notfound` means "no file".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config_crypt::{kind, unlock, Kind, PasswordSource};

/// A parsed config file (possibly empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    sections: BTreeMap<String, BTreeMap<String, String>>,
    source: String,
}

impl ConfigFile {
    /// Parses INI text; `source` names it in messages. Lines that are not sections, keys or
    /// comments are ignored, as rclone's reader does.
    pub fn parse(text: &str, source: &str) -> ConfigFile {
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_string();
                sections.entry(name.clone()).or_default();
                current = Some(name);
            } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
                if let Some(map) = sections.get_mut(section) {
                    map.insert(k.trim().to_string(), v.trim().to_string());
                }
            }
        }
        ConfigFile { sections, source: source.to_string() }
    }

    /// Loads the config file rclone would use (an encrypted one is decrypted with the
    /// password from `--password-command`, `RCLONE_CONFIG_PASS` or a prompt).
    ///
    /// # Errors
    /// An explicitly named file that exists but cannot be read, or an encrypted config that
    /// cannot be decrypted.
    pub fn load(explicit: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<ConfigFile, String> {
        Self::load_with(explicit, env, &PasswordSource::default())
    }

    /// [`load`](Self::load) with the password sources given on the command line.
    ///
    /// # Errors
    /// As `load`.
    pub fn load_with(
        explicit: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        password: &PasswordSource,
    ) -> Result<ConfigFile, String> {
        let chosen = explicit.map(Path::to_path_buf).or_else(|| env("RCLONE_CONFIG").map(PathBuf::from));
        let path = match chosen {
            Some(p) if p.as_os_str() == "notfound" => return Ok(ConfigFile::default()),
            Some(p) => p,
            None => match candidates(env).into_iter().find(|p| p.is_file()) {
                Some(p) => p,
                None => {
                    log::info!("config file not found - using defaults");
                    return Ok(ConfigFile::default());
                }
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log::info!("config file {:?} not found - using defaults", path.display().to_string());
                return Ok(ConfigFile::default());
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let text = match kind(&text) {
            Kind::Plain => text,
            Kind::Encrypted(payload) => {
                unlock(payload, password, env).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Kind::Unsupported => {
                return Err(format!(
                    "{}: unsupported configuration encryption - update rclone for support",
                    path.display()
                ))
            }
        };
        Ok(ConfigFile::parse(&text, &path.display().to_string()))
    }

    /// A section's keys and values.
    pub fn section(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.sections.get(name)
    }

    /// Where this config came from, for messages.
    pub fn describe(&self) -> &str {
        if self.source.is_empty() {
            "the config file (none was found)"
        } else {
            &self.source
        }
    }
}

/// The default locations, in rclone's order.
fn candidates(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        out.push(dir.join("rclone.conf"));
    }
    if let Some(xdg) = env("XDG_CONFIG_HOME").filter(|s| !s.is_empty()) {
        out.push(PathBuf::from(xdg).join("rclone/rclone.conf"));
    }
    if let Some(home) = env("HOME").filter(|s| !s.is_empty()) {
        out.push(PathBuf::from(&home).join(".config/rclone/rclone.conf"));
        out.push(PathBuf::from(home).join(".rclone.conf"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_keys_and_comments() {
        let c = ConfigFile::parse("# c\n[a]\ntype = local\n; x\nkey=v = w \n\n[b c]\ntype=memory\nstray line\n", "t");
        assert_eq!(c.section("a").unwrap().get("type").unwrap(), "local");
        assert_eq!(c.section("a").unwrap().get("key").unwrap(), "v = w");
        assert_eq!(c.section("b c").unwrap().get("type").unwrap(), "memory");
        assert!(c.section("z").is_none());
    }

    #[test]
    fn missing_files_are_not_errors_and_notfound_means_none() {
        let no_env = |_: &str| None;
        assert_eq!(
            ConfigFile::load(Some(Path::new("/nonexistent/rclone.conf")), &no_env).unwrap(),
            ConfigFile::default()
        );
        assert_eq!(ConfigFile::load(Some(Path::new("notfound")), &no_env).unwrap(), ConfigFile::default());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("rclone")).unwrap();
        std::fs::write(dir.path().join("rclone/rclone.conf"), "[x]\ntype=memory\n").unwrap();
        let xdg = dir.path().to_str().unwrap().to_string();
        let env = move |k: &str| (k == "XDG_CONFIG_HOME").then(|| xdg.clone());
        assert!(ConfigFile::load(None, &env).unwrap().section("x").is_some());
        std::fs::write(
            dir.path().join("enc.conf"),
            "# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\nabc\n",
        )
        .unwrap();
        assert!(ConfigFile::load(Some(&dir.path().join("enc.conf")), &no_env)
            .unwrap_err()
            .contains("RCLONE_CONFIG_PASS"));
    }
}
