//! Who may log in. `Secret<T>` keeps passwords out of every log and debug print; `StaticUser`
//! is the `--user`/`--pass` check; `proxy::AuthProxy` is `--auth-proxy`, which also decides
//! what each login serves.

use std::fmt;

pub mod failures;
pub mod proxy;

/// A value that must never be printed: `Debug` and `Display` show `****`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Secret<T> {
        Secret(value)
    }

    /// The secret itself, for the one place that compares it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Decides whether a user name and password may log in.
pub trait Authenticator: Send + Sync {
    /// True when the credentials are accepted.
    fn check(&self, user: &str, pass: &Secret<String>) -> bool;
}

/// The single `--user`/`--pass` account; an empty `--pass` accepts any password.
#[derive(Debug, Clone)]
pub struct StaticUser {
    user: String,
    pass: Secret<String>,
}

impl StaticUser {
    /// The account `user` with password `pass` (empty: any password).
    pub fn new(user: String, pass: Secret<String>) -> StaticUser {
        StaticUser { user, pass }
    }
}

impl Authenticator for StaticUser {
    fn check(&self, user: &str, pass: &Secret<String>) -> bool {
        // Both compared in constant time, and both always compared.
        let user_ok = constant_time_eq(user.as_bytes(), self.user.as_bytes());
        let pass_ok =
            self.pass.expose().is_empty() | constant_time_eq(pass.expose().as_bytes(), self.pass.expose().as_bytes());
        user_ok & pass_ok
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xFF);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s} {s:?}"), "**** ****");
    }

    #[test]
    fn static_user_rules() {
        let any = StaticUser::new("anonymous".into(), Secret::default());
        assert!(any.check("anonymous", &Secret::new("x@y".into())));
        assert!(!any.check("ftp", &Secret::new("x".into())));
        let fixed = StaticUser::new("me".into(), Secret::new("pw".into()));
        assert!(fixed.check("me", &Secret::new("pw".into())));
        assert!(!fixed.check("me", &Secret::new("pw2".into())));
        assert!(!fixed.check("me", &Secret::new("p".into())));
        assert!(!fixed.check("you", &Secret::new("pw".into())));
    }
}
