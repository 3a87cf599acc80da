//! Value parsers for arguments: counts, sizes, file modes, durations.

use std::time::Duration;

/// Parses a count of at least 1 (`ping -c`, `discover --expect`): 0 is
/// refused, as `ping -c 0` is.
pub fn parse_count(arg: &str) -> Result<u64, String> {
    match arg.trim().parse::<u64>() {
        Ok(0) => Err("the count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a whole number".into()),
    }
}

/// Parses a size: a number of bytes, or one with a suffix K, M, G or T
/// (powers of 1024; `KiB`, `k`, `KB` mean the same), `1.5G` too.
pub fn parse_size(arg: &str) -> Result<u64, String> {
    let text = arg.trim();
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("'{arg}' is not a size like 100, 64K, 10M or 2G")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{arg}' is not a size like 100, 64K, 10M or 2G"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(0.0..1.8e19).contains(&bytes) {
        return Err(format!("'{arg}' is too large"));
    }
    Ok(bytes as u64)
}

/// Parses a file mode in octal, as chmod takes it (`0660`, `600`): the
/// permission bits only.
pub fn parse_mode(arg: &str) -> Result<u32, String> {
    let digits = arg.trim();
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err("not an octal mode like 0660".into());
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err("only the permission bits (at most 0777)".into()),
    }
}

/// A duration longer than zero (a wait that could not see any reply is
/// a mistake, not a choice).
pub fn parse_wait(arg: &str) -> Result<Duration, String> {
    match parse_duration(arg)? {
        Duration::ZERO => Err("the wait must be longer than 0".into()),
        wait => Ok(wait),
    }
}

/// Parses `500ms`, `2s`, `1m`, `1h 30m`, or a bare number of seconds (`0`, `2.5`).
pub fn parse_duration(arg: &str) -> Result<Duration, String> {
    let arg = arg.trim();
    if let Ok(secs) = arg.parse::<f64>() {
        if (0.0..1e12).contains(&secs) {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("'{arg}' is not a valid duration"));
    }
    // humantime's own words ("expected number at 0") point into a string
    // the user did not see; what matters is the form wanted.
    humantime::parse_duration(arg).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => format!("'{arg}' is too long a duration"),
        _ => format!("'{arg}' is not a duration like 500ms, 2s or 1m"),
    })
}
