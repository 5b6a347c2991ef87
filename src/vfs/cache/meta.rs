//! One cache item's metadata file (rclone's `vfsMeta` JSON): size, times, the byte ranges the
//! sparse data file holds, the remote fingerprint at the last sync, and whether there are
//! local changes not yet uploaded. Saved atomically: written to a temporary file, synced,
//! renamed over the old one.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::ftp::time::{from_unix, unix_parts};
use crate::vfs::cache::ranges::RangeSet;

/// What the cache knows about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The file's size.
    pub size: u64,
    /// Its modification time.
    pub mtime: SystemTime,
    /// When it was last used (eviction is oldest-first).
    pub atime: SystemTime,
    /// Which bytes of the data file are present.
    pub ranges: RangeSet,
    /// The remote object's `size,mtime` at the last sync; empty if never synced.
    pub fingerprint: String,
    /// Local changes not yet uploaded.
    pub dirty: bool,
}

fn time_json(t: SystemTime) -> Value {
    let (secs, nanos) = unix_parts(t);
    json!([secs, nanos])
}

fn time_from(v: &Value) -> Option<SystemTime> {
    let a = v.as_array()?;
    Some(from_unix(a.first()?.as_i64()?, u32::try_from(a.get(1)?.as_u64()?).ok()?))
}

impl Meta {
    /// A new item's metadata.
    pub fn new(size: u64, mtime: SystemTime) -> Meta {
        Meta {
            size,
            mtime,
            atime: SystemTime::now(),
            ranges: RangeSet::new(),
            fingerprint: String::new(),
            dirty: false,
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let ranges: Vec<Value> = self.ranges.pairs().iter().map(|&(s, e)| json!({ "Pos": s, "Size": e - s })).collect();
        json!({
            "Size": self.size,
            "ModTime": time_json(self.mtime),
            "ATime": time_json(self.atime),
            "Rs": ranges,
            "Fingerprint": self.fingerprint,
            "Dirty": self.dirty,
        })
    }

    /// Parses the JSON form; `None` for anything malformed (the item is then dropped).
    pub fn from_json(v: &Value) -> Option<Meta> {
        let mut ranges = RangeSet::new();
        for r in v.get("Rs")?.as_array()? {
            let pos = r.get("Pos")?.as_u64()?;
            ranges.insert(pos, pos.checked_add(r.get("Size")?.as_u64()?)?);
        }
        Some(Meta {
            size: v.get("Size")?.as_u64()?,
            mtime: time_from(v.get("ModTime")?)?,
            atime: time_from(v.get("ATime")?)?,
            ranges,
            fingerprint: v.get("Fingerprint")?.as_str()?.to_string(),
            dirty: v.get("Dirty")?.as_bool()?,
        })
    }

    /// Reads a metadata file.
    pub fn load(path: &Path) -> Option<Meta> {
        let text = std::fs::read(path).ok()?;
        Meta::from_json(&serde_json::from_slice(&text).ok()?)
    }

    /// Writes it atomically: a temporary file beside it, fsync, rename, so a crash leaves the
    /// old version or the new one, never half of either.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("ftpvfs-tmp");
        let mut f = std::fs::File::create(&tmp)?;
        let mut text = serde_json::to_vec_pretty(&self.to_json()).map_err(std::io::Error::other)?;
        text.push(b'\n');
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The fingerprint of a remote entry: `size,mtime-seconds.nanos`.
pub fn fingerprint(size: u64, mtime: SystemTime) -> String {
    let (s, n) = unix_parts(mtime);
    format!("{size},{s}.{n:09}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Meta::new(10, from_unix(1_700_000_000, 5));
        m.ranges.insert(0, 4);
        m.ranges.insert(6, 10);
        m.dirty = true;
        m.fingerprint = fingerprint(10, m.mtime);
        let path = dir.path().join("a/b.json");
        m.save(&path).unwrap();
        assert_eq!(Meta::load(&path), Some(m));
        std::fs::write(&path, b"{\"Size\": 1}").unwrap();
        assert_eq!(Meta::load(&path), None, "malformed metadata is rejected");
    }
}
