//! Random 64-bit ids: sender ids, instance ids, probe tokens.

/// A random 64-bit id; falls back to time and pid mixed when the system has
/// no randomness to give (ids need to be distinct, not secret).
pub fn random() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15
    })
}
