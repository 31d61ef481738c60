//! Turning user arguments into keys and addresses.

use anyhow::{Context, bail};
use std::path::Path;
use umbra_crypto::{DEV_ACCOUNT_NAMES, Keypair, dev_keypair};
use umbra_types::Address;

fn dev_name(s: &str) -> Option<&str> {
    s.strip_prefix("dev:")
}

fn check_dev(name: &str) -> anyhow::Result<Keypair> {
    if DEV_ACCOUNT_NAMES.contains(&name) || name == "validator" {
        Ok(dev_keypair(name))
    } else {
        bail!(
            "unknown dev account `dev:{name}`; known: {}, validator",
            DEV_ACCOUNT_NAMES.map(|n| format!("dev:{n}")).join(", ")
        )
    }
}

/// A signing key from `dev:NAME` or a key file.
pub fn signer(s: &str) -> anyhow::Result<Keypair> {
    match dev_name(s) {
        Some(n) => check_dev(n),
        None => Ok(umbra_node::load_key(Path::new(s))?),
    }
}

/// An address from `dev:NAME` or `umb1…`.
pub fn address(s: &str) -> anyhow::Result<Address> {
    match dev_name(s) {
        Some(n) => Ok(check_dev(n)?.address()),
        None => s
            .parse::<Address>()
            .with_context(|| format!("`{s}` is not an address (umb1…) or dev:NAME")),
    }
}
