//! The tunnel's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Labels naming a service and a reason.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The `[service]` name.
    pub service: String,
    /// Why.
    pub reason: String,
}

/// Labels naming a service and a backend.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    /// The `[service]` name.
    pub service: String,
    /// The `connect` address.
    pub backend: String,
}

/// Labels naming a service.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The `[service]` name.
    pub service: String,
}

/// Every metric of the tunnel.
#[derive(Debug, Default, Clone)]
pub struct TunnelMetrics {
    /// Failed TLS handshakes, by reason.
    pub handshake_failures: Family<ReasonLabels, Counter>,
    /// Failed connections to a backend.
    pub backend_connect_failures: Family<BackendLabels, Counter>,
    /// Connections open now.
    pub open_connections: Family<ServiceLabels, Gauge>,
    /// Connections accepted in all.
    pub connections: Family<ServiceLabels, Counter>,
    /// Days until the service's certificate expires.
    pub cert_expiry_days: Family<ServiceLabels, Gauge>,
}

impl TunnelMetrics {
    /// Registers every metric under the `dlpgate_tunnel_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("dlpgate_tunnel");
        r.register("handshake_failures", "Failed TLS handshakes, by reason", self.handshake_failures.clone());
        r.register(
            "backend_connect_failures",
            "Failed connections to a backend",
            self.backend_connect_failures.clone(),
        );
        r.register("open_connections", "Connections open now", self.open_connections.clone());
        r.register("connections", "Connections accepted", self.connections.clone());
        r.register(
            "certificate_expiry_days",
            "Days until the certificate expires",
            self.cert_expiry_days.clone(),
        );
    }
}
