#![doc = include_str!("../README.md")]

pub mod client;
pub mod connector;
pub mod credentials;
pub mod mapping;
pub mod models;
#[cfg(feature = "sandbox")]
pub mod sandbox;

use roster_core::{Capabilities, ConnectContext, Connector, ConnectorKind, CredentialsError};

pub use client::Endpoint;
pub use connector::UkgProConnector;
pub use credentials::Credentials;

/// The connector id: the folder, the `connector = ".."` value and the schema file stem.
pub const ID: &str = "ukg-pro";

/// UKG Pro (formerly `UltiPro`) as a kind of connector.
#[derive(Debug)]
pub struct UkgPro;

impl ConnectorKind for UkgPro {
    const ID: &'static str = ID;
    const DISPLAY_NAME: &'static str = "UKG Pro";
    const DESCRIPTION: &'static str =
        "Employees of every company in a UKG Pro tenant: names, emails, job, org level, manager, status and dates.";
    const CAPABILITIES: Capabilities = Capabilities {
        lifecycle_source: true,
        reports_terminated: true,
        effective_dates: true,
        incremental_sync: false,
    };
    #[cfg(feature = "sandbox")]
    const SANDBOX: Option<roster_core::sandbox::SandboxFn> = Some(sandbox::serve);
    type Credentials = Credentials;

    fn connect(credentials: Credentials, ctx: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        let settings = credentials.resolve()?;
        let connector = UkgProConnector::new(settings, ctx.http.clone(), ctx.today)
            .map_err(|e| CredentialsError::at("", e.to_string()))?;
        Ok(Box::new(connector))
    }
}

roster_core::register_connector!(UkgPro);
