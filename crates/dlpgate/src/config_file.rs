//! `dlpgate serve --config FILE`: one TOML file for every setting, with command-line flags
//! overriding it.
//!
//! Keys are the long flag names (`listen`, `data-dir` or `data_dir`, `tls-listen`, ...), so
//! `dlpgate serve --help` documents the file too. The file's settings are placed before the
//! command line's, and a flag given twice keeps its last value: the command line wins.

use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;

/// Expands `--config FILE` of the `serve` subcommand into flags; other arguments pass through.
pub fn expand(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(serve_at) = args.iter().position(|a| a == "serve") else { return Ok(args) };
    let mut config: Option<(usize, usize, OsString)> = None;
    for (i, arg) in args.iter().enumerate().skip(serve_at + 1) {
        let text = arg.to_string_lossy();
        if text == "--config" {
            let file = args.get(i + 1).ok_or("--config needs a file")?.clone();
            config = Some((i, 2, file));
            break;
        }
        if let Some(file) = text.strip_prefix("--config=") {
            config = Some((i, 1, OsString::from(file)));
            break;
        }
    }
    let Some((at, len, file)) = config else { return Ok(args) };
    let flags = flags_from_file(Path::new(&file))?;
    let mut out: Vec<OsString> = args[..=serve_at].to_vec();
    out.extend(flags);
    out.extend(args[serve_at + 1..at].iter().cloned());
    out.extend(args[at + len..].iter().cloned());
    Ok(out)
}

fn flags_from_file(path: &Path) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| format!("{}: {e}", path.display()))?;
    let command = crate::cli::Cli::command();
    let serve = command.find_subcommand("serve").ok_or("no serve command")?;
    let known: Vec<String> = serve.get_arguments().filter_map(|a| a.get_long().map(str::to_string)).collect();
    let mut flags = Vec::new();
    for (key, value) in table {
        let flag = key.replace('_', "-");
        if flag == "config" || !known.contains(&flag) {
            return Err(format!("{}: unknown setting `{key}` (see `dlpgate serve --help`)", path.display()));
        }
        match value {
            toml::Value::Boolean(true) => flags.push(OsString::from(format!("--{flag}"))),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => flags.push(OsString::from(format!("--{flag}={s}"))),
            toml::Value::Integer(n) => flags.push(OsString::from(format!("--{flag}={n}"))),
            // A list repeats the flag (`siem = ["syslog+tcp://a:514", "https://b/hook"]`).
            toml::Value::Array(items) => {
                for item in items {
                    match item {
                        toml::Value::String(s) => flags.push(OsString::from(format!("--{flag}={s}"))),
                        other => {
                            return Err(format!("{}: `{key}` lists strings, not {other}", path.display()))
                        }
                    }
                }
            }
            other => {
                return Err(format!(
                    "{}: `{key}` must be a string, a number, a boolean or a list of strings, not {other}",
                    path.display()
                ))
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_settings_come_first_so_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("dlpgate.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:2000\"\ndata_dir = \"/var/lib/dlpgate\"\nallow-any-client = true\nmax-connections = 50\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let args: Vec<OsString> =
            ["dlpgate", "serve", "--config", file.to_str().unwrap_or_default(), "--listen", "127.0.0.1:3000"]
                .iter()
                .map(OsString::from)
                .collect();
        let out: Vec<String> =
            expand(args).unwrap_or_default().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(out[..2], ["dlpgate", "serve"]);
        assert!(out.contains(&"--listen=127.0.0.1:2000".to_string()));
        assert!(out.contains(&"--data-dir=/var/lib/dlpgate".to_string()));
        assert!(out.contains(&"--allow-any-client".to_string()));
        assert_eq!(out[out.len() - 2..], ["--listen", "127.0.0.1:3000"], "the command line comes last");

        std::fs::write(&file, "lisen = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
        let args = ["dlpgate", "serve", "--config", file.to_str().unwrap_or_default()]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(expand(args).unwrap_err().contains("unknown setting `lisen`"));
    }

    #[test]
    fn a_list_repeats_its_flag_in_order() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("dlpgate.toml");
        std::fs::write(
            &file,
            "siem = [\"syslog+tcp://a:514\", \"https://b/hook\"]\nsiem-format = [\"cef\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let args = ["dlpgate", "serve", "--config", file.to_str().unwrap_or_default()]
            .iter()
            .map(OsString::from)
            .collect();
        let out: Vec<String> =
            expand(args).unwrap_or_default().iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(out[2..], ["--siem=syslog+tcp://a:514", "--siem=https://b/hook", "--siem-format=cef"]);
        std::fs::write(&file, "siem = [1]\n").unwrap_or_else(|e| panic!("{e}"));
        let args = ["dlpgate", "serve", "--config", file.to_str().unwrap_or_default()]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(expand(args).unwrap_err().contains("lists strings"));
    }
}
