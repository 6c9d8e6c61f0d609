#![doc = include_str!("../README.md")]

pub mod connector;
pub mod credentials;
pub mod mapping;
pub mod reader;

use roster_core::{Capabilities, ConnectContext, Connector, ConnectorKind, CredentialsError};

pub use connector::HrFileConnector;
pub use credentials::Credentials;

/// The connector id: the folder, the `connector = ".."` value and the schema file stem.
pub const ID: &str = "hr-file";

/// An HR system's export file as a kind of connector.
#[derive(Debug)]
pub struct HrFile;

impl ConnectorKind for HrFile {
    const ID: &'static str = ID;
    const DISPLAY_NAME: &'static str = "HR file export";
    const DESCRIPTION: &'static str = "People from a CSV, JSON or NDJSON export of an HR system without an API: \
         ids, names, emails, job, department, manager, status and dates, through a column and status mapping.";
    const CAPABILITIES: Capabilities = Capabilities {
        lifecycle_source: true,
        reports_terminated: true,
        effective_dates: true,
        incremental_sync: false,
    };
    // No sandbox: there is no vendor to emulate. Tests write files (tests/fixtures, tempdirs).
    type Credentials = Credentials;

    fn connect(credentials: Credentials, ctx: &ConnectContext) -> Result<Box<dyn Connector>, CredentialsError> {
        let settings = credentials.resolve(&ctx.base_dir)?;
        Ok(Box::new(HrFileConnector::new(settings, ctx.today)))
    }
}

roster_core::register_connector!(HrFile);
