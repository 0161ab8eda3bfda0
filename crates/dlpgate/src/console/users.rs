//! `dlpgate console user add|list|remove`: accounts from the command line (the first admin
//! has to come from somewhere), each change in the audit log.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};

use super::auth::{hash_password, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use super::db::ConsoleDb;
use super::UserCommand;

/// The audit log's actor for command-line changes.
const CLI_ACTOR: &str = "(command line)";

/// Runs a `console user` command.
pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(cmd))
}

async fn run_async(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add { name, role, password_file, store } => {
            check_name(&name)?;
            let password = read_password(password_file.as_deref())?;
            check_password(&password)?;
            let db = ConsoleDb::open(&store.data_dir, store.store.as_deref()).await?;
            let hash = hash_password(&password)?;
            let added = db.add_user(&name, role, &hash, CLI_ACTOR).await?;
            if !added {
                bail!("the account {name:?} exists already (remove it first to change it)");
            }
            println!("added {name} ({})", role.as_str());
        }
        UserCommand::List { store } => {
            let db = ConsoleDb::open(&store.data_dir, store.store.as_deref()).await?;
            for user in db.users().await? {
                println!("{}\t{}", user.name, user.role.as_str());
            }
        }
        UserCommand::Remove { name, store } => {
            let db = ConsoleDb::open(&store.data_dir, store.store.as_deref()).await?;
            let removed = db.remove_user(&name, CLI_ACTOR).await?;
            if !removed {
                bail!("no account {name:?}");
            }
            println!("removed {name}");
        }
    }
    Ok(())
}

/// Names are shown everywhere and logged: a small safe alphabet.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !ok {
        bail!("account names are 1 to 64 letters, digits, '.', '_', '-' or '@': {name:?} is not");
    }
    Ok(())
}

/// A password must be long enough, and short enough for the login form.
pub fn check_password(password: &str) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
    }
    if password.len() > MAX_PASSWORD_BYTES {
        bail!("the password must have at most {MAX_PASSWORD_BYTES} bytes");
    }
    Ok(())
}

/// The first line of the file, or of stdin; the line end is not part of it.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    let mut line = String::new();
    match file {
        Some(path) => {
            let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            std::io::BufReader::new(file)
                .take_line(&mut line)
                .with_context(|| format!("reading {}", path.display()))?;
        }
        None => {
            std::io::stdin().lock().take_line(&mut line).context("reading the password from stdin")?;
        }
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_string())
}

/// Reads one line, at most a little over [`MAX_PASSWORD_BYTES`] (a huge file is not read whole).
trait TakeLine {
    fn take_line(self, line: &mut String) -> std::io::Result<usize>;
}

impl<R: BufRead> TakeLine for R {
    fn take_line(self, line: &mut String) -> std::io::Result<usize> {
        let limit = u64::try_from(MAX_PASSWORD_BYTES + 2).unwrap_or(u64::MAX);
        self.take(limit).read_line(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_passwords_are_checked() {
        assert!(check_name("ann.lee@corp").is_ok());
        for bad in ["", "<script>", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("long enough pass").is_ok());
        assert!(check_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
