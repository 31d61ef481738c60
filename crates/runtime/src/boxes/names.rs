//! Box names: what is allowed, what is reserved, and which names look alike.
//!
//! The seed's homograph rule: only lowercase a–z, digits and underscore, so
//! no Cyrillic `а` can pose as a Latin `a`. Within that alphabet some names
//! still read alike (`a1ice`, `alice`, `al_ice`); [`skeleton`] maps them to
//! one form, and a new box whose skeleton is taken is refused.

/// Shortest box name.
pub const MIN_NAME_LEN: usize = 3;
/// Longest box name.
pub const MAX_NAME_LEN: usize = 32;

/// Names no one may take: they would read as the system's own.
pub const RESERVED: &[&str] = &[
    "null",
    "genesis",
    "system",
    "root",
    "admin",
    "umbra",
    "pool",
    "reward_pool",
    "owner",
    "this",
    "entry",
    "caller",
    "none",
    "void",
    "burn",
    "treasury",
    "support",
    "official",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("box name `{0}` is too short: at least {MIN_NAME_LEN} characters")]
    TooShort(String),
    #[error("box name is {0} bytes long: at most {MAX_NAME_LEN} characters")]
    TooLong(usize),
    #[error(
        "box name `{name}`: character {ch:?} (U+{code:04X}) at position {pos} is not allowed; names use a-z, 0-9 and _ only, so look-alike letters from other scripts cannot pose as them"
    )]
    BadChar {
        name: String,
        ch: char,
        code: u32,
        pos: usize,
    },
    #[error("box name `{0}` starts with a digit")]
    LeadingDigit(String),
    #[error("box name `{0}` is reserved")]
    Reserved(String),
    #[error("box name `{name}` looks like the existing box `{existing}`")]
    LooksLike { name: String, existing: String },
}

/// Checks a name's form; whether it is free is a question for state.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.len()));
    }
    for (pos, ch) in name.chars().enumerate() {
        if !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_') {
            return Err(NameError::BadChar {
                name: name.to_string(),
                ch,
                code: ch as u32,
                pos,
            });
        }
    }
    if name.len() < MIN_NAME_LEN {
        return Err(NameError::TooShort(name.to_string()));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(NameError::LeadingDigit(name.to_string()));
    }
    if RESERVED.contains(&name) || RESERVED.iter().any(|r| skeleton(r) == skeleton(name)) {
        return Err(NameError::Reserved(name.to_string()));
    }
    Ok(())
}

/// The form two names share when they read alike: underscores dropped,
/// digits that pass for letters replaced, and letter pairs that pass for
/// one letter merged.
pub fn skeleton(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter(|&c| c != '_')
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            '2' => 'z',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '6' => 'g',
            '7' => 't',
            '8' => 'b',
            '9' => 'g',
            c => c,
        })
        .collect();
    mapped
        .replace("rn", "m")
        .replace("vv", "w")
        .replace("cl", "d")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names_pass() {
        for n in ["abc", "alice_inbox", "news2026", "a_b_c", &"x".repeat(32)] {
            assert_eq!(check_name(n), Ok(()), "{n}");
        }
    }

    #[test]
    fn bad_names_fail_with_the_reason() {
        assert!(matches!(check_name("ab"), Err(NameError::TooShort(_))));
        assert!(matches!(
            check_name(&"x".repeat(33)),
            Err(NameError::TooLong(33))
        ));
        assert!(matches!(
            check_name("Alice"),
            Err(NameError::BadChar { pos: 0, .. })
        ));
        // Cyrillic а (U+0430) posing as Latin a.
        let e = check_name("\u{0430}lice").unwrap_err();
        assert!(matches!(e, NameError::BadChar { code: 0x430, .. }));
        assert!(e.to_string().contains("U+0430"));
        assert!(matches!(
            check_name("al ice"),
            Err(NameError::BadChar { .. })
        ));
        assert!(matches!(
            check_name("al-ice"),
            Err(NameError::BadChar { .. })
        ));
        assert!(matches!(
            check_name("1alice"),
            Err(NameError::LeadingDigit(_))
        ));
        assert!(matches!(check_name("genesis"), Err(NameError::Reserved(_))));
        assert!(matches!(check_name("r00t"), Err(NameError::Reserved(_))));
        assert!(matches!(check_name(""), Err(NameError::TooShort(_))));
    }

    #[test]
    fn look_alikes_share_a_skeleton() {
        assert_eq!(skeleton("a1ice"), skeleton("alice"));
        assert_eq!(skeleton("al_ice"), skeleton("alice"));
        assert_eq!(skeleton("modern"), skeleton("modem"));
        assert_eq!(skeleton("paypa1"), skeleton("paypal"));
        assert_ne!(skeleton("alice"), skeleton("bob"));
    }
}
