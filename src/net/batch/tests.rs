//! Tests of the batched receive and send: the splitting of coalesced
//! arrivals, and how many datagrams a receive asks for.

use super::*;
use crate::net::cmsg::Arrival;
use crate::net::peer::PeerAddr;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::net::UnixDatagram;

fn received(bytes: &[u8], segment: Option<usize>, truncated: bool) -> Received<'_> {
    Received {
        bytes,
        arrival: Arrival {
            from: PeerAddr::Inet(SocketAddr::from((Ipv4Addr::LOCALHOST, 1))),
            local: None,
            cred: None,
        },
        truncated,
        segment,
    }
}

fn split(r: Received<'_>) -> Vec<(Vec<u8>, bool)> {
    r.datagrams().map(|(d, cut)| (d.to_vec(), cut)).collect()
}

#[test]
fn a_coalesced_buffer_splits_into_its_datagrams() {
    let bytes: Vec<u8> = (0..25).collect();
    let parts = split(received(&bytes, Some(10), false));
    assert_eq!(
        parts,
        vec![
            ((0..10).collect(), false),
            ((10..20).collect(), false),
            ((20..25).collect(), false),
        ]
    );
    // Exactly a multiple: no empty datagram after the last.
    assert_eq!(split(received(&bytes[..20], Some(10), false)).len(), 2);
}

#[test]
fn a_plain_buffer_is_one_datagram_even_when_empty() {
    assert_eq!(
        split(received(b"abc", None, false)),
        vec![(b"abc".to_vec(), false)]
    );
    assert_eq!(split(received(b"", None, false)), vec![(Vec::new(), false)]);
    assert_eq!(
        split(received(b"abc", None, true)),
        vec![(b"abc".to_vec(), true)]
    );
}

#[test]
fn only_the_datagram_a_cut_went_through_is_cut() {
    let bytes = [7u8; 25];
    let cuts: Vec<bool> = split(received(&bytes, Some(10), true))
        .into_iter()
        .map(|(_, cut)| cut)
        .collect();
    assert_eq!(cuts, vec![false, false, true]);
    // Cut at a boundary: what is there is whole (the rest is lost).
    let cuts: Vec<bool> = split(received(&bytes[..20], Some(10), true))
        .into_iter()
        .map(|(_, cut)| cut)
        .collect();
    assert_eq!(cuts, vec![false, false]);
}

#[test]
fn after_a_big_datagram_only_a_few_are_asked_for_until_they_are_small_again() {
    // A Unix pair: a datagram is queued on the other end by the time
    // `send` returns, so every count below is exact.
    let (tx, rx) = UnixDatagram::pair().expect("a socket pair");
    let mut batch = RecvBatch::new(RECV_BATCH, 65_536);
    assert_eq!(batch.asked(), RECV_BATCH);
    tx.send(&[b'x'; 40_000]).expect("send");
    assert_eq!(batch.recv(&rx).expect("one datagram"), 1);
    assert_eq!(batch.asked(), RECV_HOT_BYTES / 40_000);
    assert_eq!(batch.asked(), 3);
    for _ in 0..5 {
        tx.send(&[b'y'; 1000]).expect("send");
    }
    assert_eq!(batch.recv(&rx).expect("three asked for"), 3);
    assert_eq!(batch.asked(), RECV_BATCH, "small again: all");
    assert_eq!(batch.recv(&rx).expect("the rest"), 2);
    // Never fewer than two, however big.
    tx.send(&[b'z'; 65_000]).expect("send");
    assert_eq!(batch.recv(&rx).expect("one datagram"), 1);
    assert_eq!(batch.asked(), 2);
}
