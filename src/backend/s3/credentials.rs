//! Where an s3 remote's keys come from. With `access_key_id` and `secret_access_key` set, those
//! (and `session_token`). With both empty and `env_auth = true`, rclone's order (the AWS SDK's
//! default chain, as far as rclone users meet it): the environment (`AWS_ACCESS_KEY_ID` or
//! `AWS_ACCESS_KEY`, `AWS_SECRET_ACCESS_KEY` or `AWS_SECRET_KEY`, `AWS_SESSION_TOKEN`), the
//! shared credentials file (`shared_credentials_file`, `AWS_SHARED_CREDENTIALS_FILE`,
//! `~/.aws/credentials`; profile `profile`, `AWS_PROFILE`, else `default`), ECS container
//! credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, or `_FULL_URI` with
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`), then EC2 instance metadata with an IMDSv2
//! token (`AWS_EC2_METADATA_SERVICE_ENDPOINT`, `AWS_EC2_METADATA_DISABLED`). Temporary
//! credentials are fetched again five minutes before they expire. Nothing found, or both keys
//! empty without `env_auth`: anonymous (unsigned) requests.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::backend::net::http_time::parse_iso8601;
use crate::backend::net::{http, HttpClient, NetOptions};

/// A key pair, with its token and expiry when temporary.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The secret key.
    pub secret_key: String,
    /// `X-Amz-Security-Token`, for temporary credentials.
    pub session_token: Option<String>,
    /// When temporary credentials stop working.
    pub expires: Option<SystemTime>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

/// The source of credentials for one remote.
pub struct CredentialSource {
    fixed: Option<Credentials>,
    env_auth: bool,
    file: String,
    profile: String,
    cached: Mutex<Option<(Credentials, &'static str)>>,
}

/// How early temporary credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl CredentialSource {
    /// The source an s3 remote's options describe.
    pub fn new(
        access_key: &str,
        secret_key: &str,
        session_token: &str,
        env_auth: bool,
        file: &str,
        profile: &str,
    ) -> Self {
        let fixed = (!access_key.is_empty()).then(|| Credentials {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            session_token: Some(session_token.to_string()).filter(|t| !t.is_empty()),
            expires: None,
        });
        CredentialSource {
            env_auth: env_auth && fixed.is_none(),
            fixed,
            file: file.to_string(),
            profile: profile.to_string(),
            cached: Mutex::new(None),
        }
    }

    /// The credentials to sign with now; `None` for anonymous requests.
    ///
    /// # Errors
    /// A metadata service answered but its answer could not be used.
    pub fn current(&self) -> Result<Option<Credentials>, String> {
        if let Some(c) = &self.fixed {
            return Ok(Some(c.clone()));
        }
        if !self.env_auth {
            return Ok(None);
        }
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((c, _)) = cached.as_ref() {
            let fresh =
                c.expires.is_none_or(|e| e.duration_since(SystemTime::now()).is_ok_and(|left| left > RENEW_BEFORE));
            if fresh {
                return Ok(Some(c.clone()));
            }
        }
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match find(&env, &self.file, &self.profile)? {
            Some((c, from)) => {
                if cached.as_ref().map(|(_, f)| *f) != Some(from) {
                    log::info!("s3: env_auth: using credentials from {from}");
                }
                *cached = Some((c.clone(), from));
                Ok(Some(c))
            }
            None => {
                if cached.is_none() {
                    log::warn!("s3: env_auth: no credentials found (environment, shared file, ECS, EC2 metadata): requests are anonymous");
                }
                Ok(None)
            }
        }
    }
}

/// The chain, in rclone's order; returns the credentials and where they came from.
fn find(
    env: &dyn Fn(&str) -> Option<String>,
    file: &str,
    profile: &str,
) -> Result<Option<(Credentials, &'static str)>, String> {
    let access = env("AWS_ACCESS_KEY_ID").or_else(|| env("AWS_ACCESS_KEY"));
    let secret = env("AWS_SECRET_ACCESS_KEY").or_else(|| env("AWS_SECRET_KEY"));
    if let (Some(access_key), Some(secret_key)) = (access, secret) {
        let c = Credentials { access_key, secret_key, session_token: env("AWS_SESSION_TOKEN"), expires: None };
        return Ok(Some((c, "the environment (AWS_ACCESS_KEY_ID)")));
    }
    let path = Some(file.to_string())
        .filter(|f| !f.is_empty())
        .or_else(|| env("AWS_SHARED_CREDENTIALS_FILE"))
        .or_else(|| env("HOME").map(|h| format!("{h}/.aws/credentials")));
    let profile = Some(profile.to_string()).filter(|p| !p.is_empty()).or_else(|| env("AWS_PROFILE"));
    let profile = profile.as_deref().unwrap_or("default");
    if let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) {
        if let Some(c) = shared_file_profile(&text, profile) {
            return Ok(Some((c, "the shared credentials file")));
        }
    }
    let metadata = HttpClient::new(
        NetOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(2),
            low_level_retries: 1,
        },
        true,
    )?;
    let ecs_url = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .map(|u| format!("http://169.254.170.2{u}"))
        .or_else(|| env("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    if let Some(url) = ecs_url {
        let token = env("AWS_CONTAINER_AUTHORIZATION_TOKEN").or_else(|| {
            env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                .and_then(|f| std::fs::read_to_string(f).ok())
                .map(|t| t.trim().to_string())
        });
        let mut req = http::Request::get(&url);
        if let Some(t) = token {
            req = req.header("Authorization", t);
        }
        let body = fetch(&metadata, req.body(()).map_err(|e| e.to_string())?)
            .map_err(|e| format!("ECS container credentials from {url}: {e}"))?;
        return credentials_json(&body).map(|c| Some((c, "ECS container credentials")));
    }
    if env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| "http://169.254.169.254".into());
    let base = base.trim_end_matches('/');
    // Not on EC2 (or no role): the first request fails fast, and that is "nothing found".
    let token_req = http::Request::put(format!("{base}/latest/api/token"))
        .header("X-aws-ec2-metadata-token-ttl-seconds", "21600")
        .body(())
        .map_err(|e| e.to_string())?;
    let Ok(token) = fetch(&metadata, token_req) else { return Ok(None) };
    let token = String::from_utf8_lossy(&token).trim().to_string();
    let get = |url: String| -> Result<Vec<u8>, String> {
        let req =
            http::Request::get(url).header("X-aws-ec2-metadata-token", &token).body(()).map_err(|e| e.to_string())?;
        fetch(&metadata, req)
    };
    let Ok(roles) = get(format!("{base}/latest/meta-data/iam/security-credentials/")) else { return Ok(None) };
    let roles = String::from_utf8_lossy(&roles);
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else { return Ok(None) };
    let body = get(format!("{base}/latest/meta-data/iam/security-credentials/{role}"))
        .map_err(|e| format!("EC2 instance metadata for role {role}: {e}"))?;
    credentials_json(&body).map(|c| Some((c, "EC2 instance metadata (IMDSv2)")))
}

/// One GET or PUT to a metadata service: the body of a 200 (at most 64 KiB).
fn fetch(client: &HttpClient, req: http::Request<()>) -> Result<Vec<u8>, String> {
    let resp = client.send(req).map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().with_config().limit(64 << 10).read_to_vec().map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    Ok(body)
}

/// `{"AccessKeyId": ..., "SecretAccessKey": ..., "Token": ..., "Expiration": ...}`.
fn credentials_json(body: &[u8]) -> Result<Credentials, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string).filter(|x| !x.is_empty());
    Ok(Credentials {
        access_key: s("AccessKeyId").ok_or("no AccessKeyId")?,
        secret_key: s("SecretAccessKey").ok_or("no SecretAccessKey")?,
        session_token: s("Token").or_else(|| s("SessionToken")),
        expires: s("Expiration").and_then(|e| parse_iso8601(&e)),
    })
}

/// A profile of an INI-style shared credentials file.
fn shared_file_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut access, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_profile = name == profile || name.strip_prefix("profile ").is_some_and(|n| n.trim() == profile);
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = Some(v.trim().to_string()).filter(|v| !v.is_empty());
            match k.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => access = v,
                "aws_secret_access_key" => secret = v,
                "aws_session_token" | "aws_security_token" => token = v,
                _ => {}
            }
        }
    }
    Some(Credentials { access_key: access?, secret_key: secret?, session_token: token, expires: None })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shared_file_profiles() {
        let text = "[default]\naws_access_key_id = AK1\naws_secret_access_key=SK1\n\n[profile work]\n# c\naws_access_key_id=AK2\naws_secret_access_key=SK2\naws_session_token=T2\n";
        assert_eq!(shared_file_profile(text, "default").unwrap().access_key, "AK1");
        let work = shared_file_profile(text, "work").unwrap();
        assert_eq!((work.secret_key.as_str(), work.session_token.as_deref()), ("SK2", Some("T2")));
        assert!(shared_file_profile(text, "none").is_none());
    }

    #[test]
    fn environment_first_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("creds");
        std::fs::write(&file, "[p]\naws_access_key_id=FILE\naws_secret_access_key=S\n").unwrap();
        let file = file.to_str().unwrap().to_string();
        let env = |k: &str| match k {
            "AWS_ACCESS_KEY" => Some("ENV".to_string()),
            "AWS_SECRET_KEY" => Some("S".to_string()),
            _ => None,
        };
        assert_eq!(find(&env, &file, "p").unwrap().unwrap().0.access_key, "ENV");
        let no_env = |k: &str| (k == "AWS_EC2_METADATA_DISABLED").then(|| "true".to_string());
        assert_eq!(find(&no_env, &file, "p").unwrap().unwrap().0.access_key, "FILE");
        assert!(find(&no_env, &file, "other").unwrap().is_none());
    }

    #[test]
    fn metadata_json() {
        let c = credentials_json(
            br#"{"AccessKeyId":"A","SecretAccessKey":"S","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!((c.access_key.as_str(), c.session_token.as_deref()), ("A", Some("T")));
        assert!(c.expires.is_some());
        assert!(credentials_json(b"{}").is_err() && credentials_json(b"x").is_err());
    }
}
