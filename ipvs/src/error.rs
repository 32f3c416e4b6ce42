//! Typed errors of the crate: reply decoding (`DecodeError`) and client
//! operations (`IpvsError`), the latter naming the operation and object.

use thiserror::Error;

/// A kernel reply (or any netlink buffer) that does not decode. Produced for
/// truncated headers and attributes, wrong attribute lengths, missing
/// mandatory attributes and out-of-range values; never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("{what}: truncated at byte {offset} (need {need} bytes, have {have})")]
    Truncated {
        what: &'static str,
        offset: usize,
        need: usize,
        have: usize,
    },
    #[error("{what}: attribute {attr} is {got} bytes long, expected {expected}")]
    BadLength {
        what: &'static str,
        attr: u16,
        expected: &'static str,
        got: usize,
    },
    #[error("{what}: missing attribute {attr}")]
    Missing {
        what: &'static str,
        attr: &'static str,
    },
    #[error("{what}: invalid {field}: {value}")]
    BadValue {
        what: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("unexpected IPVS command {cmd} in a reply")]
    UnexpectedCommand { cmd: u8 },
    #[error("netlink: {0}")]
    Netlink(String),
}

/// An IPVS operation that failed.
#[derive(Debug, Error)]
pub enum IpvsError {
    /// The kernel has no "IPVS" generic netlink family (module not loaded or
    /// not built; the host answers ipvsadm with "Protocol not available").
    #[error("IPVS is not available: the kernel has no generic netlink family \"IPVS\"")]
    NotAvailable,
    /// The kernel (or the fake) refused `op` with `errno`.
    #[error("{op}: {}", errno_text(*errno))]
    Kernel { op: String, errno: i32 },
    #[error("{op}: netlink socket: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: {source}")]
    Decode {
        op: String,
        #[source]
        source: DecodeError,
    },
    /// A request the crate refuses to send (e.g. scheduler name too long).
    #[error("{op}: {why}")]
    Invalid { op: String, why: String },
    /// The kernel sent no answer for a request.
    #[error("{op}: no reply from the kernel")]
    NoReply { op: String },
}

impl IpvsError {
    /// The same error naming `op` instead: hot paths name their operation
    /// only once something failed (no string built per dump).
    pub fn with_op(self, op: String) -> IpvsError {
        match self {
            IpvsError::Kernel { errno, .. } => IpvsError::Kernel { op, errno },
            IpvsError::Io { source, .. } => IpvsError::Io { op, source },
            IpvsError::Decode { source, .. } => IpvsError::Decode { op, source },
            IpvsError::Invalid { why, .. } => IpvsError::Invalid { op, why },
            IpvsError::NoReply { .. } => IpvsError::NoReply { op },
            IpvsError::NotAvailable => IpvsError::NotAvailable,
        }
    }
    /// The errno of a kernel refusal.
    pub fn errno(&self) -> Option<i32> {
        match self {
            IpvsError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }
    /// EEXIST: the service or destination already exists.
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }
    /// ESRCH: no such service.
    pub fn is_no_service(&self) -> bool {
        self.errno() == Some(libc::ESRCH)
    }
    /// ENOENT: no such destination (or unknown scheduler / persistence engine).
    pub fn is_not_found(&self) -> bool {
        self.errno() == Some(libc::ENOENT)
    }
}

fn errno_text(errno: i32) -> String {
    let name = match errno {
        libc::EEXIST => "EEXIST",
        libc::ESRCH => "ESRCH",
        libc::ENOENT => "ENOENT",
        libc::EINVAL => "EINVAL",
        libc::EPERM => "EPERM",
        libc::EBUSY => "EBUSY",
        libc::ENOMEM => "ENOMEM",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        _ => "errno",
    };
    format!(
        "{name} ({errno}): {}",
        std::io::Error::from_raw_os_error(errno)
    )
}
