//! An emulator of UKG Pro's REST personnel API on 127.0.0.1, for tests, `roster sandbox` and
//! `roster demo` (feature `sandbox`).
//!
//! It speaks what `/work/shared/api/ukg-pro.md` describes: Basic authentication plus
//! `US-Customer-Api-Key` on every request (401, sometimes with no body), one Web Service
//! permission per endpoint (403 with a JSON body), `page`/`per_Page` paging up to 10,000 rows,
//! `Link` headers or none, and each endpoint's own key casing. Tests drive it through [`Sandbox`]:
//! inject errors, revoke permissions, break the credentials, count requests; and give a page
//! any [`PageFault`] (an error status, a late answer, a broken or huge body), an empty first
//! page or rows that cannot be mapped, which is what the conformance kit runs.

use roster_core::sandbox::faults;
mod server;
mod tenant;

use std::sync::{Arc, Mutex, PoisonError};

use roster_core::connector::BoxFuture;
use roster_core::sandbox::{RunningSandbox, SandboxRequest};
use tokio::sync::oneshot;

use crate::Endpoint;
pub use faults::{FOREVER, PageFault};
pub use tenant::{Tenant, company_id, employee_id, ukg_date};

/// The sandbox's Account User Name.
pub const USERNAME: &str = "roster-sandbox";
/// The sandbox's Account Password (a fixed, fake value).
pub const PASSWORD: &str = "sandbox-pass-4711";
/// The sandbox's Customer API key (a fixed, fake value).
pub const CUSTOMER_API_KEY: &str = "SBX01";
/// The sandbox's User API key (a fixed, fake value). Any request that carries it is refused with
/// 400: the REST API never takes it.
pub const USER_API_KEY: &str = "SANDBOXUSER1";
/// The largest `per_Page` UKG accepts on person-details and employment-details.
pub const MAX_PER_PAGE: usize = 10_000;

/// An error answer to give instead of the real one.
#[derive(Debug, Clone, Copy)]
struct Fault {
    status: u16,
    times: u32,
    retry_after: Option<u64>,
}

/// What one endpoint serves and how it misbehaves.
#[derive(Debug, Default)]
struct EndpointState {
    rows: Vec<serde_json::Value>,
    revoked: bool,
    faults: std::collections::VecDeque<Fault>,
    page_faults: faults::PageFaults,
    repeat: bool,
    empty_first_page: bool,
    requests: u64,
    /// Answers altered by an injected fault.
    faults_served: u64,
}

/// The whole emulated tenant.
#[derive(Debug)]
struct State {
    base_url: String,
    person: EndpointState,
    employment: EndpointState,
    link_headers: bool,
    wrong_credentials: bool,
}

impl State {
    fn endpoint(&mut self, endpoint: Endpoint) -> &mut EndpointState {
        match endpoint {
            Endpoint::PersonDetails => &mut self.person,
            Endpoint::EmploymentDetails => &mut self.employment,
        }
    }
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A test that panicked while holding the lock leaves a usable state behind.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running UKG Pro emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    base_url: String,
    state: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Sandbox {
    /// Serves `tenant` on a free loopback port, with `Link` headers on.
    pub async fn start(tenant: Tenant) -> Result<Self, String> {
        Self::start_on(tenant, 0).await
    }

    /// Serves `tenant` on loopback port `port` (0 for any free port).
    pub async fn start_on(tenant: Tenant, port: u16) -> Result<Self, String> {
        let (listener, addr) = roster_core::sandbox::bind_loopback(port).await?;
        let base_url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(State {
            base_url: base_url.clone(),
            person: EndpointState { rows: tenant.person_details, ..EndpointState::default() },
            employment: EndpointState { rows: tenant.employment_details, ..EndpointState::default() },
            link_headers: true,
            wrong_credentials: false,
        }));
        let (shutdown, stop) = oneshot::channel::<()>();
        let app = server::router(state.clone());
        tokio::spawn(async move {
            let stopped = async move {
                // Sent or dropped: either way, stop.
                let _ = stop.await;
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stopped).await {
                tracing::warn!("ukg-pro sandbox stopped: {e}");
            }
        });
        Ok(Self { base_url, state, shutdown: Some(shutdown) })
    }

    /// Where it listens (`http://127.0.0.1:PORT`), to use as the API Host URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A valid credentials table for this sandbox, as `find_connector(ID)?.connect` takes it.
    pub fn credentials(&self) -> serde_json::Value {
        serde_json::json!({
            "username": USERNAME,
            "password": PASSWORD,
            "customer_api_key": CUSTOMER_API_KEY,
            "user_api_key": USER_API_KEY,
            "api_host": self.base_url,
        })
    }

    /// The body of a `[connections.NAME]` table that points at this sandbox.
    pub fn connection_toml(&self) -> String {
        format!(
            "connector = \"{id}\"\n\
             # Sandbox-only credentials: fixed fake values that only the local UKG Pro emulator accepts.\n\
             username = \"{USERNAME}\"\n\
             password = \"{PASSWORD}\"\n\
             customer_api_key = \"{CUSTOMER_API_KEY}\"\n\
             user_api_key = \"{USER_API_KEY}\"\n\
             api_host = \"{url}\"\n",
            id = crate::ID,
            url = self.base_url
        )
    }

    /// Answers `status` to the next `times` requests of `endpoint`, before any other check, with
    /// `Retry-After: <seconds>` when given.
    pub fn fail_next(&self, endpoint: Endpoint, status: u16, times: u32, retry_after: Option<u64>) {
        lock(&self.state).endpoint(endpoint).faults.push_back(Fault { status, times, retry_after });
    }

    /// Answers `status` to every request of page `page` of `endpoint` (a failure in the middle of
    /// a listing that retries cannot get past).
    pub fn fail_at_page(&self, endpoint: Endpoint, page: u32, status: u16) {
        self.fault_at_page(endpoint, page, PageFault::Status { status, retry_after: None }, FOREVER);
    }

    /// Gives the next `times` requests of page `page` (1-based) of `endpoint` `fault`, after the
    /// faults already given to that page ([`FOREVER`]: every request from then on). Checked once
    /// the request is authenticated and its paging valid.
    pub fn fault_at_page(&self, endpoint: Endpoint, page: u32, fault: PageFault, times: u32) {
        lock(&self.state).endpoint(endpoint).page_faults.schedule(page, fault, times);
    }

    /// Serves page 1 for every page of `endpoint`, with a `rel="next"` link, forever.
    pub fn repeat_pages(&self, endpoint: Endpoint) {
        lock(&self.state).endpoint(endpoint).repeat = true;
    }

    /// Serves an empty page 1 of `endpoint` whose `Link` header (when on) names a next page, and
    /// the rows one page later than usual: page 2 holds what page 1 held.
    pub fn empty_first_page(&self, endpoint: Endpoint) {
        lock(&self.state).endpoint(endpoint).empty_first_page = true;
    }

    /// Merges `patch` into row `index` (0-based, in serving order) of `endpoint`, key by key; a
    /// `null` removes the key (JSON merge patch, one level deep).
    pub fn patch_row(&self, endpoint: Endpoint, index: usize, patch: &serde_json::Value) -> Result<(), String> {
        let mut state = lock(&self.state);
        let Some(serde_json::Value::Object(row)) = state.endpoint(endpoint).rows.get_mut(index) else {
            return Err(format!("{} has no row {index}", endpoint.name()));
        };
        faults::merge(row, patch);
        Ok(())
    }

    /// Answers altered by an injected fault so far, on both endpoints: error statuses, late or
    /// broken bodies, repeated pages, an empty first page.
    pub fn faults_served(&self) -> u64 {
        let state = lock(&self.state);
        state.person.faults_served + state.employment.faults_served
    }

    /// Withdraws the Web Service permission of `endpoint`: it answers 403.
    pub fn revoke(&self, endpoint: Endpoint) {
        lock(&self.state).endpoint(endpoint).revoked = true;
    }

    /// Grants the Web Service permission of `endpoint` again.
    pub fn grant(&self, endpoint: Endpoint) {
        lock(&self.state).endpoint(endpoint).revoked = false;
    }

    /// Makes every request fail authentication (401), as after a password reset.
    pub fn set_wrong_credentials(&self, wrong: bool) {
        lock(&self.state).wrong_credentials = wrong;
    }

    /// Whether responses carry `Link` headers (on by default; some tenants send none).
    pub fn set_link_headers(&self, on: bool) {
        lock(&self.state).link_headers = on;
    }

    /// Requests `endpoint` has received, refused ones included.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        lock(&self.state).endpoint(endpoint).requests
    }

    /// Replaces the rows `endpoint` serves.
    pub fn set_rows(&self, endpoint: Endpoint, rows: Vec<serde_json::Value>) {
        lock(&self.state).endpoint(endpoint).rows = rows;
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The registry hook: serves `req.org` on `req.port` and says how to connect to it.
pub fn serve(req: SandboxRequest) -> BoxFuture<'static, Result<RunningSandbox, String>> {
    Box::pin(async move {
        let mut sandbox = Sandbox::start_on(Tenant::from_org(&req.org), req.port).await?;
        let shutdown = sandbox.shutdown.take().ok_or("the sandbox has no shutdown handle")?;
        Ok(RunningSandbox { base_url: sandbox.base_url.clone(), connection_toml: sandbox.connection_toml(), shutdown })
    })
}
