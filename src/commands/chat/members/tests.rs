use super::*;

const PORT: u16 = 47474;

fn hello<'a>(instance: u64, name: &'a str, ip: &str, room: &'a str) -> Sighting<'a> {
    Sighting {
        instance,
        name,
        port: PORT,
        version: 2,
        addr: format!("{ip}:{PORT}").parse().unwrap(),
        interface: "",
        via: Via::Hello {
            lifetime: Duration::from_millis(900),
            room,
        },
    }
}

/// Members after hellos from `peers` (settled).
fn room_with(peers: &[(u64, &str, &str, &str)]) -> (Members, Vec<Change>, Instant) {
    let t0 = Instant::now();
    let mut members = Members::new("team".into(), 1, "me".into());
    let mut changes = Vec::new();
    for &(id, name, ip, room) in peers {
        members.hello(&hello(id, name, ip, room), t0, &mut changes);
    }
    let t1 = t0 + Duration::from_millis(100);
    members.tick(t1, &mut changes);
    (members, changes, t1)
}

#[test]
fn only_the_rooms_peers_are_members_and_each_joins_once() {
    let (members, changes, _) = room_with(&[
        (2, "bob", "10.0.0.2", "team"),
        (3, "carol", "10.0.0.3", "other"),
        (1, "me", "10.0.0.1", "team"),
        (2, "bob", "10.0.0.2", "team"),
    ]);
    assert_eq!(members.len(), 1, "{changes:?}");
    assert!(matches!(&changes[..], [Change::Joined(m)] if m.name == "bob"));
}

#[test]
fn a_shared_name_is_tagged_for_everyone_who_has_it() {
    let (members, _, _) = room_with(&[
        (0xb0b0_0000_0000_0001, "bob", "10.0.0.2", "team"),
        (0xcafe_0000_0000_0002, "bob", "10.0.0.3", "team"),
        (0xca40_0000_0000_0003, "carol", "10.0.0.4", "team"),
    ]);
    let bob = members.who(0xb0b0_0000_0000_0001).unwrap();
    assert!(bob.tagged);
    assert!(members.who(0xcafe_0000_0000_0002).unwrap().tagged);
    assert!(!members.who(0xca40_0000_0000_0003).unwrap().tagged);
    assert!(!members.me().tagged);
    // Anyone who is not a member is tagged, whatever name it gives.
    let stranger = members.sender(99, "carol");
    assert!(stranger.tagged && stranger.name == "carol");
    assert_eq!(
        members.sender(0xca40_0000_0000_0003, "whatever").name,
        "carol"
    );
    // /msg: the bare name is ambiguous, the tagged one is not.
    assert_eq!(members.find("bob").unwrap_err(), Lookup::Ambiguous);
    assert_eq!(
        members.find("bob#cafe").unwrap().instance,
        0xcafe_0000_0000_0002
    );
    assert_eq!(members.find("carol").unwrap().name, "carol");
    assert_eq!(members.find("dave").unwrap_err(), Lookup::Nobody);
}

#[test]
fn a_member_taking_this_members_name_tags_both() {
    let (members, _, _) = room_with(&[(0x7777_0000_0000_0000, "me", "10.0.0.2", "team")]);
    assert!(members.me().tagged);
    assert!(members.who(0x7777_0000_0000_0000).unwrap().tagged);
}

#[test]
fn goodbye_and_silence_make_members_leave() {
    let (mut members, _, t1) = room_with(&[
        (2, "bob", "10.0.0.2", "team"),
        (3, "carol", "10.0.0.3", "team"),
    ]);
    let mut changes = Vec::new();
    members.goodbye(2, t1, &mut changes);
    assert!(
        matches!(&changes[..], [Change::Left { member, expired: false }] if member.name == "bob")
    );
    changes.clear();
    members.tick(t1 + Duration::from_secs(2), &mut changes);
    assert!(
        matches!(&changes[..], [Change::Left { member, expired: true }] if member.name == "carol")
    );
    assert!(members.is_empty());
}

#[test]
fn a_newcomer_is_welcomed_during_its_first_hellos_only() {
    let t0 = Instant::now();
    let mut members = Members::new(String::new(), 1, "me".into());
    let mut changes = Vec::new();
    assert!(members.hello(&hello(2, "bob", "10.0.0.2", ""), t0, &mut changes));
    let later = t0 + WELCOME_WINDOW / 2;
    assert!(members.hello(&hello(2, "bob", "10.0.0.2", ""), later, &mut changes));
    let much_later = t0 + WELCOME_WINDOW + Duration::from_millis(1);
    assert!(!members.hello(&hello(2, "bob", "10.0.0.2", ""), much_later, &mut changes));
    // Another room's newcomer is not this room's to welcome.
    assert!(!members.hello(&hello(3, "x", "10.0.0.3", "other"), t0, &mut changes));
}

#[test]
fn a_members_addresses_list_ipv4_first_whatever_was_heard_first() {
    // Heard over IPv6 first, then over IPv4: messages go to the IPv4
    // address, and `/who` lists it first, as it would the other way round.
    let (members, _, _) = room_with(&[
        (2, "bob", "[fe80::2]", "team"),
        (2, "bob", "10.0.0.2", "team"),
        (2, "bob", "[2001:db8::2]", "team"),
    ]);
    let bob = members.iter().next().unwrap();
    let shown: Vec<String> = bob.addrs.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["10.0.0.2:47474", "[fe80::2]:47474", "[2001:db8::2]:47474"]
    );
    assert_eq!(bob.addr, bob.addrs[0]);
}
