//! The commit-or-forward path every write takes: committed here when this replica leads, otherwise the
//! leader's address is returned for the caller to forward to (a request forwarded once is never
//! forwarded again). Each proposal comes back as its own typed result (see `machine::Proposal`).

use std::time::Duration;

use federation::machine::{Proposal, Refusal};

use super::leadership::{Leadership, Route, Router};
use super::proposer::{ProposeError, Proposer};
use crate::health::Health;

/// How long a write may wait for its commit.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a write waits for an election to produce a leader.
pub const LEADER_WAIT: Duration = Duration::from_secs(5);

/// What became of a write.
#[derive(Debug)]
pub enum Written<T> {
    /// Committed here: applied, or refused by the state machine (nothing changed).
    Committed(Result<T, Refusal>),
    /// Another replica leads: send the request there.
    Forward { addr: String },
}

/// Why a write could not be committed or forwarded.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("no leader: the node's replicas cannot reach a majority; try again shortly")]
    NoLeader,
    #[error("replica {replica} is not the leader and the request was already forwarded once; retry")]
    ForwardedTwice { replica: u64 },
    #[error(
        "the write was not committed in time; its outcome is unknown: retry (reports with the same \
         request_id are not duplicated)"
    )]
    Timeout,
    #[error(transparent)]
    Propose(#[from] ProposeError),
    #[error("the state machine answered {outcome} to a {command} command")]
    Mismatch { command: &'static str, outcome: String },
    #[error("replica {replica} does not take writes: {why}; retry, another replica takes over")]
    Unfit { replica: u64, why: crate::health::Unfit },
    #[error("{why}")]
    DiskLow { why: String },
    /// The command is of a protocol version not every replica of the node speaks yet.
    #[error(
        "a {command} command needs protocol {since}, and not every replica of this node announces it yet \
         (a rolling upgrade under way?); it waits"
    )]
    Protocol { command: &'static str, since: u32 },
}

/// Holds back commands of a protocol version the node's other voters do not all speak yet.
#[derive(Clone)]
pub struct ProtocolGate {
    protocol: crate::protocol::Protocol,
    leadership: Leadership,
}

impl ProtocolGate {
    /// A gate over `protocol`'s view of the voters `leadership` knows.
    pub fn new(protocol: crate::protocol::Protocol, leadership: Leadership) -> ProtocolGate {
        ProtocolGate { protocol, leadership }
    }

    fn allows(&self, since: u32) -> bool {
        let me = self.leadership.me();
        let m = self.leadership.metrics();
        let others: Vec<u64> = m.membership_config.membership().voter_ids().filter(|&v| v != me).collect();
        self.protocol.may_propose(since, others)
    }
}

/// Commits proposals through the leader; cheap to clone.
#[derive(Clone)]
pub struct Writer<R: Router = Leadership> {
    proposer: Proposer,
    router: R,
    me: u64,
    health: Health,
    gate: Option<ProtocolGate>,
}

impl<R: Router> Writer<R> {
    /// Writes of replica `me`, proposed through `proposer`, routed by `router`, refused while
    /// `health` says this replica may not lead or its disk is nearly full.
    pub fn new(proposer: Proposer, router: R, me: u64, health: Health) -> Writer<R> {
        Writer { proposer, router, me, health, gate: None }
    }

    /// Holds back commands of a protocol version the node does not speak yet (see `crate::protocol`).
    pub fn with_gate(mut self, gate: ProtocolGate) -> Writer<R> {
        self.gate = Some(gate);
        self
    }

    /// Commits `p` here when this replica leads, or names the leader to forward it to.
    pub async fn write<P: Proposal>(&self, p: P, forwarded: bool) -> Result<Written<P::Output>, WriteError> {
        match self.router.route(LEADER_WAIT).await {
            None => return Err(WriteError::NoLeader),
            Some(Route::Leader { .. }) if forwarded => {
                return Err(WriteError::ForwardedTwice { replica: self.me })
            }
            Some(Route::Leader { addr, .. }) => return Ok(Written::Forward { addr }),
            Some(Route::Local) => {}
        }
        match tokio::time::timeout(WRITE_TIMEOUT, self.propose(p)).await {
            Err(_) => Err(WriteError::Timeout),
            Ok(Ok(r)) => Ok(Written::Committed(r)),
            Ok(Err(WriteError::Propose(ProposeError::NotLeader { addr: Some(addr), .. }))) if !forwarded => {
                Ok(Written::Forward { addr })
            }
            Ok(Err(WriteError::Propose(ProposeError::NotLeader { .. }))) => Err(WriteError::NoLeader),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Proposes `p` on this replica (for tasks that run only while it leads).
    pub async fn propose<P: Proposal>(&self, p: P) -> Result<Result<P::Output, Refusal>, WriteError> {
        let mut cmd = p.into();
        let command = command_name(&cmd);
        self.health.may_lead().map_err(|why| WriteError::Unfit { replica: self.me, why })?;
        // An action applies by the newest clock rules every replica of the node speaks.
        if let federation::machine::Command::Act(a) = &mut cmd {
            if self.gate.as_ref().is_some_and(|g| !g.allows(federation::protocol::CLOCKS)) {
                a.rules = 0;
            }
        }
        let since = cmd.since();
        if since > federation::protocol::UNVERSIONED && self.gate.as_ref().is_some_and(|g| !g.allows(since)) {
            return Err(WriteError::Protocol { command, since });
        }
        // Acknowledgements only free space; everything else waits for room.
        if !matches!(cmd, federation::machine::Command::Acked(_)) {
            if let Some(why) = self.health.disk_low() {
                return Err(WriteError::DiskLow { why });
            }
        }
        let outcome = self.proposer.propose(cmd).await?;
        P::output(outcome).map_err(|o| WriteError::Mismatch { command, outcome: format!("{o:?}") })
    }
}

fn command_name(c: &federation::machine::Command) -> &'static str {
    use federation::machine::Command;
    match c {
        Command::Report(_) => "report",
        Command::Act(_) => "act",
        Command::Receive(_) => "receive",
        Command::Acked(_) => "acked",
        Command::Rollup(_) => "rollup",
        Command::Department(_) => "department",
        Command::TokenCreate(_) => "token create",
        Command::TokenRevoke(_) => "token revoke",
        Command::Resequence(_) => "resequence",
        Command::GridsImport(_) => "grids import",
        Command::Place(_) => "place",
        Command::ApiKeyCreate(_) => "api key create",
        Command::ApiKeyRevoke(_) => "api key revoke",
        Command::Staff(_) => "staff",
        Command::Patrol(_) => "patrol",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use federation::code::Code;
    use federation::machine::{Acked, Outcome, Receive};

    use super::*;
    use crate::clock::Clock;
    use crate::consensus::proposer::Submit;
    use crate::consensus::types::{Request, Response};
    use crate::tasks::Tasks;

    #[derive(Clone)]
    struct Fixed(Option<Route>);

    impl Router for Fixed {
        async fn route(&self, _: Duration) -> Option<Route> {
            self.0.clone()
        }
    }

    /// Answers every command with `outcome`, or refuses as a deposed leader would.
    #[derive(Clone)]
    struct Answer {
        outcome: Outcome,
        deposed: Option<String>,
        seen: Arc<Mutex<usize>>,
    }

    impl Submit for Answer {
        async fn submit(&self, req: Request) -> Result<Response, ProposeError> {
            *self.seen.lock().unwrap() += req.commands.len();
            if let Some(addr) = &self.deposed {
                return Err(ProposeError::NotLeader { leader: Some(2), addr: Some(addr.clone()) });
            }
            Ok(Response { outcomes: req.commands.iter().map(|_| self.outcome.clone()).collect() })
        }
    }

    fn writer(
        route: Option<Route>,
        outcome: Outcome,
        deposed: Option<&str>,
    ) -> (Writer<Fixed>, Answer, Tasks) {
        let tasks = Tasks::new();
        let answer = Answer { outcome, deposed: deposed.map(str::to_string), seen: Arc::default() };
        let proposer = Proposer::start(answer.clone(), Clock::system(), &tasks);
        let health = Health::new(crate::storage::Faults::new(), false);
        (Writer::new(proposer, Fixed(route), 1, health), answer, tasks)
    }

    fn acked() -> Acked {
        Acked { peer: Code::parse("p", "370102").unwrap(), upto: 3 }
    }

    #[tokio::test]
    async fn the_leader_commits_and_gets_the_typed_result() {
        let (w, seen, _t) = writer(Some(Route::Local), Outcome::Done, None);
        assert!(matches!(w.write(acked(), false).await, Ok(Written::Committed(Ok(())))));
        assert_eq!(*seen.seen.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn a_follower_names_the_leader_and_never_forwards_twice() {
        let leader = Some(Route::Leader { id: 2, addr: "10.0.0.2:7201".into() });
        let (w, seen, _t) = writer(leader, Outcome::Done, None);
        match w.write(acked(), false).await {
            Ok(Written::Forward { addr }) => assert_eq!(addr, "10.0.0.2:7201"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(w.write(acked(), true).await, Err(WriteError::ForwardedTwice { replica: 1 })));
        assert_eq!(*seen.seen.lock().unwrap(), 0, "nothing was proposed on a follower");
    }

    #[tokio::test]
    async fn a_leader_deposed_mid_write_forwards_once_then_reports_no_leader() {
        let (w, _, _t) = writer(Some(Route::Local), Outcome::Done, Some("10.0.0.3:7201"));
        assert!(matches!(w.write(acked(), false).await, Ok(Written::Forward { .. })));
        assert!(matches!(w.write(acked(), true).await, Err(WriteError::NoLeader)));
        let (w, _, _t) = writer(None, Outcome::Done, None);
        assert!(matches!(w.write(acked(), false).await, Err(WriteError::NoLeader)));
    }

    #[tokio::test]
    async fn an_unfit_leader_or_a_full_disk_refuses_writes_but_acknowledgements_pass() {
        let (w, seen, _t) = writer(Some(Route::Local), Outcome::Done, None);
        w.health.set_disk_low(Some("only 3 MiB free".into()));
        let r = Receive { from: Code::parse("f", "370102001001").unwrap(), batch: vec![] };
        assert!(matches!(w.write(r, false).await, Err(WriteError::DiskLow { .. })));
        assert!(matches!(w.write(acked(), false).await, Ok(Written::Committed(Ok(())))));
        w.health.set_repairing(true);
        match w.write(acked(), false).await {
            Err(e @ WriteError::Unfit { .. }) => assert!(e.to_string().contains("repairing"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(*seen.seen.lock().unwrap(), 1);
    }

    #[tokio::test]
    async fn an_outcome_of_another_command_is_a_mismatch_not_a_panic() {
        let (w, _, _t) = writer(Some(Route::Local), Outcome::Done, None);
        let r = Receive { from: Code::parse("f", "370102001001").unwrap(), batch: vec![] };
        match w.write(r, false).await {
            Err(WriteError::Mismatch { command: "receive", outcome }) => assert!(outcome.contains("Done")),
            other => panic!("{other:?}"),
        }
    }
}
