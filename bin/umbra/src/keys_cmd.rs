//! `umbra keys`.

use crate::cli::{Global, KeysCmd};
use crate::output::emit;
use crate::resolve::signer;
use umbra_crypto::Keypair;

pub fn keys(cmd: KeysCmd, g: &Global) -> anyhow::Result<()> {
    let (key, file) = match cmd {
        KeysCmd::New { out, .. } => {
            let k = Keypair::generate();
            umbra_node::save_key(&out, &k)?;
            (k, Some(out.display().to_string()))
        }
        KeysCmd::Show { key, .. } => (signer(&key)?, None),
    };
    let v = serde_json::json!({
        "address": key.address(),
        "public_key": key.public().to_hex(),
        "file": file,
    });
    emit(g.json, &v, || {
        let mut s = format!(
            "address:    {}\npublic key: {}",
            key.address(),
            key.public().to_hex()
        );
        if let Some(f) = &file {
            s.push_str(&format!("\nwritten to: {f} (keep it secret)"));
        }
        s
    })
}
