#![doc = include_str!("../README.md")]

mod auth;
mod client;
pub mod credentials;
mod key;
pub mod mapping;
pub mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

use roster_core::{Capabilities, ConnectContext, Connector, ConnectorKind, CredentialsError};

pub use client::GoogleWorkspaceConnector;
pub use credentials::GoogleWorkspaceCredentials;
pub use key::SCOPE;

/// The connector id: the folder name, the `connector = ".."` value and the schema file stem.
pub const ID: &str = "google-workspace";

/// Google Workspace, read through the Admin SDK Directory API with a service account acting as
/// an admin (domain-wide delegation).
#[derive(Debug, Clone, Copy)]
pub struct GoogleWorkspace;

impl ConnectorKind for GoogleWorkspace {
    const ID: &'static str = ID;
    const DISPLAY_NAME: &'static str = "Google Workspace";
    const DESCRIPTION: &'static str = "Users of a Google Workspace account through the Admin SDK Directory API: active, \
         suspended or archived accounts, aliases, names, job titles, departments, employee ids and managers.";
    const CAPABILITIES: Capabilities = Capabilities {
        lifecycle_source: true,
        // Deleted users vanish from the listing; suspended and archived accounts are reported.
        reports_terminated: false,
        // The directory has no hire or termination dates.
        effective_dates: false,
        // Every sync lists the whole account.
        incremental_sync: false,
    };
    #[cfg(feature = "sandbox")]
    const SANDBOX: Option<roster_core::sandbox::SandboxFn> = Some(sandbox::serve);
    type Credentials = GoogleWorkspaceCredentials;

    fn connect(credentials: Self::Credentials, ctx: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        let settings = credentials.into_settings()?;
        Ok(Box::new(GoogleWorkspaceConnector::new(settings, ctx)?))
    }
}

roster_core::register_connector!(GoogleWorkspace);
