//! What the README tells a newcomer to run must work: every `gridnode` command in its shell blocks names
//! real subcommands and flags, and every script it names installs what it needs before it builds.

mod common;

use std::path::Path;

use common::cli;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The lines of the README's ```sh blocks, continuation lines joined.
fn shell_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let l = line.split(" #").next().unwrap_or("").trim_end();
        if let Some(head) = l.strip_suffix('\\') {
            pending += head;
            pending += " ";
            continue;
        }
        pending += l;
        out.push(std::mem::take(&mut pending).trim().to_string());
    }
    out
}

#[test]
fn every_gridnode_command_in_the_readme_names_real_subcommands_and_flags() {
    let lines: Vec<String> =
        shell_lines(&readme()).into_iter().filter(|l| l.starts_with("gridnode ")).collect();
    assert!(lines.len() > 20, "only {} gridnode commands found", lines.len());
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        // The subcommand path: the leading words that are not flags, values or placeholders.
        let path: Vec<&str> = words
            .iter()
            .take_while(|w| {
                w.starts_with(|c: char| c.is_ascii_lowercase())
                    && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
            .copied()
            .collect();
        let mut args = path.clone();
        args.push("--help");
        let out = cli(&args);
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`gridnode {}` from the README is not a command: {}",
            path.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let flag = flag.split('=').next().unwrap_or(flag);
            assert!(help.contains(flag), "README: `{line}`: `gridnode {}` has no {flag}", path.join(" "));
        }
    }
}

/// Whether a shell line runs cargo: the word `cargo` as a command (at the start, or after `;`, `&&`,
/// `||`, `|`, `!`, `(` or `$(`), not in a message.
fn runs_cargo(line: &str) -> bool {
    line.match_indices("cargo ").any(|(i, _)| {
        let before = line[..i].trim_end();
        before.is_empty() || before.ends_with([';', '&', '|', '!', '('])
    })
}

#[test]
fn every_script_the_readme_names_installs_what_it_needs_before_it_builds() {
    let text = readme();
    let mut scripts: Vec<&str> = text
        .match_indices("bash scripts/")
        .map(|(i, _)| {
            let rest = &text[i + "bash ".len()..];
            rest.split(|c: char| c.is_whitespace() || c == '`' || c == ')').next().unwrap_or(rest)
        })
        .collect();
    scripts.sort();
    scripts.dedup();
    assert!(scripts.contains(&"scripts/bootstrap") && scripts.len() >= 4, "{scripts:?}");
    for s in scripts {
        let path = root().join(s);
        let body = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("README names {s}: {e}"));
        let syntax = std::process::Command::new("bash").arg("-n").arg(&path).status().expect("bash");
        assert!(syntax.success(), "{s} has a syntax error");
        assert!(body.contains("set -euo pipefail"), "{s} does not stop at the first error");
        // The first line that builds or runs cargo comes after the line that installs the build's
        // system packages.
        let lines: Vec<&str> = body.lines().map(str::trim).filter(|l| !l.starts_with('#')).collect();
        let first_cargo = lines.iter().position(|l| runs_cargo(l));
        let bootstrap =
            lines.iter().position(|l| l.contains("scripts/bootstrap") || l.contains("apt-get install"));
        if let Some(c) = first_cargo {
            assert!(
                bootstrap.is_some_and(|b| b <= c),
                "{s} runs cargo before installing what the build needs"
            );
        }
    }
}
