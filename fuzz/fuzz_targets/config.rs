//! A replica's config file: any text parses (`Config::parse`, TOML then `validate()`) without panicking, every
//! refusal names its field, and a config that is accepted is accepted again, unchanged, after writing it out.
#![no_main]

use gridnode::config::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(text) {
        Err(ConfigError::Invalid { field, message }) => {
            assert!(!field.is_empty(), "a refusal names no field: {message:?}");
            assert!(!message.is_empty(), "a refusal of {field} says nothing");
        }
        Err(e) => assert!(!e.to_string().is_empty(), "an error says nothing: {e:?}"),
        Ok(cfg) => {
            assert!(cfg.node_code().is_ok(), "an accepted config has a bad node code: {:?}", cfg.node);
            let written = toml::to_string(&cfg);
            assert!(written.is_ok(), "an accepted config cannot be written: {written:?}");
            if let Ok(written) = written {
                match Config::parse(&written) {
                    Ok(back) => assert_eq!(back, cfg, "config round trip through\n{written}"),
                    Err(e) => panic!("an accepted config is refused once written out: {e}\n{written}"),
                }
            }
        }
    }
});
