//! Progress of long CLI operations (backups, exports): an indicatif bar on a terminal, plain lines on
//! stderr otherwise (a log, a systemd journal), at most one every few seconds and one at the end.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// The unit of what is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Items(&'static str),
}

/// A progress reporter.
pub struct Progress {
    what: String,
    unit: Unit,
    total: Option<u64>,
    done: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
    quiet: bool,
}

/// `n` in `unit`, for people (`12.3 MiB`, `1500 cases`).
pub fn human(unit: Unit, n: u64) -> String {
    match unit {
        Unit::Bytes if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        Unit::Bytes if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        Unit::Bytes => format!("{n} B"),
        Unit::Items(name) => format!("{n} {name}"),
    }
}

impl Progress {
    /// Starts reporting `what`; `total` when known. `quiet` prints nothing (e.g. with `--json`).
    pub fn new(what: &str, unit: Unit, total: Option<u64>, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            let template = match (total, unit) {
                (Some(_), Unit::Bytes) => "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                (Some(_), Unit::Items(_)) => "{msg} [{bar:30}] {pos}/{len} eta {eta}",
                (None, Unit::Bytes) => "{spinner} {msg} {bytes} {bytes_per_sec}",
                (None, Unit::Items(_)) => "{spinner} {msg} {pos}",
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { what: what.into(), unit, total, done: 0, bar, last_line: Instant::now(), quiet }
    }

    /// Sets the amount done.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        if let Some(b) = &self.bar {
            b.set_position(done);
        } else if !self.quiet && self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            eprintln!("{}", self.line());
        }
    }

    /// Adds `n` to the amount done.
    pub fn inc(&mut self, n: u64) {
        self.set(self.done + n);
    }

    fn line(&self) -> String {
        match self.total {
            Some(t) if t > 0 => format!(
                "{}: {} of {} ({:.0}%)",
                self.what,
                human(self.unit, self.done),
                human(self.unit, t),
                self.done as f64 * 100.0 / t as f64
            ),
            _ => format!("{}: {}", self.what, human(self.unit, self.done)),
        }
    }

    /// Ends the report with `message`.
    pub fn finish(self, message: &str) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if !self.quiet {
            eprintln!("{}: {message}", self.what);
        }
    }
}
