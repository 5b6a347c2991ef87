//! FEAT (RFC 2389) and HELP text: what this server advertises.

use crate::ftp::listing::MLST_FACTS;
use crate::ftp::reply::{Reply, ReplyCode};

/// The FEAT reply: one extension per line, each starting with a space; `tls` adds AUTH TLS,
/// PBSZ and PROT (RFC 4217 §6).
pub fn feat_reply(tls: bool) -> Reply {
    let mlst: String = MLST_FACTS.iter().map(|f| format!("{f}*;")).collect();
    let mut lines = vec!["Extensions supported:".to_string()];
    if tls {
        lines.extend([" AUTH TLS".to_string(), " AUTH SSL".to_string(), " PBSZ".to_string(), " PROT".to_string()]);
    }
    for feat in
        ["AVBL", "EPRT", "EPSV", "MDTM", "MFMT", &format!("MLST {mlst}"), "PASV", "REST STREAM", "SIZE", "TVFS", "UTF8"]
    {
        lines.push(format!(" {feat}"));
    }
    lines.push("End".into());
    Reply::multi(ReplyCode::SystemStatus, lines)
}

/// Every implemented verb, for HELP.
pub const VERBS: &[&str] = &[
    "ABOR", "ACCT", "ALLO", "APPE", "AUTH", "AVBL", "CCC", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP",
    "LIST", "MDTM", "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PBSZ", "PORT",
    "PROT", "PWD", "QUIT", "REST", "RETR", "RMD", "RNFR", "RNTO", "SIZE", "STAT", "STOR", "STOU", "STRU", "SYST",
    "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
];

/// The HELP reply, for all verbs or one.
pub fn help_reply(topic: &str) -> Reply {
    if topic.is_empty() {
        let mut lines = vec!["The following commands are recognized:".to_string()];
        for chunk in VERBS.chunks(8) {
            lines.push(format!(" {}", chunk.join(" ")));
        }
        lines.push("Help OK".into());
        return Reply::multi(ReplyCode::HelpMessage, lines);
    }
    let verb = topic.to_ascii_uppercase();
    if VERBS.contains(&verb.as_str()) {
        Reply::new(ReplyCode::HelpMessage, format!("Syntax: {verb} is implemented; see RFC 959, 2428 and 3659"))
    } else {
        Reply::new(ReplyCode::NotImplemented, format!("Unknown command {verb}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feat_lists_extensions_with_a_leading_space() {
        let wire = feat_reply(false).to_wire();
        assert!(!wire.contains("AUTH"));
        let tls = feat_reply(true).to_wire();
        for f in ["\r\n AUTH TLS\r\n", "\r\n PBSZ\r\n", "\r\n PROT\r\n"] {
            assert!(tls.contains(f), "{f:?} in {tls:?}");
        }
        assert!(wire.starts_with("211-Extensions supported:\r\n"));
        assert!(wire.contains("\r\n MLST type*;size*;modify*;perm*;unix.mode*;\r\n"));
        assert!(wire.contains("\r\n UTF8\r\n"));
        assert!(wire.ends_with("\r\n211 End\r\n"));
    }
}
