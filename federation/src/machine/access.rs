//! Access tokens in the replicated state: created with their secret's hash and a leader-stamped expiry,
//! revoked by id (kept, marked revoked, so listings show it).

use crate::access::{check_token_id, AccessToken, MAX_TOKEN_TTL_MS, MIN_TOKEN_TTL_MS};

use super::command::{invalid, Outcome, TokenCreate, TokenRevoke};
use super::store::{Change, Ctx, Rules, Store};
use super::validate::check_short;

/// Creates token `t`, expiring `t.ttl_ms` after the entry's time.
pub(super) fn create<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    t: &TokenCreate,
) -> Result<Outcome, S::Error> {
    let refused = |field: &str, message: String| Ok(Outcome::Refused(invalid(field, message)));
    if let Err(e) = check_token_id("id", &t.id) {
        return Ok(Outcome::Refused(invalid(&e.field, e.reason)));
    }
    if let Err(r) = check_short("name", &t.name, false) {
        return Ok(Outcome::Refused(r));
    }
    if !rules.node.is_within(&t.scope) {
        return refused(
            "scope",
            format!("{} does not include node {}: the token would open nothing here", t.scope, rules.node),
        );
    }
    if t.hash.len() != 64 || !t.hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return refused("hash", "must be 64 lowercase hex digits (SHA-256)".into());
    }
    if !(MIN_TOKEN_TTL_MS..=MAX_TOKEN_TTL_MS).contains(&t.ttl_ms) {
        return refused("expires", format!("{} ms is outside one minute to 30 days", t.ttl_ms));
    }
    if let Err(r) = check_short("created_by", &t.created_by, false) {
        return Ok(Outcome::Refused(r));
    }
    if store.token(&t.id)?.is_some() {
        return refused("id", format!("token {} exists already", t.id));
    }
    let token = AccessToken {
        id: t.id.clone(),
        name: t.name.clone(),
        scope: t.scope.clone(),
        role: t.role,
        hash: t.hash.clone(),
        created_at: ctx.now,
        expires_at: ctx.now.saturating_add(t.ttl_ms),
        created_by: t.created_by.clone(),
        revoked_at: None,
    };
    store.write(Change::Token(Box::new(token.clone())))?;
    Ok(Outcome::Token(Box::new(token)))
}

/// Revokes token `t.id` at the entry's time.
pub(super) fn revoke<S: Store>(store: &mut S, ctx: Ctx, t: &TokenRevoke) -> Result<Outcome, S::Error> {
    let Some(mut token) = store.token(&t.id)? else {
        return Ok(Outcome::Refused(invalid("id", format!("no access token {:?} on this node", t.id))));
    };
    if token.revoked_at.is_none() {
        token.revoked_at = Some(ctx.now);
        store.write(Change::Token(Box::new(token.clone())))?;
    }
    Ok(Outcome::Token(Box::new(token)))
}

#[cfg(test)]
mod tests {
    use super::super::{apply, Command, Refusal};
    use super::*;
    use crate::access::{hash_secret, AccessRole};
    use crate::category::Catalog;
    use crate::code::Code;
    use crate::deadline::DeadlinePolicy;
    use crate::mem::Mem;

    fn create_cmd(id: &str, scope: &str) -> Command {
        Command::TokenCreate(TokenCreate {
            id: id.into(),
            name: "指挥中心大屏".into(),
            scope: Code::parse("scope", scope).unwrap(),
            role: AccessRole::Viewer,
            hash: hash_secret("0123456789abcdef"),
            ttl_ms: 8 * 3_600_000,
            created_by: "gridfed://370102/operator".into(),
        })
    }

    #[test]
    fn a_token_is_created_with_a_leader_stamped_expiry_and_revoked_once() {
        let node = Code::parse("node", "370102001").unwrap();
        let policy = DeadlinePolicy::default();
        let rules = Rules {
            node: &node,
            policy: &policy,
            catalog: Catalog::standard(),
            parent: None,
            children: &[],
            grids: &[],
            intake: &crate::intake::DEFAULT_RULES,
        };
        let mut m = Mem::default();
        let out = apply(&mut m, &rules, Ctx { now: 1_000, index: 1 }, &create_cmd("ab12", "370102")).unwrap();
        let Outcome::Token(t) = out else { panic!("{out:?}") };
        assert_eq!((t.created_at, t.expires_at), (1_000, 1_000 + 8 * 3_600_000));
        assert_eq!(m.tokens["ab12"].hash, hash_secret("0123456789abcdef"));
        // The same id twice is refused and changes nothing.
        let again =
            apply(&mut m, &rules, Ctx { now: 2_000, index: 2 }, &create_cmd("ab12", "370102")).unwrap();
        assert!(matches!(again, Outcome::Refused(Refusal::Invalid { ref field, .. }) if field == "id"));
        assert_eq!(m.tokens["ab12"].created_at, 1_000);
        let revoke = Command::TokenRevoke(TokenRevoke { id: "ab12".into() });
        apply(&mut m, &rules, Ctx { now: 3_000, index: 3 }, &revoke).unwrap();
        apply(&mut m, &rules, Ctx { now: 4_000, index: 4 }, &revoke).unwrap();
        assert_eq!(m.tokens["ab12"].revoked_at, Some(3_000));
        let missing = Command::TokenRevoke(TokenRevoke { id: "ffff".into() });
        assert!(matches!(
            apply(&mut m, &rules, Ctx { now: 5_000, index: 5 }, &missing).unwrap(),
            Outcome::Refused(_)
        ));
    }

    #[test]
    fn a_token_must_cover_the_node_and_have_sane_fields() {
        let node = Code::parse("node", "370102001").unwrap();
        let policy = DeadlinePolicy::default();
        let rules = Rules {
            node: &node,
            policy: &policy,
            catalog: Catalog::standard(),
            parent: None,
            children: &[],
            grids: &[],
            intake: &crate::intake::DEFAULT_RULES,
        };
        let mut m = Mem::default();
        let field =
            |m: &mut Mem, cmd: &Command| match apply(m, &rules, Ctx { now: 1, index: 1 }, cmd).unwrap() {
                Outcome::Refused(Refusal::Invalid { field, .. }) => field,
                other => panic!("{other:?}"),
            };
        // A community's scope opens nothing at its street.
        assert_eq!(field(&mut m, &create_cmd("ab12", "370102001001")), "scope");
        assert_eq!(field(&mut m, &create_cmd("AB12", "370102001")), "id");
        let Command::TokenCreate(mut t) = create_cmd("ab12", "370102001") else { unreachable!() };
        t.ttl_ms = 1;
        assert_eq!(field(&mut m, &Command::TokenCreate(t.clone())), "expires");
        t.ttl_ms = 60_000;
        t.hash = "xyz".into();
        assert_eq!(field(&mut m, &Command::TokenCreate(t)), "hash");
        assert!(m.tokens.is_empty());
    }
}
