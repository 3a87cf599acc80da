//! File transfer (`send --file`, `listen --save-dir`) on the real binary
//! and real sockets, inside private network namespaces (and, for a small
//! disk, a private mount namespace): integrity through loss and
//! duplication, safe names, limits before data flows, a disk that fills,
//! senders and listeners that go away, and sharing a slow link with TCP.

mod common;

use common::veth::Veth;
use common::*;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use udpmsg::commands::files::store::{PART_PREFIX, PART_SUFFIX};
use udpmsg::wire::file::{
    self, FILE_ACCEPTED, FILE_DONE, FILE_TOO_LARGE, FileRecord, chunk_len, encode_record,
};
use udpmsg::wire::{self, Datagram, FLAG_ACK, FLAG_FILE, FileStatus, Message, Text};

// ---------------------------------------------------------------- helpers

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "udpmsg-files-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn s(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Partial files in `dir`.
fn parts_in(dir: &Path) -> Vec<String> {
    names_in(dir)
        .into_iter()
        .filter(|n| n.starts_with(PART_PREFIX) && n.ends_with(PART_SUFFIX))
        .collect()
}

/// `len` deterministic pseudo-random bytes.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `bytes` to `dir/name` and returns the path as text.
fn file(dir: &TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    fs::write(&path, bytes).expect("write source file");
    path.to_str().expect("utf-8").to_string()
}

/// `udpmsg send --file ... DEST` spawned with captured output.
fn spawn_send(dest: &str, files: &[&str], extra: &[&str]) -> std::process::Child {
    let mut args = vec!["send"];
    for f in files {
        args.extend(["--file", f]);
    }
    args.extend_from_slice(extra);
    args.push(dest);
    command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send --file")
}

/// Runs `tc`/`ip`/`nft` setup in this thread's namespace.
fn sh(cmd: &str) {
    run_ok("sh", &["-c", cmd]);
}

/// Drops `loss`% of arriving UDP and duplicates `dup`% of what leaves for
/// 127.0.0.0/8, both ways (this namespace's `lo` carries both directions).
fn lossy_lo(loss: u32, dup: u32) {
    let rules = format!(
        "table ip fault {{
  chain in {{ type filter hook input priority 0; udp dport 1-65535 numgen random mod 100 < {loss} drop; }}
  chain out {{ type filter hook output priority 0; ip daddr 127.0.0.0/8 numgen random mod 100 < {dup} dup to ip daddr; }}
}}\n"
    );
    nft_load(Command::new("nft"), &rules);
}

/// The listener's next stdout line, parsed.
fn file_line(listener: &Listener) -> serde_json::Value {
    let line = listener.json();
    assert_eq!(line["kind"], "file", "{line}");
    line
}

// ---------------------------------------------------------------- integrity

#[test]
fn files_arrive_whole_through_loss_and_duplication_both_ways() {
    if !isolate("files_arrive_whole_through_loss_and_duplication_both_ways") {
        return;
    }
    // Ethernet-sized datagrams: the chunks follow the path MTU.
    sh("ip link set lo mtu 1500");
    lossy_lo(10, 10);
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let chunk = chunk_len(1500, false, 0, wire::MAX_DATAGRAM_V4);
    assert_eq!(chunk, 1401);
    let big = content(20 << 20, 1);
    let one = content(chunk, 2);
    let files = [
        file(&src, "big.bin", &big),
        file(&src, "empty", b""),
        file(&src, "one-chunk", &one),
    ];
    let listener = Listener::start(&["--save-dir", dir.s(), "--json"]);
    let mut send = spawn_send(
        &listener.dest(),
        &files.iter().map(String::as_str).collect::<Vec<_>>(),
        &["--timeout", "20s"],
    );
    let err = drain(send.stderr.take().expect("stderr"));
    let code = wait_until(&mut send, WAIT * 6, "send --file");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 0, "{err}");
    // One closing line per file: size, time and MB/s.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].contains("sent big.bin (20971520 bytes"), "{err}");
    assert!(lines[0].contains(" MB/s, blake3 "), "{err}");
    for (name, bytes) in [("big.bin", &big[..]), ("empty", b""), ("one-chunk", &one)] {
        let line = file_line(&listener);
        assert_eq!(line["file"], name);
        assert_eq!(line["size"], bytes.len() as u64);
        assert_eq!(line["blake3"], blake3::hash(bytes).to_hex().as_str());
        let stored = fs::read(dir.join(name)).expect("stored file");
        assert!(stored == bytes, "{name}: content differs");
    }
    assert!(parts_in(dir.path()).is_empty());
}

#[test]
fn a_keyed_transfer_is_sealed_and_refused_by_a_keyless_listener() {
    if !isolate("a_keyed_transfer_is_sealed_and_refused_by_a_keyless_listener") {
        return;
    }
    let keys = TempDir::new("key");
    let key = keys.join("k");
    let out = udpmsg(&["keygen", key.to_str().unwrap()], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let data = content(100_000, 3);
    let f = file(&src, "secret.bin", &data);
    let k = key.to_str().unwrap();
    let listener = Listener::start(&["--save-dir", dir.s(), "--key-file", k, "--json"]);
    let out = udpmsg(
        &["send", "--file", &f, "--key-file", k, &listener.dest()],
        b"",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(file_line(&listener)["size"], 100_000);
    assert!(fs::read(dir.join("secret.bin")).unwrap() == data);
    // A listener without the key never sees the offer: no progress.
    let plain = Listener::start(&["--save-dir", dir.s()]);
    let out = udpmsg(
        &[
            "send",
            "--file",
            &f,
            "--key-file",
            k,
            "--timeout",
            "1s",
            &plain.dest(),
        ],
        b"",
    );
    let line = out.one_line_error(4, "keyed send to a keyless listener");
    assert!(line.contains("timeout: no progress for 1s"), "{line}");
}

/// `send --file --json` whose stdout is a closed pipe (whoever read it
/// wants no more, as after `| head -1`): the file being sent is finished,
/// its line cannot be written, and the send ends quietly with exit 0
/// without offering the next file. (The pipe is closed before the send
/// starts, so the first line is the one refused.)
#[test]
fn send_file_json_to_a_closed_pipe_stops_after_the_file_in_flight() {
    if !isolate("send_file_json_to_a_closed_pipe_stops_after_the_file_in_flight") {
        return;
    }
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let first = file(&src, "first.txt", b"one");
    let second = file(&src, "second.txt", b"two");
    let listener = Listener::start(&["--save-dir", dir.s(), "--json"]);
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let dest = listener.dest();
    let mut send = command(&["send", "--json", "--file", &first, "--file", &second, &dest])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn send --file --json");
    let err = drain(send.stderr.take().expect("stderr"));
    let code = wait_until(&mut send, WAIT, "send --file --json > closed pipe");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(file_line(&listener)["file"], "first.txt");
    // The send waits for each file to be in place before it ends: the
    // second, had it been offered, would be there.
    assert_eq!(names_in(dir.path()), ["first.txt"]);
}

// ---------------------------------------------------------------- names

/// Speaks the file records by hand, from one socket: for names `send
/// --file` itself never offers.
struct HandSender {
    socket: UdpSocket,
    id: u64,
    seq: u64,
}

impl HandSender {
    fn new(to: SocketAddr, id: u64) -> HandSender {
        let socket = udp("127.0.0.1:0");
        socket.connect(to).expect("connect");
        HandSender { socket, id, seq: 0 }
    }

    fn send(&mut self, record: &FileRecord<'_>) -> u64 {
        let mut body = Vec::new();
        encode_record(record, &mut body);
        let seq = self.seq;
        self.seq += 1;
        let text = Message::Text(Text {
            sender: self.id,
            seq,
            base: 0,
            flags: FLAG_ACK | FLAG_FILE,
            name: "hand",
            body: &body,
        });
        self.socket.send(&encoded(&text)).expect("send");
        seq
    }

    /// The next status for the offer `seq` (acks are skipped).
    fn status(&self, seq: u64) -> FileStatus {
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = self.socket.recv(&mut buf).expect("a status in time");
            if let Ok(Datagram::Message(Message::FileStatus(s))) = wire::classify(&buf[..n])
                && s.sender == self.id
                && s.seq == seq
            {
                return s;
            }
        }
    }

    /// Offers `content` as `name`, sends it and returns the final status.
    fn transfer(&mut self, name: &str, content: &[u8]) -> FileStatus {
        let offer = self.send(&FileRecord::Offer {
            size: content.len() as u64,
            name,
        });
        let accepted = self.status(offer);
        if accepted.status != FILE_ACCEPTED {
            return accepted;
        }
        for (i, piece) in content.chunks(1000).enumerate() {
            self.send(&FileRecord::Chunk {
                offset: (i * 1000) as u64,
                data: piece,
            });
        }
        self.send(&FileRecord::End {
            hash: *blake3::hash(content).as_bytes(),
        });
        self.status(offer)
    }
}

#[test]
fn offered_names_are_stored_safely_inside_the_directory() {
    if !isolate("offered_names_are_stored_safely_inside_the_directory") {
        return;
    }
    let root = TempDir::new("names");
    let dir = root.join("in");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("exists.txt"), b"keep me").unwrap();
    let listener = Listener::start(&["--save-dir", dir.to_str().unwrap(), "--json"]);
    let long = format!("{}.txt", "n".repeat(296));
    let short = format!("{}.txt", "n".repeat(196));
    let cases: [(&str, &str); 7] = [
        ("../../etc/passwd", "passwd"),
        ("/abs/path", "path"),
        (".hidden", "hidden"),
        ("a\u{1b}b", "a_b"),
        ("..", "file"),
        (&long, &short),
        ("exists.txt", "exists (1).txt"),
    ];
    for (i, (offered, stored)) in cases.iter().enumerate() {
        let mut hand = HandSender::new(v4(&listener), 1000 + i as u64);
        let body = format!("content {i}");
        let status = hand.transfer(offered, body.as_bytes());
        assert_eq!(status.status, FILE_DONE, "{offered:?}");
        assert_eq!(status.detail, body.len() as u64);
        let line = file_line(&listener);
        assert_eq!(line["file"], *offered);
        let path = dir.join(stored);
        assert_eq!(line["path"], path.to_str().unwrap(), "{offered:?}");
        assert_eq!(fs::read(&path).unwrap(), body.as_bytes(), "{offered:?}");
    }
    // The 300-byte name was cut to 200 bytes, its extension kept.
    assert_eq!((long.len(), short.len()), (300, 200));
    assert_eq!(fs::read(dir.join("exists.txt")).unwrap(), b"keep me");
    // Nothing outside the directory, nothing hidden or partial inside.
    assert_eq!(names_in(root.path()), ["in"]);
    let mut expected: Vec<String> = cases.iter().map(|(_, s)| s.to_string()).collect();
    expected.push("exists.txt".into());
    expected.sort();
    assert_eq!(names_in(&dir), expected);
}

#[test]
fn with_overwrite_an_existing_file_is_replaced() {
    if !isolate("with_overwrite_an_existing_file_is_replaced") {
        return;
    }
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    fs::write(dir.join("a.txt"), b"old").unwrap();
    let f = file(&src, "a.txt", b"new");
    let listener = Listener::start(&["--save-dir", dir.s(), "--overwrite"]);
    let out = udpmsg(&["send", "--file", &f, &listener.dest()], b"");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(fs::read(dir.join("a.txt")).unwrap(), b"new");
    assert_eq!(names_in(dir.path()), ["a.txt"]);
}

// ---------------------------------------------------------------- limits

#[test]
fn offers_are_refused_before_any_data_flows() {
    if !isolate("offers_are_refused_before_any_data_flows") {
        return;
    }
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3000, 4));
    // Larger than --max-file-size: exit 7 with one line, nothing written.
    let limited = Listener::start(&["--save-dir", dir.s(), "--max-file-size", "2K"]);
    let out = udpmsg(&["send", "--file", &f, &limited.dest()], b"");
    let line = out.one_line_error(7, "too large");
    assert!(
        line.contains("big.bin to 127.0.0.1:") && line.contains("refused: too large"),
        "{line}"
    );
    assert!(line.contains("at most 2.0 KiB"), "{line}");
    assert!(names_in(dir.path()).is_empty());
    // By hand: the refusal answers the offer, and no content was asked for.
    let mut hand = HandSender::new(v4(&limited), 77);
    let offer = hand.send(&FileRecord::Offer {
        size: 3000,
        name: "x",
    });
    let status = hand.status(offer);
    assert_eq!(status.status, FILE_TOO_LARGE);
    assert_eq!(status.detail, 2048);
    // The same offer again (its status lost, say): the status comes again.
    hand.seq = offer;
    hand.send(&FileRecord::Offer {
        size: 3000,
        name: "x",
    });
    assert_eq!(hand.status(offer), status);
    // Without --save-dir every offer is refused at once.
    let closed = Listener::start(&[]);
    let out = udpmsg(&["send", "--file", &f, &closed.dest()], b"");
    let line = out.one_line_error(7, "no save dir");
    assert!(line.contains("takes no files"), "{line}");
    // A missing local file fails before anything is sent.
    let out = udpmsg(&["send", "--file", "/nonexistent/x", &closed.dest()], b"");
    let line = out.one_line_error(1, "missing file");
    assert!(line.contains("/nonexistent/x: cannot read it"), "{line}");
}

/// A tmpfs of `size` at a fresh directory, in a private mount namespace of
/// this test thread (and the processes it starts).
struct SmallDisk(TempDir);

impl SmallDisk {
    fn new(tag: &str, size: &str) -> SmallDisk {
        // SAFETY: unshare(CLONE_NEWNS) moves only this thread into a copy
        // of the mount namespace; the harness gives each test its thread.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNS) };
        assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
        run_ok("mount", &["--make-rprivate", "/"]);
        let dir = TempDir::new(tag);
        run_ok(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                dir.s(),
            ],
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

/// Shapes this namespace's `lo` to Ethernet frames at `rate`.
fn slow_lo(rate: &str) {
    sh("ip link set lo mtu 1500");
    sh(&format!(
        "tc qdisc add dev lo root tbf rate {rate} burst 32kbit latency 50ms"
    ));
}

#[test]
fn a_disk_that_fills_mid_transfer_ends_it_cleanly() {
    if !isolate("a_disk_that_fills_mid_transfer_ends_it_cleanly") {
        return;
    }
    slow_lo("8mbit");
    let disk = SmallDisk::new("small", "4m");
    let dir = disk.0.path();
    let src = TempDir::new("src");
    let f = file(&src, "big.bin", &content(3 << 20, 5));
    let listener = Listener::start(&["--save-dir", disk.0.s()]);
    let mut send = spawn_send(&listener.dest(), &[&f], &[]);
    let err = drain(send.stderr.take().expect("stderr"));
    // Content is flowing: fill the disk behind the transfer's back.
    wait_for(WAIT, "a partial file", || {
        let part = parts_in(dir).pop()?;
        let len = fs::metadata(dir.join(&part)).ok()?.len();
        (len > 0).then_some(())
    });
    let mut filler = fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 64 << 10];
    while filler.write_all(&block).is_ok() {}
    drop(filler);
    let code = wait_until(&mut send, WAIT * 2, "send --file");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 8, "{err}");
    assert!(
        err.contains("no space left on the listener's disk"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // No partial file, no stored file: only the filler.
    assert_eq!(names_in(dir), ["filler"]);
    let said = wait_for(WAIT, "the listener's line", || {
        listener.try_err_line(Duration::from_millis(100))
    });
    assert!(said.contains("not stored: no space left"), "{said}");
}

// ---------------------------------------------------------------- going away

#[test]
fn a_killed_sender_leaves_nothing_behind_after_the_wait() {
    if !isolate("a_killed_sender_leaves_nothing_behind_after_the_wait") {
        return;
    }
    slow_lo("8mbit");
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3 << 20, 6));
    let listener = Listener::start(&["--save-dir", dir.s(), "--file-wait", "1s"]);
    let mut send = spawn_send(&listener.dest(), &[&f], &[]);
    wait_for(WAIT, "a partial file", || parts_in(dir.path()).pop());
    send.kill().expect("kill the sender");
    let _ = send.wait();
    wait_for(WAIT, "the partial file removed", || {
        names_in(dir.path()).is_empty().then_some(())
    });
    let said = wait_for(WAIT, "the listener's line", || {
        listener.try_err_line(Duration::from_millis(100))
    });
    assert!(
        said.contains("big.bin") && said.contains("not stored"),
        "{said}"
    );
}

#[test]
fn ctrl_c_on_either_side_removes_the_partial_file() {
    if !isolate("ctrl_c_on_either_side_removes_the_partial_file") {
        return;
    }
    slow_lo("8mbit");
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3 << 20, 7));
    // The sender interrupted: it cancels, so the listener (waiting 30 s for
    // a silent sender by default) removes the partial file at once.
    let listener = Listener::start(&["--save-dir", dir.s()]);
    let mut send = spawn_send(&listener.dest(), &[&f], &[]);
    let err = drain(send.stderr.take().expect("stderr"));
    wait_for(WAIT, "a partial file", || parts_in(dir.path()).pop());
    // SAFETY: kill(2) on our own child, not yet reaped.
    unsafe { libc::kill(send.id() as i32, libc::SIGINT) };
    let code = wait_until(&mut send, WAIT, "interrupted send");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("interrupted before the file was complete"),
        "{err}"
    );
    wait_for(WAIT, "the partial file removed", || {
        names_in(dir.path()).is_empty().then_some(())
    });
    // The listener hung up (its terminal closed; Ctrl-C ends it the same
    // way): it removes the partial file and tells the sender, which says so
    // at once.
    let mut listener = Listener::start(&["--save-dir", dir.s()]);
    let mut send = spawn_send(&listener.dest(), &[&f], &[]);
    let err = drain(send.stderr.take().expect("stderr"));
    wait_for(WAIT, "a partial file", || parts_in(dir.path()).pop());
    listener.signal(libc::SIGHUP);
    let (code, _, said) = listener.finish_lines();
    assert_eq!(code, 0, "{said:?}");
    assert!(
        names_in(dir.path()).is_empty(),
        "{:?}",
        names_in(dir.path())
    );
    let code = wait_until(&mut send, WAIT, "send to a stopped listener");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("the listener stopped"), "{err}");
}

/// The listener's address in the veth pair's other namespace.
const B: &str = "10.77.0.2";

#[test]
fn a_sender_whose_listener_is_killed_mid_transfer_says_it_stopped() {
    if !isolate("a_sender_whose_listener_is_killed_mid_transfer_says_it_stopped") {
        return;
    }
    let veth = Veth::new();
    // Ethernet frames at 8 Mbit/s from this side: 3 MiB take seconds.
    sh(&format!(
        "tc qdisc add dev {} root tbf rate 8mbit burst 32kbit latency 50ms",
        veth.dev
    ));
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3 << 20, 11));
    let mut cmd = veth.command(&[BIN, "listen", "--port", "0", "--bind", B]);
    cmd.args(["--save-dir", dir.s()]);
    let mut listener = Listener::spawn_cmd(cmd, None, false, "listen in B");
    let dest = format!("{B}:{}", listener.port());
    // Nothing listens at first: nothing ever answered, so exit 5.
    let nobody = format!("{B}:{}", listener.port() ^ 1);
    let out = udpmsg(&["send", "--file", &f, &nobody], b"");
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("nothing is listening"),
        "{}",
        out.stderr
    );
    let mut send = spawn_send(&dest, &[&f], &[]);
    let err = drain(send.stderr.take().expect("stderr"));
    // Content is written: the offer was accepted, chunks acknowledged.
    wait_for(WAIT, "content in a partial file", || {
        let part = parts_in(dir.path()).pop()?;
        let len = fs::metadata(dir.join(&part)).ok()?.len();
        (len > 0).then_some(())
    });
    listener.child.kill().expect("SIGKILL the listener");
    let _ = listener.child.wait();
    let code = wait_until(&mut send, WAIT, "send to a killed listener");
    let err = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("the listener stopped"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

// ---------------------------------------------------------------- leftovers

/// Starts `udpmsg listen --port 0 --save-dir DIR` and returns it with the
/// stderr lines it printed before saying it listens.
fn listen_saying(dir: &TempDir) -> (Listener, Vec<String>) {
    let mut child = command(&["listen", "--port", "0", "--save-dir", dir.s()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn listen");
    let out = line_reader(child.stdout.take().expect("stdout"), None);
    let err = line_reader(child.stderr.take().expect("stderr"), None);
    let mut said = Vec::new();
    let addr = wait_for(WAIT, "the listening line", || {
        let line = err.recv_timeout(Duration::from_millis(100)).ok()?;
        match listening_addr(&line) {
            Some(addr) => Some(addr),
            None => {
                said.push(line);
                None
            }
        }
    });
    let listener = Listener {
        child,
        addr,
        out,
        err,
    };
    (listener, said)
}

/// Plants a partial file as a killed listener leaves it, `age` old.
fn plant_part(dir: &TempDir, tag: u64, age: Duration) -> String {
    let name = format!("{PART_PREFIX}00000000000000aa-{tag:016x}{PART_SUFFIX}");
    let f = fs::File::create(dir.join(&name)).expect("plant");
    f.set_modified(std::time::SystemTime::now() - age)
        .expect("set mtime");
    name
}

#[test]
fn a_killed_listeners_partial_file_is_removed_by_the_next_listener() {
    if !isolate("a_killed_listeners_partial_file_is_removed_by_the_next_listener") {
        return;
    }
    slow_lo("8mbit");
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3 << 20, 9));
    let mut killed = Listener::start(&["--save-dir", dir.s()]);
    let mut send = spawn_send(&killed.dest(), &[&f], &[]);
    let part = wait_for(WAIT, "a partial file", || parts_in(dir.path()).pop());
    killed.child.kill().expect("SIGKILL the listener");
    let _ = killed.child.wait();
    let _ = send.kill();
    let _ = send.wait();
    assert_eq!(parts_in(dir.path()), [part], "left behind");
    let (mut next, said) = listen_saying(&dir);
    assert_eq!(
        said,
        [format!(
            "udpmsg: removed 1 partial file a killed listener left in {}",
            dir.s()
        )]
    );
    assert!(parts_in(dir.path()).is_empty());
    next.terminate();
}

#[test]
fn partial_files_are_removed_only_when_no_other_listener_uses_the_directory() {
    if !isolate("partial_files_are_removed_only_when_no_other_listener_uses_the_directory") {
        return;
    }
    slow_lo("8mbit");
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let f = file(&src, "big.bin", &content(3 << 20, 10));
    // A transfer runs: its sender is paused, its partial file held.
    let mut running = Listener::start(&["--save-dir", dir.s()]);
    let mut send = spawn_send(&running.dest(), &[&f], &[]);
    let live = wait_for(WAIT, "a partial file", || parts_in(dir.path()).pop());
    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(send.id() as i32, libc::SIGSTOP) }, 0);
    // Old too, as a transfer whose sender went quiet: its lock tells.
    fs::OpenOptions::new()
        .write(true)
        .open(dir.join(&live))
        .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(120)))
        .expect("age the live partial file");
    // A killed listener's, old; and one as fresh as a file just created
    // (that is not locked yet for a moment: never named while others run).
    let stale = plant_part(&dir, 1, Duration::from_secs(120));
    let fresh = plant_part(&dir, 2, Duration::ZERO);
    // Another listener beside the running one names the old one, removes
    // nothing, and leaves the running transfer's file alone.
    let (mut beside, said) = listen_saying(&dir);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with(&format!(
        "udpmsg: warning: 1 partial file in {} belongs to no running transfer",
        dir.s()
    )));
    assert!(
        said[0].ends_with(&format!("rm -- '{}'", dir.join(&stale).display())),
        "{}",
        said[0]
    );
    let mut parts = vec![live, stale.clone(), fresh.clone()];
    parts.sort();
    assert_eq!(parts_in(dir.path()), parts);
    beside.terminate();
    // The transfer ends (the listener stops): its file goes with it.
    running.terminate();
    let _ = send.kill();
    let _ = send.wait();
    let mut parts = vec![stale, fresh];
    parts.sort();
    assert_eq!(parts_in(dir.path()), parts);
    // Alone now: the next listener removes what nobody holds.
    let (mut alone, said) = listen_saying(&dir);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with("udpmsg: removed 2 partial files"));
    assert!(parts_in(dir.path()).is_empty());
    alone.terminate();
}

// ---------------------------------------------------------------- sharing

/// Bytes a TCP receiver (`nc -l` in `B`, its stdout here) got, and when.
struct TcpCount {
    total: Arc<AtomicU64>,
    marks: Arc<Mutex<Vec<(Instant, u64)>>>,
}

impl TcpCount {
    fn start(mut from: impl Read + Send + 'static) -> TcpCount {
        let total = Arc::new(AtomicU64::new(0));
        let marks = Arc::new(Mutex::new(Vec::new()));
        let (t, m) = (total.clone(), marks.clone());
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    return;
                }
                let sum = t.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                if let Ok(mut marks) = m.lock() {
                    marks.push((Instant::now(), sum));
                }
            }
        });
        TcpCount { total, marks }
    }

    /// Bytes received between `from` and `to`.
    fn between(&self, from: Instant, to: Instant) -> u64 {
        let marks = self.marks.lock().expect("marks");
        let at = |t: Instant| {
            marks
                .iter()
                .take_while(|(when, _)| *when <= t)
                .last()
                .map_or(0, |(_, n)| *n)
        };
        at(to) - at(from)
    }
}

#[test]
fn a_transfer_fills_a_slow_link_and_leaves_tcp_its_share() {
    if !isolate("a_transfer_fills_a_slow_link_and_leaves_tcp_its_share") {
        return;
    }
    // 20 Mbit/s towards the listener: a token bucket with a 50 ms queue.
    const RATE: f64 = 20e6 / 8.0;
    let veth = Veth::new();
    sh(&format!(
        "tc qdisc add dev {} root tbf rate 20mbit burst 32kbit latency 50ms",
        veth.dev
    ));
    let src = TempDir::new("src");
    let dir = TempDir::new("dst");
    let size = 5_000_000usize;
    let f = file(&src, "shared.bin", &content(size, 8));
    let mut listen = veth.command(&[BIN, "listen", "--port", "0", "--bind", "10.77.0.2"]);
    listen.args(["--save-dir", dir.s(), "--json"]);
    let listener = Listener::spawn_cmd(listen, None, false, "listen in B");
    let dest = listener.addr.to_string();
    // Alone: at least 80% of the shaped rate as goodput.
    let start = Instant::now();
    let out = udpmsg(&["send", "--file", &f, &dest], b"");
    let alone = start.elapsed();
    assert_eq!(out.code, 0, "{}", out.stderr);
    file_line(&listener);
    let goodput = size as f64 / alone.as_secs_f64();
    assert!(
        goodput >= 0.8 * RATE,
        "alone: {goodput:.0} B/s of {RATE:.0} ({alone:?})"
    );
    // With a TCP transfer on the same link: TCP keeps at least a third.
    let mut nc_listen = veth
        .command(&["nc", "-l", "-p", "9001"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nc -l");
    let count = TcpCount::start(nc_listen.stdout.take().expect("nc stdout"));
    let mut nc = Command::new("sh")
        // Until the other nc listens (at most 5 s).
        .args([
            "-c",
            "for i in $(seq 50); do head -c 40000000 /dev/zero | nc -N 10.77.0.2 9001 && break; sleep 0.1; done",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nc");
    wait_for(WAIT, "TCP flowing", || {
        (count.total.load(Ordering::Relaxed) > 500_000).then_some(())
    });
    fs::remove_file(dir.join("shared.bin")).unwrap();
    let start = Instant::now();
    let out = udpmsg(&["send", "--file", &f, &dest], b"");
    let end = Instant::now();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let tcp_rate = count.between(start, end) as f64 / (end - start).as_secs_f64();
    for child in [&mut nc, &mut nc_listen] {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        tcp_rate >= RATE / 3.0,
        "TCP got {tcp_rate:.0} B/s of {RATE:.0} while the file went ({:?})",
        end - start
    );
    assert!(fs::read(dir.join("shared.bin")).unwrap() == content(size, 8));
}

#[test]
fn the_documented_numbers_are_the_code_constants() {
    use udpmsg::commands::files::{name, receive};
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let protocol =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    assert_eq!(receive::DEFAULT_MAX_FILE_SIZE, 4 << 30);
    assert!(readme.contains("`--max-file-size` (default 4G;"));
    assert_eq!(receive::DEFAULT_FILE_WAIT, Duration::from_secs(30));
    assert!(readme.contains("silent for 30 s"));
    assert_eq!(
        (receive::MAX_TRANSFERS, receive::MAX_TRANSFERS_PER_SOURCE),
        (32, 4)
    );
    assert!(readme.contains("4 transfers per source address and 32 in all"));
    assert!(protocol.contains("4 per source address and 32 in all"));
    assert_eq!(name::MAX_NAME, 200);
    assert!(readme.contains("at most 200 bytes"));
    assert!(protocol.contains("at most 200 bytes"));
    assert_eq!(file::CHUNK_TEXT_OVERHEAD, 71);
    assert!(protocol.contains("71 bytes"));
    assert_eq!(chunk_len(1500, false, 0, wire::MAX_DATAGRAM_V4), 1401);
    assert!(protocol.contains("1401 bytes"));
    assert_eq!(
        udpmsg::commands::files::send::DEFAULT_TIMEOUT,
        Duration::from_secs(10)
    );
    assert!(readme.contains("no progress for 10 s"));
    assert_eq!(
        udpmsg::commands::files::store::STALE_AGE,
        Duration::from_secs(60)
    );
    assert!(readme.contains("those older than a minute in a warning"));
}

/// `127.0.0.1:port` of a listener.
fn v4(listener: &Listener) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], listener.port()))
}
