//! Property tests: random valid scripts (forward SKIPs, CALL/INSPECT into
//! older boxes) and random bytes never panic, never use more gas than the
//! static bound, are deterministic, and survive a disassembly round trip.

mod common;

use common::{ALICE, BOB, NOW};
use proptest::prelude::*;
use umbra_vm::{
    BoxInfo, Env, Instr, MemHost, NullHost, Op, Script, StateId, Verb, VmErrorKind, assemble,
    disassemble, run,
};

/// One generated piece of a script.
#[derive(Debug, Clone)]
enum Gen {
    Plain(Op),
    PushX(Vec<u8>),
    PushData(Vec<u8>),
    State(u8),
    /// Push a condition, then SKIP over this many following pieces
    /// (clamped to the end) if it is falsy.
    Skip(bool, usize),
    /// Push the name of callee box `b{target}` then CALL/INSPECT it.
    Call {
        target: usize,
        exact_budget: bool,
        budget: u32,
        inspect: bool,
    },
    Link([u8; 32]),
}

const CALLEES: usize = 4;

fn is_storage(op: Op) -> bool {
    matches!(op, Op::Alloc | Op::Link | Op::Elnk | Op::Write | Op::Read)
}

/// Operand-free ops that only touch the stack.
fn pure_ops() -> Vec<Op> {
    Op::ALL
        .iter()
        .copied()
        .filter(|op| !op.has_operand() && op.base_gas() != umbra_vm::HOST_GAS)
        .collect()
}

/// Operand-free host ops; storage ones always fail, so they are rarer.
fn host_ops() -> Vec<Op> {
    Op::ALL
        .iter()
        .copied()
        .filter(|op| !op.has_operand() && op.base_gas() == umbra_vm::HOST_GAS && !is_storage(*op))
        .collect()
}

fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"main".to_vec()),
        Just(b"outbox".to_vec()),
        Just(b"carol".to_vec()),
        (0..CALLEES).prop_map(|i| format!("b{i}").into_bytes()),
        Just(ALICE.to_vec()),
        Just(BOB.to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn gen_piece(max_callee: usize) -> impl Strategy<Value = Gen> {
    let pure = prop::sample::select(pure_ops()).prop_map(Gen::Plain);
    let host = prop::sample::select(host_ops()).prop_map(Gen::Plain);
    let storage = prop::sample::select(vec![Op::Write, Op::Read]).prop_map(Gen::Plain);
    let pushx = prop::collection::vec(any::<u8>(), 1..=32).prop_map(Gen::PushX);
    let small = (-300i64..300).prop_map(|i| {
        let mut b = umbra_vm::int_to_pushx(umbra_vm::Int::from(i));
        b.truncate(32);
        Gen::PushX(b)
    });
    let data = name_bytes().prop_map(Gen::PushData);
    let state = (0u8..11).prop_map(Gen::State);
    let skip = (any::<bool>(), 0usize..6).prop_map(|(c, k)| Gen::Skip(c, k));
    let link = any::<[u8; 32]>().prop_map(Gen::Link);
    let call = (
        0..max_callee.max(1),
        any::<bool>(),
        0u32..3000,
        any::<bool>(),
    )
        .prop_map(move |(target, exact_budget, budget, inspect)| Gen::Call {
            target,
            exact_budget,
            budget,
            inspect,
        });
    let weight_call = if max_callee == 0 { 0 } else { 2 };
    prop_oneof![
        6 => pure,
        2 => host,
        2 => pushx,
        3 => small,
        3 => data,
        2 => state,
        3 => skip,
        1 => prop_oneof![link, storage],
        weight_call => call,
    ]
}

/// Encodes pieces; `bounds[i]` is callee `b{i}`'s gas bound.
fn build(pieces: &[Gen], bounds: &[u64]) -> Vec<u8> {
    let mut chunks: Vec<Vec<u8>> = Vec::with_capacity(pieces.len());
    for p in pieces {
        let mut out = Vec::new();
        let r = match p {
            Gen::Plain(op) => Instr::Plain(*op).encode_checked(&mut out),
            Gen::PushX(b) => Instr::PushX(b).encode_checked(&mut out),
            Gen::PushData(b) => Instr::PushData(b).encode_checked(&mut out),
            Gen::State(id) => Instr::State(StateId::from_byte(*id).unwrap_or(StateId::Own))
                .encode_checked(&mut out),
            Gen::Skip(c, _) => {
                let _ = Instr::PushX(&[u8::from(*c)]).encode_checked(&mut out);
                Instr::Skip(0).encode_checked(&mut out)
            }
            Gen::Link(id) => Instr::Link(id).encode_checked(&mut out),
            Gen::Call {
                target,
                exact_budget,
                budget,
                inspect,
            } => {
                let name = format!("b{target}").into_bytes();
                let budget = match bounds.get(*target) {
                    Some(&b) if *exact_budget => u32::try_from(b).unwrap_or(*budget),
                    _ => *budget,
                };
                let _ = Instr::PushData(&name).encode_checked(&mut out);
                let i = if *inspect {
                    Instr::Inspect(budget)
                } else {
                    Instr::Call(budget)
                };
                i.encode_checked(&mut out)
            }
        };
        assert!(r.is_ok(), "generator produced an unencodable piece {p:?}");
        chunks.push(out);
    }
    let mut offsets = Vec::with_capacity(chunks.len() + 1);
    let mut at = 0;
    for c in &chunks {
        offsets.push(at);
        at += c.len();
    }
    offsets.push(at);
    for (i, p) in pieces.iter().enumerate() {
        if let Gen::Skip(c, k) = p {
            let target = offsets[(i + 1 + k).min(pieces.len())];
            // The piece is PUSHX (3 bytes) then SKIP (3 bytes).
            let delta = u16::try_from(target - (offsets[i] + 6)).expect("small scripts");
            let mut out = Vec::new();
            let _ = Instr::PushX(&[u8::from(*c)]).encode_checked(&mut out);
            let _ = Instr::Skip(delta).encode_checked(&mut out);
            chunks[i] = out;
        }
    }
    chunks.concat()
}

/// Callee gates b0..b3 (ids 1..=4): each may call only the ones before it.
fn callees() -> impl Strategy<Value = Vec<Vec<Gen>>> {
    (
        prop::collection::vec(gen_piece(0), 0..12),
        prop::collection::vec(gen_piece(1), 0..12),
        prop::collection::vec(gen_piece(2), 0..12),
        prop::collection::vec(gen_piece(3), 0..12),
    )
        .prop_map(|(a, b, c, d)| vec![a, b, c, d])
}

struct World {
    host: MemHost,
    main: Vec<u8>,
}

fn world(callee_pieces: &[Vec<Gen>], main: &[Gen], caller: [u8; 32]) -> World {
    let mut host = common::host(caller);
    let mut bounds = Vec::new();
    for (i, pieces) in callee_pieces.iter().enumerate() {
        let code = build(pieces, &bounds);
        let bound = Script::decode(&code)
            .expect("generated callee is valid")
            .gas_bound();
        host.add_box(format!("b{i}").as_bytes(), i as u64 + 1, ALICE, code);
        bounds.push(bound);
    }
    World {
        main: build(main, &bounds),
        host,
    }
}

fn verb_of(v: u8) -> Verb {
    match v % 3 {
        0 => Verb::Write,
        1 => Verb::Read,
        _ => Verb::Inspect,
    }
}

fn env(caller: [u8; 32], verb: Verb) -> Env {
    Env {
        caller,
        verb,
        timestamp_ms: NOW,
        randomness: [3; 32],
        message: b"msg".to_vec(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_scripts_stay_within_their_bound(
        callee_pieces in callees(),
        seed in prop::collection::vec(gen_piece(0), 0..8),
        main in prop::collection::vec(gen_piece(CALLEES), 0..60),
        alice in any::<bool>(),
        verb in any::<u8>(),
        slack in 0u64..50,
    ) {
        let caller = if alice { ALICE } else { BOB };
        // Pushes first, so that fewer runs stop at an early underflow.
        let seeded: Vec<Gen> = seed
            .into_iter()
            .map(|p| match p {
                Gen::PushX(_) | Gen::PushData(_) | Gen::State(_) => p,
                _ => Gen::PushX(vec![1]),
            })
            .chain(main)
            .collect();
        let World { mut host, main } = world(&callee_pieces, &seeded, caller);
        let script = Script::decode(&main).expect("generated scripts are valid");
        let this: BoxInfo = common::main_box(&host);
        let env = env(caller, verb_of(verb));
        let limit = script.gas_bound() + slack;

        let mut twin = host.clone();
        let first = run(&script, &env, &this, &mut host, limit);
        let second = run(&script, &env, &this, &mut twin, limit);
        prop_assert_eq!(&first, &second, "runs are deterministic");
        prop_assert_eq!(&host.boxes, &twin.boxes);
        prop_assert_eq!(&host.pay_log, &twin.pay_log);

        match first {
            Ok(o) => prop_assert!(o.gas_used <= script.gas_bound(), "{} > {}", o.gas_used, script.gas_bound()),
            Err(e) => {
                prop_assert_ne!(&e.kind, &VmErrorKind::GasExhausted, "metering exceeded the bound");
                let refused = matches!(e.kind, VmErrorKind::BoundExceedsLimit { .. });
                prop_assert!(!refused, "refused although the limit covers the bound");
            }
        }
        if verb_of(verb) == Verb::Inspect {
            prop_assert!(host.pay_log.is_empty(), "an inspection paid");
        }

        // A limit one below the bound is refused before anything runs.
        if script.gas_bound() > 0 {
            let mut h = twin.clone();
            let e = run(&script, &env, &this, &mut h, script.gas_bound() - 1);
            let refused = matches!(e, Err(ref e) if matches!(e.kind, VmErrorKind::BoundExceedsLimit { .. }));
            prop_assert!(refused);
            prop_assert_eq!(&h.boxes, &twin.boxes);
        }
    }

    #[test]
    fn disassembly_round_trips(
        callee_pieces in callees(),
        main in prop::collection::vec(gen_piece(CALLEES), 0..60),
    ) {
        let World { main, .. } = world(&callee_pieces, &main, BOB);
        let text = disassemble(&main).expect("valid scripts disassemble");
        let again = assemble(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&again, &main);
        prop_assert_eq!(disassemble(&again).expect("still valid"), text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(script) = Script::decode(&bytes) {
            let text = disassemble(&bytes).expect("decodable bytes disassemble");
            prop_assert_eq!(assemble(&text).expect("and reassemble"), bytes.clone());
            let mut host = common::host(BOB);
            let this = common::main_box(&host);
            let bound = script.gas_bound();
            let r = run(&script, &env(BOB, Verb::Write), &this, &mut host, bound);
            if let Ok(o) = r { prop_assert!(o.gas_used <= bound); }
            let _ = run(&script, &env(BOB, Verb::Read), &this, &mut NullHost, bound);
        } else {
            prop_assert!(disassemble(&bytes).is_err());
        }
    }

    #[test]
    fn opcode_soup_never_panics(
        ops in prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(Op::ALL.iter().map(|o| *o as u8).collect::<Vec<_>>()),
                1 => any::<u8>(),
            ],
            0..120,
        )
    ) {
        if let Ok(script) = Script::decode(&ops) {
            let mut host = common::host(ALICE);
            let this = common::main_box(&host);
            let r = run(&script, &env(ALICE, Verb::Write), &this, &mut host, script.gas_bound());
            if let Ok(o) = r { prop_assert!(o.gas_used <= script.gas_bound()); }
        }
    }

    #[test]
    fn random_text_never_panics_the_assembler(src in "[ -~\n]{0,200}") {
        if let Ok(bytes) = assemble(&src) {
            prop_assert!(Script::decode(&bytes).is_ok());
        }
    }
}
