//! Storage tests on real RocksDB in temp dirs: openraft's own storage conformance suite, and the state
//! machine's cases, statistics and snapshots.

use federation::case::{Priority, Source};
use federation::code::Code;
use federation::deadline::DeadlinePolicy;
use federation::machine::{Command, NewCase, Outcome};
use openraft::storage::RaftStateMachine;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};

use super::log_store::LogStore;
use super::reader::ListFilter;
use super::state_machine::{NodeRules, Signals, StateMachine};
use crate::consensus::types::{Entry, LogId, Request, StorageError, TypeConfig};

fn rules() -> NodeRules {
    NodeRules {
        node: Code::parse("node", "370102001001").unwrap(),
        policy: DeadlinePolicy::default(),
        parent: None,
        children: vec![],
        grids: vec![],
        intake: Default::default(),
    }
}

fn open(dir: &std::path::Path) -> (LogStore, StateMachine) {
    let store = super::open(dir, &super::StoreOptions::default(), &super::Faults::new()).unwrap();
    let sm =
        StateMachine::open(store.db.clone(), rules(), Signals::default(), dir.join("snapshots")).unwrap();
    (LogStore::new(store.db, store.watermark, super::Faults::new()), sm)
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().map_err(|e| openraft::StorageIOError::write(&e))?;
        let (log, sm) = open(dir.path());
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    Suite::test_all(Builder).unwrap();
}

fn new_report(i: usize, grid: &str) -> Command {
    Command::Report(NewCase {
        request_id: Some(format!("req-{i}")),
        grid: Some(Code::parse("grid", grid).unwrap()),
        category: "0101".into(),
        source: Source::Patrol,
        title: format!("暴露垃圾 {i}"),
        description: String::new(),
        location: None,
        reporter: "网格员".into(),
        priority: Priority::Normal,
        by: String::new(),
        intake: Default::default(),
        within: None,
    })
}

fn report_at(i: usize, lat: f64, lon: f64) -> Command {
    let Command::Report(mut new) = new_report(i, "370102001001001") else { unreachable!() };
    new.grid = None;
    new.location =
        Some(federation::case::Location { lat: Some(lat), lon: Some(lon), address: String::new() });
    Command::Report(new)
}

fn import_fixture() -> Command {
    let text = include_str!("../../../federation/tests/data/lixia_grids.geojson");
    let map = federation::geo::GridMap::import(text, &Default::default()).unwrap().to_stored();
    Command::GridsImport(federation::machine::GridsImport { map, by: String::new() })
}

#[tokio::test(flavor = "multi_thread")]
async fn boundaries_locate_in_the_same_batch_after_it_and_after_a_snapshot_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm) = open(dir.path());
    let reader = sm.reader(super::Faults::new());
    assert!(reader.grid_map().unwrap().is_none());
    // A report by point in the same entry as the import is located on it.
    let resp =
        sm.apply(vec![entry(1, vec![import_fixture(), report_at(1, 36.6668, 117.0521)])]).await.unwrap();
    let Outcome::Reported { case, .. } = &resp[0].outcomes[1] else { panic!("{:?}", resp[0].outcomes) };
    assert_eq!(
        (case.grid.as_str(), case.intake.micro.as_ref().map(|m| m.to_string())),
        ("370102001001001", Some("370102001001001-03".into()))
    );
    let (version, map) = reader.grid_map().unwrap().unwrap();
    assert_eq!((version.index, map.len()), (1, 10));
    let resp = sm.apply(vec![entry(2, vec![report_at(2, 36.70, 117.10)])]).await.unwrap();
    assert!(
        matches!(&resp[0].outcomes[0], Outcome::Refused(r) if r.to_string().contains("(36.7, 117.1)")),
        "{:?}",
        resp[0].outcomes
    );

    // A replica installing a snapshot indexes the boundaries it brings.
    let snap = sm.get_snapshot_builder().await.build_snapshot().await.unwrap();
    let other = tempfile::tempdir().unwrap();
    let (_l2, mut sm2) = open(other.path());
    let r2 = sm2.reader(super::Faults::new());
    assert!(r2.grid_map().unwrap().is_none());
    sm2.install_snapshot(&snap.meta, snap.snapshot).await.unwrap();
    assert_eq!(r2.grid_map().unwrap().map(|(v, _)| v), Some(version));
}

fn entry(index: u64, commands: Vec<Command>) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Request { at: 1_795_400_000_000, commands }),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_apply_and_a_snapshot_restores_them_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, mut sm) = open(dir.path());
    let grids = ["370102001001001", "370102001001002"];
    // One entry carrying a batch; the duplicate request id in the same batch is seen by the later command.
    let cmds: Vec<Command> =
        (0..10).map(|i| new_report(i, grids[i % 2])).chain([new_report(3, grids[1])]).collect();
    let resp = sm.apply(vec![entry(1, cmds)]).await.unwrap();
    assert_eq!(resp[0].outcomes.len(), 11);
    assert!(matches!(resp[0].outcomes[10], Outcome::Reported { duplicate: true, .. }));
    let reader = sm.reader(super::Faults::new());
    let report = reader.stats(0, i64::MAX / 2, 0).unwrap();
    assert_eq!(report.counters.total, 10);
    assert_eq!(report.counters.by_grid.get(grids[0]), Some(&5));
    let (page, more) = reader.list(&ListFilter::default(), "", 4).unwrap();
    assert!(more);
    assert_eq!(page.len(), 4);
    let (rest, more) = reader.list(&ListFilter::default(), &page[3].id, 100).unwrap();
    assert!(!more);
    assert_eq!(rest.len(), 6);

    let mut builder = sm.get_snapshot_builder().await;
    let snap = builder.build_snapshot().await.unwrap();
    let other = tempfile::tempdir().unwrap();
    let (_l2, mut sm2) = open(other.path());
    sm2.apply(vec![entry(1, vec![new_report(99, grids[0])])]).await.unwrap();
    sm2.install_snapshot(&snap.meta, snap.snapshot).await.unwrap();
    let (applied, _) = sm2.applied_state().await.unwrap();
    assert_eq!(applied.map(|l| l.index), Some(1));
    let r2 = sm2.reader(super::Faults::new());
    assert_eq!(r2.stats(0, i64::MAX / 2, 0).unwrap(), report);
    assert!(r2.case(&page[0].id).unwrap().is_some());
    assert_eq!(r2.list(&ListFilter::default(), "", 100).unwrap().0.len(), 10);
    // The stale case applied before the install is gone.
    assert!(sm2.get_current_snapshot().await.unwrap().is_some());
}
