//! The ready-made gates as `.gate` text, with example parameters, for people
//! who start from a file rather than from Rust (`umbra_vm::assemble` turns
//! them into bytecode). Each equals the `gates` function it names.

/// `gates::owner_only()`.
pub const OWNER_ONLY: &str = include_str!("../gates/owner_only.gate");
/// `gates::owner_or_listed()`: a newsletter's read gate.
pub const NEWSLETTER: &str = include_str!("../gates/newsletter.gate");
/// `gates::pay_once(1000)`.
pub const PAY_ONCE: &str = include_str!("../gates/pay_once.gate");
/// `gates::subscription(500, 2_592_000_000)` (30 days).
pub const SUBSCRIPTION: &str = include_str!("../gates/subscription.gate");
/// `gates::autoresponder("replies", b"thanks, I will answer soon")`.
pub const AUTORESPONDER: &str = include_str!("../gates/autoresponder.gate");
