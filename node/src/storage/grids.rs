//! The node's grid boundaries in the store (`fed/grids/...`: the set, and its version apart so a reader
//! checks it cheaply) and the indexed map kept in memory beside it, rebuilt only when the stored version
//! changes (an import, a set from above, a snapshot installed), so locating a report costs an R-tree
//! lookup, not a decode of thousands of outlines.

use std::sync::{Arc, Mutex};

use federation::geo::GridMap;
use federation::grids::{self, GridSet, MapVersion};
use rocksdb::DB;

use super::{cf, decode, keys, StoreError, CF_FED};

/// Key of the node's set of boundaries.
pub(crate) fn set_key() -> Vec<u8> {
    keys::fed("grids", "set")
}

/// Key of the version of that set.
pub(crate) fn version_key() -> Vec<u8> {
    keys::fed("grids", "version")
}

/// A stored version with its indexed map.
pub type Indexed = (MapVersion, Arc<GridMap>);

/// The indexed map of the stored set; cheap to clone (shared by the state machine and its readers).
#[derive(Clone, Default)]
pub struct GridCache {
    inner: Arc<Mutex<Option<Indexed>>>,
}

impl GridCache {
    /// The map of the set stored in `db` now, indexed once per version; `None` when the node holds
    /// no boundaries (or a stored set that fails its checks, which locates nothing).
    pub fn map(&self, db: &DB) -> Result<Option<Indexed>, StoreError> {
        let fed = cf(db, CF_FED)?;
        let Some(v) = db.get_cf(fed, version_key())? else {
            return Ok(None);
        };
        let version: MapVersion = decode("grid boundaries version", &v)?;
        let mut cached = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((have, map)) = cached.as_ref() {
            if *have == version {
                return Ok(Some((version, map.clone())));
            }
        }
        let Some(bytes) = db.get_cf(fed, set_key())? else {
            return Ok(None);
        };
        let set: GridSet = decode("grid boundaries", &bytes)?;
        let map = match grids::index(&set) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                tracing::error!(error = %e, "stored grid boundaries fail their checks; locating nothing");
                return Ok(None);
            }
        };
        *cached = Some((version.clone(), map.clone()));
        Ok(Some((version, map)))
    }

    /// Keeps `map` as the index of `version` (written by an applied entry).
    pub fn put(&self, version: MapVersion, map: Arc<GridMap>) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, map));
    }
}
