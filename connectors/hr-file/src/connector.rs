//! The connection: a check that reads the file's header and status values, and a listing that
//! streams the file in pages.
//!
//! Reading a file blocks, so it runs on a blocking thread that sends pages over a bounded
//! channel; the async side forwards them to the sink. A consumer that stops reading stops the
//! thread at its next page.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use roster_core::{
    CheckReport, CompactString, Connector, ConnectorError, EmploymentStatus, ErrorKind, ListSummary, PageSink, Probe,
    SourceUser,
};
use tokio::sync::mpsc;

use crate::credentials::{Field, Format, Settings};
use crate::mapping::{MapOptions, map_row};
use crate::reader::{ReadError, columns_of, probe_file, read_rows};

/// People per page sent to the sink, unless [`HrFileConnector::with_page_size`] says otherwise.
pub const PAGE_SIZE: usize = 1_000;

/// Rows the status check reads: enough to meet every status value of a real export.
const STATUS_SAMPLE: usize = 100_000;

/// A configured HR file connection.
#[derive(Debug, Clone)]
pub struct HrFileConnector {
    settings: Settings,
    today: NaiveDate,
    page_size: usize,
}

impl HrFileConnector {
    /// A connection with checked settings; `today` decides pre-hires and pending terminations.
    pub fn new(settings: Settings, today: NaiveDate) -> Self {
        Self { settings, today, page_size: PAGE_SIZE }
    }

    /// The same connection, sending pages of `people` people (at least one). Not a setting: a
    /// page's size only matters to memory, and [`PAGE_SIZE`] suits every file. The conformance
    /// kit needs a listing of several pages out of a small file, so its tests lower it.
    #[must_use]
    pub fn with_page_size(mut self, people: usize) -> Self {
        self.page_size = people.max(1);
        self
    }

    /// The file, for messages.
    fn file(&self) -> String {
        self.settings.path.display().to_string()
    }

    /// A listing or check error about the file, naming it.
    fn error(&self, e: &ReadError) -> ConnectorError {
        let kind = match e {
            ReadError::Io(io) if io.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            ReadError::Io(io) if io.kind() == std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            ReadError::Io(_) => ErrorKind::Unavailable,
            ReadError::MissingColumns { .. } => ErrorKind::Config,
            ReadError::Malformed(_) | ReadError::Stopped(_) => ErrorKind::InvalidResponse,
        };
        let message = match e {
            ReadError::Io(io) => format!("cannot read the HR file `{}`: {io}", self.file()),
            other => format!("HR file `{}`: {other}", self.file()),
        };
        ConnectorError::new(kind, message).set_retryable(false)
    }

    fn check_file(&self) -> Result<String, ConnectorError> {
        let bytes = probe_file(&self.settings.path).map_err(|e| self.error(&ReadError::Io(e)))?;
        Ok(format!("{} is readable ({})", self.file(), size(bytes)))
    }

    fn check_columns(&self) -> Result<String, ConnectorError> {
        let found = columns_of(&self.settings).map_err(|e| self.error(&e))?;
        // A CSV header is the same for every row; a JSON record may leave out what it does not
        // have, so only the required keys are looked for there.
        let needed = self.settings.columns.iter().filter(|(field, _)| {
            self.settings.format == Format::Csv || matches!(field, Field::SourceId | Field::Status)
        });
        let missing: Vec<String> = needed
            .filter(|(_, column)| !found.iter().any(|f| f == column))
            .map(|(field, column)| format!("{} = \"{column}\"", field.key()))
            .collect();
        if !missing.is_empty() {
            return Err(self.error(&ReadError::MissingColumns { missing, found }));
        }
        // One column may fill several fields (`source_id` and `employee_id`): count columns.
        let mapped: std::collections::BTreeSet<&str> = self.settings.columns.iter().map(|(_, c)| c.as_str()).collect();
        Ok(format!("every mapped column is there ({} of the file's {})", mapped.len(), found.len()))
    }

    fn check_statuses(&self) -> Result<String, ConnectorError> {
        let mut unmapped: BTreeMap<CompactString, usize> = BTreeMap::new();
        let mut rows = 0usize;
        let result = read_rows(&self.settings, &mut |row| {
            rows += 1;
            let user =
                map_row(row, MapOptions { settings: &self.settings, today: self.today }).map_err(|e| e.to_string())?;
            if user.status == EmploymentStatus::Unknown {
                *unmapped.entry(user.raw_status.unwrap_or_else(|| "(empty)".into())).or_default() += 1;
            }
            if rows >= STATUS_SAMPLE { Err(String::new()) } else { Ok(()) }
        });
        match result {
            Ok(()) => {}
            Err(ReadError::Stopped(message)) if message.is_empty() => {}
            Err(e) => return Err(self.error(&e)),
        }
        if unmapped.is_empty() {
            return Ok(format!("every status value of {rows} rows is mapped"));
        }
        let values: Vec<String> =
            unmapped.iter().map(|(v, n)| format!("`{v}` ({n} {})", if *n == 1 { "row" } else { "rows" })).collect();
        Err(ConnectorError::new(
            ErrorKind::Config,
            format!(
                "status values with no entry in [statuses]: {}; those people would have status unknown, flagged \
                 for review. Map each to active, on_leave, terminated, pre_hire or disabled",
                values.join(", ")
            ),
        ))
    }
}

#[expect(clippy::cast_precision_loss, reason = "file sizes are far below 2^52")]
fn size(bytes: u64) -> String {
    if bytes < 1024 * 1024 { format!("{bytes} bytes") } else { format!("{:.1} MiB", bytes as f64 / 1_048_576.0) }
}

#[async_trait]
impl Connector for HrFileConnector {
    async fn check(&self) -> CheckReport {
        let this = self.clone();
        let probes = tokio::task::spawn_blocking(move || {
            let file = this.check_file();
            let readable = file.is_ok();
            let mut probes =
                vec![Probe { name: "file".into(), requires: "read access to the file".into(), result: file }];
            if readable {
                let columns = this.check_columns();
                let columns_ok = columns.is_ok();
                probes.push(Probe {
                    name: "columns".into(),
                    requires: "every column named in [columns]".into(),
                    result: columns,
                });
                if columns_ok {
                    probes.push(Probe {
                        name: "statuses".into(),
                        requires: "an entry in [statuses] for every status value".into(),
                        result: this.check_statuses(),
                    });
                }
            }
            probes
        })
        .await;
        let probes = probes.unwrap_or_else(|e| {
            vec![Probe {
                name: "file".into(),
                requires: "read access to the file".into(),
                result: Err(ConnectorError::new(ErrorKind::Unavailable, format!("the check stopped: {e}"))),
            }]
        });
        CheckReport { probes }
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        let (tx, mut rx) = mpsc::channel::<Vec<SourceUser>>(2);
        let this = self.clone();
        let reading = tokio::task::spawn_blocking(move || -> Result<(), ConnectorError> {
            let options = MapOptions { settings: &this.settings, today: this.today };
            let size = this.page_size;
            let mut page = Vec::with_capacity(size);
            let result = read_rows(&this.settings, &mut |row| {
                page.push(map_row(row, options).map_err(|e| e.to_string())?);
                if page.len() >= size {
                    let full = std::mem::replace(&mut page, Vec::with_capacity(size));
                    tx.blocking_send(full).map_err(|_| "the listing was abandoned by its consumer".to_owned())?;
                }
                Ok(())
            });
            result.map_err(|e| this.error(&e))?;
            if !page.is_empty() {
                tx.blocking_send(page).map_err(|_| {
                    ConnectorError::new(ErrorKind::Cancelled, "the listing was abandoned by its consumer")
                })?;
            }
            Ok(())
        });
        while let Some(page) = rx.recv().await {
            sink.send(page).await?;
        }
        reading
            .await
            .map_err(|e| ConnectorError::new(ErrorKind::Unavailable, format!("reading the HR file stopped: {e}")))??;
        Ok(ListSummary { users: sink.sent(), requests: 0 })
    }
}
