//! The `gridnode` command line: `serve`, `case`, `stats`, `cluster` and `topology`.

/// Prints a line to stdout; a closed pipe (`| head`) ends the program quietly instead of panicking.
macro_rules! say {
    ($($t:tt)*) => { $crate::cli::output::emit(&format!("{}\n", format_args!($($t)*))) };
}

/// Like `say!` without the newline.
macro_rules! say_raw {
    ($($t:tt)*) => { $crate::cli::output::emit(&format!($($t)*)) };
}

mod access;
mod backup;
mod bulletin;
mod case;
mod certs;
mod cluster;
mod export;
mod grids;
mod install;
mod links;
pub(crate) mod output;
mod patrol;
pub mod profile;
pub(crate) mod progress;
mod sheet;
mod staff;
mod topology;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::client::Client;

/// gridfed node: grid-management cases (网格化管理), replicated with Raft on RocksDB.
#[derive(Parser, Debug)]
#[command(name = "gridnode", version = crate::version::long(), about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where to reach a node, and for how long to try. Each of these may also come from the operator's
/// profile (see `profile`); a flag or `GRIDNODE_*` variable wins over it.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    /// Address of any replica of the node (ip:port), or several, comma-separated.
    #[arg(long, env = "GRIDNODE_NODE")]
    node: Option<String>,
    /// Give up after this many seconds (replicas are retried while a leader is elected) [default: 15].
    #[arg(long)]
    timeout: Option<u64>,
    /// The district CA's certificate, to verify the node (mutual TLS; with --cert and --key).
    #[arg(long, env = "GRIDNODE_CA")]
    ca: Option<PathBuf>,
    /// Your certificate (from `gridnode certs issue --role operator`).
    #[arg(long, env = "GRIDNODE_CERT")]
    cert: Option<PathBuf>,
    /// Your private key.
    #[arg(long, env = "GRIDNODE_KEY")]
    key: Option<PathBuf>,
    /// Talk plaintext to a node started with `serve --insecure` (local experiments only).
    #[arg(long, env = "GRIDNODE_INSECURE")]
    insecure: bool,
    /// A profile file with defaults for the options above [default: ~/.config/gridnode/profile.toml,
    /// when it exists].
    #[arg(long, env = "GRIDNODE_PROFILE")]
    profile: Option<PathBuf>,
}

impl NodeArgs {
    fn client(&self) -> anyhow::Result<Client> {
        let profile = profile::Profile::load(self.profile.as_deref())?;
        let node = self.node.clone().or(profile.node).ok_or_else(|| {
            anyhow::anyhow!(
                "--node: give the node's replica addresses (or GRIDNODE_NODE, or node in a profile)"
            )
        })?;
        let timeout = self.timeout.or(profile.timeout).unwrap_or(15).max(1);
        // Explicit TLS files (flags or environment) are taken as a set; the profile's only when none
        // is given explicitly and plaintext was not asked for.
        let explicit = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        let (ca, cert, key, prefix) = if explicit || self.insecure {
            (self.ca.clone(), self.cert.clone(), self.key.clone(), "--")
        } else {
            (profile.ca, profile.cert, profile.key, "profile.")
        };
        let tls = match (ca, cert, key) {
            (None, None, None) if self.insecure => None,
            (None, None, None) => anyhow::bail!(
                "no TLS: give --ca, --cert and --key (or GRIDNODE_CA, GRIDNODE_CERT, GRIDNODE_KEY, or a \
                 profile), or --insecure to talk plaintext to a node run with `serve --insecure`"
            ),
            (Some(ca), Some(cert), Some(key)) => {
                let files = crate::tls::TlsFiles { ca, cert, key };
                Some(files.load(prefix)?)
            }
            _ => anyhow::bail!("--ca, --cert and --key go together: give all three for mutual TLS, or none"),
        };
        Ok(Client::new(&node, Duration::from_secs(timeout), tls.as_ref())?)
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a realistic federation (one district, three streets, their communities) in this process on
    /// loopback, with seeded cases and ongoing activity; prints the district's rollup every few seconds.
    Demo(crate::demo::DemoArgs),
    /// Run one replica from its config file (written by `gridnode topology render`).
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Allow running without TLS when the config has no [tls] section (local experiments only).
        #[arg(long)]
        insecure: bool,
        /// Log lines as text, or as JSON objects (one a line) for log collectors. RUST_LOG filters.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Fault injection for tests: run this replica's clock this many milliseconds ahead (negative:
        /// behind) of the machine's. Never in production.
        #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
        clock_offset_ms: i64,
        /// Fault injection for tests: read the clock offset (milliseconds) from this file every half
        /// second, so a test can step a running replica's clock. Never in production.
        #[arg(long, hide = true)]
        clock_offset_file: Option<PathBuf>,
        /// Test switch for rolling upgrades: announce and behave as this protocol version (1: the
        /// gridnode from before protocol versions). Never in production.
        #[arg(long, hide = true, env = "GRIDNODE_PROTOCOL_VERSION")]
        protocol_version: Option<u32>,
    },
    /// Report, show, list and act on cases.
    #[command(subcommand)]
    Case(case::CaseCmd),
    /// The standard figures of a node's own cases.
    Stats(case::StatsArgs),
    /// Raft group status and membership.
    #[command(subcommand)]
    Cluster(cluster::ClusterCmd),
    /// Check a district topology file and render replica configs from it.
    #[command(subcommand)]
    Topology(topology::TopologyCmd),
    /// The node's links to its parent and children.
    #[command(subcommand)]
    Federation(links::FederationCmd),
    /// Access tokens of the node's console, for wall screens and browsers without a certificate.
    #[command(subcommand)]
    Access(access::AccessCmd),
    /// Grid boundaries: import a GeoJSON file, list them, locate a point.
    #[command(subcommand)]
    Grids(grids::GridsCmd),
    /// The roster of grid workers (网格员名册): add, assign places, deactivate, import and export sheets.
    #[command(subcommand)]
    Staff(staff::StaffCmd),
    /// The patrol log (日巡查): start and end patrols, list them, figures per grid.
    #[command(subcommand)]
    Patrol(patrol::PatrolCmd),
    /// Functional departments cases can be dispatched to (吹哨).
    #[command(subcommand)]
    Department(links::DepartmentCmd),
    /// The district's certificate authority and the certificates of replicas and operators.
    #[command(subcommand)]
    Certs(certs::CertsCmd),
    /// Back up a node: a consistent copy of one replica's store, streamed to FILE.
    Backup(backup::BackupArgs),
    /// Rebuild a replica's store from a backup file (the replica stopped).
    Restore(backup::RestoreArgs),
    /// Export cases or figures to CSV, XLSX or JSON (the monthly report).
    #[command(subcommand)]
    Export(export::ExportCmd),
    /// The weekly or monthly bulletin (周通报, 月汇总): streets and communities ranked on their figures.
    Bulletin(bulletin::BulletinArgs),
    /// Print the completion script for a shell (used by scripts/package).
    #[command(hide = true)]
    Completions(install::CompletionsArgs),
    /// Write the man pages into a directory (used by scripts/package).
    #[command(hide = true)]
    Man(install::ManArgs),
}

/// How `serve` writes its log.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object a line, with the current span's fields (node, replica, case, peer).
    Json,
}

fn init_json_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    // Colours only on a terminal: a log file or the journal gets plain text.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            config,
            insecure,
            log_format,
            clock_offset_ms,
            clock_offset_file,
            protocol_version,
        } => {
            match log_format {
                LogFormat::Text => init_tracing("info,openraft=warn"),
                LogFormat::Json => init_json_tracing("info,openraft=warn"),
            }
            if let Some(v) = protocol_version {
                crate::protocol::announce(v);
            }
            let cfg = crate::config::Config::load(&config)?;
            if cfg.tls.is_none() && !insecure {
                anyhow::bail!(
                    "{}: no [tls] section. Render configs with `gridnode topology render --ca DIR`, \
                     or pass --insecure to run plaintext for a local experiment",
                    config.display()
                );
            }
            let clock = crate::clock::Clock::with_offset(clock_offset_ms);
            if let Some(file) = clock_offset_file {
                tokio::spawn(crate::clock::follow_offset_file(clock.clone(), file));
            }
            crate::replica::serve_forever(cfg, clock).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            // Replicas stopping together make openraft report broken connections; that is expected here.
            init_tracing("warn,openraft=off");
            crate::demo::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Case(cmd) => {
            init_tracing("warn");
            case::run(cmd).await
        }
        Command::Stats(args) => {
            init_tracing("warn");
            case::stats(args).await
        }
        Command::Cluster(cmd) => {
            init_tracing("warn");
            cluster::run(cmd).await
        }
        Command::Topology(cmd) => topology::run(cmd),
        Command::Certs(cmd) => certs::run(cmd),
        Command::Completions(args) => install::completions(args),
        Command::Man(args) => install::man(args),
        Command::Federation(cmd) => {
            init_tracing("warn");
            links::run(cmd).await
        }
        Command::Department(cmd) => {
            init_tracing("warn");
            links::department(cmd).await
        }
        Command::Backup(args) => {
            init_tracing("warn");
            backup::backup(args).await
        }
        Command::Restore(args) => {
            init_tracing("warn");
            backup::restore(args)
        }
        Command::Export(cmd) => {
            init_tracing("warn");
            export::run(cmd).await
        }
        Command::Access(cmd) => {
            init_tracing("warn");
            access::run(cmd).await
        }
        Command::Bulletin(args) => {
            init_tracing("warn");
            bulletin::run(args).await
        }
        Command::Grids(cmd) => {
            init_tracing("warn");
            grids::run(cmd).await
        }
        Command::Staff(cmd) => {
            init_tracing("warn");
            staff::run(cmd).await
        }
        Command::Patrol(cmd) => {
            init_tracing("warn");
            patrol::run(cmd).await
        }
    }
}

/// The `gridnode` entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
