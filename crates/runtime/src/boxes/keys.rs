//! Where box state lives.
//!
//! Everything that belongs to one box sits under its *region* prefix
//! `x ‖ len ‖ name`: the record, gates, messages, payments and allow-list.
//! A call declares the region instead of each key, and the executor's
//! guard treats any key inside a declared region as declared (see
//! [`region_of`]). Region keys are only ever declared as a whole region.

use umbra_types::Address;

/// Prefix of every box key.
pub const BOX_PREFIX: u8 = b'x';

/// The region prefix of box `name`.
pub fn region(name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + name.len() + 34);
    k.push(BOX_PREFIX);
    // Names are at most 32 bytes (checked before any key is built).
    k.push(name.len().min(255) as u8);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The region a key belongs to, if it is a box key.
pub fn region_of(key: &[u8]) -> Option<&[u8]> {
    if key.first() != Some(&BOX_PREFIX) {
        return None;
    }
    let len = *key.get(1)? as usize;
    key.get(..2 + len)
}

fn within(name: &str, tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = region(name);
    k.push(tag);
    k.extend_from_slice(rest);
    k
}

/// The box record.
pub fn record(name: &str) -> Vec<u8> {
    within(name, b'i', &[])
}

/// One of the box's gates.
pub fn gate(name: &str, kind: umbra_types::GateKind) -> Vec<u8> {
    within(name, b'g', &[kind.tag()])
}

/// Message `index` (big-endian so messages sort in order).
pub fn message(name: &str, index: u64) -> Vec<u8> {
    within(name, b'm', &index.to_be_bytes())
}

/// What `payer` has paid through this box's gates.
pub fn payment(name: &str, payer: &Address) -> Vec<u8> {
    within(name, b'p', &payer.0)
}

/// Present when `who` is on the box's allow-list.
pub fn listed(name: &str, who: &Address) -> Vec<u8> {
    within(name, b'l', &who.0)
}

/// Box address → name, for the VM's NAME.
pub fn by_address(addr: &Address) -> Vec<u8> {
    let mut k = vec![b'y'];
    k.extend_from_slice(&addr.0);
    k
}

/// Name skeleton → the name that holds it.
pub fn skeleton(sk: &str) -> Vec<u8> {
    let mut k = vec![b'z'];
    k.extend_from_slice(sk.as_bytes());
    k
}

/// The number of boxes ever created (the next box id).
pub fn counter() -> Vec<u8> {
    vec![crate::keys::SYSTEM_PREFIX, b'n']
}

/// Box id → name, for listing boxes in creation order.
pub fn by_id(id: u64) -> Vec<u8> {
    let mut k = vec![b'w'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// The names of the boxes an account owns.
pub fn owned(owner: &Address) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(&owner.0);
    k
}

/// An account's registered X25519 encryption key.
pub fn encryption_key(account: &Address) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&account.0);
    k
}

/// The address that stands for box `name` (FIND, and the sender of
/// messages a gate pushes).
pub fn box_address(name: &str) -> Address {
    Address::system(&format!("box/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbra_types::GateKind;

    #[test]
    fn every_box_key_is_inside_its_region_and_no_other() {
        let a = Address([7; 32]);
        for name in ["abc", "abcd", "ab_"] {
            let r = region(name);
            for k in [
                record(name),
                gate(name, GateKind::Write),
                message(name, 9),
                payment(name, &a),
                listed(name, &a),
            ] {
                assert_eq!(region_of(&k), Some(r.as_slice()));
            }
        }
        // A longer name sharing a prefix is a different region.
        assert_ne!(region_of(&record("abcd")), Some(region("abc").as_slice()));
        assert_eq!(region_of(&crate::keys::account(&a)), None);
        assert_eq!(region_of(&[BOX_PREFIX]), None);
        assert_eq!(region_of(&[BOX_PREFIX, 5, b'a']), None);
    }
}
