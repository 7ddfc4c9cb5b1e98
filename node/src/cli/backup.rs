//! `gridnode backup` and `gridnode restore` (see `crate::backup`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use proto::v1::{backup_chunk::Part, BackupRequest};
use serde_json::json;

use super::progress::{Progress, Unit};
use super::NodeArgs;
use crate::backup::file::BackupWriter;
use crate::backup::restore::{restore as restore_replica, RestoreOptions};
use crate::backup::{file, Manifest, LAYOUT};
use crate::client::with_deadline;

/// Longest silence of the stream before the backup is given up.
const IDLE: Duration = Duration::from_secs(120);

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// The backup file to write (atomically: nothing is at FILE until the backup is complete).
    #[arg(long, required_unless_present = "out_dir", conflicts_with = "out_dir")]
    out: Option<PathBuf>,
    /// Write DIR/<node>-<YYYYmmdd-HHMMSS>.gfbak instead (Beijing time; for scheduled backups).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// With --out-dir: keep only the newest N backups of the node in DIR (older ones are deleted).
    #[arg(long, value_name = "N", requires = "out_dir")]
    keep: Option<usize>,
    /// Read the written file back and verify its checksum.
    #[arg(long)]
    verify: bool,
    /// Give up when the whole backup takes longer than this many minutes.
    #[arg(long, default_value_t = 240)]
    max_minutes: u64,
    /// Print the manifest as JSON instead of a sentence; no progress bar.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file (from `gridnode backup`).
    file: PathBuf,
    /// The config of the replica to rebuild (its node must be the backup's).
    #[arg(long, required_unless_present = "verify_only")]
    config: Option<PathBuf>,
    /// Move an existing store aside (into <data_dir>/replaced-<time>/; nothing is deleted).
    #[arg(long)]
    replace: bool,
    /// The whole node was lost and no replica holds newer data: restore without the REPAIRING marker,
    /// so the restored replicas elect a leader at the backup's index. Restore every replica this way.
    #[arg(long)]
    whole_node: bool,
    /// Only check the file (checksum, layout, format) and print its manifest; change nothing.
    #[arg(long)]
    verify_only: bool,
    #[arg(long)]
    json: bool,
}

fn manifest_of(m: proto::v1::BackupManifest) -> Manifest {
    Manifest {
        layout: LAYOUT.into(),
        node: m.node,
        replica: m.replica,
        applied_index: m.applied_index,
        applied_term: m.applied_term,
        last_log_index: m.last_log_index,
        taken_at_ms: m.taken_at_ms,
        taken_at: super::output::time(m.taken_at_ms),
        storage_format: m.storage_format,
        gridnode_version: m.gridnode_version,
        store_bytes: m.store_bytes,
        payload_bytes: 0,
        sha256: String::new(),
    }
}

fn mib(n: u64) -> String {
    super::progress::human(Unit::Bytes, n)
}

/// The backups of `node` in `dir` (`<node>-<stamp>.gfbak`), oldest first.
fn backups_in(dir: &std::path::Path, node: &str) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = format!("{node}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with(&prefix)
                    && n.ends_with(".gfbak")
                    && n[prefix.len()..n.len() - 6].chars().all(|c| c.is_ascii_digit() || c == '-')
            })
        })
        .collect();
    found.sort();
    Ok(found)
}

/// `YYYYmmdd-HHMMSS` in Beijing time.
fn stamp(ms: i64) -> String {
    super::output::time(ms).replace(['-', ':'], "").replace(' ', "-")
}

pub async fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    let client = a.node.client()?;
    // With --out-dir the file is named once the node's code is known (from the manifest).
    let mut out = a.out.clone();
    if let Some(dir) = &a.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("--out-dir {}: {e}", dir.display()))?;
    }
    let whole = async {
        let mut stream =
            client.cluster(async |mut c, d| c.backup(with_deadline(BackupRequest {}, d)).await).await?;
        let mut next = async || -> anyhow::Result<Option<proto::v1::BackupChunk>> {
            match tokio::time::timeout(IDLE, stream.message()).await {
                Ok(r) => Ok(r?),
                Err(_) => anyhow::bail!("the node sent nothing for {}s", IDLE.as_secs()),
            }
        };
        let manifest = match next().await?.and_then(|c| c.part) {
            Some(Part::Manifest(m)) => manifest_of(m),
            _ => anyhow::bail!("the node's backup stream did not start with a manifest"),
        };
        let path = match (&out, &a.out_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => dir.join(format!("{}-{}.gfbak", manifest.node, stamp(manifest.taken_at_ms))),
            (None, None) => anyhow::bail!("--out: name the backup file"),
        };
        out = Some(path.clone());
        let mut writer = BackupWriter::create(&path)?;
        let mut progress = Progress::new("backup", Unit::Bytes, Some(manifest.store_bytes), a.json);
        loop {
            let chunk = next().await?.ok_or_else(|| anyhow::anyhow!("the backup stream ended early"))?;
            match chunk.part {
                Some(Part::Data(d)) => writer.write(&d)?,
                Some(Part::End(end)) => {
                    progress.set(chunk.done_bytes);
                    let written = writer.bytes();
                    let m = writer.finish(manifest, &end.sha256, end.payload_bytes)?;
                    progress.finish(&format!("{} compressed to {}", mib(m.store_bytes), mib(written)));
                    return Ok(m);
                }
                _ => anyhow::bail!("unexpected message in the backup stream"),
            }
            progress.set(chunk.done_bytes);
        }
    };
    let m = tokio::time::timeout(Duration::from_secs(a.max_minutes.max(1) * 60), whole).await.map_err(
        |_| anyhow::anyhow!("--max-minutes: the backup took longer than {} minutes", a.max_minutes),
    )??;
    let out = out.ok_or_else(|| anyhow::anyhow!("--out: name the backup file"))?;
    if a.verify {
        let read = file::verify(&out)?;
        if read != m {
            anyhow::bail!("{}: the manifest read back differs from the one written", out.display());
        }
    }
    let mut deleted = Vec::new();
    if let (Some(dir), Some(keep)) = (&a.out_dir, a.keep) {
        let all = backups_in(dir, &m.node)?;
        for old in all.iter().take(all.len().saturating_sub(keep.max(1))) {
            std::fs::remove_file(old).map_err(|e| anyhow::anyhow!("{}: {e}", old.display()))?;
            deleted.push(old.display().to_string());
        }
    }
    if a.json {
        say!(
            "{}",
            json!({ "file": out.display().to_string(), "manifest": m, "verified": a.verify, "deleted": deleted })
        );
    } else {
        say!(
            "backup of node {} taken on replica {} at index {} (term {}), {}: {} ({}, sha256 {})",
            m.node,
            m.replica,
            m.applied_index,
            m.applied_term,
            m.taken_at,
            out.display(),
            mib(m.payload_bytes),
            m.sha256
        );
        for d in &deleted {
            say!("deleted the older backup {d} (--keep {})", a.keep.unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    if a.verify_only {
        let m = file::verify(&a.file)?;
        if a.json {
            say!("{}", json!({ "file": a.file.display().to_string(), "manifest": m }));
        } else {
            say!(
                "{}: a good backup of node {} at index {} (term {}), taken {} on replica {} by {}",
                a.file.display(),
                m.node,
                m.applied_index,
                m.applied_term,
                m.taken_at,
                m.replica,
                m.gridnode_version
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(config) = a.config else { anyhow::bail!("--config: name the replica's config") };
    let cfg = crate::config::Config::load(&config)?;
    let opts = RestoreOptions { replace: a.replace, whole_node: a.whole_node };
    let r = restore_replica(&a.file, &cfg, &config, opts, crate::clock::wall_ms() / 1000)?;
    if a.json {
        say!(
            "{}",
            json!({
                "data_dir": r.data_dir.display().to_string(),
                "moved_aside": r.moved_aside.as_ref().map(|p| p.display().to_string()),
                "repairing": r.repairing,
                "last_log_index": r.last_log_index,
                "manifest": r.manifest,
            })
        );
    } else {
        say!(
            "restored replica {} of node {} in {} from the backup at index {} (taken {})",
            cfg.replica_id,
            cfg.node,
            r.data_dir.display(),
            r.manifest.applied_index,
            r.manifest.taken_at
        );
        if let Some(p) = &r.moved_aside {
            say!("the previous store was moved to {}", p.display());
        }
        if r.repairing {
            say!(
                "it rejoins as a repairing replica: start it, and it catches up from the other replicas before it votes"
            );
        } else {
            say!("start every restored replica of the node; they elect a leader at the backup's index");
        }
    }
    Ok(ExitCode::SUCCESS)
}
