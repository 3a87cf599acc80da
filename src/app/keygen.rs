//! `udpmsg keygen`: write a new key file.

use crate::cli::KeygenArgs;
use crate::error::{Error, exit};
use crate::seal;

pub(super) fn run(args: KeygenArgs) -> Result<u8, Error> {
    seal::write_key_file(&args.path, args.force).map_err(|source| Error::Keygen {
        path: args.path.display().to_string(),
        source,
    })?;
    eprintln!(
        "udpmsg: wrote a new key to {} (mode 600)",
        args.path.display()
    );
    Ok(exit::OK)
}
