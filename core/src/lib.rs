//! roster-core: what a connector is, the common user model, secrets, the HTTP layer and the
//! lifecycle engine of roster.
//!
//! The key design decision: connectors are plugins that register themselves (`inventory`), and
//! everything they share lives here, so a connector crate holds only what is particular to its
//! vendor. Extension authors depend on this crate alone. The cost is that the host must name
//! every connector crate once (`use roster_ukg_pro as _;`), or the linker may drop it and its
//! registration with it.
//!
//! - [`Connector`] / [`ConnectorKind`] / [`register_connector!`]: the plugin interface.
//! - [`SourceUser`], [`EmploymentStatus`], [`Lifecycle`]: the common model.
//! - [`Secret`]: credentials that cannot be printed by accident.
//! - [`http::HttpClient`]: timeouts, retries, `Retry-After`, HTTPS-or-loopback.
//! - [`lifecycle`]: matching people across sources and deciding who is current. Pure.
//! - [`sandbox`]: the generated organisation vendor emulators serve.
//! - `testkit` (feature `testkit`): the conformance kit every connector's tests run.

pub mod connector;
pub mod credentials;
pub mod error;
pub mod http;
pub mod lifecycle;
pub mod model;
pub mod pace;
pub mod paging;
pub mod parallel;
pub mod prefetch;
pub mod sandbox;
pub mod secret;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod token;

pub use connector::{
    Capabilities, CheckReport, ConnectContext, Connector, ConnectorDescriptor, ConnectorKind, ListSummary, PageSink,
    Probe, UnknownConnector, collect_users, connectors, find_connector,
};
pub use error::{ConfigProblem, ConnectorError, CredentialsError, ErrorKind};
pub use model::{EmploymentStatus, Lifecycle, ManagerRef, SourceUser};
pub use secret::{Secret, SecretOrigin, SecretScope};

/// The string type of records' and people's text: a value of up to 24 bytes (a name, an id, a
/// role, a status) is held inline, in the 24 bytes a `String` would take, instead of in an
/// allocation of its own. Connectors build it through this re-export.
pub use compact_str::{self, CompactString};

#[doc(hidden)]
pub use inventory;
