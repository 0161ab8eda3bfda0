//! Where the service's policy comes from: the built-in default, a file read again on each
//! reload, or a version stored in the shared PostgreSQL store (`policy push`), which the
//! server's follower hands over as it changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use inspect::Policy;

/// Where the policy comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PolicySource {
    /// The built-in default policy.
    Builtin,
    /// A policy file, read again on every reload.
    File(PathBuf),
    /// The stored version the node follows; the built-in policy until one is stored.
    Stored(Arc<StoredPolicy>),
}

/// A stored policy version a node has fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPolicy {
    /// Its number in the store.
    pub version: i64,
    /// Its text.
    pub text: String,
}

/// The stored version in force (none yet: the built-in policy). Set only once a version has
/// loaded, so a reload (SIGHUP, a rebuilt index) never picks up a version that failed.
#[derive(Debug, Default)]
pub struct StoredPolicy(Mutex<Option<Arc<FetchedPolicy>>>);

impl StoredPolicy {
    /// A cell holding `fetched`.
    pub fn new(fetched: Option<FetchedPolicy>) -> Self {
        Self(Mutex::new(fetched.map(Arc::new)))
    }

    /// The version in force.
    pub fn current(&self) -> Option<Arc<FetchedPolicy>> {
        match self.0.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(super) fn set(&self, fetched: Arc<FetchedPolicy>) {
        match self.0.lock() {
            Ok(mut g) => *g = Some(fetched),
            Err(p) => *p.into_inner() = Some(fetched),
        }
    }
}

impl PolicySource {
    /// The policy file, when there is one (watched for changes).
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File(path) => Some(path),
            _ => None,
        }
    }

    /// Loads the policy, with its indexes found in `data_dir`; gives the stored version
    /// number it came from, if any.
    pub(super) fn load(&self, data_dir: &Path) -> Result<(Policy, Option<i64>), String> {
        match self {
            Self::Builtin => Ok((Policy::builtin(), None)),
            Self::File(path) => Ok((crate::edm::files::load_policy(path, data_dir)?, None)),
            Self::Stored(cell) => match cell.current() {
                None => Ok((Policy::builtin(), None)),
                Some(fetched) => Ok((parse_stored(&fetched, data_dir)?, Some(fetched.version))),
            },
        }
    }

    /// What to call it in the log.
    pub fn describe(&self) -> String {
        match self {
            Self::Builtin => "built-in default".to_string(),
            Self::File(path) => path.display().to_string(),
            Self::Stored(cell) => match cell.current() {
                None => "built-in default (no version stored yet)".to_string(),
                Some(fetched) => format!("stored version {}", fetched.version),
            },
        }
    }
}

/// Parses a stored version as a policy file is parsed.
pub fn parse_stored(fetched: &FetchedPolicy, data_dir: &Path) -> Result<Policy, String> {
    crate::edm::files::parse_policy(
        &fetched.text,
        data_dir,
        &format!("stored policy version {}", fetched.version),
    )
}
