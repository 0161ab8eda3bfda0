//! The OPTIONS answer every service starts from. `echo` answers with it as it is (every
//! message passes unchanged: for interop tests and benchmarks); the DLP services change the
//! preview, ISTag and transfer lists.

use icap_proto::{Method, ServiceOptions};

/// Preview size announced in OPTIONS.
pub const ECHO_PREVIEW: usize = 1024;
/// Options-TTL announced in OPTIONS, in seconds.
pub const OPTIONS_TTL: u64 = 3600;
/// `X-Pipeline-Depth` announced in OPTIONS: requests a client may pipeline on a connection.
/// The server reads them one after another, answers in order, and writes the answers to a
/// batch it read at once together; this only bounds how far a client runs ahead.
pub const PIPELINE_DEPTH: u32 = 16;

/// The OPTIONS answer of a pass-through service.
pub fn base_options(name: &str, methods: Vec<Method>, max_connections: usize) -> ServiceOptions {
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
