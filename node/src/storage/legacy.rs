//! The records of storage formats 0 and 1 exactly as gridnode wrote them then (bincode, which is not
//! self-describing: a value decodes only into the same shape), frozen here so those stores can still be
//! read after the live types grew fields. `migrate` decodes each old value into these types and writes
//! it again in `codec`'s encoding with the same field and variant names; the live types then read it,
//! fields added since taking their defaults. Never change these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

type Millis = i64;
/// Division codes were stored as their digits.
type Code = String;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Reported,
    Registered,
    Dispatched,
    Handling,
    Handled,
    Closed,
    Cancelled,
    Suspended,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Patrol,
    Hotline,
    Public,
    Video,
    AssignedFromAbove,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

#[derive(Serialize, Deserialize)]
pub struct Location {
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    GridWorker,
    Community,
    Street,
    Department,
}

#[derive(Serialize, Deserialize)]
pub struct Handler {
    pub kind: HandlerKind,
    pub name: String,
}

#[derive(Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub from: Option<CaseState>,
    pub to: CaseState,
    pub note: String,
}

#[derive(Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    pub grid: Code,
    pub category: String,
    pub source: Source,
    pub title: String,
    pub description: String,
    pub location: Option<Location>,
    pub reporter: String,
    pub priority: Priority,
    pub origin: Code,
    pub owner: Code,
    pub version: u64,
    pub state: CaseState,
    pub suspended_from: Option<CaseState>,
    pub handler: Option<Handler>,
    pub reported_at: Millis,
    pub registered_at: Option<Millis>,
    pub dispatched_at: Option<Millis>,
    pub handled_at: Option<Millis>,
    pub closed_at: Option<Millis>,
    pub suspended_at: Option<Millis>,
    pub register_due: Millis,
    pub due_at: Option<Millis>,
    pub returns: u32,
    pub extensions: u32,
    pub epoch: u64,
    pub watchers: Vec<Code>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Register,
    Cancel,
    Dispatch { handler: Handler },
    Start,
    Handled,
    Close,
    Return,
    Suspend,
    Resume,
    Extend { new_due: Millis },
    Escalate,
    SendDown { to: Code },
}

#[derive(Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub actor: String,
    pub note: String,
    pub expected_version: Option<u64>,
}

#[derive(Serialize, Deserialize)]
pub struct NewCase {
    pub request_id: Option<String>,
    pub grid: Code,
    pub category: String,
    pub source: Source,
    pub title: String,
    pub description: String,
    pub location: Option<Location>,
    pub reporter: String,
    pub priority: Priority,
}

#[derive(Serialize, Deserialize)]
pub struct Department {
    pub name: String,
    pub minutes: i64,
}

#[derive(Serialize, Deserialize)]
pub enum Body {
    Transfer { case: Box<Case> },
    Status { case: Box<Case> },
}

#[derive(Serialize, Deserialize)]
pub struct Envelope {
    pub origin: Code,
    pub to: Code,
    pub queued_at: Millis,
    pub body: Body,
}

#[derive(Serialize, Deserialize)]
pub struct Counters {
    pub total: i64,
    pub registered: i64,
    pub registered_on_time: i64,
    pub handled: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub returned: i64,
    pub extended: i64,
    pub self_handled: i64,
    pub cancelled: i64,
    pub by_state: BTreeMap<String, i64>,
    pub by_category: BTreeMap<String, i64>,
    pub by_grid: BTreeMap<String, i64>,
    pub by_department: BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize)]
pub struct TallyKey {
    pub owner: Code,
    pub day: i64,
    pub grid: Code,
}

#[derive(Serialize, Deserialize)]
pub struct Tally {
    pub version: u64,
    pub counters: Counters,
}

#[derive(Serialize, Deserialize)]
pub struct Freshness {
    pub node: Code,
    pub version: u64,
    pub produced_at: Millis,
    pub overdue: i64,
}

/// A tally as the state machine stored it.
#[derive(Serialize, Deserialize)]
pub struct StoredTally {
    pub tally: Tally,
    pub local: u64,
}

/// The Raft log's commands then.
#[derive(Serialize, Deserialize)]
pub enum Command {
    Report(NewCase),
    Act { case_id: String, step: Step },
    Receive { from: Code, batch: Vec<(u64, Envelope)> },
    Acked { peer: Code, upto: u64 },
    Rollup { from: Code, entries: Vec<(TallyKey, Tally)>, fresh: Vec<Freshness> },
    Department(Department),
}

/// One log entry's application data then.
#[derive(Serialize, Deserialize)]
pub struct Request {
    pub at: Millis,
    pub commands: Vec<Command>,
}

/// openraft's entry payload (openraft 0.9's serde shape, with the request above).
#[derive(Serialize, Deserialize)]
pub enum EntryPayload {
    Blank,
    Normal(Request),
    Membership(openraft::Membership<u64, openraft::BasicNode>),
}

/// openraft's entry (openraft 0.9's serde shape).
#[derive(Serialize, Deserialize)]
pub struct Entry {
    pub log_id: openraft::LogId<u64>,
    pub payload: EntryPayload,
}
