//! What a connector is: the [`Connector`] trait, its [`ConnectorKind`] description, and the
//! registry the host finds connectors in.
//!
//! A connector crate implements [`ConnectorKind`] for a marker type and calls
//! [`register_connector!`](crate::register_connector) once. The host names the crate
//! (`use roster_ukg_pro as _;`) so the linker keeps it, and finds it with [`connectors`].

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::credentials;
use crate::error::{ConnectorError, CredentialsError, ErrorKind};
use crate::model::SourceUser;
use crate::sandbox::SandboxFn;

/// What a kind of connector can do. A flat set of flags, so a new capability is one new field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Capabilities {
    /// It can be a user-lifecycle source of truth (an HR system or an identity provider).
    pub lifecycle_source: bool,
    /// It lists people who left, with a terminated status, instead of dropping them.
    pub reports_terminated: bool,
    /// It reports hire and termination dates.
    pub effective_dates: bool,
    /// It can list only what changed since the last sync.
    pub incremental_sync: bool,
}

/// Settings every connection gets from the host, next to its own credentials.
#[derive(Debug, Clone)]
pub struct ConnectContext {
    /// The day "today" is for the mapping (a hire date after it is a pre-hire).
    pub today: NaiveDate,
    /// HTTP timeouts and retries.
    pub http: crate::http::HttpOptions,
    /// The directory relative paths in the connection's settings are relative to: the
    /// configuration file's (as for secrets' `{ file = ".." }`).
    pub base_dir: std::path::PathBuf,
}

impl ConnectContext {
    /// Today's date in UTC, default HTTP settings, paths relative to the working directory.
    pub fn now() -> Self {
        Self {
            today: chrono::Utc::now().date_naive(),
            http: crate::http::HttpOptions::default(),
            base_dir: std::path::PathBuf::from("."),
        }
    }
}

/// One probe of a connection check: one endpoint or permission.
#[derive(Debug)]
pub struct Probe {
    /// What was probed, e.g. `person-details`.
    pub name: String,
    /// What the probe needs, in the vendor's words (`Web Service permission "Personnel Integration"`).
    pub requires: String,
    /// A short description of what was seen, or why it failed (naming what to fix).
    pub result: Result<String, ConnectorError>,
}

/// The outcome of [`Connector::check`]: every probe, failed or not.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// The probes in the order they ran.
    pub probes: Vec<Probe>,
}

impl CheckReport {
    /// Whether every probe passed.
    pub fn is_ok(&self) -> bool {
        self.probes.iter().all(|p| p.result.is_ok())
    }
}

/// What a complete listing saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListSummary {
    /// Users sent to the sink.
    pub users: u64,
    /// HTTP requests made, retries included.
    pub requests: u64,
}

/// Where a listing sends its pages: a bounded channel, so a producer that runs ahead of the
/// consumer waits, and memory holds a few pages, never the tenant.
#[derive(Debug)]
pub struct PageSink {
    tx: mpsc::Sender<Vec<SourceUser>>,
    sent: u64,
}

impl PageSink {
    /// A sink and the receiving end, holding at most `pages` pages in flight.
    pub fn channel(pages: usize) -> (Self, mpsc::Receiver<Vec<SourceUser>>) {
        let (tx, rx) = mpsc::channel(pages.max(1));
        (Self { tx, sent: 0 }, rx)
    }

    /// Sends one page of mapped users; waits while the consumer is behind.
    pub async fn send(&mut self, page: Vec<SourceUser>) -> Result<(), ConnectorError> {
        if page.is_empty() {
            return Ok(());
        }
        let n = page.len() as u64;
        self.tx
            .send(page)
            .await
            .map_err(|_| ConnectorError::new(ErrorKind::Cancelled, "the listing was abandoned by its consumer"))?;
        self.sent += n;
        Ok(())
    }

    /// Users sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// A configured connection to one system.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Authenticates and probes every endpoint and permission the sync needs, each separately,
    /// so the report names everything that is missing at once.
    async fn check(&self) -> CheckReport;

    /// Lists every user, page by page, into `sink`. Returns `Ok` only when the listing is
    /// complete: an error at any point means what was sent is not a snapshot and must be
    /// discarded by the caller.
    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError>;
}

/// The static description of a kind of connector, implemented once per connector crate.
pub trait ConnectorKind: 'static {
    /// The id: the crate's folder, the `connector = ".."` value and the schema file stem.
    const ID: &'static str;
    /// The name shown to admins.
    const DISPLAY_NAME: &'static str;
    /// One sentence on what it syncs.
    const DESCRIPTION: &'static str;
    /// What it can do.
    const CAPABILITIES: Capabilities;
    /// Serves an emulator of the vendor, when the crate's `sandbox` feature is on.
    const SANDBOX: Option<SandboxFn> = None;
    /// The credentials table, validated against its own JSON Schema first.
    type Credentials: DeserializeOwned + JsonSchema;

    /// Builds a connection from validated credentials.
    fn connect(credentials: Self::Credentials, ctx: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError>;
}

/// A registered connector, as the host sees it. Built by [`ConnectorDescriptor::of`] through
/// [`register_connector!`](crate::register_connector).
pub struct ConnectorDescriptor {
    /// See [`ConnectorKind::ID`].
    pub id: &'static str,
    /// See [`ConnectorKind::DISPLAY_NAME`].
    pub display_name: &'static str,
    /// See [`ConnectorKind::DESCRIPTION`].
    pub description: &'static str,
    /// See [`ConnectorKind::CAPABILITIES`].
    pub capabilities: Capabilities,
    /// See [`ConnectorKind::SANDBOX`].
    pub sandbox: Option<SandboxFn>,
    schema: fn() -> schemars::Schema,
    connect: ConnectFn,
}

/// Builds a connection from its raw credentials table.
type ConnectFn = fn(&serde_json::Value, &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError>;

impl std::fmt::Debug for ConnectorDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorDescriptor").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ConnectorDescriptor {
    /// The descriptor of `K`; `const` so that `inventory::submit!` can hold it.
    pub const fn of<K: ConnectorKind>() -> Self {
        Self {
            id: K::ID,
            display_name: K::DISPLAY_NAME,
            description: K::DESCRIPTION,
            capabilities: K::CAPABILITIES,
            sandbox: K::SANDBOX,
            schema: credentials::schema_of::<K::Credentials>,
            connect: connect_erased::<K>,
        }
    }

    /// The JSON Schema of the credentials table (`schemas/connectors/<id>.credentials.schema.json`).
    pub fn credentials_schema(&self) -> schemars::Schema {
        (self.schema)()
    }

    /// Validates `credentials` (the connection's table without its `connector` key) against the
    /// schema, deserializes it (resolving secrets in the current [`crate::SecretScope`]) and
    /// builds the connection. Every problem is reported at once where the schema can find them.
    pub fn connect(
        &self,
        credentials: &serde_json::Value,
        ctx: &ConnectContext,
    ) -> Result<Box<dyn Connector>, CredentialsError> {
        (self.connect)(credentials, ctx)
    }
}

fn connect_erased<K: ConnectorKind>(
    raw: &serde_json::Value,
    ctx: &ConnectContext,
) -> Result<Box<dyn Connector>, CredentialsError> {
    let credentials = credentials::parse::<K::Credentials>(raw)?;
    K::connect(credentials, ctx)
}

inventory::collect!(ConnectorDescriptor);

/// Every linked connector, sorted by id.
pub fn connectors() -> Vec<&'static ConnectorDescriptor> {
    let mut all: Vec<_> = inventory::iter::<ConnectorDescriptor>.into_iter().collect();
    all.sort_by_key(|d| d.id);
    all
}

/// No linked connector has the id that was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown connector `{id}`; known connectors: {}", known.join(", "))]
pub struct UnknownConnector {
    /// The id asked for.
    pub id: String,
    /// The ids that exist.
    pub known: Vec<&'static str>,
}

/// The connector with this id.
pub fn find_connector(id: &str) -> Result<&'static ConnectorDescriptor, UnknownConnector> {
    let all = connectors();
    all.iter()
        .copied()
        .find(|d| d.id == id)
        .ok_or_else(|| UnknownConnector { id: id.to_owned(), known: all.iter().map(|d| d.id).collect() })
}

/// Registers a [`ConnectorKind`] with the host's registry.
///
/// ```ignore
/// roster_core::register_connector!(UkgPro);
/// ```
#[macro_export]
macro_rules! register_connector {
    ($kind:ty) => {
        $crate::inventory::submit! { $crate::ConnectorDescriptor::of::<$kind>() }
    };
}

/// Collects a whole listing into memory: for tests and small tenants, never for the host's sync.
pub async fn collect_users(connector: &dyn Connector) -> Result<Vec<SourceUser>, ConnectorError> {
    let (mut sink, mut rx) = PageSink::channel(4);
    let mut all = Vec::new();
    let (listed, ()) = tokio::join!(
        async move {
            let result = connector.list_users(&mut sink).await;
            drop(sink);
            result
        },
        async {
            while let Some(page) = rx.recv().await {
                all.extend(page);
            }
        }
    );
    listed.map(|_| all)
}

/// A boxed future, as the sandbox hooks return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
