//! Unix-domain datagram sockets: a listener's, bound to a path (replacing
//! only a stale socket file, and removing its file when it stops) or to an
//! abstract name, with the senders' credentials; and a sender's, bound to
//! an abstract name of the kernel's choosing, so replies can reach it.

use super::peer::UnixAddr;
use super::socket::DatagramSocket;
use crate::seal::FileKind;
use socket2::{Domain, SockAddr, Socket, Type};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Why a listener's Unix-domain socket could not be bound.
#[derive(Debug)]
pub enum UnixBindError {
    /// Something live is bound there: a socket file that a process
    /// answers on (a connect succeeds), or an abstract name in use.
    InUse,
    /// Something other than a socket is at the path; it is never replaced.
    NotASocket(Option<FileKind>),
    /// Anything else (no such directory, permission denied...).
    Io(io::Error),
}

impl From<io::Error> for UnixBindError {
    fn from(e: io::Error) -> Self {
        UnixBindError::Io(e)
    }
}

/// A listener's socket file, removed when this is dropped (the listener
/// stops: a signal, `--timeout`, `--count`, an error), but only while the
/// file at the path is still the very socket this listener created (its
/// device and inode): a socket another process put there since is left alone.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    /// The path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::symlink_metadata(&self.path)
            && meta.file_type().is_socket()
            && meta.dev() == self.dev
            && meta.ino() == self.ino
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A bound listening socket and, for a path, the file to remove at the end.
#[derive(Debug)]
pub struct UnixListening {
    pub socket: DatagramSocket,
    pub file: Option<SocketFile>,
}

/// Binds a listener's non-blocking Unix-domain datagram socket to `addr`,
/// reporting every sender's credentials (`SO_PASSCRED`).
///
/// A path is created with the umask's mode, or exactly `mode` when given
/// (the umask is set for the bind, so the file never has other bits, not
/// even for a moment). Something already at the path: a socket that
/// nobody answers on (a connect is refused: its listener died without
/// removing it) is stale and replaced; one a process answers on is
/// [`UnixBindError::InUse`]; anything that is not a socket (a regular
/// file, a directory, a FIFO, a symbolic link, never followed) is
/// [`UnixBindError::NotASocket`] and left alone.
pub fn bind_listener(addr: &UnixAddr, mode: Option<u32>) -> Result<UnixListening, UnixBindError> {
    let sockaddr = addr.to_sockaddr()?;
    let path = match addr {
        UnixAddr::Path(path) => Some(Path::new(OsStr::from_bytes(path))),
        _ => None,
    };
    if let Some(path) = path {
        clear_stale(path)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    socket.set_passcred(true)?;
    let bound = match (path, mode) {
        (Some(_), Some(mode)) => with_umask(!mode & 0o777, || socket.bind(&sockaddr)),
        _ => socket.bind(&sockaddr),
    };
    match bound {
        Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => return Err(UnixBindError::InUse),
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    let file = match path {
        Some(path) => {
            let meta = std::fs::symlink_metadata(path)?;
            Some(SocketFile {
                path: path.to_path_buf(),
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        None => None,
    };
    let socket = mio::net::UnixDatagram::from_std(socket.into());
    Ok(UnixListening {
        socket: socket.into(),
        file,
    })
}

/// Makes way for a listener at `path`: nothing there, or a stale socket
/// (removed); see [`bind_listener`].
fn clear_stale(path: &Path) -> Result<(), UnixBindError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !meta.file_type().is_socket() {
        return Err(UnixBindError::NotASocket(FileKind::of(&meta)));
    }
    let probe = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    match probe.connect(&SockAddr::unix(path)?) {
        // Someone answers: a live listener (of this program or another).
        Ok(()) => Err(UnixBindError::InUse),
        // The file is there, its socket is not: left by a process that died.
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        // A live stream or seqpacket socket.
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => Err(UnixBindError::InUse),
        Err(e) => Err(e.into()),
    }
}

/// Runs `f` with the process's umask set to `mask`, then restores it.
/// Called before the event loop starts, while the process has one thread.
fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask cannot fail; it changes the calling process's mask,
    // restored below before anything else creates files.
    let old = unsafe { libc::umask(mask as libc::mode_t) };
    let out = f();
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    out
}

/// A sender's non-blocking Unix-domain datagram socket, bound to an
/// abstract name the kernel picks (autobind: five hex digits,
/// `unix:@0001f`): replies (acks, pongs, answers) can reach it, a receiver
/// that answers whoever sent (`nc -U -u -l`) can, the listener can tell
/// senders apart, and no file is left behind. With `credentials`, every
/// datagram received reports its sender's credentials.
pub fn sender_socket(credentials: bool) -> io::Result<DatagramSocket> {
    let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    if credentials {
        socket.set_passcred(true)?;
    }
    // An address of the family alone (no name) asks for autobind.
    socket.bind(&SockAddr::unix("")?)?;
    Ok(mio::net::UnixDatagram::from_std(socket.into()).into())
}
