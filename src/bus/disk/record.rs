//! How the journal lays events out in fjall: the key sorts a channel's events by
//! sequence number, the value keeps the event's time, type and data verbatim.

use super::super::event::Event;
use super::super::id::Id;

/// `<channel> 0x00 <seq, 8 bytes big-endian>`: channel names never contain `0x00`, so one
/// channel's events are one contiguous range, oldest first.
pub fn event_key(channel: &str, seq: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(channel.len() + 9);
    key.extend_from_slice(channel.as_bytes());
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The channel and sequence number of an event key.
pub fn split_event_key(key: &[u8]) -> Option<(&str, u64)> {
    let (channel, rest) = key.split_at_checked(key.len().checked_sub(9)?)?;
    let (zero, seq) = rest.split_first()?;
    let seq = u64::from_be_bytes(seq.try_into().ok()?);
    (*zero == 0).then_some(())?;
    Some((std::str::from_utf8(channel).ok()?, seq))
}

/// `<time, 8 bytes big-endian> <type length, 1 byte> <type> <data>`.
pub fn encode_event(event: &Event) -> Vec<u8> {
    let kind = event.kind.as_bytes();
    let mut value = Vec::with_capacity(9 + kind.len() + event.data.len());
    value.extend_from_slice(&event.time.to_be_bytes());
    value.push(u8::try_from(kind.len()).unwrap_or(u8::MAX));
    value.extend_from_slice(&kind[..kind.len().min(255)]);
    value.extend_from_slice(event.data.as_bytes());
    value
}

/// The event a record holds, or `None` when the record is not one this version wrote.
pub fn decode_event(id: Id, channel: &str, value: &[u8]) -> Option<Event> {
    let (time, rest) = value.split_first_chunk::<8>()?;
    let (kind_len, rest) = rest.split_first()?;
    let (kind, data) = rest.split_at_checked(usize::from(*kind_len))?;
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).ok();
    Some(Event::new(id, channel.to_owned(), text(kind)?, text(data)?, u64::from_be_bytes(*time)))
}

/// A sequence number or floor as stored.
pub fn encode_u64(value: u64) -> [u8; 8] {
    value.to_be_bytes()
}

pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_with_its_type_verbatim() {
        let id = Id { epoch: 9, seq: 300 };
        let event = Event::new(id, "a.b".into(), "comet-end".into(), "é\n\0data".into(), 1234);
        let key = event_key("a.b", 300);
        let (channel, seq) = split_event_key(&key).unwrap();
        let back = decode_event(Id { epoch: 9, seq }, channel, &encode_event(&event)).unwrap();
        assert_eq!(
            (back.id, back.channel, back.kind, back.data, back.time),
            (id, event.channel, event.kind, event.data, 1234)
        );
    }

    #[test]
    fn keys_of_a_channel_sort_by_sequence_number() {
        assert!(event_key("c", 255) < event_key("c", 256));
        assert!(event_key("c", u64::MAX) < event_key("c.", 0));
        assert_eq!(split_event_key(b"short"), None);
    }

    #[test]
    fn truncated_records_are_refused() {
        assert!(decode_event(Id { epoch: 1, seq: 1 }, "c", &[0, 0, 0]).is_none());
        assert!(decode_event(Id { epoch: 1, seq: 1 }, "c", &[0, 0, 0, 0, 0, 0, 0, 0, 5, b'a']).is_none());
    }
}
