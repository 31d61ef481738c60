//! Any bytes: decoding, the bound and disassembly must never panic, and every
//! script that decodes must survive disassemble → assemble unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use umbra_vm::{Script, assemble, disassemble};

fuzz_target!(|data: &[u8]| {
    match Script::decode(data) {
        Ok(script) => {
            let _ = script.gas_bound();
            let text = match disassemble(data) {
                Ok(t) => t,
                Err(e) => panic!("decodable script does not disassemble: {e}"),
            };
            match assemble(&text) {
                Ok(bytes) => assert_eq!(bytes, data, "round trip changed the script"),
                Err(e) => panic!("disassembly does not assemble: {e}\n{text}"),
            }
        }
        Err(_) => assert!(disassemble(data).is_err()),
    }
    // The assembler must not panic on arbitrary text either.
    if let Ok(src) = std::str::from_utf8(data) {
        let _ = assemble(src);
    }
});
