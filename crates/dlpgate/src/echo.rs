//! The `echo` service: every message passes unchanged. It stays for interop tests and
//! benchmarks; until the DLP engine takes them over, `reqmod` and `respmod` echo too.

use std::collections::HashMap;
use std::sync::Arc;

use icap::server::{Exchange, Outcome, Service};
use icap_proto::{Method, ServiceOptions};

/// Preview size announced in OPTIONS.
pub const ECHO_PREVIEW: usize = 1024;
/// Options-TTL announced in OPTIONS, in seconds.
pub const OPTIONS_TTL: u64 = 3600;
/// `X-Pipeline-Depth` announced in OPTIONS: requests a client may pipeline on a connection.
/// The server reads them one after another, answers in order, and writes the answers to a
/// batch it read at once together; this only bounds how far a client runs ahead.
pub const PIPELINE_DEPTH: u32 = 16;

/// Serves named services that all pass messages through unchanged.
#[derive(Debug)]
pub struct EchoService {
    services: HashMap<String, Arc<ServiceOptions>>,
}

impl EchoService {
    /// `echo` (REQMOD and RESPMOD), `reqmod` and `respmod`, announcing `max_connections`.
    pub fn new(max_connections: usize) -> Self {
        let mut services = HashMap::new();
        for (name, methods) in [
            ("echo", vec![Method::Reqmod, Method::Respmod]),
            ("reqmod", vec![Method::Reqmod]),
            ("respmod", vec![Method::Respmod]),
        ] {
            services.insert(name.to_string(), Arc::new(echo_options(name, methods, max_connections)));
        }
        Self { services }
    }
}

/// The OPTIONS answer of a pass-through service.
pub fn echo_options(name: &str, methods: Vec<Method>, max_connections: usize) -> ServiceOptions {
    let mut options =
        ServiceOptions::new(methods, format!("\"dlpgate-{}-{name}\"", env!("CARGO_PKG_VERSION")));
    options.service = Some(format!("dlpgate/{} {name} service", env!("CARGO_PKG_VERSION")));
    options.service_id = Some(name.to_string());
    options.max_connections = u32::try_from(max_connections).ok();
    options.options_ttl = Some(OPTIONS_TTL);
    options.preview = Some(ECHO_PREVIEW);
    options.allow.no_content = true;
    options.transfer_preview = vec!["*".to_string()];
    options.pipeline_depth = Some(PIPELINE_DEPTH);
    options
}

impl Service for EchoService {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        self.services.get(service).cloned()
    }

    async fn call(&self, _exchange: &mut Exchange<'_>) -> Outcome {
        Outcome::allow()
    }
}
