//! deploy/README.md, run: every block marked `sh tested`, in order, as one bash script on loopback,
//! with the substitutions and stand-ins the page describes in "How this page is tested".

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, BIN};

/// The blocks marked `sh tested`, in order.
fn tested_blocks(md: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in md.lines() {
        match &mut current {
            None if line.trim() == "```sh tested" => current = Some(String::new()),
            Some(block) if line.trim() == "```" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "an unterminated tested block");
    blocks
}

/// Every `10.10.x.y:port` in `text`.
fn addresses(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("10.10.") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':')).unwrap_or(tail.len());
        let cand = tail[..end].trim_end_matches([':', '.']);
        let ok = cand.split_once(':').is_some_and(|(ip, port)| {
            ip.split('.').count() == 4 && !port.is_empty() && port.chars().all(|c| c.is_ascii_digit())
        });
        if ok && !found.iter().any(|f| f == cand) {
            found.push(cand.to_string());
        }
        rest = &rest[i + 6..];
    }
    found
}

fn shim(bin: &Path, name: &str, body: &str) {
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/bash\n{body}")).expect("write shim");
    Command::new("chmod").args(["+x", path.to_str().unwrap()]).status().expect("chmod");
}

/// Stops every replica the `systemctl` stand-in started.
struct Replicas(PathBuf);

impl Drop for Replicas {
    fn drop(&mut self) {
        let Ok(dir) = std::fs::read_dir(&self.0) else { return };
        for e in dir.flatten() {
            if let Ok(pid) = std::fs::read_to_string(e.path()) {
                let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            }
        }
    }
}

#[test]
fn the_deployment_walkthrough_runs_as_written() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root");
    let md = std::fs::read_to_string(repo.join("deploy/README.md")).expect("deploy/README.md");
    let blocks = tested_blocks(&md);
    assert!(blocks.len() >= 15, "only {} tested blocks", blocks.len());
    let mut script = blocks.join("\n");

    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let (etc, lib, backups, home, bin, run, logs) = (
        root.join("etc/gridnode"),
        root.join("var/lib/gridnode"),
        root.join("var/backups/gridnode"),
        root.join("home"),
        root.join("bin"),
        root.join("run"),
        root.join("logs"),
    );
    for d in [&etc, &lib, &backups, &home, &bin, &run, &logs] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let _replicas = Replicas(run.clone());

    // Machines become loopback ports; the system's folders become folders of the temp directory.
    let mut map = BTreeMap::new();
    for a in addresses(&script) {
        map.insert(a, format!("127.0.0.1:{}", free_port()));
    }
    assert!(map.len() >= 9, "{map:?}");
    for (from, to) in &map {
        script = script.replace(from.as_str(), to);
    }
    for (from, to) in
        [("/etc/gridnode", &etc), ("/var/lib/gridnode", &lib), ("/var/backups/gridnode", &backups)]
    {
        script = script.replace(from, to.to_str().unwrap());
    }

    // The stand-ins.
    shim(&bin, "gridnode", &format!("exec {BIN} \"$@\"\n"));
    shim(&bin, "sudo", "exec \"$@\"\n");
    shim(&bin, "dpkg", "echo \"(walk-through: not installing $*; tests/deb/check installs the package)\"\n");
    shim(&bin, "chown", "echo \"(walk-through: no gridnode user here: chown $* skipped)\"\n");
    shim(&bin, "ssh", "shift; exec bash -c \"$*\"\n");
    shim(
        &bin,
        "scp",
        r#"set -eu
args=("$@"); dest=${args[-1]}; dest=${dest#*:}; unset 'args[-1]'
case "$dest" in */) mkdir -p "$dest" ;; esac
for src in "${args[@]}"; do
  target=$dest; [ -d "$dest" ] && target=$dest/$(basename "$src")
  [ "$(realpath -m "$src")" = "$(realpath -m "$target")" ] || cp -p "$src" "$target"
done
"#,
    );
    let unit = repo.join("deploy/systemd/gridnode-backup@.service");
    shim(
        &bin,
        "systemctl",
        &format!(
            r#"set -eu
action=$1; shift
if [ "$action" = enable ] && [ "${{1:-}}" = --now ]; then action=start; shift; fi
unit=$1
case "$unit" in
  gridnode-backup@*.timer) echo "(walk-through: $unit is not scheduled)"; exit 0 ;;
  gridnode-backup@*)
    node=${{unit#gridnode-backup@}}; node=${{node%.service}}
    [ "$action" = start ] || exit 0
    line=$(sed -n 's/^ExecStart=//p' {unit})
    line=${{line//%i/$node}}; line=${{line//'${{KEEP}}'/14}}; line=${{line//\/usr\/bin\/gridnode/gridnode}}
    line=${{line//\/etc\/gridnode/{etc}}}; line=${{line//\/var\/backups\/gridnode/{backups}}}
    echo "(walk-through: $line)"
    eval "$line"; exit ;;
  gridnode@*) inst=${{unit#gridnode@}}; inst=${{inst%.service}} ;;
  *) echo "systemctl stand-in: unknown unit $unit" >&2; exit 1 ;;
esac
pidfile={run}/$inst.pid
start() {{ gridnode serve --config {etc}/$inst.toml >>{logs}/$inst.log 2>&1 & echo $! >"$pidfile"; }}
stop() {{
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile"); kill -TERM "$pid" 2>/dev/null || true
  while [ -e /proc/$pid ] && ! grep -q ') Z ' /proc/$pid/stat 2>/dev/null; do sleep 0.1; done
  rm -f "$pidfile"
}}
case "$action" in
  start) start ;; stop) stop ;; restart) stop; start ;;
  *) echo "systemctl stand-in: $action not supported" >&2; exit 1 ;;
esac
"#,
            unit = unit.display(),
            etc = etc.display(),
            backups = backups.display(),
            run = run.display(),
            logs = logs.display(),
        ),
    );

    let path = root.join("walkthrough.sh");
    std::fs::write(&path, format!("set -euxo pipefail\n{script}")).expect("write script");
    let out_path = root.join("walkthrough.out");
    let out = std::fs::File::create(&out_path).expect("output file");
    let mut child = Command::new("bash")
        .arg(&path)
        .current_dir(&home)
        .env("HOME", &home)
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("RUST_LOG", "warn")
        .env_remove("GRIDNODE_INSECURE")
        .env_remove("GRIDNODE_PROFILE")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone"))
        .stderr(out)
        .spawn()
        .expect("bash");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    let mut logs_text = String::new();
    for e in std::fs::read_dir(&logs).expect("logs").flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        logs_text += &format!(
            "--- {}\n{}\n",
            e.path().display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "the walk-through failed ({status:?}) after {:?}:\n{output}\n{logs_text}",
        start.elapsed()
    );
    // What the page promised: every replica up, the fourth street replica a voter, backups on disk.
    assert!(output.contains("leader "), "{output}");
    assert!(std::fs::read_dir(backups.join("370102001")).expect("scheduled backups").count() >= 1);
    assert!(!lib.join("370102001/r2/REPAIRING").exists());
    assert!(lib.join("370102001002/r1").read_dir().expect("data").any(|e| e
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .starts_with("replaced-")));
}
