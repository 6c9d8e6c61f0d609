//! The connection: a check that probes both endpoints, and the listing that joins them.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roster_core::http::HttpOptions;
use roster_core::{CheckReport, Connector, ConnectorError, ErrorKind, ListSummary, PageSink, Probe, SourceUser};

use crate::client::{Endpoint, GRANT_WHERE, REFUSED, UkgClient};
use crate::credentials::Settings;
use crate::mapping::{Join, MapOptions};
use crate::models::{EmploymentRow, PersonRow};

/// A configured UKG Pro connection.
#[derive(Debug)]
pub struct UkgProConnector {
    client: UkgClient,
    options: MapOptions,
}

impl UkgProConnector {
    /// A connection with checked settings; `today` decides pre-hires and pending terminations.
    pub fn new(settings: Settings, http: HttpOptions, today: chrono::NaiveDate) -> Result<Self, ConnectorError> {
        let options = MapOptions { today, department_org_level: settings.department_org_level };
        Ok(Self { client: UkgClient::new(settings, http)?, options })
    }

    /// Reads one row of `endpoint`: proof that the account may read it.
    async fn probe(&self, endpoint: Endpoint) -> Result<String, ConnectorError> {
        let page = match endpoint {
            Endpoint::PersonDetails => self.client.page::<PersonRow>(endpoint, 1, 1).await?.rows.len(),
            Endpoint::EmploymentDetails => self.client.page::<EmploymentRow>(endpoint, 1, 1).await?.rows.len(),
        };
        Ok(if page == 0 {
            format!("{} is readable (it lists no one)", endpoint.name())
        } else {
            format!("{} is readable", endpoint.name())
        })
    }
}

/// The status of a refusal (401 or 403), which may mean a missing permission as well as wrong
/// credentials.
fn refusal(result: &Result<String, ConnectorError>) -> Option<u16> {
    result.as_ref().err().and_then(ConnectorError::status).filter(|s| matches!(s, 401 | 403))
}

/// Explains a refused probe by the other probe: a refusal while the other endpoint answered is a
/// missing permission; 401 from both is wrong credentials; 403 from both (or a 401 and a 403) is
/// one or the other, so the message names the credentials and both permissions. Anything else is
/// reported as it is.
fn explain(
    endpoint: Endpoint,
    result: Result<String, ConnectorError>,
    other_ok: bool,
    other_refusal: Option<u16>,
) -> Result<String, ConnectorError> {
    let Some(status) = refusal(&result) else { return result };
    let (kind, message) = match other_refusal {
        Some(401) if status == 401 => (
            ErrorKind::Unauthenticated,
            format!("{REFUSED} (both endpoints answered 401, so this is not a missing permission)"),
        ),
        Some(_) => {
            let [person, employment] = Endpoint::ALL.map(Endpoint::requires);
            (
                ErrorKind::PermissionDenied,
                format!(
                    "ukg refused both person-details and employment-details: either the credentials are wrong \
                     (check Account User Name, Account Password and Customer API key) or the service account \
                     lacks both the {person} and the {employment}; grant them in {GRANT_WHERE}"
                ),
            )
        }
        // The other endpoint let the same credentials in: this one lacks its permission.
        None if other_ok => (
            ErrorKind::PermissionDenied,
            format!("the service account may not read {}: {}", endpoint.name(), endpoint.grant()),
        ),
        None => return result,
    };
    Err(ConnectorError::new(kind, message).with_status(status))
}

#[async_trait]
impl Connector for UkgProConnector {
    async fn check(&self) -> CheckReport {
        let (person, employment) =
            tokio::join!(self.probe(Endpoint::PersonDetails), self.probe(Endpoint::EmploymentDetails));
        let (person_ok, person_refusal) = (person.is_ok(), refusal(&person));
        let (employment_ok, employment_refusal) = (employment.is_ok(), refusal(&employment));
        let person = explain(Endpoint::PersonDetails, person, employment_ok, employment_refusal);
        let employment = explain(Endpoint::EmploymentDetails, employment, person_ok, person_refusal);
        let probe =
            |endpoint: Endpoint, result| Probe { name: endpoint.name().into(), requires: endpoint.requires(), result };
        CheckReport {
            probes: vec![probe(Endpoint::PersonDetails, person), probe(Endpoint::EmploymentDetails, employment)],
        }
    }

    async fn list_users(&self, sink: &mut PageSink) -> Result<ListSummary, ConnectorError> {
        // Employment first, held compactly; then person pages stream through the join. Each page
        // is added or mapped on the thread that parsed it, while the next page is fetched; the
        // join is shared with that thread, one page at a time.
        let join = Arc::new(Mutex::new(Join::new(self.options)));
        let add = {
            let join = Arc::clone(&join);
            move |rows| lock(&join).add_employment(rows)
        };
        // The first person page is fetched while the last employment page is parsed and added.
        let mut persons = self.client.pages::<PersonRow>(Endpoint::PersonDetails);
        let mut pages = self.client.pages::<EmploymentRow>(Endpoint::EmploymentDetails);
        while let Some((number, added)) = pages.next_with_beside(&add, persons.fetch_first()).await? {
            added.map_err(|e| invalid(Endpoint::EmploymentDetails, number, &e))?;
        }
        tracing::debug!(rows = lock(&join).pending(), "employment-details read");

        let map = {
            let join = Arc::clone(&join);
            move |rows| lock(&join).map_persons(rows)
        };
        while let Some((number, users)) = persons.next_with(&map).await? {
            let users = users.map_err(|e| invalid(Endpoint::PersonDetails, number, &e))?;
            sink.send(users).await?;
        }
        let join = std::mem::replace(&mut *lock(&join), Join::new(self.options));

        // Employment rows no person row claimed: people too, sent in pages of the same size.
        let chunk = usize::try_from(self.client.settings().page_size).unwrap_or(usize::MAX);
        let mut rest: Vec<SourceUser> = Vec::new();
        for user in join.finish() {
            rest.push(user);
            if rest.len() >= chunk {
                sink.send(std::mem::take(&mut rest)).await?;
            }
        }
        sink.send(rest).await?;
        Ok(ListSummary { users: sink.sent(), requests: self.client.requests() })
    }
}

/// The join, whoever else holds it: a page that panicked while holding it has already ended the
/// listing (the panic is passed on).
fn lock(join: &Mutex<Join>) -> std::sync::MutexGuard<'_, Join> {
    join.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn invalid(endpoint: Endpoint, page: u32, e: &crate::mapping::MissingId) -> ConnectorError {
    ConnectorError::new(ErrorKind::InvalidResponse, format!("{} page {page}: {e}", endpoint.name()))
}
