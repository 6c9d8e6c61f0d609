#![doc = include_str!("../README.md")]

mod auth;
mod client;
pub mod credentials;
pub mod mapping;
pub mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

use roster_core::{Capabilities, ConnectContext, Connector, ConnectorKind, CredentialsError};

pub use client::EntraIdConnector;
pub use credentials::EntraIdCredentials;

/// The connector id: the folder name, the `connector = ".."` value and the schema file stem.
pub const ID: &str = "entra-id";

/// Microsoft Entra ID (Azure AD), read through Microsoft Graph with an app registration.
#[derive(Debug, Clone, Copy)]
pub struct EntraId;

impl ConnectorKind for EntraId {
    const ID: &'static str = ID;
    const DISPLAY_NAME: &'static str = "Microsoft Entra ID";
    const DESCRIPTION: &'static str = "Users of a Microsoft Entra ID (Azure AD) tenant through Microsoft Graph: enabled or disabled accounts, \
         guests, names, job titles, departments, employee ids and hire dates.";
    const CAPABILITIES: Capabilities = Capabilities {
        lifecycle_source: true,
        // Deleted users vanish from /users; only disabled accounts are reported.
        reports_terminated: false,
        effective_dates: true,
        // The delta query is not implemented yet: every sync lists the whole tenant.
        incremental_sync: false,
    };
    #[cfg(feature = "sandbox")]
    const SANDBOX: Option<roster_core::sandbox::SandboxFn> = Some(sandbox::serve);
    type Credentials = EntraIdCredentials;

    fn connect(credentials: Self::Credentials, ctx: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        let settings = credentials.into_settings()?;
        Ok(Box::new(EntraIdConnector::new(settings, ctx)?))
    }
}

roster_core::register_connector!(EntraId);
