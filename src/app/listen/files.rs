//! `listen --save-dir`: the directory checked and claimed at start, and
//! the file options (`--max-file-size`, `--file-wait`, `--overwrite`).

use crate::app::Info;
use crate::cli::ListenArgs;
use crate::commands::files::{receive, store};
use crate::error::Error;
use crate::output;
use crate::util::words::IoWords;
use std::io;

/// Claims the save directory; says what became of the partial files
/// killed listeners left there. Without locks there (a file system
/// without `flock`) the listener runs all the same, and says so.
pub(super) fn claim_save_dir(dir: &std::path::Path, info: Info) -> Option<store::Claim> {
    match store::claim(dir) {
        Ok((claim, found)) => {
            let (note, warnings) = output::files::leftovers_lines(dir, &found);
            if let Some(note) = note {
                info.line(note);
            }
            for warning in warnings {
                eprintln!("{warning}");
            }
            Some(claim)
        }
        Err(e) => {
            eprintln!(
                "udpmsg: warning: cannot lock --save-dir {} ({}): partial files a killed listener left there are not looked for",
                dir.display(),
                IoWords(&e)
            );
            None
        }
    }
}

/// What the listener does with offered files: `--save-dir` must name a
/// directory (checked now, not at the first offer).
pub(super) fn file_config(args: &ListenArgs) -> Result<receive::Config, Error> {
    if let Some(dir) = &args.save_dir {
        match std::fs::metadata(dir) {
            // A trial partial file, made as a transfer makes one and removed
            // at once: a directory that cannot take one (read-only, not
            // ours, /proc) is the operator's to fix now, not a sender's
            // failure later.
            Ok(meta) if meta.is_dir() => {
                if let Err(e) = store::Part::create(dir, 0) {
                    // The directory is there, so "not found" is a file
                    // system that makes no new files (/proc, /sys).
                    let why = if e.kind() == io::ErrorKind::NotFound {
                        "its file system takes no new files".to_string()
                    } else {
                        IoWords(&e).to_string()
                    };
                    return Err(Error::Usage(format!(
                        "--save-dir {}: cannot write files there: {why}",
                        dir.display()
                    )));
                }
            }
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "--save-dir {}: not a directory",
                    dir.display()
                )));
            }
            Err(e) => {
                return Err(Error::Usage(format!(
                    "--save-dir {}: {}",
                    dir.display(),
                    IoWords(&e)
                )));
            }
        }
    }
    let defaults = receive::Config::default();
    let wait = args.file_wait.unwrap_or(defaults.wait);
    if !(MIN_FILE_WAIT..=MAX_FILE_WAIT).contains(&wait) {
        return Err(Error::Usage(format!(
            "--file-wait must be between {}s and {}h",
            MIN_FILE_WAIT.as_secs(),
            MAX_FILE_WAIT.as_secs() / 3600
        )));
    }
    Ok(receive::Config {
        dir: args.save_dir.clone(),
        max_size: args.max_file_size.unwrap_or(defaults.max_size),
        overwrite: args.overwrite,
        wait,
    })
}

/// Shortest `--file-wait`: a sender with data in flight retransmits within
/// a quarter of a second (`reliable::rtt::MAX_RTO`), so a shorter wait
/// would abandon transfers that are only slow.
const MIN_FILE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Longest `--file-wait`: a day (a partial file held longer is forgotten,
/// not waited for).
const MAX_FILE_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
