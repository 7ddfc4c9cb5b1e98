//! The replicated state machine's logic, over an abstract store so it is tested without RocksDB.
//!
//! The Raft leader stamps every command with the time (`now`) at proposal; every replica then applies
//! the same commands in the same order with the same `now`, so ids, deadlines and on-time answers agree.
//! A refused command changes nothing and its refusal is the command's result on every replica.
//!
//! ```text
//! command   what the log carries, what applying returns, and their typed pairing (Proposal)
//! store     the Store trait, the Changes an apply makes, the node's Rules, the entry's Ctx
//! validate  checks of new cases and actions, naming the field at fault
//! report    上报            act     actions and hand-overs (上报 / 下派)
//! inbox     messages from a neighbour, applied once in link order
//! outbox    routing, queueing for a neighbour, status updates to watchers (反馈), resequencing a
//!           link after a restore
//! rollup    a child's statistics       cases    writing a case with its tallies and deadline index
//! access    access tokens: created with their secret's hash, revoked
//! grids     grid boundaries: imported here, received from above, passed down to each child
//! place     an unassigned case (待分派) placed on a grid and routed as a report would be
//! apikeys   keys of integrating systems (Open311): created with their secret's hash, revoked
//! staff     the roster of grid workers, and dispatch by it (`auto`: the worker of the place)
//! patrol    the patrol log (日巡查): started and ended by workers of the roster; reports found on one
//! ```

mod access;
mod act;
mod apikeys;
mod cases;
pub mod command;
mod grids;
mod inbox;
mod outbox;
mod patrol;
#[cfg(test)]
mod patrol_tests;
mod place;
mod report;
#[cfg(test)]
mod restored_tests;
mod rollup;
mod staff;
#[cfg(test)]
mod staff_tests;
pub mod store;
#[cfg(test)]
mod tests;
pub mod validate;

pub(crate) use command::invalid;
pub use command::{
    Acked, Act, ApiKeyCreate, ApiKeyRevoke, Command, Department, GridsImport, Outcome, PatrolCmd, PatrolOp,
    Place, Proposal, Receive, Refusal, Reported, Resequence, Rollup, Staff, StaffOp, TokenCreate,
    TokenRevoke, AUTO_WORKER,
};
pub use outbox::route;
pub use store::{Change, Ctx, RestoredLink, Rules, Store, RESTORED_SEQ_GAP};
pub use validate::{check_grid, check_short, check_text, NewCase};

/// Applies one command. Storage errors abort the apply (it is retried with the whole entry); refusals
/// are results and change nothing.
pub fn apply<S: Store>(
    store: &mut S,
    rules: &Rules<'_>,
    ctx: Ctx,
    cmd: &Command,
) -> Result<Outcome, S::Error> {
    match cmd {
        Command::Report(new) => report::report(store, rules, ctx, new),
        Command::Act(a) => act::act(store, rules, ctx, a),
        Command::Receive(r) => inbox::receive(store, rules, ctx, &r.from, &r.batch),
        Command::Acked(a) => {
            store.write(Change::OutboxAck { peer: a.peer.clone(), upto: a.upto })?;
            Ok(Outcome::Done)
        }
        Command::Rollup(r) => rollup::rollup(store, rules, &r.from, &r.entries, &r.fresh),
        Command::Department(d) => {
            if let Err(r) = check_short("department.name", &d.name, true) {
                return Ok(Outcome::Refused(r));
            }
            if d.minutes <= 0 || d.minutes > 366 * 24 * 60 {
                return Ok(Outcome::Refused(invalid("department.minutes", "must be 1 to 527040 minutes")));
            }
            store.write(Change::Department(d.clone()))?;
            Ok(Outcome::Done)
        }
        Command::TokenCreate(t) => access::create(store, rules, ctx, t),
        Command::TokenRevoke(t) => access::revoke(store, ctx, t),
        Command::GridsImport(g) => grids::import(store, rules, ctx, g),
        Command::Place(p) => place::place(store, rules, ctx, p),
        Command::ApiKeyCreate(k) => apikeys::create(store, rules, ctx, k),
        Command::ApiKeyRevoke(k) => apikeys::revoke(store, ctx, k),
        Command::Resequence(r) => outbox::resequence(store, rules, &r.peer, r.applied),
        Command::Staff(s) => staff::staff(store, rules, s),
        Command::Patrol(p) => patrol::patrol(store, rules, ctx, p),
    }
}
