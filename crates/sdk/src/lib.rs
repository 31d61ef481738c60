//! What an application links to work with umbra gates.
//!
//! This crate owns [`ScriptBuilder`], a fluent way to write gate bytecode
//! with labels instead of byte offsets, and [`gates`], ready-made gate scripts
//! for the common cases (owner only, allow-lists, paid access,
//! subscriptions, autoresponders), also shipped as `.gate` text in
//! [`templates`].
//!
//! It must not define VM semantics: everything it builds is checked with
//! `umbra_vm::Script::decode`, and it depends on `umbra-vm` only.

mod builder;
pub mod gates;
pub mod templates;

pub use builder::{BuildError, ScriptBuilder};
pub use umbra_vm::{Op, StateId};
