//! `dlpgate incidents`: list, show and export what the DLP server recorded.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};

use crate::store::{format_time, journal, open_existing, Incident, IncidentFilter};

/// `dlpgate incidents` and its store options.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: IncidentsCommand,
}

/// Where the incidents are.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The data directory of `dlpgate serve` (SQLite store).
    #[arg(long, default_value = "./dlpgate-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL store URL, as given to `dlpgate serve --store`.
    #[arg(long)]
    pub store: Option<String>,
}

/// Which incidents.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only since: `30m`, `24h`, `7d`, or an RFC 3339 time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only with this rule.
    #[arg(long)]
    pub rule: Option<String>,
    /// Only with this action (block, monitor).
    #[arg(long)]
    pub action: Option<String>,
    /// Only from this client address.
    #[arg(long)]
    pub client: Option<String>,
    /// Only from this user.
    #[arg(long)]
    pub user: Option<String>,
    /// At most this many, newest first (all by default).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines: one incident object per line.
    Json,
    /// CSV with a header row.
    Csv,
    /// ArcSight CEF, one line per incident.
    Cef,
    /// RFC 5424 syslog messages with the incident as structured data, one per line.
    Rfc5424,
    /// JSON Lines with Elastic Common Schema field names.
    Ecs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// One line per incident.
    List {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Every field of one incident (evidence masked, as stored).
    Show {
        /// The incident id.
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Export to stdout.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
}

/// Runs an `incidents` subcommand. Incidents still in the journal (the store was down or too
/// slow when they happened; `dlpgate serve` moves them into the store) are shown too, and
/// `list` says how many there are.
pub fn run(args: IncidentsArgs) -> anyhow::Result<()> {
    match args.command {
        IncidentsCommand::List { store, filter } => {
            let journalled = read_journal(&store);
            let incidents = list(&store, &to_filter(&filter)?, &journalled)?;
            for i in incidents {
                println!(
                    "{}  {}  {:7}  {}  {}  {}",
                    i.id,
                    format_time(i.time),
                    i.action,
                    if i.rules.is_empty() { "-".to_string() } else { i.rules.join(",") },
                    i.user.as_deref().or(i.client_addr.as_deref()).unwrap_or("-"),
                    i.file_name.as_deref().or(i.url.as_deref()).unwrap_or("-"),
                );
            }
            if !journalled.is_empty() {
                eprintln!(
                    "note: {} incident(s) are in the journal in {}, waiting for the store; \
                     `dlpgate serve` moves them into it once the store answers (listed above)",
                    journalled.len(),
                    store.data_dir.display()
                );
            }
            Ok(())
        }
        IncidentsCommand::Show { id, store } => {
            let journalled = read_journal(&store);
            let found = match journalled.iter().find(|i| i.id == id) {
                Some(i) => {
                    println!("status:         journalled (not yet in the store)");
                    i.clone()
                }
                None => {
                    let store = open_existing(&store.data_dir, store.store.as_deref())?;
                    let Some(i) = store.get(&id)? else { bail!("no incident {id}") };
                    i
                }
            };
            show(&found);
            Ok(())
        }
        IncidentsCommand::Export { format, store, filter } => {
            let journalled = read_journal(&store);
            let incidents = list(&store, &to_filter(&filter)?, &journalled)?;
            match format {
                Format::Json => {
                    for i in &incidents {
                        println!("{}", serde_json::to_string(i).context("encoding JSON")?);
                    }
                }
                Format::Csv => export_csv(&incidents),
                Format::Cef => incidents.iter().for_each(|i| println!("{}", crate::siem::cef(i))),
                Format::Rfc5424 => {
                    let host = crate::siem::hostname();
                    incidents.iter().for_each(|i| println!("{}", crate::siem::rfc5424(i, &host)));
                }
                Format::Ecs => {
                    for i in &incidents {
                        println!("{}", serde_json::to_string(&crate::siem::ecs(i)).context("encoding JSON")?);
                    }
                }
            }
            Ok(())
        }
    }
}

/// The journalled incidents in the data directory (none when it has no journal); a journal
/// that cannot be read is reported and skipped.
fn read_journal(store: &StoreArgs) -> Vec<Incident> {
    match journal::read_pending(&store.data_dir) {
        Ok(pending) => pending.incidents,
        Err(e) => {
            eprintln!("warning: {e}");
            Vec::new()
        }
    }
}

/// The store's incidents that pass `filter`, with the journalled ones it does not have yet,
/// newest first.
fn list(
    store: &StoreArgs,
    filter: &IncidentFilter,
    journalled: &[Incident],
) -> anyhow::Result<Vec<Incident>> {
    let mut incidents = match open_existing(&store.data_dir, store.store.as_deref()) {
        Ok(db) => db.list(filter)?,
        Err(e) if journalled.is_empty() => return Err(e.into()),
        Err(e) => {
            eprintln!("warning: {e}; only the journalled incidents are shown");
            Vec::new()
        }
    };
    let known: std::collections::HashSet<String> = incidents.iter().map(|i| i.id.clone()).collect();
    incidents.extend(journalled.iter().filter(|i| !known.contains(&i.id) && filter.matches(i)).cloned());
    incidents.sort_by(|a, b| b.time.cmp(&a.time).then_with(|| b.id.cmp(&a.id)));
    if let Some(limit) = filter.limit {
        incidents.truncate(limit);
    }
    Ok(incidents)
}

fn show(i: &Incident) {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    println!("id:             {}", i.id);
    println!("time:           {}", format_time(i.time));
    println!("action:         {}", i.action);
    println!("service:        {} ({})", i.service, i.method);
    println!("client:         {}", opt(&i.client_addr));
    println!("TLS subject:    {}", opt(&i.tls_subject));
    println!("user:           {}", opt(&i.user));
    println!("groups:         {}", if i.groups.is_empty() { "-".to_string() } else { i.groups.join(", ") });
    if let Some(c) = &i.claimed {
        // Sent by a client not trusted to name the user (--trust-identity-from): not used.
        let mut claims = Vec::new();
        claims.extend(c.user.as_ref().map(|u| format!("user {u}")));
        if !c.groups.is_empty() {
            claims.push(format!("groups {}", c.groups.join(", ")));
        }
        claims.extend(c.client_ip.as_ref().map(|ip| format!("client IP {ip}")));
        println!("claimed:        {} (from an untrusted client: not used)", claims.join("; "));
    }
    println!("URL:            {}", opt(&i.url));
    println!("file name:      {}", opt(&i.file_name));
    println!("content type:   {}", opt(&i.content_type));
    println!("size:           {} bytes", i.size);
    println!("sha256:         {}", i.sha256);
    println!("rules:          {}", if i.rules.is_empty() { "-".to_string() } else { i.rules.join(", ") });
    println!("severity:       {}", opt(&i.severity));
    println!("reason:         {}", opt(&i.reason));
    println!("policy version: {}", i.policy_version);
    let counts: Vec<String> = i.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("counts:         {}", if counts.is_empty() { "-".to_string() } else { counts.join(", ") });
    println!("evidence:");
    for e in &i.evidence {
        println!("  {:16} {:24} {}", e.detector, e.masked, e.location);
    }
}

fn export_csv(incidents: &[Incident]) {
    println!(
        "id,time,action,service,method,client,tls_subject,user,groups,url,file_name,content_type,size,sha256,\
         rules,severity,counts,evidence,policy_version,reason,claimed_user,claimed_groups,claimed_client_ip"
    );
    for i in incidents {
        let counts: Vec<String> = i.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let evidence: Vec<String> =
            i.evidence.iter().map(|e| format!("{} {} @ {}", e.detector, e.masked, e.location)).collect();
        let fields = [
            i.id.clone(),
            format_time(i.time),
            i.action.clone(),
            i.service.clone(),
            i.method.clone(),
            i.client_addr.clone().unwrap_or_default(),
            i.tls_subject.clone().unwrap_or_default(),
            i.user.clone().unwrap_or_default(),
            i.groups.join(";"),
            i.url.clone().unwrap_or_default(),
            i.file_name.clone().unwrap_or_default(),
            i.content_type.clone().unwrap_or_default(),
            i.size.to_string(),
            i.sha256.clone(),
            i.rules.join(";"),
            i.severity.clone().unwrap_or_default(),
            counts.join(";"),
            evidence.join(";"),
            i.policy_version.clone(),
            i.reason.clone().unwrap_or_default(),
            i.claimed.as_ref().and_then(|c| c.user.clone()).unwrap_or_default(),
            i.claimed.as_ref().map(|c| c.groups.join(";")).unwrap_or_default(),
            i.claimed.as_ref().and_then(|c| c.client_ip.clone()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        println!("{}", line.join(","));
    }
}

/// RFC 4180 quoting. A value that a spreadsheet would run as a formula (URLs and file names
/// come from the traffic) gets a leading `'`.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn to_filter(args: &FilterArgs) -> anyhow::Result<IncidentFilter> {
    Ok(IncidentFilter {
        since: args.since.as_deref().map(parse_since).transpose()?,
        rule: args.rule.clone(),
        action: args.action.clone(),
        client: args.client.clone(),
        user: args.user.clone(),
        limit: args.limit,
    })
}

/// `30m`, `24h`, `7d`, `90s`, or an RFC 3339 time.
fn parse_since(s: &str) -> anyhow::Result<SystemTime> {
    let units = [('s', 1u64), ('m', 60), ('h', 3600), ('d', 86_400)];
    for (suffix, secs) in units {
        if let Some(n) = s.strip_suffix(suffix).and_then(|n| n.parse::<u64>().ok()) {
            return Ok(SystemTime::now() - Duration::from_secs(n.saturating_mul(secs)));
        }
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("--since {s:?}: expected 30m, 24h, 7d or an RFC 3339 time"))?;
    Ok(SystemTime::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_durations_and_times() {
        let day = parse_since("1d").unwrap_or(SystemTime::UNIX_EPOCH);
        assert!(SystemTime::now().duration_since(day).map_or(0, |d| d.as_secs()) >= 86_399);
        assert!(parse_since("2026-11-25T00:00:00Z").is_ok());
        assert!(parse_since("yesterday").is_err());
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn csv_never_hands_a_spreadsheet_a_formula() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("report.pdf"), "report.pdf");
    }
}
