//! Shell completions and man pages, generated from the command line's own definition so
//! that they never drift from it (`dlpgate completions bash`, `dlpgate man --out DIR`). The
//! definition is handed in by `cli`, which this module sits below.

use std::path::PathBuf;

use anyhow::Context;

/// `dlpgate completions SHELL`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for; the script goes to standard output (for bash, save it as
    /// `/usr/share/bash-completion/completions/dlpgate`).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `dlpgate man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Directory to write `dlpgate.1` and one page per subcommand (`dlpgate-serve.1`,
    /// `dlpgate-cert-issue.1`, ...) to; made when missing.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

/// Writes the completion script of `cmd` (the whole command line) to standard output.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<()> {
    clap_complete::generate(args.shell, &mut cmd, "dlpgate", &mut std::io::stdout());
    Ok(())
}

/// Writes the man pages of `cmd` (the whole command line), and lists them on standard output.
pub fn man(args: ManArgs, cmd: clap::Command) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot make {}", args.out.display()))?;
    let before = pages(&args.out)?;
    clap_mangen::generate_to(cmd, &args.out)
        .with_context(|| format!("cannot write the man pages in {}", args.out.display()))?;
    let written = pages(&args.out)?;
    println!("{} man pages in {} ({} new)", written.len(), args.out.display(), written.len() - before.len());
    Ok(())
}

/// The `dlpgate*.1` files in `dir`.
fn pages(dir: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("dlpgate") && name.ends_with(".1") {
            out.push(path);
        }
    }
    Ok(out)
}
