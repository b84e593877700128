//! The journal on a real directory: what a reopened directory reads back.

use std::path::PathBuf;

use super::*;
use crate::bus::id::Id;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Dir(std::env::temp_dir().join(format!("cometgate-journal-{name}-{}-{nanos}", std::process::id())))
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn event(epoch: u64, channel: &str, seq: u64) -> Event {
    Event::new(Id { epoch, seq }, channel.into(), "message".into(), format!("{channel} {seq}"), 0)
}

fn seqs(restored: &Restored, channel: &str) -> Option<(u64, Vec<u64>)> {
    let channel = restored.channels.iter().find(|c| c.name == channel)?;
    Some((channel.floor, channel.events.iter().map(|e| e.id.seq).collect()))
}

#[test]
fn a_reopened_directory_keeps_the_epoch_and_only_the_events_above_each_floor() {
    let dir = Dir::new("trim");
    let (journal, restored) = Journal::open(&dir.0, Fsync::Never, false).unwrap();
    let epoch = restored.epoch;
    for seq in 1..=6 {
        let channel = if seq % 2 == 0 { "even" } else { "odd" };
        journal.append(&event(epoch, channel, seq), seq.saturating_sub(4)).unwrap();
    }
    journal.sweep(&[("odd".into(), 5, true)]);
    drop(journal);
    let (_journal, restored) = Journal::open(&dir.0, Fsync::Never, false).unwrap();
    assert_eq!(restored.epoch, epoch);
    assert!(restored.last_seq >= 6);
    assert_eq!(seqs(&restored, "even"), Some((2, vec![4, 6])));
    assert_eq!(seqs(&restored, "odd"), Some((5, vec![])), "a dropped channel leaves its floor");
}

#[test]
fn the_sequence_continues_after_every_number_reserved_so_it_never_goes_back() {
    let dir = Dir::new("seq");
    let (journal, restored) = Journal::open(&dir.0, Fsync::Never, false).unwrap();
    journal.append(&event(restored.epoch, "c", restored.last_seq + 1), 0).unwrap();
    drop(journal);
    let (_journal, again) = Journal::open(&dir.0, Fsync::Never, false).unwrap();
    assert!(
        again.last_seq >= restored.last_seq + SEQ_BLOCK && again.last_seq > 1,
        "{} then {}",
        restored.last_seq,
        again.last_seq
    );
}

#[test]
fn a_directory_in_use_is_refused_naming_it() {
    let dir = Dir::new("lock");
    let _held = Journal::open(&dir.0, Fsync::Never, false).unwrap();
    let refused = Journal::open(&dir.0, Fsync::Never, false).err().unwrap().to_string();
    assert!(refused.contains(&*dir.0.to_string_lossy()) && refused.contains("locked"), "{refused}");
}
