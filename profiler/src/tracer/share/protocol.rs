//! What a recorder and the host tracer say to each other, and which slots each connection owns.
//! Pure: no sockets, no maps (the host and the client do the I/O), so it is unit-tested here.
//!
//! One stream socket per recorder. The host speaks first, once: a [`Greeting`] whose file
//! descriptors (SCM_RIGHTS) are the maps it names, in order. Then the recorder asks, one line at a
//! time, and the host answers each with one line: `add CGROUP FLAGS` arms a cgroup in a fresh slot
//! (`ok SLOT`, or `full` when every slot is taken); `add-in CGROUP SLOT FLAGS` arms one more cgroup
//! in a slot this connection owns (`record --cgroup`'s children). Nothing else changes ownership:
//! when the connection closes, however the recorder ended, the host releases every slot it owned
//! ([`Owners::disconnect`]).

use std::collections::{BTreeMap, BTreeSet};

/// Bumped whenever a message changes. Both ends come from one build (the socket name carries the
/// object's hash), so a mismatch means a broken install, not an old peer.
pub const VERSION: u32 = 1;

/// The host's first message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Greeting {
    /// `cap_capable` is attached (Linux ≥ 6.14).
    pub capabilities: bool,
    /// The names of the maps whose descriptors come with this message, in order.
    pub maps: Vec<String>,
}

impl Greeting {
    pub fn encode(&self) -> String {
        format!(
            "seccomp-profiler-host {VERSION}\ncapabilities {}\nmaps {}\n",
            u8::from(self.capabilities),
            self.maps.join(" ")
        )
    }

    pub fn parse(text: &str) -> Result<Greeting, String> {
        let mut lines = text.lines();
        let version = lines
            .next()
            .and_then(|line| line.strip_prefix("seccomp-profiler-host "))
            .ok_or("not a host tracer greeting")?;
        if version != VERSION.to_string() {
            return Err(format!(
                "host tracer protocol {version}, this recorder speaks {VERSION}"
            ));
        }
        let capabilities = match lines.next().and_then(|l| l.strip_prefix("capabilities ")) {
            Some("1") => true,
            Some("0") => false,
            _ => return Err("greeting without a capabilities line".into()),
        };
        let maps = lines
            .next()
            .and_then(|line| line.strip_prefix("maps "))
            .ok_or("greeting without a maps line")?
            .split(' ')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Greeting { capabilities, maps })
    }
}

/// What a recorder asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Arm `cgroup_id` in a fresh slot owned by this connection.
    Add { cgroup_id: u64, flags: u32 },
    /// Arm `cgroup_id` in `slot`, which this connection must own.
    AddInSlot {
        cgroup_id: u64,
        slot: u32,
        flags: u32,
    },
}

impl Request {
    pub fn encode(&self) -> String {
        match self {
            Request::Add { cgroup_id, flags } => format!("add {cgroup_id} {flags}\n"),
            Request::AddInSlot {
                cgroup_id,
                slot,
                flags,
            } => format!("add-in {cgroup_id} {slot} {flags}\n"),
        }
    }

    pub fn parse(line: &str) -> Result<Request, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let number = |word: &str| -> Result<u64, String> {
            word.parse().map_err(|_| format!("not a number: {word:?}"))
        };
        let small = |word: &str| -> Result<u32, String> {
            word.parse().map_err(|_| format!("not a number: {word:?}"))
        };
        match words.as_slice() {
            ["add", cgroup_id, flags] => Ok(Request::Add {
                cgroup_id: number(cgroup_id)?,
                flags: small(flags)?,
            }),
            ["add-in", cgroup_id, slot, flags] => Ok(Request::AddInSlot {
                cgroup_id: number(cgroup_id)?,
                slot: small(slot)?,
                flags: small(flags)?,
            }),
            _ => Err(format!("unknown request {line:?}")),
        }
    }
}

/// The host's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Armed, in this slot.
    Slot(u32),
    /// Every slot is taken.
    Full,
    /// Refused or failed; the text says why.
    Error(String),
}

impl Reply {
    pub fn encode(&self) -> String {
        match self {
            Reply::Slot(slot) => format!("ok {slot}\n"),
            Reply::Full => "full\n".into(),
            // One line: a newline in the message would end the reply early.
            Reply::Error(message) => format!("error {}\n", message.replace('\n', " ")),
        }
    }

    pub fn parse(line: &str) -> Result<Reply, String> {
        let line = line.trim_end_matches('\n');
        if line == "full" {
            return Ok(Reply::Full);
        }
        if let Some(message) = line.strip_prefix("error ") {
            return Ok(Reply::Error(message.to_owned()));
        }
        line.strip_prefix("ok ")
            .and_then(|slot| slot.parse().ok())
            .map(Reply::Slot)
            .ok_or_else(|| format!("unknown reply {line:?}"))
    }
}

/// Which target slots each connection owns. A slot has at most one owner; it is given back to the
/// kernel's free list only when its owner's connection closes.
#[derive(Debug, Default)]
pub struct Owners {
    slots: BTreeMap<u64, BTreeSet<u32>>,
}

impl Owners {
    /// A connection starts owning nothing.
    pub fn connect(&mut self, client: u64) {
        self.slots.entry(client).or_default();
    }

    /// `client` now owns `slot` (just taken from the free list for it). A slot someone else owns
    /// is a bookkeeping error: refused, so no two recordings ever count into one slot.
    pub fn claim(&mut self, client: u64, slot: u32) -> Result<(), String> {
        if let Some(owner) = self.owner(slot).filter(|&owner| owner != client) {
            return Err(format!("slot {slot} belongs to connection {owner}"));
        }
        self.slots.entry(client).or_default().insert(slot);
        Ok(())
    }

    pub fn owns(&self, client: u64, slot: u32) -> bool {
        self.slots
            .get(&client)
            .is_some_and(|slots| slots.contains(&slot))
    }

    fn owner(&self, slot: u32) -> Option<u64> {
        self.slots
            .iter()
            .find(|(_, slots)| slots.contains(&slot))
            .map(|(&client, _)| client)
    }

    /// The connection closed: the slots it owned, to be disarmed and released.
    pub fn disconnect(&mut self, client: u64) -> Vec<u32> {
        self.slots
            .remove(&client)
            .map(|slots| slots.into_iter().collect())
            .unwrap_or_default()
    }

    /// Connections open now.
    pub fn clients(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trips() {
        let greeting = Greeting {
            capabilities: true,
            maps: vec!["TARGETS".into(), "COUNTS".into()],
        };
        assert_eq!(Greeting::parse(&greeting.encode()), Ok(greeting));
        let none = Greeting {
            capabilities: false,
            maps: vec![],
        };
        assert_eq!(Greeting::parse(&none.encode()), Ok(none));
    }

    #[test]
    fn another_protocol_is_refused() {
        let text = "seccomp-profiler-host 999\ncapabilities 1\nmaps TARGETS\n";
        let err = Greeting::parse(text).expect_err("an error");
        assert!(err.contains("protocol 999"), "{err}");
        assert!(Greeting::parse("HTTP/1.1 200 OK\n").is_err());
        assert!(Greeting::parse("seccomp-profiler-host 1\nmaps TARGETS\n").is_err());
    }

    #[test]
    fn requests_round_trip() {
        for request in [
            Request::Add {
                cgroup_id: u64::MAX,
                flags: 3,
            },
            Request::AddInSlot {
                cgroup_id: 12345,
                slot: 63,
                flags: 0,
            },
        ] {
            assert_eq!(Request::parse(&request.encode()), Ok(request));
        }
        for bad in [
            "",
            "add",
            "add 1",
            "add x 0",
            "add 1 2 3",
            "remove 1",
            "add-in 1 2",
        ] {
            assert!(Request::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn replies_round_trip() {
        for reply in [
            Reply::Slot(0),
            Reply::Slot(63),
            Reply::Full,
            Reply::Error("slot 3 belongs to connection 1".into()),
        ] {
            assert_eq!(Reply::parse(&reply.encode()), Ok(reply));
        }
        // A message with a newline stays one line.
        let multi = Reply::Error("two\nlines".into()).encode();
        assert_eq!(multi.matches('\n').count(), 1);
        assert!(Reply::parse("ok x").is_err());
        assert!(Reply::parse("").is_err());
    }

    #[test]
    fn a_closed_connection_releases_its_slots_only() {
        let mut owners = Owners::default();
        owners.connect(1);
        owners.connect(2);
        owners.claim(1, 0).expect("ok");
        owners.claim(1, 5).expect("ok");
        owners.claim(2, 1).expect("ok");
        assert_eq!(owners.clients(), 2);
        assert!(owners.owns(1, 5));
        assert!(!owners.owns(2, 5));
        assert_eq!(owners.disconnect(1), vec![0, 5]);
        assert_eq!(owners.clients(), 1);
        assert!(!owners.owns(1, 0));
        assert!(owners.owns(2, 1));
        // A second close (or an unknown connection) releases nothing.
        assert_eq!(owners.disconnect(1), Vec::<u32>::new());
        assert_eq!(owners.disconnect(2), vec![1]);
        assert_eq!(owners.clients(), 0);
    }

    #[test]
    fn a_slot_has_one_owner() {
        let mut owners = Owners::default();
        owners.claim(1, 7).expect("ok");
        let err = owners.claim(2, 7).expect_err("an error");
        assert!(err.contains("connection 1"), "{err}");
        assert!(!owners.owns(2, 7));
        // Claiming one's own slot again is harmless.
        owners.claim(1, 7).expect("ok");
        // Released, the slot can go to the next recorder.
        assert_eq!(owners.disconnect(1), vec![7]);
        owners.claim(2, 7).expect("ok");
        assert!(owners.owns(2, 7));
    }
}
