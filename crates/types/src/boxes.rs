//! Box, gate and message types: the wire form of the content-hub calls.

use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};

/// Which of a box's three gates a script is for.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum GateKind {
    /// Run when someone pulls (reads) a message.
    Read,
    /// Run when someone pushes (writes) a message.
    Write,
    /// Run when someone asks what a read would cost.
    Inspect,
}

impl GateKind {
    pub const ALL: [GateKind; 3] = [GateKind::Read, GateKind::Write, GateKind::Inspect];

    pub fn as_str(self) -> &'static str {
        match self {
            GateKind::Read => "read",
            GateKind::Write => "write",
            GateKind::Inspect => "inspect",
        }
    }

    /// One byte for state keys.
    pub fn tag(self) -> u8 {
        match self {
            GateKind::Read => b'r',
            GateKind::Write => b'w',
            GateKind::Inspect => b'i',
        }
    }
}

impl std::str::FromStr for GateKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read" => Ok(GateKind::Read),
            "write" => Ok(GateKind::Write),
            "inspect" => Ok(GateKind::Inspect),
            _ => Err(format!(
                "unknown gate `{s}`: expected read, write or inspect"
            )),
        }
    }
}

/// What a message holds: bytes on chain (public to every node, so encrypt
/// what must stay private), or a link to content in off-chain storage.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum MessageBody {
    Data(Vec<u8>),
    Link { content_id: Hash, size: u64 },
}

impl MessageBody {
    /// The bytes a write gate sees as `STATE message`.
    pub fn gate_view(&self) -> Vec<u8> {
        match self {
            MessageBody::Data(d) => d.clone(),
            MessageBody::Link { content_id, .. } => content_id.0.to_vec(),
        }
    }

    /// Bytes this body stores on chain.
    pub fn stored_len(&self) -> usize {
        match self {
            MessageBody::Data(d) => d.len(),
            MessageBody::Link { .. } => 40,
        }
    }
}
