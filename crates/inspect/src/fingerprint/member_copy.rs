//! Exact copies inside an object: each member an archive, a compressed stream, a MIME part
//! or a decoded blob holds is hashed as it is read, so a protected document zipped, gzipped
//! or attached whole is an exact copy too (its text alone would miss a document with little
//! text, such as a drawing or a spreadsheet of numbers).

use sha2::{Digest, Sha256};

/// Most member digests one object keeps; members beyond are still scanned, not hashed.
pub const MAX_MEMBER_DIGESTS: usize = 4096;

/// The SHA-256 of one member so far, while it is no larger than the largest document.
#[derive(Debug, Clone)]
pub(crate) struct MemberHash {
    sha: Option<Sha256>,
    size: u64,
    max_size: u64,
}

impl MemberHash {
    pub(crate) fn new(max_size: u64) -> Self {
        Self { sha: Some(Sha256::new()), size: 0, max_size }
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.size += data.len() as u64;
        if self.size > self.max_size {
            self.sha = None;
        } else if let Some(sha) = &mut self.sha {
            sha.update(data);
        }
    }

    /// The digest and size, when the member was small enough to be a document.
    pub(crate) fn finish(self) -> Option<([u8; 32], u64)> {
        let size = self.size;
        self.sha.map(|s| (s.finalize().into(), size))
    }
}

/// A member's digest, kept for the verdict.
#[derive(Debug, Clone)]
pub(crate) struct MemberDigest {
    pub path: String,
    pub sha256: [u8; 32],
    pub size: u64,
}
