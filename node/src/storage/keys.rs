//! Key layouts of the state-machine column families. Codes are ASCII digits, so a 0x00 separator keeps
//! a node's keys together and every key under a code prefix belongs to that code's subtree.

use federation::code::Code;
use federation::people::{PatrolId, WorkerId};
use federation::tally::TallyKey;

fn day_bytes(day: i64) -> [u8; 8] {
    (day.max(0) as u64).to_be_bytes()
}

/// `owner 0x00 day(u64 BE) grid`.
pub fn tally(k: &TallyKey) -> Vec<u8> {
    let mut v = Vec::with_capacity(40);
    v.extend_from_slice(k.owner.as_str().as_bytes());
    v.push(0);
    v.extend_from_slice(&day_bytes(k.day));
    v.extend_from_slice(k.grid.as_str().as_bytes());
    v
}

/// The tally keys of `owner` alone, from `day` on.
pub fn tally_owner_from(owner: &Code, day: i64) -> Vec<u8> {
    let mut v = owner.as_str().as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(&day_bytes(day));
    v
}

pub fn parse_tally(b: &[u8]) -> Option<TallyKey> {
    let sep = b.iter().position(|&x| x == 0)?;
    let owner = Code::parse("owner", std::str::from_utf8(&b[..sep]).ok()?).ok()?;
    let day = u64::from_be_bytes(b.get(sep + 1..sep + 9)?.try_into().ok()?) as i64;
    let grid = Code::parse("grid", std::str::from_utf8(b.get(sep + 9..)?).ok()?).ok()?;
    Some(TallyKey { owner, day, grid })
}

/// Push index: `local apply index(u64 BE) tally key`.
pub fn tally_index(local: u64, tally_key: &[u8]) -> Vec<u8> {
    let mut v = local.to_be_bytes().to_vec();
    v.extend_from_slice(tally_key);
    v
}

/// `peer 0x00 seq(u64 BE)`.
pub fn outbox(peer: &Code, seq: u64) -> Vec<u8> {
    let mut v = peer.as_str().as_bytes().to_vec();
    v.push(0);
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

pub fn outbox_seq(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(b.len().checked_sub(8)?..)?.try_into().ok()?))
}

/// `due(u64 BE) case id`.
pub fn due(due: i64, case_id: &str) -> Vec<u8> {
    let mut k = (due.max(0) as u64).to_be_bytes().to_vec();
    k.extend_from_slice(case_id.as_bytes());
    k
}

pub fn fed(kind: &str, name: &str) -> Vec<u8> {
    format!("{kind}/{name}").into_bytes()
}

/// The roster of grid workers this node keeps (one record: a roster is a few dozen workers).
pub fn roster() -> Vec<u8> {
    fed("people", "roster")
}

/// Patrol `id` of this node (日巡查); ids sort by number.
pub fn patrol(id: &PatrolId) -> Vec<u8> {
    fed("people", &format!("patrol/{id}"))
}

/// Where every patrol key starts.
pub const PATROLS: &[u8] = b"people/patrol/";

/// The patrol `worker` last started and has not ended (its id).
pub fn open_patrol(worker: &WorkerId) -> Vec<u8> {
    fed("people", &format!("patrol-open/{worker}"))
}

/// The last patrol number this node gave.
pub fn patrol_number() -> Vec<u8> {
    fed("people", "patrol-number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_keys_roundtrip_and_group_by_owner() {
        let k = TallyKey {
            owner: Code::parse("o", "370102001").unwrap(),
            day: 20_000,
            grid: Code::parse("g", "370102001001002").unwrap(),
        };
        assert_eq!(parse_tally(&tally(&k)), Some(k.clone()));
        // The street's own keys sort apart from its communities' keys, and both lie under its prefix.
        let own = tally_owner_from(&k.owner, 0);
        assert!(tally(&k).starts_with(&own[..10]));
        let child = TallyKey { owner: Code::parse("o", "370102001001").unwrap(), ..k.clone() };
        assert!(!tally(&child).starts_with(&own[..10]));
        assert!(tally(&child).starts_with(k.owner.as_str().as_bytes()));
        assert_eq!(outbox_seq(&outbox(&k.owner, 77)), Some(77));
    }
}
