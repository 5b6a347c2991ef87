//! The mio `Token` layout: three fixed tokens (listener, waker, signals) at the top of the
//! range, and for each connection slot a control, a data, a passive-listener and a
//! data-header token (and rc and PROXY-header slots of their own tables).

use mio::Token;

/// The control listener.
pub const LISTENER: Token = Token(usize::MAX - 1);
/// Worker completions.
pub const WAKER: Token = Token(usize::MAX - 2);
/// SIGINT, SIGTERM, SIGHUP, SIGUSR2.
pub const SIGNALS: Token = Token(usize::MAX - 3);
/// The rc (`--rc`) listener.
pub const RC_LISTENER: Token = Token(usize::MAX - 4);
/// The metrics (`--metrics-addr`) listener.
pub const METRICS_LISTENER: Token = Token(usize::MAX - 5);

/// Which socket of a connection an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The control connection.
    Control,
    /// The data connection (passive-accepted or active).
    Data,
    /// The passive listener.
    Passive,
    /// An rc connection (its slot is in the rc server's table, not the FTP one).
    Rc,
    /// A connection from a trusted balancer whose PROXY header is still to come (its slot is
    /// in the reactor's table of such connections, not the FTP one).
    Header,
    /// The connection's passive data connections from a trusted balancer, waiting for their
    /// PROXY headers.
    DataHeader,
    /// A `--metrics-addr` connection (its slot is in the metrics server's table).
    Metrics,
}

/// The token of one socket of the connection in `slot`.
pub fn token(slot: usize, kind: Kind) -> Token {
    let k = match kind {
        Kind::Control => 0,
        Kind::Data => 1,
        Kind::Passive => 2,
        Kind::Rc => 3,
        Kind::Header => 4,
        Kind::DataHeader => 5,
        Kind::Metrics => 6,
    };
    Token(slot << 3 | k)
}

/// The slot and socket kind of a connection token; `None` for anything else.
pub fn decode(t: Token) -> Option<(usize, Kind)> {
    if t.0 >= METRICS_LISTENER.0 {
        return None;
    }
    let kind = match t.0 & 7 {
        0 => Kind::Control,
        1 => Kind::Data,
        2 => Kind::Passive,
        3 => Kind::Rc,
        4 => Kind::Header,
        5 => Kind::DataHeader,
        6 => Kind::Metrics,
        _ => return None,
    };
    Some((t.0 >> 3, kind))
}

/// A connection's identity: its slot and the generation that slot had when it was opened, so
/// late events and worker results for a closed connection are never applied to a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId {
    /// Index in the connection slab.
    pub slot: usize,
    /// Unique per connection.
    pub generation: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_fixed_tokens_are_not_connections() {
        for slot in [0, 1, 12_345] {
            for kind in
                [Kind::Control, Kind::Data, Kind::Passive, Kind::Rc, Kind::Header, Kind::DataHeader, Kind::Metrics]
            {
                assert_eq!(decode(token(slot, kind)), Some((slot, kind)));
            }
        }
        assert_eq!(decode(LISTENER), None);
        assert_eq!(decode(WAKER), None);
        assert_eq!(decode(SIGNALS), None);
        assert_eq!(decode(RC_LISTENER), None);
        assert_eq!(decode(METRICS_LISTENER), None);
    }
}
