//! The states `STATE id` can push.

/// What `STATE` pushes; the byte value is the operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum StateId {
    /// 1 if the current frame's verb is write.
    Write = 0,
    /// 1 if the current frame's verb is read.
    Read = 1,
    /// 1 if the current frame's verb is inspect.
    Inspect = 2,
    /// 1 if the acting account owns the current box.
    Own = 3,
    /// The current box's name.
    This = 4,
    /// The name of the box where execution started.
    Entry = 5,
    /// Block time in milliseconds.
    Timestamp = 6,
    /// The block's 32 bytes of consensus randomness.
    Randomness = 7,
    /// The 32-byte address of the acting account.
    Caller = 8,
    /// 1 if the acting account is on the current box's allow-list.
    Listed = 9,
    /// The payload being written (empty if none).
    Message = 10,
}

impl StateId {
    /// Every state, in id order.
    pub const ALL: &'static [StateId] = &[
        StateId::Write,
        StateId::Read,
        StateId::Inspect,
        StateId::Own,
        StateId::This,
        StateId::Entry,
        StateId::Timestamp,
        StateId::Randomness,
        StateId::Caller,
        StateId::Listed,
        StateId::Message,
    ];

    /// The state for an operand byte, if it is one.
    pub fn from_byte(b: u8) -> Option<StateId> {
        StateId::ALL.get(usize::from(b)).copied()
    }

    /// The lower-case name used by the assembler.
    pub fn name(self) -> &'static str {
        match self {
            StateId::Write => "write",
            StateId::Read => "read",
            StateId::Inspect => "inspect",
            StateId::Own => "own",
            StateId::This => "this",
            StateId::Entry => "entry",
            StateId::Timestamp => "timestamp",
            StateId::Randomness => "randomness",
            StateId::Caller => "caller",
            StateId::Listed => "listed",
            StateId::Message => "message",
        }
    }

    /// The state for a name, case-insensitive.
    pub fn from_name(s: &str) -> Option<StateId> {
        StateId::ALL
            .iter()
            .copied()
            .find(|id| id.name().eq_ignore_ascii_case(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_positions() {
        for (i, &id) in StateId::ALL.iter().enumerate() {
            assert_eq!(id as usize, i);
            assert_eq!(StateId::from_byte(id as u8), Some(id));
            assert_eq!(StateId::from_name(id.name()), Some(id));
        }
        assert_eq!(StateId::from_byte(11), None);
    }
}
