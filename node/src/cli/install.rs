//! Hidden commands for packaging (`scripts/package`): shell completions and man pages generated from
//! the CLI definition itself, so they always match the binary they ship with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// `gridnode completions SHELL`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// `gridnode man --out DIR`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write gridnode.1 and one page per subcommand (gridnode-case-report.1, ...) into.
    #[arg(long)]
    out: PathBuf,
}

/// Prints the completion script for a shell to stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "gridnode", &mut buf);
    let text = String::from_utf8(buf).context("the completion script is not UTF-8")?;
    say_raw!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Writes the man pages (section 1) of `gridnode` and of every visible subcommand into a directory.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.out)
        .with_context(|| format!("cannot write man pages into {}", args.out.display()))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_a_completion_script_naming_the_subcommands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gridnode", &mut buf);
            let text = String::from_utf8_lossy(&buf);
            for sub in ["serve", "case", "cluster", "topology", "certs"] {
                assert!(text.contains(sub), "{shell}: no {sub}");
            }
        }
    }

    #[test]
    fn man_pages_for_the_command_and_its_visible_subcommands() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        man(ManArgs { out: dir.path().to_path_buf() })?;
        let main = std::fs::read_to_string(dir.path().join("gridnode.1"))?;
        assert!(main.contains(".TH gridnode 1"), "{}", &main[..main.len().min(300)]);
        assert!(main.contains(crate::version::COMMIT));
        assert!(dir.path().join("gridnode-case-report.1").exists());
        // The packaging helpers stay out of the manual.
        assert!(!dir.path().join("gridnode-completions.1").exists());
        assert!(!dir.path().join("gridnode-man.1").exists());
        Ok(())
    }
}
