//! The one path every handler's write and read takes: commit here when this replica leads, otherwise
//! forward once to the leader; linearizable reads likewise. Domain, write and storage errors become
//! `tonic::Status` here and nowhere else below the handlers.

use std::time::Duration;

use federation::machine::{Proposal, Refusal};
use federation::workflow::WorkflowError;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::consensus::leadership::Router;
use crate::consensus::writer::{LEADER_WAIT, WRITE_TIMEOUT};
use crate::consensus::{Leadership, Route, WriteError, Writer, Written};
use crate::rpc::ChannelPool;
use crate::storage::StoreError;

/// Metadata key marking a request forwarded by another replica (it is never forwarded twice).
pub const FORWARDED: &str = "x-gridfed-forwarded";

/// Metadata carrying, on a forwarded request, who the first replica authenticated (binary: a
/// certificate subject may hold Chinese characters). Trusted only from a replica of this node.
pub const ON_BEHALF_OF: &str = "x-gridfed-on-behalf-of-bin";

/// True when another replica of this node forwarded `req`.
pub(crate) fn is_forwarded<T>(req: &Request<T>) -> bool {
    req.metadata().contains_key(FORWARDED)
}

/// A copy of `msg` to send on to the leader, marked as forwarded, with a deadline.
pub(crate) fn forwarded<T>(msg: T, deadline: Duration) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
    crate::protocol::stamp(r.metadata_mut());
    r.set_timeout(deadline);
    r
}

/// Like [`forwarded`], carrying `who` the first replica authenticated, for the audit trail.
pub(crate) fn forwarded_for<T>(msg: T, deadline: Duration, who: &str) -> Request<T> {
    let mut r = forwarded(msg, deadline);
    r.metadata_mut().insert_bin(ON_BEHALF_OF, tonic::metadata::MetadataValue::from_bytes(who.as_bytes()));
    r
}

/// The status of a refusal by the state machine.
pub(crate) fn refusal_status(r: Refusal) -> Status {
    let msg = r.to_string();
    match r {
        Refusal::Invalid { .. } => Status::invalid_argument(msg),
        Refusal::NotFound { .. } => Status::not_found(msg),
        Refusal::NotOwner { .. } => Status::failed_precondition(msg),
        Refusal::NotNeighbour { .. } => Status::permission_denied(msg),
        Refusal::Workflow(WorkflowError::VersionConflict { .. }) => Status::aborted(msg),
        Refusal::Workflow(WorkflowError::IllegalAction { .. } | WorkflowError::AlreadyOnSite { .. }) => {
            Status::failed_precondition(msg)
        }
        Refusal::Workflow(_) => Status::invalid_argument(msg),
    }
}

/// The status of a write that could not be committed or forwarded.
pub(crate) fn write_status(e: WriteError) -> Status {
    let msg = e.to_string();
    match e {
        WriteError::Timeout => Status::deadline_exceeded(msg),
        WriteError::Mismatch { .. } => Status::internal(msg),
        WriteError::DiskLow { .. } => Status::resource_exhausted(msg),
        WriteError::Protocol { .. } => Status::failed_precondition(msg),
        WriteError::NoLeader
        | WriteError::ForwardedTwice { .. }
        | WriteError::Propose(_)
        | WriteError::Unfit { .. } => Status::unavailable(msg),
    }
}

/// The status of a storage failure while serving a request.
pub(crate) fn store_status(e: StoreError) -> Status {
    Status::internal(format!("storage: {e}"))
}

/// Commits `proposal` here and answers with `here(output)`, or forwards the request once to the
/// leader with `there(channel)`.
pub(crate) async fn commit_or_forward<P, T, H, F>(
    writer: &Writer,
    pool: &ChannelPool,
    proposal: P,
    forwarded: bool,
    here: H,
    there: F,
) -> Result<Response<T>, Status>
where
    P: Proposal,
    H: FnOnce(P::Output) -> Result<T, Status>,
    F: AsyncFnOnce(Channel, Duration) -> Result<Response<T>, Status>,
{
    match writer.write(proposal, forwarded).await.map_err(write_status)? {
        Written::Committed(Ok(out)) => here(out).map(Response::new),
        Written::Committed(Err(refusal)) => Err(refusal_status(refusal)),
        Written::Forward { addr } => there(leader_channel(pool, &addr)?, WRITE_TIMEOUT).await,
    }
}

/// A channel to the leader at `addr`.
pub(crate) fn leader_channel(pool: &ChannelPool, addr: &str) -> Result<Channel, Status> {
    pool.get(addr).map_err(|e| Status::unavailable(format!("leader address {addr}: {e}")))
}

/// Where a read is served: here (None) after confirming leadership when `local` is false, or the
/// leader's address to forward to. A forwarded read is never forwarded again.
pub(crate) async fn read_route(
    leadership: &Leadership,
    local: bool,
    forwarded: bool,
) -> Result<Option<String>, Status> {
    if local {
        return Ok(None);
    }
    match leader_route(leadership, forwarded).await? {
        Some(addr) => Ok(Some(addr)),
        None => leadership.ensure_linearizable().await.map(|_| None).map_err(|e| {
            Status::unavailable(format!("cannot confirm leadership for a linearizable read: {e}"))
        }),
    }
}

/// The leader's address, or None when this replica leads.
pub(crate) async fn leader_route(leadership: &Leadership, forwarded: bool) -> Result<Option<String>, Status> {
    match leadership.route(LEADER_WAIT).await {
        None => Err(write_status(WriteError::NoLeader)),
        Some(Route::Local) => Ok(None),
        Some(Route::Leader { .. }) if forwarded => {
            Err(write_status(WriteError::ForwardedTwice { replica: leadership.me() }))
        }
        Some(Route::Leader { addr, .. }) => Ok(Some(addr)),
    }
}
