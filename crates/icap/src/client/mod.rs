//! ICAP client: pooled connections, OPTIONS cache, preview, 204.
