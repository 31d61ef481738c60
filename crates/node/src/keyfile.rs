//! Key files: a node's or user's signing key on disk.

use serde::{Deserialize, Serialize};
use std::path::Path;
use umbra_crypto::Keypair;
use umbra_types::{Address, PublicKey};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    secret_key: String,
    public_key: PublicKey,
    address: Address,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("key file {path} is not valid: {reason}")]
    Invalid { path: String, reason: String },
    #[error("cannot write key file {path}: {reason}")]
    Write { path: String, reason: String },
}

/// Reads a key file, checking that its public key and address match the secret.
pub fn load_key(path: &Path) -> Result<Keypair, KeyFileError> {
    let p = path.display().to_string();
    let invalid = |reason: String| KeyFileError::Invalid {
        path: p.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| KeyFileError::Read {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    if meta.len() > 64 * 1024 {
        return Err(invalid("file is too large to be a key file".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| KeyFileError::Read {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let f: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if f.kind != "ed25519" {
        return Err(invalid(format!("unsupported key type `{}`", f.kind)));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(&f.secret_key, &mut seed)
        .map_err(|_| invalid("secret_key must be 64 hex characters".into()))?;
    let k = Keypair::from_seed(seed);
    if k.public() != f.public_key || k.address() != f.address {
        return Err(invalid(
            "public_key or address does not match secret_key".into(),
        ));
    }
    Ok(k)
}

/// Writes a key file readable only by its owner. Refuses to overwrite.
pub fn save_key(path: &Path, key: &Keypair) -> Result<(), KeyFileError> {
    let p = path.display().to_string();
    let f = KeyFile {
        kind: "ed25519".into(),
        secret_key: hex::encode(key.seed()),
        public_key: key.public(),
        address: key.address(),
    };
    let text = serde_json::to_string_pretty(&f).map_err(|e| KeyFileError::Write {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut file = opts.open(path).map_err(|e| KeyFileError::Write {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    file.write_all(format!("{text}\n").as_bytes())
        .map_err(|e| KeyFileError::Write {
            path: p,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.json");
        let k = Keypair::generate();
        save_key(&p, &k).unwrap();
        assert_eq!(load_key(&p).unwrap().public(), k.public());
        assert!(matches!(save_key(&p, &k), Err(KeyFileError::Write { .. })));
        let text = std::fs::read_to_string(&p).unwrap();
        let other = Keypair::generate();
        let tampered = text.replace(&k.public().to_hex(), &other.public().to_hex());
        let q = dir.path().join("t.json");
        std::fs::write(&q, tampered).unwrap();
        assert!(matches!(load_key(&q), Err(KeyFileError::Invalid { .. })));
    }
}
