//! Event ids and subscriber cursors: their wire form and how they parse.

use std::fmt;
use std::str::FromStr;

/// Where an event stands in the bus: `epoch` names one life of the bus (it changes on a
/// restart, so old ids are recognised as foreign instead of compared as numbers) and `seq`
/// grows with every publish on any channel, so an id is never issued twice in an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    pub epoch: u64,
    pub seq: u64,
}

/// The wire form is `<epoch in hex>-<seq in decimal>`; clients treat it as opaque.
impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}-{}", self.epoch, self.seq)
    }
}

/// An id that does not have the wire form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed id {0:?}: expected <hex epoch>-<decimal sequence>")]
pub struct MalformedId(pub String);

impl FromStr for Id {
    type Err = MalformedId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || MalformedId(text.chars().take(64).collect());
        let (epoch, seq) = text.split_once('-').ok_or_else(malformed)?;
        let digits = |s: &str, radix: u32| !s.is_empty() && s.len() <= 20 && s.chars().all(|c| c.is_digit(radix));
        if !digits(epoch, 16) || !digits(seq, 10) {
            return Err(malformed());
        }
        Ok(Id {
            epoch: u64::from_str_radix(epoch, 16).map_err(|_| malformed())?,
            seq: seq.parse().map_err(|_| malformed())?,
        })
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where a subscriber resumes; the same meaning on every transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Only events published after subscribing.
    Live,
    /// The whole backlog, then live.
    Earliest,
    /// Everything after this id, or a gap signal when some of it is lost.
    After(Id),
    /// An id that could not be read (a malformed `Last-Event-ID`): treated as lost.
    Unknown,
}

impl Cursor {
    /// Reads a `cursor` query parameter: empty means live, a bad id is an error.
    pub fn parse(text: &str) -> Result<Self, MalformedId> {
        match text {
            "" => Ok(Cursor::Live),
            "earliest" => Ok(Cursor::Earliest),
            id => id.parse().map(Cursor::After),
        }
    }

    /// Reads a `Last-Event-ID` header. A browser gives up for good on a `400`, so a bad
    /// value becomes [`Cursor::Unknown`] (gap, then backlog) instead of an error.
    pub fn from_last_event_id(text: &str) -> Self {
        Cursor::parse(text).unwrap_or(Cursor::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_its_wire_form() {
        let id = Id { epoch: 0x18f3a2b4c5d, seq: 42 };
        assert_eq!(id.to_string(), "18f3a2b4c5d-42");
        assert_eq!("18f3a2b4c5d-42".parse::<Id>(), Ok(id));
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in ["", "-", "12", "x-1", "1-x", "1-", "-1", "1-2-3", "1- 2", "1-+2"] {
            assert!(bad.parse::<Id>().is_err(), "{bad:?} parsed");
        }
        assert!("1-99999999999999999999999".parse::<Id>().is_err());
    }

    #[test]
    fn cursor_parameter_distinguishes_live_earliest_and_ids() {
        assert_eq!(Cursor::parse(""), Ok(Cursor::Live));
        assert_eq!(Cursor::parse("earliest"), Ok(Cursor::Earliest));
        assert_eq!(Cursor::parse("a-7"), Ok(Cursor::After(Id { epoch: 10, seq: 7 })));
        assert!(Cursor::parse("latest").is_err());
    }

    #[test]
    fn malformed_last_event_id_is_unknown_not_an_error() {
        assert_eq!(Cursor::from_last_event_id("garbage"), Cursor::Unknown);
        assert_eq!(Cursor::from_last_event_id("a-7"), Cursor::After(Id { epoch: 10, seq: 7 }));
    }
}
