//! `VfsPath`: a normalised absolute path inside the served root, the only path type the VFS
//! and backends accept ("parse, don't validate").

use std::fmt;

/// Longest path accepted, in bytes (Linux PATH_MAX).
pub const MAX_PATH: usize = 4096;
/// Longest name accepted, in bytes (Linux NAME_MAX).
pub const MAX_NAME: usize = 255;

/// Why a client path was refused. All map to 553 (file name not allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// NUL, CR or LF in the path.
    ForbiddenByte,
    /// A component over 255 bytes, or the whole path over 4096.
    TooLong,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathError::ForbiddenByte => "File name not allowed: contains NUL, CR or LF",
            PathError::TooLong => "File name too long",
        })
    }
}

impl std::error::Error for PathError {}

/// `/` or `/a/b`: no `.` or `..`, no empty components, no trailing `/`, no NUL/CR/LF.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VfsPath(String);

impl VfsPath {
    /// The served root, `/`.
    pub fn root() -> VfsPath {
        VfsPath("/".into())
    }

    /// Resolves a client argument against `self` (the current directory).
    ///
    /// An argument starting with `/` starts from the root; otherwise from `self`. `.` is
    /// dropped and `..` removes the previous component, never climbing above `/` (so
    /// `../../etc` from `/` is `/etc` inside the root).
    ///
    /// SECURITY: this is where `..`, absolute paths, NUL and CR/LF are neutralised; nothing
    /// built from client text reaches storage without passing here.
    ///
    /// # Errors
    /// [`PathError`] for forbidden bytes or over-long names.
    pub fn resolve(&self, arg: &str) -> Result<VfsPath, PathError> {
        if arg.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
            return Err(PathError::ForbiddenByte);
        }
        if arg.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        let mut parts: Vec<&str> = if arg.starts_with('/') { Vec::new() } else { self.components().collect() };
        for c in arg.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                name if name.len() > MAX_NAME => return Err(PathError::TooLong),
                name => parts.push(name),
            }
        }
        let joined = format!("/{}", parts.join("/"));
        if joined.len() > MAX_PATH {
            return Err(PathError::TooLong);
        }
        Ok(VfsPath(joined))
    }

    /// The path as text, starting with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The components below the root, outermost first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The last component (`""` for the root).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// The parent directory (`/` for the root).
    pub fn parent(&self) -> VfsPath {
        match self.0.rfind('/') {
            Some(0) | None => VfsPath::root(),
            Some(i) => VfsPath(self.0[..i].to_string()),
        }
    }

    /// A direct child of this directory. `name` must be one component.
    pub fn child(&self, name: &str) -> Result<VfsPath, PathError> {
        if name.contains('/') || name == "." || name == ".." {
            return Err(PathError::ForbiddenByte);
        }
        self.resolve(name)
    }

    /// Whether `self` is `ancestor` or lies below it.
    pub fn starts_with(&self, ancestor: &VfsPath) -> bool {
        ancestor.is_root() || self.0 == ancestor.0 || self.0.starts_with(&format!("{}/", ancestor.0))
    }
}

impl fmt::Display for VfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nothing_climbs_above_the_root() {
        let cwd = VfsPath::root().resolve("/a/b").unwrap();
        assert_eq!(cwd.resolve("../../../../etc/passwd").unwrap().as_str(), "/etc/passwd");
        assert_eq!(cwd.resolve("/..").unwrap().as_str(), "/");
        assert_eq!(cwd.resolve("./c/./d/").unwrap().as_str(), "/a/b/c/d");
        assert_eq!(cwd.resolve("..").unwrap().as_str(), "/a");
        assert_eq!(cwd.resolve("//x//y").unwrap().as_str(), "/x/y");
        assert_eq!(cwd.resolve("%2e%2e").unwrap().as_str(), "/a/b/%2e%2e", "no URL decoding");
    }

    #[test]
    fn forbidden_bytes_and_lengths() {
        let root = VfsPath::root();
        assert_eq!(root.resolve("a\0b"), Err(PathError::ForbiddenByte));
        assert_eq!(root.resolve("a\r\nb"), Err(PathError::ForbiddenByte));
        assert_eq!(root.resolve(&"x".repeat(256)), Err(PathError::TooLong));
        assert!(root.resolve(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn parent_name_and_prefix() {
        let p = VfsPath::root().resolve("/a/b").unwrap();
        assert_eq!(p.name(), "b");
        assert_eq!(p.parent().as_str(), "/a");
        assert_eq!(p.parent().parent(), VfsPath::root());
        assert!(p.starts_with(&VfsPath::root().resolve("/a").unwrap()));
        assert!(!VfsPath::root().resolve("/ab").unwrap().starts_with(&VfsPath::root().resolve("/a").unwrap()));
    }
}
