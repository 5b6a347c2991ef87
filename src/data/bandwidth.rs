//! `--bwlimit` and `--bwlimit-file`: rclone's bandwidth timetable (`"08:00,512k 12:00,10M
//! Sat-00:00,off"`, a rate, `UP:DOWN`, `off`), the token buckets that enforce it, and the
//! per-transfer [`Throttle`] every data path asks before it moves bytes.
//!
//! One [`BandwidthLimiter`] is shared by all sessions, as rclone shares one limit between all
//! transfers: client uploads (STOR, APPE, STOU: rclone's "upload", Tx) draw from one bucket and
//! downloads (RETR: "download", Rx) from the other. Listings are not limited (rclone limits
//! transfers, not listings). `--bwlimit-file` gives every transfer a bucket of its own besides.
//!
//! Nobody sleeps on a bucket: a path asks for up to N bytes and gets either a grant (at most
//! what the bucket holds) or the instant at which enough will be there. The reactor then sets
//! a timer for the transfer, and a worker loop hands its task back with that instant, so a
//! throttled transfer holds neither the event loop nor a worker. Buckets start empty (as
//! rclone's do) and hold at most a quarter of a second of the rate (4 MiB at most up to
//! 256 MiB/s, then scaled as rclone scales it), so an idle period buys only a short burst.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::units;

/// A rate in bytes per second; `None` is unlimited (`off`).
pub type Rate = Option<u64>;

/// An upload and a download rate (`UP:DOWN`; one value sets both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BwPair {
    /// Client uploads into the remote (rclone's Tx).
    pub up: Rate,
    /// Client downloads from the remote (rclone's Rx).
    pub down: Rate,
}

impl BwPair {
    /// Parses `RATE` or `UP:DOWN`; a bare number is KiB/s, as in rclone.
    ///
    /// # Errors
    /// A rate that is not an rclone size.
    pub fn parse(text: &str) -> Result<BwPair, String> {
        let rate = |s: &str| -> Result<Rate, String> {
            match units::parse_size(s).map_err(|e| e.0)? {
                Some(0) | None => Ok(None),
                Some(n) => Ok(Some(n)),
            }
        };
        match text.split_once(':') {
            Some((up, down)) => Ok(BwPair { up: rate(up)?, down: rate(down)? }),
            None => {
                let both = rate(text)?;
                Ok(BwPair { up: both, down: both })
            }
        }
    }

    /// Whether either direction is limited.
    pub fn is_set(&self) -> bool {
        self.up.is_some() || self.down.is_some()
    }
}

impl std::fmt::Display for BwPair {
    /// As rclone prints it: `10Mi`, `1Mi:100Ki`, `off`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let one = |r: Rate| r.map_or_else(|| "off".to_string(), rclone_size);
        write!(f, "{}", one(self.up))?;
        if self.down != self.up {
            write!(f, ":{}", one(self.down))?;
        }
        Ok(())
    }
}

/// A size as rclone's `SizeSuffix` prints it: the largest binary unit it reaches, with three
/// decimals when not whole (`1.500Mi`).
pub fn rclone_size(n: u64) -> String {
    const UNITS: [(u32, &str); 6] = [(60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki")];
    for (shift, unit) in UNITS {
        if n >= 1 << shift {
            let whole = n >> shift;
            if n % (1 << shift) == 0 {
                return format!("{whole}{unit}");
            }
            return format!("{:.3}{unit}", n as f64 / (1u64 << shift) as f64);
        }
    }
    n.to_string()
}

/// One entry of a timetable: from this weekday (0 = Sunday) and minute on, this limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSlot {
    /// 0 (Sunday) to 6.
    pub weekday: u32,
    /// Hours * 100 + minutes.
    pub hhmm: u32,
    /// The limit from then on.
    pub bandwidth: BwPair,
}

impl TimeSlot {
    fn week_minute(&self) -> u32 {
        self.weekday * 24 * 60 + (self.hhmm / 100) * 60 + self.hhmm % 100
    }
}

/// rclone's `BwTimetable`: empty means unlimited, one entry without a time is a constant limit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Timetable(pub Vec<TimeSlot>);

impl Timetable {
    /// Parses rclone's syntax: `RATE`, `UP:DOWN`, or space-separated `[Day-]HH:MM,RATE` entries
    /// (an entry without a day applies to every day).
    ///
    /// # Errors
    /// The first malformed entry, in words.
    pub fn parse(text: &str) -> Result<Timetable, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty bandwidth limit".into());
        }
        if !text.contains(' ') && !text.contains(',') {
            let bandwidth = BwPair::parse(text)?;
            return Ok(Timetable(vec![TimeSlot { weekday: 0, hhmm: 0, bandwidth }]));
        }
        let mut slots = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            let Some((when, rate)) = token.split_once(',').filter(|(_, r)| !r.contains(',')) else {
                return Err(format!("invalid time/bandwidth specification: {token:?}"));
            };
            let bandwidth = BwPair::parse(rate)?;
            match when.split_once('-') {
                None => {
                    let hhmm = parse_hhmm(when)?;
                    slots.extend((0..7).map(|weekday| TimeSlot { weekday, hhmm, bandwidth }));
                }
                Some((day, time)) => {
                    let weekday = parse_weekday(day)?;
                    slots.push(TimeSlot { weekday, hhmm: parse_hhmm(time)?, bandwidth });
                }
            }
            if slots.len() > 10_000 {
                return Err("bandwidth timetable has too many entries".into());
            }
        }
        Ok(Timetable(slots))
    }

    /// The slot in force at a local weekday and time, chosen as rclone chooses: the latest
    /// entry at or before it in the week, else the last entry (which wraps round from the end
    /// of the week). Unlimited when empty.
    pub fn limit_at(&self, weekday: u32, hhmm: u32) -> BwPair {
        let Some(last) = self.0.last() else { return BwPair::default() };
        let now = TimeSlot { weekday, hhmm, bandwidth: BwPair::default() }.week_minute();
        let mut best: Option<(u32, &TimeSlot)> = None;
        for slot in &self.0 {
            let at = slot.week_minute();
            if at > now {
                continue;
            }
            // `<=`: of equal entries the later one wins, as in rclone.
            if best.is_none_or(|(diff, _)| now - at <= diff) {
                best = Some((now - at, slot));
            }
        }
        best.map_or(last.bandwidth, |(_, s)| s.bandwidth)
    }

    /// The limit in force now, in local time.
    pub fn limit_now(&self) -> BwPair {
        let (weekday, hour, minute) = crate::sys::local_weekday_time(SystemTime::now());
        self.limit_at(weekday, hour * 100 + minute)
    }

    /// Whether the limit can change with the time (more than one entry).
    pub fn is_scheduled(&self) -> bool {
        self.0.len() > 1
    }
}

fn parse_hhmm(text: &str) -> Result<u32, String> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return Err(format!("invalid time specification (hh:mm): {text:?}"));
    }
    let number = |s: &str| s.parse::<u32>().map_err(|_| format!("invalid time specification (hh:mm): {text:?}"));
    let (hh, mm) = (number(&text[..2])?, number(&text[3..])?);
    if hh > 23 {
        return Err(format!("invalid hour (must be between 00 and 23): {text:?}"));
    }
    if mm > 59 {
        return Err(format!("invalid minute (must be between 00 and 59): {text:?}"));
    }
    Ok(hh * 100 + mm)
}

fn parse_weekday(text: &str) -> Result<u32, String> {
    const DAYS: [&str; 7] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
    let lower = text.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| lower == *d || (lower.len() == 3 && d.starts_with(&lower)))
        .map(|i| i as u32)
        .ok_or_else(|| format!("invalid weekday: {text:?}"))
}

/// A token bucket: `rate` bytes a second, at most `capacity` saved up.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    capacity: f64,
    /// The least a grant waits for (20 ms of the rate, 1 KiB to 4 MiB), so a throttled
    /// transfer moves in pieces of that size instead of waking for every few bytes.
    quantum: f64,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    /// An empty bucket (as rclone's start), so the limit holds from the first byte.
    fn new(rate: u64, now: Instant) -> Bucket {
        let rate = rate as f64;
        let quantum = (rate / 50.0).clamp(1024.0, 4.0 * 1024.0 * 1024.0);
        let mut capacity = (rate / 4.0).clamp(16.0 * 1024.0, 4.0 * 1024.0 * 1024.0);
        // rclone's rule above 256 MiB/s: the burst grows with the rate.
        if rate > 256.0 * 1024.0 * 1024.0 {
            capacity = 4.0 * 1024.0 * 1024.0 * rate / (256.0 * 1024.0 * 1024.0);
        }
        Bucket { rate, capacity: capacity.max(quantum), quantum, tokens: 0.0, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.updated = now;
    }

    /// Up to `want` bytes now, or when enough for a piece will be there.
    fn take(&mut self, want: usize, now: Instant) -> Result<usize, Instant> {
        self.refill(now);
        let need = (want as f64).min(self.quantum);
        if self.tokens >= need {
            let granted = (self.tokens.floor() as usize).min(want).max(1);
            self.tokens -= granted as f64;
            return Ok(granted);
        }
        Err(now + Duration::from_secs_f64((need - self.tokens) / self.rate))
    }

    fn give_back(&mut self, n: usize) {
        self.tokens = (self.tokens + n as f64).min(self.capacity);
    }
}

/// Which way a transfer moves bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client into the remote.
    Upload,
    /// From the remote to the client.
    Download,
}

#[derive(Debug, Default)]
struct LimiterState {
    timetable: Timetable,
    /// The timetable's limit last applied, and when to look at the clock again.
    scheduled: BwPair,
    next_check: Option<Instant>,
    /// The limit in force (the timetable's, or one set through rc).
    current: BwPair,
    up: Option<Bucket>,
    down: Option<Bucket>,
    /// SIGUSR2 turned the limit off; `current` waits to come back.
    toggled_off: bool,
}

impl LimiterState {
    fn apply(&mut self, limit: BwPair, now: Instant) {
        self.current = limit;
        let active = if self.toggled_off { BwPair::default() } else { limit };
        self.up = active.up.map(|r| Bucket::new(r, now));
        self.down = active.down.map(|r| Bucket::new(r, now));
    }

    fn bucket(&mut self, direction: Direction) -> Option<&mut Bucket> {
        match direction {
            Direction::Upload => self.up.as_mut(),
            Direction::Download => self.down.as_mut(),
        }
    }

    /// Follows the timetable: at each minute boundary the limit in force is looked up again.
    fn follow_timetable(&mut self, now: Instant) {
        if self.next_check.is_none_or(|at| now < at) {
            return;
        }
        let wall = SystemTime::now();
        let secs_into_minute = wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() % 60);
        self.next_check = Some(now + Duration::from_secs(60 - secs_into_minute));
        let limit = self.timetable.limit_now();
        if limit != self.scheduled {
            self.scheduled = limit;
            self.apply(limit, now);
            if self.toggled_off {
                log::info!("Scheduled bandwidth change. Limit will be set to {limit} when toggled on again");
            } else if limit.is_set() {
                log::info!("Scheduled bandwidth change. Limit set to {limit} Byte/s");
            } else {
                log::info!("Scheduled bandwidth change. Bandwidth limits disabled");
            }
        }
    }
}

/// The limit all sessions share (`--bwlimit`), read and set by `rc core/bwlimit` and toggled by
/// SIGUSR2.
#[derive(Debug, Default)]
pub struct BandwidthLimiter {
    /// Whether any bucket exists or the timetable may bring one: when not, a transfer pays one
    /// atomic load per grant.
    engaged: AtomicBool,
    state: Mutex<LimiterState>,
}

/// What `rc core/bwlimit` reports, with rclone's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReport {
    /// As `--bwlimit` takes it (`1Mi:100Ki`, `off`).
    pub rate: String,
    /// rclone's "bytesPerSecond": the larger rate when both directions are limited, else -1.
    pub bytes_per_second: i64,
    /// Uploads, -1 when unlimited.
    pub bytes_per_second_tx: i64,
    /// Downloads, -1 when unlimited.
    pub bytes_per_second_rx: i64,
}

impl BandwidthLimiter {
    /// A limiter following `timetable` (empty: unlimited until rc sets a limit).
    pub fn new(timetable: Timetable) -> BandwidthLimiter {
        let now = Instant::now();
        let mut state = LimiterState { timetable, ..LimiterState::default() };
        let limit = state.timetable.limit_now();
        state.scheduled = limit;
        state.apply(limit, now);
        if state.timetable.is_scheduled() {
            state.next_check = Some(now);
            state.follow_timetable(now);
        }
        if limit.is_set() {
            log::info!("Starting bandwidth limiter at {limit} Byte/s");
        }
        let limiter = BandwidthLimiter { engaged: AtomicBool::new(false), state: Mutex::new(state) };
        limiter.update_engaged(&limiter.lock());
        limiter
    }

    fn lock(&self) -> MutexGuard<'_, LimiterState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update_engaged(&self, state: &LimiterState) {
        let engaged = state.up.is_some() || state.down.is_some() || state.timetable.is_scheduled();
        self.engaged.store(engaged, Ordering::Release);
    }

    /// Up to `want` bytes that may move now in `direction`, or when to ask again.
    fn take(&self, direction: Direction, want: usize, now: Instant) -> Result<usize, Instant> {
        if !self.engaged.load(Ordering::Acquire) {
            return Ok(want);
        }
        let mut state = self.lock();
        state.follow_timetable(now);
        let result = match state.bucket(direction) {
            Some(bucket) => bucket.take(want, now),
            None => Ok(want),
        };
        self.update_engaged(&state);
        result
    }

    fn give_back(&self, direction: Direction, n: usize) {
        if n == 0 || !self.engaged.load(Ordering::Acquire) {
            return;
        }
        if let Some(bucket) = self.lock().bucket(direction) {
            bucket.give_back(n);
        }
    }

    /// `rc core/bwlimit rate=...`: one limit (`RATE`, `UP:DOWN` or `off`) in force until the
    /// timetable's next change.
    ///
    /// # Errors
    /// rclone's messages for a bad value or a whole timetable.
    pub fn set(&self, text: &str) -> Result<(), String> {
        let table = Timetable::parse(text).map_err(|e| format!("bad bwlimit: {e}"))?;
        let [slot] = table.0.as_slice() else { return Err("need exactly 1 bandwidth setting".into()) };
        let mut state = self.lock();
        state.toggled_off = false;
        state.apply(slot.bandwidth, Instant::now());
        if slot.bandwidth.is_set() {
            log::warn!("Bandwidth limit set to {}", slot.bandwidth);
        } else {
            log::warn!("Bandwidth limit reset to unlimited");
        }
        self.update_engaged(&state);
        Ok(())
    }

    /// SIGUSR2: turns the limit off, or back on.
    pub fn toggle(&self) {
        let mut state = self.lock();
        state.toggled_off = !state.toggled_off;
        let limit = state.current;
        state.apply(limit, Instant::now());
        if state.toggled_off {
            log::warn!("Bandwidth limit disabled by user (now off)");
        } else {
            log::warn!("Bandwidth limit enabled by user (now {limit})");
        }
        self.update_engaged(&state);
    }

    /// The limit in force, as `rc core/bwlimit` reports it.
    pub fn report(&self) -> LimitReport {
        let state = self.lock();
        let active = if state.toggled_off { BwPair::default() } else { state.current };
        let signed = |r: Rate| r.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let both = match (active.up, active.down) {
            (Some(up), Some(down)) => signed(Some(up.max(down))),
            _ => -1,
        };
        LimitReport {
            rate: active.to_string(),
            bytes_per_second: both,
            bytes_per_second_tx: signed(active.up),
            bytes_per_second_rx: signed(active.down),
        }
    }
}

/// One transfer's view of the limits: the shared one for its direction, and its own bucket
/// under `--bwlimit-file`. Cloned into the worker tasks that move its bytes.
#[derive(Debug, Clone)]
pub struct Throttle {
    shared: Option<Arc<BandwidthLimiter>>,
    own: Option<Arc<Mutex<Bucket>>>,
    direction: Direction,
}

impl Throttle {
    /// No limit (listings, tests).
    pub fn unlimited() -> Throttle {
        Throttle { shared: None, own: None, direction: Direction::Download }
    }

    /// A transfer in `direction` under the shared limiter and, when `per_file` limits that
    /// direction now, a bucket of its own.
    pub fn new(shared: &Arc<BandwidthLimiter>, per_file: &Timetable, direction: Direction) -> Throttle {
        let limit = if per_file.0.is_empty() { BwPair::default() } else { per_file.limit_now() };
        let rate = match direction {
            Direction::Upload => limit.up,
            Direction::Download => limit.down,
        };
        Throttle {
            shared: Some(shared.clone()),
            own: rate.map(|r| Arc::new(Mutex::new(Bucket::new(r, Instant::now())))),
            direction,
        }
    }

    /// Up to `want` bytes that may move now (at least one when `want` is), or the instant to
    /// ask again. Bytes granted and then not moved go back with [`unused`](Self::unused).
    pub fn grant(&self, want: usize) -> Result<usize, Instant> {
        if want == 0 {
            return Ok(0);
        }
        let now = Instant::now();
        let mut want = want;
        if let Some(own) = &self.own {
            want = own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take(want, now)?;
        }
        match self.shared.as_ref().map_or(Ok(want), |s| s.take(self.direction, want, now)) {
            Ok(n) => {
                if let Some(own) = &self.own {
                    own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).give_back(want - n);
                }
                Ok(n)
            }
            Err(at) => {
                if let Some(own) = &self.own {
                    own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).give_back(want);
                }
                Err(at)
            }
        }
    }

    /// Returns `n` granted bytes that did not move (the socket took less).
    pub fn unused(&self, n: usize) {
        if n == 0 {
            return;
        }
        if let Some(own) = &self.own {
            own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).give_back(n);
        }
        if let Some(shared) = &self.shared {
            shared.give_back(self.direction, n);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_pairs_parse_and_print_as_rclone() {
        let p = BwPair::parse("1M:100k").unwrap();
        assert_eq!(p, BwPair { up: Some(1 << 20), down: Some(100 << 10) });
        assert_eq!(p.to_string(), "1Mi:100Ki");
        assert_eq!(BwPair::parse("10M").unwrap().to_string(), "10Mi");
        assert_eq!(BwPair::parse("1.5M").unwrap().to_string(), "1.500Mi");
        assert_eq!(BwPair::parse("1M:off").unwrap().to_string(), "1Mi:off");
        assert_eq!(BwPair::parse("off").unwrap().to_string(), "off");
        // A bare number is KiB/s; "b" is bytes.
        assert_eq!(BwPair::parse("10").unwrap().up, Some(10 << 10));
        assert_eq!(BwPair::parse("512b").unwrap().up, Some(512));
        assert!(BwPair::parse("bad").is_err());
        assert!(BwPair::parse("1M:x").is_err());
    }

    #[test]
    fn timetables_parse_with_and_without_days() {
        let t = Timetable::parse("08:00,512k 12:00,10M Sat-00:00,off").unwrap();
        // Two entries for every day, then Saturday's.
        assert_eq!(t.0.len(), 15);
        assert_eq!(t.0[14], TimeSlot { weekday: 6, hhmm: 0, bandwidth: BwPair::default() });
        assert_eq!(Timetable::parse("Mon-10:00,10G").unwrap().0[0].weekday, 1);
        assert_eq!(Timetable::parse("sunday-23:59,1").unwrap().0[0].hhmm, 2359);
        for bad in ["", "8:00,1M", "24:00,1M", "10:60,1M", "Fun-10:00,1M", "10:00,", "10:00,1M,2M", "10:00,zz"] {
            assert!(Timetable::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_slot_in_force_is_the_latest_before_now_or_the_last_wrapping_round() {
        let t = Timetable::parse("Mon-08:00,1M Mon-18:00,off Fri-12:00,2M").unwrap();
        let one = BwPair::parse("1M").unwrap();
        let two = BwPair::parse("2M").unwrap();
        assert_eq!(t.limit_at(1, 800), one);
        assert_eq!(t.limit_at(1, 1759), one);
        assert_eq!(t.limit_at(1, 1800), BwPair::default());
        assert_eq!(t.limit_at(5, 1200), two);
        // Sunday and early Monday: Friday's entry still holds (the week wraps round).
        assert_eq!(t.limit_at(0, 1000), two);
        assert_eq!(t.limit_at(1, 759), two);
        // Entries without a day repeat daily.
        let daily = Timetable::parse("08:00,512k 12:00,10M").unwrap();
        assert_eq!(daily.limit_at(3, 900).up, Some(512 << 10));
        assert_eq!(daily.limit_at(3, 700).up, Some(10 << 20));
        assert_eq!(Timetable::default().limit_at(2, 1200), BwPair::default());
    }

    #[test]
    fn a_bucket_grants_what_it_holds_and_says_when_to_come_back() {
        let start = Instant::now();
        let mut b = Bucket::new(100 * 1024, start);
        // Empty at first: the first piece (2 KiB, 20 ms of the rate) is due in 20 ms.
        let at = b.take(64 * 1024, start).unwrap_err();
        assert_eq!((at - start).as_millis(), 20);
        assert_eq!(b.take(64 * 1024, start + Duration::from_millis(100)), Ok(10 * 1024));
        // Idle time buys at most a quarter of a second of the rate.
        assert_eq!(b.take(1 << 20, start + Duration::from_secs(10)), Ok(25 * 1024));
        b.give_back(1000);
        assert_eq!(b.take(1000, start + Duration::from_secs(10)), Ok(1000));
    }

    #[test]
    fn rc_sets_and_reports_the_limit_and_sigusr2_toggles_it() {
        let l = BandwidthLimiter::new(Timetable::parse("10M").unwrap());
        assert_eq!(l.report().rate, "10Mi");
        l.set("1M:100k").unwrap();
        let r = l.report();
        assert_eq!(
            (r.rate.as_str(), r.bytes_per_second, r.bytes_per_second_tx, r.bytes_per_second_rx),
            ("1Mi:100Ki", 1 << 20, 1 << 20, 100 << 10)
        );
        l.set("1M:off").unwrap();
        assert_eq!(l.report().bytes_per_second, -1);
        assert_eq!(l.set("08:00,1M 09:00,2M").unwrap_err(), "need exactly 1 bandwidth setting");
        assert!(l.set("bad").unwrap_err().starts_with("bad bwlimit: "));
        l.set("1M").unwrap();
        l.toggle();
        assert_eq!(l.report().rate, "off");
        assert_eq!(l.take(Direction::Upload, 5 << 20, Instant::now()), Ok(5 << 20));
        l.toggle();
        assert_eq!(l.report().rate, "1Mi");
        assert!(l.take(Direction::Upload, 5 << 20, Instant::now()).is_err());
        l.set("off").unwrap();
        assert_eq!(l.take(Direction::Download, 7, Instant::now()), Ok(7));
    }

    #[test]
    fn a_per_file_bucket_and_the_shared_one_both_apply() {
        let shared = Arc::new(BandwidthLimiter::new(Timetable::default()));
        let per_file = Timetable::parse("off:100k").unwrap();
        let up = Throttle::new(&shared, &per_file, Direction::Upload);
        assert_eq!(up.grant(1 << 20), Ok(1 << 20));
        let down = Throttle::new(&shared, &per_file, Direction::Download);
        assert!(down.grant(1 << 20).is_err());
        assert_eq!(Throttle::unlimited().grant(3), Ok(3));
    }
}
