//! `RangeSet`: which byte ranges of a sparse cache file hold data, as a sorted list of disjoint,
//! non-touching `[start, end)` ranges (rclone's `Rs`). Fuzzed against a plain bitmap model
//! (`fuzz/` target `cache_ranges`).

/// A set of byte ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// Sorted, disjoint, non-adjacent, non-empty `(start, end)` pairs.
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> RangeSet {
        RangeSet::default()
    }

    /// A set from pairs in any order (overlaps merged, empty ones dropped).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (u64, u64)>) -> RangeSet {
        let mut set = RangeSet::new();
        for (start, end) in pairs {
            set.insert(start, end);
        }
        set
    }

    /// The ranges, sorted.
    pub fn pairs(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Adds `[start, end)`.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // Every range that overlaps or touches [start, end) merges into it.
        let first = self.ranges.partition_point(|&(_, e)| e < start);
        let last = self.ranges.partition_point(|&(s, _)| s <= end);
        let (mut new_start, mut new_end) = (start, end);
        if first < last {
            new_start = new_start.min(self.ranges[first].0);
            new_end = new_end.max(self.ranges[last - 1].1);
        }
        self.ranges.splice(first..last, [(new_start, new_end)]);
    }

    /// Removes everything at or after `len` (a truncation).
    pub fn truncate(&mut self, len: u64) {
        self.ranges.retain(|&(s, _)| s < len);
        if let Some(last) = self.ranges.last_mut() {
            last.1 = last.1.min(len);
        }
    }

    /// Whether all of `[start, end)` is present (an empty range always is).
    pub fn contains(&self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        self.ranges.get(i).is_some_and(|&(s, e)| s <= start && end <= e)
    }

    /// The first missing byte range within `[start, end)`, if any.
    pub fn first_missing(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let mut pos = start;
        let i = self.ranges.partition_point(|&(_, e)| e <= start);
        for &(s, e) in &self.ranges[i..] {
            if pos >= end {
                return None;
            }
            if s > pos {
                return Some((pos, s.min(end)));
            }
            pos = pos.max(e);
        }
        (pos < end).then_some((pos, end))
    }

    /// Total bytes present.
    pub fn total(&self) -> u64 {
        self.ranges.iter().map(|&(s, e)| e - s).sum()
    }

    /// Whether nothing is present.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn inserts_merge_overlapping_and_touching_ranges() {
        let mut r = RangeSet::new();
        r.insert(10, 20);
        r.insert(30, 40);
        assert_eq!(r.pairs(), &[(10, 20), (30, 40)]);
        r.insert(20, 30);
        assert_eq!(r.pairs(), &[(10, 40)], "touching ranges merge");
        r.insert(0, 5);
        r.insert(3, 12);
        assert_eq!(r.pairs(), &[(0, 40)]);
        r.insert(50, 50);
        assert_eq!(r.total(), 40);
    }

    #[test]
    fn contains_missing_and_truncate() {
        let r = RangeSet::from_pairs([(0, 10), (20, 30)]);
        assert!(r.contains(2, 8) && r.contains(20, 30) && !r.contains(5, 25) && r.contains(7, 7));
        assert_eq!(r.first_missing(0, 40), Some((10, 20)));
        assert_eq!(r.first_missing(25, 40), Some((30, 40)));
        assert_eq!(r.first_missing(0, 10), None);
        let mut t = r.clone();
        t.truncate(25);
        assert_eq!(t.pairs(), &[(0, 10), (20, 25)]);
        t.truncate(5);
        assert_eq!(t.pairs(), &[(0, 5)]);
    }
}
