//! How a member's name is shown ([`Who`]), and which member a name means.
//!
//! Names are labels anyone can choose, so a name is shown alone only when
//! it says who it is: a member whose name another member (or this one)
//! also uses, and anyone who is not a member at all, is shown with the
//! first digits of their id ([`Who::tagged`]). The rule depends only on who
//! is in the room, so every member's screen shows the same.

use super::{Member, Members};

/// How a name is shown: as chosen, or tagged with the first digits of the
/// id when it alone would not say who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who<'a> {
    pub name: &'a str,
    /// The member's instance, or the sender id of a non-member.
    pub id: u64,
    pub tagged: bool,
}

impl Members {
    /// How member `instance` (or this member) is shown.
    pub fn who(&self, instance: u64) -> Option<Who<'_>> {
        let name = if instance == self.me {
            &self.my_name
        } else {
            &self.members.get(&instance)?.name
        };
        Some(Who {
            name,
            id: instance,
            tagged: self.shared(name, instance),
        })
    }

    /// How this member is shown.
    pub fn me(&self) -> Who<'_> {
        Who {
            name: &self.my_name,
            id: self.me,
            tagged: self.shared(&self.my_name, self.me),
        }
    }

    /// How the sender of a message is shown: as the member whose instance
    /// its sender id is (a member sends with its instance as its id);
    /// anyone else (a `udpmsg send`, a member of no room) tagged with its
    /// id. The address is not checked: whoever can announce a member's
    /// instance (anyone without a key, any key holder with one) can add
    /// its own address to that member's, so it would prove nothing.
    pub fn sender<'a>(&'a self, sender: u64, name: &'a str) -> Who<'a> {
        if let Some(member) = self.members.get(&sender) {
            return Who {
                name: &member.name,
                id: sender,
                tagged: self.shared(&member.name, sender),
            };
        }
        Who {
            name,
            id: sender,
            tagged: true,
        }
    }

    /// Whether someone other than `instance` in the room (this member
    /// included) is called `name`: then `instance` is shown tagged.
    pub fn shared_name(&self, name: &str, instance: u64) -> bool {
        self.shared(name, instance)
    }

    /// How `member` is shown on its `joined` and `left` lines: by the
    /// name it had then, tagged by who is in the room now, whether it is
    /// still a member or not (one that came and went in one turn is shown
    /// the same on both).
    pub fn shown<'a>(&self, member: &'a Member) -> Who<'a> {
        Who {
            name: &member.name,
            id: member.instance,
            tagged: self.shared(&member.name, member.instance),
        }
    }

    /// How this member is shown under `name` (the one it had when it sent
    /// a message), tagged by who is in the room now.
    pub fn me_as<'a>(&self, name: &'a str) -> Who<'a> {
        Who {
            name,
            id: self.me,
            tagged: self.shared(name, self.me),
        }
    }

    fn shared(&self, name: &str, instance: u64) -> bool {
        (instance != self.me && self.my_name == name)
            || self
                .members
                .values()
                .any(|m| m.instance != instance && m.name == name)
    }

    /// The member meant by `name` in `/msg NAME`: its name as shown (with
    /// the tag when it has one, `bob#1a2b`), or its bare name when no one
    /// else has it.
    pub fn find(&self, name: &str) -> Result<&Member, Lookup> {
        let by_tag = self.members.values().find(|m| {
            name.strip_prefix(m.name.as_str())
                .and_then(|rest| rest.strip_prefix('#'))
                .is_some_and(|digits| tag_matches(digits, m.instance))
        });
        if let Some(member) = by_tag {
            return Ok(member);
        }
        let mut named = self.members.values().filter(|m| m.name == name);
        match (named.next(), named.next()) {
            (Some(member), None) => Ok(member),
            (Some(_), Some(_)) => Err(Lookup::Ambiguous),
            (None, _) => Err(Lookup::Nobody),
        }
    }
}

/// Why `/msg NAME` found no one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Nobody,
    /// Several members have that name: the tagged form says which.
    Ambiguous,
}

/// Digits shown after a name's `#`.
pub const TAG_DIGITS: usize = 4;

/// Whether `digits` are the first hex digits of `id` (at least
/// [`TAG_DIGITS`] of them).
fn tag_matches(digits: &str, id: u64) -> bool {
    let full = format!("{id:016x}");
    digits.len() >= TAG_DIGITS && full.starts_with(&digits.to_ascii_lowercase())
}
