//! State keys of the storage module, all under the prefix `p` (PDFS).
//!
//! Every key is computed from a call's own arguments except the ones a
//! collection reaches through the allocation (its owner's list, its
//! readers' lists), so most storage calls can declare exactly what they
//! touch.

use umbra_types::{Address, Hash};

pub const PREFIX: u8 = b'p';

fn with(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(PREFIX);
    k.push(tag);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// The allocation of a content.
pub fn allocation(content: &Hash) -> Vec<u8> {
    with(b'a', &[&content.0])
}

/// The readers a content has granted its key to (bounded list).
pub fn readers(content: &Hash) -> Vec<u8> {
    with(b'r', &[&content.0])
}

/// The grant of a content's key to one reader.
pub fn grant(content: &Hash, reader: &Address) -> Vec<u8> {
    with(b'g', &[&content.0, &reader.0])
}

/// The contents an account owns (bounded list, allocation order).
pub fn owned(owner: &Address) -> Vec<u8> {
    with(b'o', &[&owner.0])
}

/// The contents an account holds grants for (bounded list, grant order).
pub fn granted(reader: &Address) -> Vec<u8> {
    with(b'i', &[&reader.0])
}

/// The table of registered storage nodes (one record, read whole).
pub fn nodes() -> Vec<u8> {
    vec![PREFIX, b'n']
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_outside_other_modules() {
        let (h, a) = (Hash([1; 32]), Address([1; 32]));
        let all = [
            allocation(&h),
            readers(&h),
            grant(&h, &a),
            owned(&a),
            granted(&a),
            nodes(),
        ];
        for (i, x) in all.iter().enumerate() {
            assert_eq!(x[0], PREFIX);
            assert_eq!(crate::boxes::keys::region_of(x), None);
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }
}
