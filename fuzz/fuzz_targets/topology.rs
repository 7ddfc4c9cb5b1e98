//! The district topology file: any text goes through `Topology::parse`, `check()` and `load` without
//! panicking; every problem names its field, `load` agrees with `check`, and a clean topology is clean again
//! after writing it out.
#![no_main]

use federation::topology::{Topology, TopologyError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let parsed = Topology::parse(text);
    let loaded = Topology::load(text);
    let topology = match parsed {
        Ok(t) => t,
        Err(e) => {
            assert!(matches!(e, TopologyError::Syntax { .. }), "parse gave {e:?}");
            assert!(
                matches!(loaded, Err(TopologyError::Syntax { .. })),
                "parse failed but load gave {loaded:?}"
            );
            return;
        }
    };
    let problems = topology.check();
    for p in &problems {
        assert!(!p.field.is_empty() && !p.message.is_empty(), "a problem names no field: {p:?}");
    }
    match &loaded {
        Ok(t) => {
            assert!(problems.is_empty(), "load accepted a topology with problems {problems:?}");
            assert_eq!(t, &topology);
        }
        Err(TopologyError::Invalid { problems: found }) => assert_eq!(found, &problems),
        Err(e) => panic!("parse succeeded but load gave {e:?}"),
    }
    // The queries the CLI runs on a checked topology.
    let _ = topology.district();
    for n in &topology.nodes {
        let _ = n.grid_codes();
        let _ = topology.parent_of(&n.code);
        let _ = topology.children_of(&n.code);
    }
    if problems.is_empty() {
        let written = toml::to_string(&topology);
        assert!(written.is_ok(), "a clean topology cannot be written: {written:?}");
        if let Ok(written) = written {
            assert_eq!(Topology::load(&written), Ok(topology), "topology round trip through\n{written}");
        }
    }
});
