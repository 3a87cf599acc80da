//! `udpmsg keygen`'s arguments.

use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the key
    #[arg(value_name = "PATH")]
    pub path: PathBuf,

    /// Replace an existing regular file (never a symlink, FIFO, device or
    /// directory)
    #[arg(long)]
    pub force: bool,
}
