//! OPTIONS asked of every server before the scan: limits, pipelining, the connector kind.

use super::*;

/// What a server's OPTIONS said before the scan.
#[derive(Debug, Default)]
pub(super) struct Probe {
    /// Its Max-Connections.
    pub(super) max_connections: Option<usize>,
    /// OPTIONS answered: the preview can come from it.
    pub(super) options: bool,
    /// Its `X-Pipeline-Depth`.
    pub(super) pipeline_depth: Option<u32>,
    /// Nothing answered: why (the server starts set aside).
    pub(super) unreachable: Option<String>,
}

/// Asks each server's OPTIONS: Max-Connections bounds the work sent to it, and the method
/// the service announces is the default one.
pub(super) async fn probe(clients: &[Client], uris: &[IcapUri]) -> (Vec<Probe>, Option<Kind>) {
    let answers = futures_util::future::join_all(
        clients.iter().zip(uris).map(|(c, u)| tokio::time::timeout(OPTIONS_TIMEOUT, c.options(u))),
    )
    .await;
    let mut probes = Vec::new();
    let mut method = None;
    for (uri, answer) in uris.iter().zip(answers) {
        match answer {
            Ok(Ok(options)) => {
                probes.push(Probe {
                    max_connections: options.max_connections.map(|m| m as usize),
                    options: true,
                    pipeline_depth: options.pipeline_depth,
                    unreachable: None,
                });
                if method.is_none() {
                    if options.methods.contains(&icap_proto::Method::Reqmod) {
                        method = Some(Kind::Reqmod);
                    } else if options.methods.contains(&icap_proto::Method::Respmod) {
                        method = Some(Kind::Respmod);
                    }
                }
            }
            Ok(Err(e)) => {
                eprintln!("dlpgate scan: warning: OPTIONS of {uri}: {}", pool::describe(&e));
                let unreachable = (!e.was_answered()).then(|| pool::describe(&e));
                probes.push(Probe { unreachable, ..Probe::default() });
            }
            Err(_) => {
                eprintln!("dlpgate scan: warning: OPTIONS of {uri}: timed out");
                probes.push(Probe { unreachable: Some("OPTIONS timed out".to_string()), ..Probe::default() });
            }
        }
    }
    (probes, method)
}
