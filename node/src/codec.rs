//! The one encoding of everything a replica stores (log entries, state-machine records, snapshots) or
//! sends the other replicas of its node (openraft's messages): MessagePack with named fields. A field
//! added later with `#[serde(default)]` is read from older records as its default, and an older binary
//! reading a newer record skips fields it does not know, so records evolve without rewriting stores and
//! replicas of adjacent versions understand each other.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot encode: {source}")]
    Encode {
        #[from]
        source: rmp_serde::encode::Error,
    },
    #[error("cannot decode: {source}")]
    Decode {
        #[from]
        source: rmp_serde::decode::Error,
    },
}

/// Encodes `v`.
pub fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, CodecError> {
    Ok(rmp_serde::to_vec_named(v)?)
}

/// Decodes a `T` from `b`.
pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, CodecError> {
    Ok(rmp_serde::from_slice(b)?)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Old {
        id: String,
        n: u64,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct New {
        id: String,
        n: u64,
        #[serde(default)]
        added: Option<String>,
    }

    #[test]
    fn a_field_added_later_reads_old_records_and_old_readers_skip_it() {
        let old = encode(&Old { id: "a".into(), n: 7 }).unwrap();
        assert_eq!(decode::<New>(&old).unwrap(), New { id: "a".into(), n: 7, added: None });
        let new = encode(&New { id: "b".into(), n: 8, added: Some("x".into()) }).unwrap();
        assert_eq!(decode::<Old>(&new).unwrap(), Old { id: "b".into(), n: 8 });
    }
}
