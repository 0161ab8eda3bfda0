//! Size limits that keep memory per message bounded whatever a peer sends.

/// Bounds on everything the decoders buffer. Bodies are streamed and never buffered whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest ICAP head (start line plus headers, with the blank line).
    pub max_icap_head: usize,
    /// Most header fields in one block (ICAP head, HTTP head or trailers).
    pub max_headers: usize,
    /// Longest encapsulated HTTP heads, all sections together.
    pub max_http_heads: usize,
    /// Longest chunk-size line, extensions included.
    pub max_chunk_line: usize,
    /// Longest trailer block after the last chunk.
    pub max_trailers: usize,
}

impl Limits {
    /// Default for [`Limits::max_icap_head`]: 64 KiB, far above what Squid or c-icap send.
    pub const DEFAULT_MAX_ICAP_HEAD: usize = 64 * 1024;
    /// Default for [`Limits::max_headers`].
    pub const DEFAULT_MAX_HEADERS: usize = 128;
    /// Default for [`Limits::max_http_heads`]: 256 KiB, for requests with large cookies.
    pub const DEFAULT_MAX_HTTP_HEADS: usize = 256 * 1024;
    /// Default for [`Limits::max_chunk_line`].
    pub const DEFAULT_MAX_CHUNK_LINE: usize = 4 * 1024;
    /// Default for [`Limits::max_trailers`].
    pub const DEFAULT_MAX_TRAILERS: usize = 16 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_icap_head: Self::DEFAULT_MAX_ICAP_HEAD,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_http_heads: Self::DEFAULT_MAX_HTTP_HEADS,
            max_chunk_line: Self::DEFAULT_MAX_CHUNK_LINE,
            max_trailers: Self::DEFAULT_MAX_TRAILERS,
        }
    }
}
