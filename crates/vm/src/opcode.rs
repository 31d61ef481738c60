//! The opcode table: byte value, mnemonic and gas cost of every instruction.
//!
//! Byte values are consensus: never renumber, only add. 0x00 is left unused
//! so that zero-filled memory is never a valid script.

/// Gas charged for every host operation.
pub const HOST_GAS: u64 = 20;

macro_rules! opcodes {
    ($( $(#[$doc:meta])* $name:ident = $byte:literal, $mnemonic:literal, $gas:expr; )*) => {
        /// One gate VM opcode.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        pub enum Op {
            $( $(#[$doc])* $name = $byte, )*
        }

        impl Op {
            /// Every opcode, in byte order.
            pub const ALL: &'static [Op] = &[$(Op::$name),*];

            /// The opcode for a byte, if it is one.
            pub fn from_byte(b: u8) -> Option<Op> {
                match b {
                    $( $byte => Some(Op::$name), )*
                    _ => None,
                }
            }

            /// The upper-case mnemonic used by the assembler and in errors.
            pub fn mnemonic(self) -> &'static str {
                match self {
                    $( Op::$name => $mnemonic, )*
                }
            }

            /// Fixed gas cost. `CALL`/`INSPECT` additionally cost their budget
            /// operand (see `Instr::gas`).
            pub fn base_gas(self) -> u64 {
                match self {
                    $( Op::$name => $gas, )*
                }
            }
        }
    };
}

opcodes! {
    /// `u16 len, bytes`: push bytes.
    PushData = 0x01, "PUSHDATA", 1;
    /// `u8 n, n bytes`: push an integer (little-endian two's complement).
    PushX = 0x02, "PUSHX", 1;

    Add = 0x10, "ADD", 2;
    Sub = 0x11, "SUB", 2;
    Mul = 0x12, "MUL", 4;
    Div = 0x13, "DIV", 4;
    Mod = 0x14, "MOD", 4;
    Min = 0x15, "MIN", 2;
    Max = 0x16, "MAX", 2;

    Cat = 0x20, "CAT", 3;
    Left = 0x21, "LEFT", 3;
    Right = 0x22, "RIGHT", 3;
    Size = 0x23, "SIZE", 3;

    Equal = 0x30, "EQUAL", 3;
    /// Logical not (the seed says bitwise, which would make NOT 1 truthy).
    Not = 0x31, "NOT", 1;
    And = 0x32, "AND", 1;
    Or = 0x33, "OR", 1;
    Lt = 0x34, "LT", 1;
    Gt = 0x35, "GT", 1;
    Let = 0x36, "LET", 1;
    Get = 0x37, "GET", 1;

    /// `u16 offset`: pop; if falsy jump forward.
    Skip = 0x40, "SKIP", 1;
    Ret = 0x41, "RET", 1;
    Ok = 0x42, "OK", 1;
    Fail = 0x43, "FAIL", 1;
    Throw = 0x44, "THROW", 1;

    Push = 0x50, "PUSH", HOST_GAS;
    Pull = 0x51, "PULL", HOST_GAS;
    /// `u32 budget`.
    Inspect = 0x52, "INSPECT", HOST_GAS;
    Delete = 0x53, "DELETE", HOST_GAS;
    Replace = 0x54, "REPLACE", HOST_GAS;
    /// `u32 budget`.
    Call = 0x55, "CALL", HOST_GAS;
    Count = 0x56, "COUNT", HOST_GAS;
    Name = 0x57, "NAME", HOST_GAS;
    Find = 0x58, "FIND", HOST_GAS;

    Balance = 0x60, "BALANCE", HOST_GAS;
    Pay = 0x61, "PAY", HOST_GAS;
    Time = 0x62, "TIME", HOST_GAS;

    /// `u16 n, n × 32-byte hashes`.
    Alloc = 0x70, "ALLOC", HOST_GAS;
    /// `32-byte content id`.
    Link = 0x71, "LINK", HOST_GAS;
    /// `u8 service_len, service, u16 len, data`.
    Elnk = 0x72, "ELNK", HOST_GAS;
    Write = 0x73, "WRITE", HOST_GAS;
    Read = 0x74, "READ", HOST_GAS;

    Sha256 = 0x80, "SHA256", 30;
    /// `u8 state id`.
    State = 0x81, "STATE", 1;
    Include = 0x82, "INCLUDE", HOST_GAS;
    Exclude = 0x83, "EXCLUDE", HOST_GAS;

    Dup = 0x90, "DUP", 1;
    Drop = 0x91, "DROP", 1;
    Swap = 0x92, "SWAP", 1;
}

impl Op {
    /// The opcode for a mnemonic, case-insensitive.
    pub fn from_mnemonic(s: &str) -> Option<Op> {
        Op::ALL
            .iter()
            .copied()
            .find(|op| op.mnemonic().eq_ignore_ascii_case(s))
    }

    /// Whether the opcode is followed by operand bytes.
    pub fn has_operand(self) -> bool {
        matches!(
            self,
            Op::PushData
                | Op::PushX
                | Op::Skip
                | Op::State
                | Op::Call
                | Op::Inspect
                | Op::Alloc
                | Op::Link
                | Op::Elnk
        )
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mnemonic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_mnemonics_are_unique_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for &op in Op::ALL {
            assert!(seen.insert(op as u8), "duplicate byte {:#04x}", op as u8);
            assert_eq!(Op::from_byte(op as u8), Some(op));
            assert_eq!(Op::from_mnemonic(&op.mnemonic().to_lowercase()), Some(op));
        }
        assert_eq!(Op::from_byte(0), None);
        assert_eq!(Op::ALL.len(), 50);
    }
}
