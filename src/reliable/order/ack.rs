//! What an acknowledgement says about a sender's stream, and whether a
//! message was accepted before (a stopping listener answers only those).

use super::Streams;

impl Streams {
    /// Whether message `seq` of `sender` (carrying `base`) was accepted
    /// before, released or held, so that accepting it again changes
    /// nothing but its acknowledgement (a stopping listener answers only
    /// such repeats). A message given up on is none; neither is one whose
    /// base would release a gap.
    pub fn is_repeat(&self, sender: u64, seq: u64, base: u64) -> bool {
        let Some(stream) = self.streams.get(&sender) else {
            return false;
        };
        if base > stream.next {
            return false;
        }
        if seq < stream.next {
            return !stream.skipped.iter().any(|&(a, b)| a <= seq && seq <= b);
        }
        stream.held.contains_key(&seq)
    }

    /// What an acknowledgement for `sender` says: every message below
    /// `next` was released, and held ranges, at most `max_ranges`. When
    /// there are more: the lowest quarter (what blocks progress), then
    /// those holding the `recent` arrivals, then the highest (what arrived
    /// last); a sender that keeps what earlier acks said learns them all.
    pub fn ack_state(
        &self,
        sender: u64,
        max_ranges: usize,
        recent: &[u64],
    ) -> Option<(u64, Vec<(u64, u64)>)> {
        let stream = self.streams.get(&sender)?;
        let held = &stream.held_ranges;
        if held.len() <= max_ranges {
            return Some((stream.next, held.lowest().collect()));
        }
        let mut ranges: Vec<(u64, u64)> = held.lowest().take(max_ranges.div_ceil(4)).collect();
        for &seq in recent {
            if ranges.len() >= max_ranges {
                break;
            }
            if let Some(range) = held.range_of(seq)
                && !ranges.contains(&range)
            {
                ranges.push(range);
            }
        }
        for range in held.highest() {
            if ranges.len() >= max_ranges {
                break;
            }
            if !ranges.contains(&range) {
                ranges.push(range);
            }
        }
        ranges.sort_unstable();
        Some((stream.next, ranges))
    }
}
