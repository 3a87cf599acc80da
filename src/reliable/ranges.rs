//! A set of u64 numbers kept as disjoint ranges: the held messages of one
//! sender, whose ranges go into acknowledgements. Every operation is
//! O(log n) in the number of ranges.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent inclusive ranges, by their first number.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet {
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// True when no number is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Ranges in the set.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The range that holds `n`, if any.
    pub fn range_of(&self, n: u64) -> Option<(u64, u64)> {
        let (&first, &last) = self.ranges.range(..=n).next_back()?;
        (n <= last).then_some((first, last))
    }

    /// Adds `n`, joining the ranges it touches.
    pub fn insert(&mut self, n: u64) {
        if self.range_of(n).is_some() {
            return;
        }
        let mut first = n;
        let mut last = n;
        if let Some(below) = n.checked_sub(1)
            && let Some((a, _)) = self.range_of(below)
        {
            first = a;
        }
        if let Some(above) = n.checked_add(1)
            && let Some(&b) = self.ranges.get(&above)
        {
            self.ranges.remove(&above);
            last = b;
        }
        self.ranges.insert(first, last);
    }

    /// Removes `n`, splitting its range.
    pub fn remove(&mut self, n: u64) {
        let Some((first, last)) = self.range_of(n) else {
            return;
        };
        self.ranges.remove(&first);
        if first < n {
            self.ranges.insert(first, n - 1);
        }
        if n < last {
            self.ranges.insert(n + 1, last);
        }
    }

    /// The lowest ranges, ascending.
    pub fn lowest(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(&a, &b)| (a, b))
    }

    /// The highest ranges, descending.
    pub fn highest(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().rev().map(|(&a, &b)| (a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(set: &RangeSet) -> Vec<(u64, u64)> {
        set.lowest().collect()
    }

    #[test]
    fn inserts_join_and_removes_split() {
        let mut set = RangeSet::default();
        for n in [5, 7, 6, 1, 9, 10, 2] {
            set.insert(n);
        }
        assert_eq!(all(&set), [(1, 2), (5, 7), (9, 10)]);
        set.insert(8);
        assert_eq!(all(&set), [(1, 2), (5, 10)]);
        set.remove(7);
        assert_eq!(all(&set), [(1, 2), (5, 6), (8, 10)]);
        set.remove(1);
        set.remove(2);
        assert_eq!(all(&set), [(5, 6), (8, 10)]);
        assert_eq!(set.range_of(9), Some((8, 10)));
        assert_eq!(set.range_of(7), None);
        assert_eq!(set.highest().next(), Some((8, 10)));
        set.insert(u64::MAX);
        set.insert(0);
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn agrees_with_a_plain_set() {
        let mut set = RangeSet::default();
        let mut plain = std::collections::BTreeSet::new();
        let mut x = 12345u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = x % 200;
            if x.is_multiple_of(3) {
                set.remove(n);
                plain.remove(&n);
            } else {
                set.insert(n);
                plain.insert(n);
            }
        }
        let mut expect: Vec<(u64, u64)> = Vec::new();
        for &n in &plain {
            match expect.last_mut() {
                Some((_, last)) if *last + 1 == n => *last = n,
                _ => expect.push((n, n)),
            }
        }
        assert_eq!(all(&set), expect);
    }
}
