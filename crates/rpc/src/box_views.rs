//! JSON shapes of boxes, messages and gate previews.

use serde::{Deserialize, Serialize};
use umbra_types::{Address, Hash};

/// A box as `box_info` and `box_list` show it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BoxView {
    pub name: String,
    /// Creation order; a gate may only CALL older boxes.
    pub id: u64,
    pub owner: Address,
    /// The address that stands for the box (FIND; sender of gate pushes).
    pub address: Address,
    pub created_height: u64,
    /// Messages not deleted.
    pub messages: u64,
    /// Index the next message gets.
    pub next_index: u64,
    pub gates: Vec<GateView>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GateView {
    /// `read`, `write` or `inspect`.
    pub kind: String,
    /// `false` when the box uses the default rule (owner writes; anyone
    /// reads and inspects, free).
    pub scripted: bool,
    pub gas_bound: u64,
    /// The bytecode, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageView {
    pub index: u64,
    pub from: Address,
    pub height: u64,
    pub timestamp_ms: u64,
    /// `data` (bytes on chain) or `link` (content in off-chain storage).
    pub kind: String,
    /// The bytes, hex (data messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The bytes as text, when they are valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_id: Option<Hash>,
    pub size: u64,
}

/// One page of `box_messages`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessagesPage {
    pub name: String,
    pub messages: Vec<MessageView>,
    /// Index to ask for next; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// One page of `box_list`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BoxListPage {
    pub boxes: Vec<BoxView>,
    /// Box id to ask for next; absent at the end (or when listing by owner).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// What `box_inspect` says a read or write would cost a caller.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InspectView {
    pub name: String,
    pub caller: Address,
    /// Whether the box's inspect gate lets the caller look.
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub gates: Vec<GatePreviewView>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GatePreviewView {
    pub kind: String,
    pub scripted: bool,
    /// The gate's static gas bound: the most it can use, known before it runs.
    pub gas_bound: u64,
    /// `gas_bound × fee_per_gas`, added to the transaction fee (base units).
    pub gas_fee: String,
    /// Whether the gate would let the caller through.
    pub allowed: bool,
    /// What the gate would charge, base units.
    pub token_cost: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A notification of `box_subscribe`: a message pushed into the box.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BoxMessageEvent {
    pub name: String,
    pub block_height: u64,
    pub message: MessageView,
}
