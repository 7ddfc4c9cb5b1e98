//! Keys of integrating systems (Open311 `api_key`) in the replicated state: created with their secret's
//! hash, scoped to this node's subtree, revoked by id (kept, marked revoked).

use crate::access::check_token_id;
use crate::intake::apikey::ApiKey;

use super::command::{invalid, ApiKeyCreate, ApiKeyRevoke, Outcome};
use super::store::{Change, Ctx, Rules, Store};
use super::validate::check_short;

/// Creates key `k`.
pub(super) fn create<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    k: &ApiKeyCreate,
) -> Result<Outcome, S::Error> {
    let refused = |field: &str, message: String| Ok(Outcome::Refused(invalid(field, message)));
    if let Err(e) = check_token_id("id", &k.id) {
        return Ok(Outcome::Refused(invalid(&e.field, e.reason)));
    }
    if let Err(r) = check_short("name", &k.name, true) {
        return Ok(Outcome::Refused(r));
    }
    if !k.scope.is_within(rules.node) {
        return refused(
            "scope",
            format!(
                "{} is not node {} or below it: a key reports only into this node's subtree",
                k.scope, rules.node
            ),
        );
    }
    if k.hash.len() != 64 || !k.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return refused("hash", "must be 64 lowercase hex digits (SHA-256)".into());
    }
    if let Err(r) = check_short("created_by", &k.created_by, false) {
        return Ok(Outcome::Refused(r));
    }
    if store.api_key(&k.id)?.is_some() {
        return refused("id", format!("key {} exists already", k.id));
    }
    let key = ApiKey {
        id: k.id.clone(),
        name: k.name.clone(),
        scope: k.scope.clone(),
        source: k.source,
        hash: k.hash.clone(),
        created_at: ctx.now,
        created_by: k.created_by.clone(),
        revoked_at: None,
    };
    store.write(Change::ApiKey(Box::new(key.clone())))?;
    Ok(Outcome::ApiKey(Box::new(key)))
}

/// Revokes key `k.id` at the entry's time.
pub(super) fn revoke<S: Store>(store: &mut S, ctx: Ctx, k: &ApiKeyRevoke) -> Result<Outcome, S::Error> {
    let Some(mut key) = store.api_key(&k.id)? else {
        return Ok(Outcome::Refused(invalid("id", format!("no key {:?} on this node", k.id))));
    };
    if key.revoked_at.is_none() {
        key.revoked_at = Some(ctx.now);
        store.write(Change::ApiKey(Box::new(key.clone())))?;
    }
    Ok(Outcome::ApiKey(Box::new(key)))
}
