//! The DLP ICAP service: `reqmod` and `respmod` run the inspection engine on the body and
//! answer allow (204, or the unchanged message) or block (an HTTP 403 block page), recording
//! an incident before the block answer leaves. `echo` stays a pure echo.

pub mod block;
pub mod body;
pub mod context;
pub mod options;
pub mod pool;
pub mod source;
pub mod stats;
pub mod trust;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use icap::server::{BodyEvent, Exchange, Outcome, Service};
use icap_proto::{Headers, Method, ServiceOptions};
use inspect::{CouldNotScan, Decision, Engine, LimitKind, Limits, Policy, PreviewDecision, Verdict};

use crate::store::durable::IncidentRecorder;
use crate::store::{EvidenceRecord, Incident};
use body::{BodyScan, EngineMemory, Room};
use context::{identity, scan_context, Identity};
use pool::{PoolError, ScanPool};
pub use source::{parse_stored, FetchedPolicy, PolicySource, StoredPolicy};
use stats::ServeMetrics;

/// Blocking (the seed's "Mode: Blocking") or monitor-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Block what the policy blocks.
    #[default]
    Blocking,
    /// Allow everything; record what would have been blocked.
    Monitor,
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct DlpSettings {
    /// The built-in policy, a file, or the versions stored in the shared store.
    pub policy: PolicySource,
    /// The data directory, where the policy's EDM indexes are found by name.
    pub data_dir: PathBuf,
    /// Engine limits per object.
    pub limits: Limits,
    /// Blocking or monitor.
    pub mode: Mode,
    /// Name of the REQMOD service.
    pub reqmod_service: String,
    /// Name of the RESPMOD service.
    pub respmod_service: String,
    /// Preview size announced in OPTIONS.
    pub preview: usize,
    /// Announced as Max-Connections.
    pub max_connections: usize,
    /// Bodies that need random access are held in memory up to this size, then spooled.
    pub memory_threshold: usize,
    /// Where spooled bodies go (anonymous files, gone when closed).
    pub spool_dir: PathBuf,
    /// The process-wide memory and spool budgets (shared with the ICAP server).
    pub room: Room,
    /// Threads for engine work that can take long.
    pub scan_threads: usize,
    /// The clients whose identity headers are believed.
    pub identity_trust: trust::IdentityTrust,
}

/// Default for [`DlpSettings::memory_threshold`]: 8 MiB.
pub const DEFAULT_MEMORY_THRESHOLD: usize = 8 << 20;
/// Default preview size announced in OPTIONS: 32 KiB. A DLP service reads the whole body
/// anyway (unless the preview shows an exempt type), so a body that fits in the preview arrives
/// in one message, without the `100 Continue` round trip; clients (Squid, c-icap-client) send
/// the size the server announces. It stays well under the 64 KiB that Squid 5 buffers from an
/// origin before the ICAP answer starts (see `early_head_after`).
pub const DEFAULT_PREVIEW: usize = 32 * 1024;

/// The policy in force and what derives from it, swapped whole on reload.
#[derive(Debug)]
struct PolicyState {
    engine: Engine,
    reqmod: Arc<ServiceOptions>,
    respmod: Arc<ServiceOptions>,
    /// The stored version the policy came from, if it did.
    stored_version: Option<i64>,
}

/// The DLP service.
#[derive(Debug)]
pub struct DlpService {
    settings: DlpSettings,
    state: RwLock<Arc<PolicyState>>,
    /// Held from loading a policy to putting it in force, so two reloads (SIGHUP and a stored
    /// version arriving) cannot put an older one back.
    reloading: Mutex<()>,
    echo: Arc<ServiceOptions>,
    recorder: Arc<IncidentRecorder>,
    metrics: Arc<ServeMetrics>,
    pool: ScanPool,
}

impl DlpService {
    /// Loads the policy (an error here stops start-up).
    pub fn new(
        settings: DlpSettings,
        recorder: Arc<IncidentRecorder>,
        metrics: Arc<ServeMetrics>,
    ) -> anyhow::Result<Self> {
        let (policy, stored_version) =
            settings.policy.load(&settings.data_dir).map_err(anyhow::Error::msg)?;
        let state = build_state(&settings, policy, stored_version);
        metrics.policy_in_force(state.engine.policy().version(), stored_version);
        let echo = Arc::new(options::base_options(
            "echo",
            vec![Method::Reqmod, Method::Respmod],
            settings.max_connections,
        ));
        let pool = ScanPool::new(settings.scan_threads, settings.room.wait);
        Ok(Self {
            settings,
            state: RwLock::new(Arc::new(state)),
            reloading: Mutex::new(()),
            echo,
            recorder,
            metrics,
            pool,
        })
    }

    fn current(&self) -> Arc<PolicyState> {
        match self.state.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The version of the policy in force.
    pub fn policy_version(&self) -> String {
        self.current().engine.policy().version().to_string()
    }

    /// The stored version in force (`None`: a file or the built-in policy).
    pub fn stored_version(&self) -> Option<i64> {
        self.current().stored_version
    }

    /// Loads the policy again (the file, or the stored version in force, with its indexes); a
    /// broken policy is refused and the old one stays.
    pub fn reload_policy(&self) -> anyhow::Result<String> {
        let _turn = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let (policy, stored_version) =
            self.settings.policy.load(&self.settings.data_dir).map_err(anyhow::Error::msg)?;
        Ok(self.put_in_force(build_state(&self.settings, policy, stored_version)))
    }

    /// Puts a stored version in force, the way [`reload_policy`](Self::reload_policy) does:
    /// requests under way finish on the policy they started with. A version that does not
    /// load is refused and the old policy stays. Only for a node following the store.
    pub fn adopt_stored(&self, fetched: FetchedPolicy) -> anyhow::Result<String> {
        let PolicySource::Stored(cell) = &self.settings.policy else {
            anyhow::bail!("this server follows a policy file, not the store");
        };
        let _turn = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let policy = source::parse_stored(&fetched, &self.settings.data_dir).map_err(anyhow::Error::msg)?;
        let state = build_state(&self.settings, policy, Some(fetched.version));
        cell.set(Arc::new(fetched));
        Ok(self.put_in_force(state))
    }

    /// Swaps the policy state; gives the policy's version (its text's hash).
    fn put_in_force(&self, state: PolicyState) -> String {
        let version = state.engine.policy().version().to_string();
        self.metrics.policy_in_force(&version, state.stored_version);
        match self.state.write() {
            Ok(mut g) => *g = Arc::new(state),
            Err(p) => *p.into_inner() = Arc::new(state),
        }
        version
    }

    async fn inspect(&self, state: &PolicyState, exchange: &mut Exchange<'_>) -> Outcome {
        let request = exchange.request();
        let peer = exchange.peer();
        let who = identity(
            &request.head.headers,
            &peer.addr,
            peer.tls_subject.as_deref(),
            &self.settings.identity_trust,
        );
        let ctx = scan_context(request, &who);
        if !state.engine.applies(&ctx) {
            return Outcome::allow();
        }
        let started = Instant::now();
        let mut body = BodyScan::with_room(
            state.engine.clone(),
            ctx,
            self.settings.memory_threshold,
            self.settings.spool_dir.clone(),
            &self.settings.room,
        );
        let mut released = 0;
        if request.preview.is_some() {
            let mut head = Vec::new();
            loop {
                match exchange.next_preview_chunk().await {
                    Ok(Some(chunk)) => {
                        // The exemption looks at the first bytes only; the body scan has them all.
                        let room = inspect::identify::SNIFF_LEN.saturating_sub(head.len());
                        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                        body = match self.take(body, chunk).await {
                            Ok(body) => body,
                            Err(outcome) => return outcome,
                        };
                    }
                    Ok(None) => break,
                    Err(e) => return body_error(&e),
                }
            }
            if !exchange.body_complete()
                && state.engine.preview(body.context(), &head) == PreviewDecision::Exempt
            {
                self.metrics.verdict(request.head.service(), "exempt");
                return Outcome::allow();
            }
        }
        loop {
            match exchange.next_body_event().await {
                Ok(BodyEvent::Data(chunk)) => {
                    body = match self.take(body, chunk).await {
                        Ok(body) => body,
                        Err(outcome) => return outcome,
                    };
                }
                Ok(BodyEvent::Stalled) => {
                    // A stalled RESPMOD whose answer head went out early: only leading bytes
                    // that are harmless on their own may move it along.
                    released = released.max(body.releasable_prefix(icap::server::MAX_TRICKLE_BYTES));
                    exchange.release_early(released);
                }
                Ok(_) => break,
                Err(e) => return body_error(&e),
            }
        }
        // Text streamed through the scanner as it came; finishing it is cheap. Scanning a held
        // zip or PDF, or what a decoder or container still holds, can take a while: that goes
        // to a scan thread.
        let finished = if body.finishes_cheaply() {
            Ok(body.finish())
        } else {
            self.pool.run(move || body.finish()).await
        };
        let (verdict, sha256, size) = match finished {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return spool_error(&e),
            Err(e) => return pool_error(e),
        };
        if matches!(verdict.could_not_scan, Some(CouldNotScan::Limit { limit: LimitKind::MaxMemory, .. })) {
            // Not a judgement of the content: the server had no memory for it just now.
            return self.overloaded();
        }
        let service = request.head.service().to_string();
        self.metrics.scanned(size, started.elapsed());
        let tls_subject = exchange.peer().tls_subject.clone();
        self.decide(request, tls_subject, &service, &who, verdict, sha256, size).await
    }

    /// Takes the next piece of the body: room in the budgets first (a bounded wait), then the
    /// scanner, on a scan thread when a decoder or container may make it costly.
    async fn take(&self, mut body: BodyScan, chunk: bytes::Bytes) -> Result<BodyScan, Outcome> {
        if body.make_room(chunk.len()).await.is_err() {
            return Err(self.overloaded());
        }
        let pushed = if body.feeds_heavily() {
            match self.pool.run(move || (body.push(&chunk), body)).await {
                Ok(done) => done,
                Err(e) => return Err(pool_error(e)),
            }
        } else {
            (body.push(&chunk), body)
        };
        match pushed {
            (Ok(()), body) => Ok(body),
            (Err(e), _) => Err(spool_error(&e)),
        }
    }

    /// The `503` of a spent budget.
    fn overloaded(&self) -> Outcome {
        self.metrics.overloaded();
        Outcome::Error { status: 503, reason: "server busy: memory or spool budget exhausted".to_string() }
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide(
        &self,
        request: &icap_proto::Request,
        tls_subject: Option<String>,
        service: &str,
        who: &Identity,
        verdict: Verdict,
        sha256: body::BodyHash,
        size: u64,
    ) -> Outcome {
        let blocking = verdict.decision == Decision::Block && self.settings.mode == Mode::Blocking;
        let label = match (verdict.decision, blocking) {
            (Decision::Allow, _) => "allow",
            (_, true) => "block",
            _ => "monitor",
        };
        self.metrics.verdict(service, label);
        if !verdict.is_incident() {
            return Outcome::allow();
        }
        let ctx = scan_context(request, who);
        // A URL or file name that matched is stored masked.
        let (url, file_name) = context::stored_names(&self.current().engine, &ctx);
        let incident = Incident {
            id: crate::store::new_incident_id(),
            time: std::time::SystemTime::now(),
            service: service.to_string(),
            method: request.head.method.to_string(),
            client_addr: Some(who.client_addr()),
            tls_subject,
            user: who.user.clone(),
            groups: who.groups.clone(),
            claimed: who.claimed.clone(),
            url,
            file_name: file_name.clone(),
            content_type: ctx.content_type.clone(),
            size,
            sha256: sha256.hex(),
            rules: verdict.rules.iter().map(|r| r.name.clone()).collect(),
            counts: verdict.counts.clone(),
            evidence: verdict
                .evidence
                .iter()
                .map(|e| EvidenceRecord {
                    detector: e.detector.clone(),
                    masked: e.masked.clone(),
                    location: if e.member.is_empty() {
                        format!("offset {}", e.offset)
                    } else {
                        format!("{} @ {}", e.member, e.offset)
                    },
                })
                .collect(),
            action: label.to_string(),
            reason: verdict.could_not_scan.as_ref().map(|c| c.to_string()),
            severity: verdict.rules.iter().map(|r| r.severity).max().map(|s| format!("{s:?}").to_lowercase()),
            policy_version: verdict.policy_version.clone(),
        };
        let id = incident.id.clone();
        // Durable before the answer leaves: in the store within its write deadline, else in
        // the journal. Only a durable incident is named in the answer; when neither could
        // keep it (logged and counted), a block still stands, without an incident id.
        let recorded = self.recorder.record(incident).await;
        if recorded.store_failed() {
            self.metrics.store_error();
        }
        let named = recorded.is_durable().then(|| id.clone());
        tracing::info!(
            incident = %id,
            action = label,
            service,
            rules = ?verdict.threat_names(),
            client = %who.client_addr(),
            user = who.user.as_deref().unwrap_or("-"),
            "DLP incident"
        );
        if blocking {
            return Outcome::Replace(Box::new(block::block_reply(
                &verdict,
                named.as_deref(),
                file_name.as_deref(),
            )));
        }
        let mut headers = Headers::new();
        if let Some(id) = named {
            headers.append(block::INCIDENT_HEADER, id);
        }
        Outcome::Allow { headers }
    }
}

fn body_error(e: &icap::server::BodyError) -> Outcome {
    Outcome::Error { status: 400, reason: e.to_string() }
}

fn pool_error(e: PoolError) -> Outcome {
    match e {
        PoolError::Busy => {
            Outcome::Error { status: 503, reason: "server busy: no scan thread free".to_string() }
        }
        PoolError::Failed => {
            tracing::error!("the engine failed");
            Outcome::Error { status: 500, reason: "content inspection failed".to_string() }
        }
    }
}

fn spool_error(e: &std::io::Error) -> Outcome {
    tracing::error!(error = %e, "cannot spool a body for scanning");
    Outcome::Error { status: 500, reason: "cannot spool the body for scanning".to_string() }
}

/// The engine and the OPTIONS answers of a policy. The ISTag depends on the policy's text
/// only, never on the node (its start time, its address): nodes that follow one stored
/// version announce the same ISTag.
fn build_state(settings: &DlpSettings, policy: Policy, stored_version: Option<i64>) -> PolicyState {
    let memory = Arc::new(EngineMemory(settings.room.memory.clone()));
    let engine = Engine::new(Arc::new(policy), settings.limits.clone()).with_memory(memory);
    let options = |name: &str, method: Method| {
        let mut o = options::base_options(name, vec![method], settings.max_connections);
        let version = engine.policy().version();
        // ISTag is at most 32 characters (RFC 3507 section 4.7): a policy hash prefix.
        o.istag = format!("\"dlpgate-{}\"", &version[..version.len().min(20)]);
        o.service =
            Some(format!("dlpgate/{} DLP {name} ({})", env!("CARGO_PKG_VERSION"), engine.policy().name()));
        o.preview = Some(settings.preview);
        o.x_include = vec![
            "X-Client-IP".to_string(),
            "X-Authenticated-User".to_string(),
            "X-Authenticated-Groups".to_string(),
        ];
        o.x_allow_out = block::ANSWER_HEADERS.map(str::to_string).to_vec();
        Arc::new(o)
    };
    PolicyState {
        reqmod: options(&settings.reqmod_service, Method::Reqmod),
        respmod: options(&settings.respmod_service, Method::Respmod),
        engine,
        stored_version,
    }
}

impl Service for DlpService {
    fn options(&self, service: &str) -> Option<Arc<ServiceOptions>> {
        if service == "echo" {
            return Some(self.echo.clone());
        }
        let state = self.current();
        if service == self.settings.reqmod_service {
            Some(state.reqmod.clone())
        } else if service == self.settings.respmod_service {
            Some(state.respmod.clone())
        } else {
            None
        }
    }

    async fn call(&self, exchange: &mut Exchange<'_>) -> Outcome {
        if exchange.request().head.service() == "echo" {
            return Outcome::allow();
        }
        // One snapshot of the policy judges the request and names it in the ISTag, even when
        // a reload lands while the body is read.
        let state = self.current();
        exchange.set_istag(state.reqmod.istag.clone());
        let outcome = self.inspect(&state, exchange).await;
        let verdict = match &outcome {
            Outcome::Allow { headers } if headers.contains(block::INCIDENT_HEADER) => "monitor",
            Outcome::Allow { .. } => "allow",
            Outcome::Replace(_) => "block",
            Outcome::Error { .. } => "error",
        };
        exchange.set_verdict(verdict);
        outcome
    }
}

impl icap::watch::Reload for DlpService {
    fn watched_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.settings.policy.file().map(PathBuf::from).into_iter().collect();
        // A rebuilt EDM index (or its key) reloads the policy that uses it.
        files.extend(crate::edm::files::watched(&self.settings.data_dir, self.current().engine.policy()));
        files.extend(crate::fingerprint::files::watched(
            &self.settings.data_dir,
            self.current().engine.policy(),
        ));
        files
    }

    fn reload(&self) -> Result<Vec<String>, String> {
        let version = self.reload_policy().map_err(|e| e.to_string())?;
        tracing::info!(policy_version = %version, "policy in force");
        Ok(Vec::new())
    }

    fn what(&self) -> &'static str {
        "policy"
    }
}
