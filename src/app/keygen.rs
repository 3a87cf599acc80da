//! `udpmsg keygen`: write a new key file.

use super::Info;
use crate::cli::KeygenArgs;
use crate::error::{Error, exit};
use crate::seal;

pub(super) fn run(args: KeygenArgs, info: Info) -> Result<u8, Error> {
    seal::write_key_file(&args.path, args.force).map_err(|source| Error::Keygen {
        path: args.path.display().to_string(),
        source,
    })?;
    info.line(format_args!(
        "udpmsg: wrote a new key to {} (mode 600)",
        args.path.display()
    ));
    Ok(exit::OK)
}
