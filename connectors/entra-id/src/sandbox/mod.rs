//! An in-process emulator of the Entra token endpoint and Microsoft Graph's `/v1.0/users`, on
//! loopback, following `shared/api/entra-id.md`: client-credentials tokens with a lifetime,
//! bearer checks on every page, `$select`/`$top`, absolute `@odata.nextLink`s with an opaque
//! `$skiptoken`, and error bodies in the identity platform's and Graph's shapes.
//!
//! Tests drive it through [`Sandbox`]: start it with a [`Tenant`], connect with
//! [`Sandbox::credentials`], then inject faults and read the request counters. A page can be
//! given any [`PageFault`] (an error status, a late answer, a broken or huge body), the first
//! page can come empty, and users can be patched into shapes no mapping knows: what the
//! conformance kit runs.

use roster_core::sandbox::faults;
mod routes;
mod tenant;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use roster_core::connector::BoxFuture;
use roster_core::sandbox::{RunningSandbox, SandboxRequest};
use tokio::sync::oneshot;

pub use faults::{FOREVER, PageFault};
pub use tenant::{SandboxUser, TENANT_ID, Tenant};

/// The sandbox application's (client) ID: fake, fixed.
pub const CLIENT_ID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
/// The sandbox application's client secret: fake, fixed, accepted by this emulator only.
pub const CLIENT_SECRET: &str = "sbx8Q~Sandbox.Only-Secret_Value.NotReal0";
/// How long tokens live unless a test says otherwise (what Entra usually answers).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3599);

/// The sandbox's two endpoints, for fault injection and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /{tenant}/oauth2/v2.0/token`.
    Token,
    /// `GET /v1.0/users`.
    Users,
}

/// An injected failure: answer `status` to the next `remaining` requests.
#[derive(Debug, Clone, Copy)]
struct Fault {
    status: u16,
    remaining: u32,
    retry_after: Option<u64>,
}

/// What tests can change while the sandbox runs.
#[derive(Debug)]
struct Control {
    client_secret: String,
    token_lifetime: Duration,
    /// Issued tokens and when they stop working.
    tokens: HashMap<String, Instant>,
    issued: u64,
    user_read_all: bool,
    faults: HashMap<Endpoint, Fault>,
    /// Every request for this page (1-based) fails with this status.
    fail_page: Option<(u32, u16)>,
    /// The next request for this page finds every token expired.
    expire_at_page: Option<u32>,
    /// Every page links to page 2, forever.
    repeat_next_link: bool,
    /// Faults given to pages (1-based) of the users listing.
    page_faults: faults::PageFaults,
    /// The first page of a listing (the request without a skip token) is empty and links to the
    /// real first page.
    empty_first_page: bool,
    /// The most users a page holds, whatever `$top` asks (Graph may serve fewer than asked).
    page_size: Option<usize>,
    /// JSON merged into users (by index) as they are served.
    patches: HashMap<usize, serde_json::Value>,
    /// Answers altered by an injected fault.
    faults_served: u64,
}

/// State shared by the handlers and the test's handle.
#[derive(Debug)]
struct State {
    base_url: String,
    tenant: Tenant,
    /// Makes skip tokens and access tokens unguessable across sandboxes.
    salt: u64,
    control: Mutex<Control>,
    token_requests: AtomicU64,
    users_requests: AtomicU64,
}

impl State {
    fn control(&self) -> MutexGuard<'_, Control> {
        // A handler that panicked mid-update leaves nothing half-done worth refusing over.
        self.control.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one request's worth of an injected fault on `endpoint`.
    fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut control = self.control();
        let fault = control.faults.get_mut(&endpoint)?;
        fault.remaining -= 1;
        let taken = *fault;
        if fault.remaining == 0 {
            control.faults.remove(&endpoint);
        }
        control.faults_served += 1;
        Some(taken)
    }

    /// Takes one request's worth of the faults given to `page` of the users listing.
    fn take_page_fault(&self, page: u32) -> Option<PageFault> {
        let mut control = self.control();
        let fault = control.page_faults.take(page)?;
        control.faults_served += 1;
        Some(fault)
    }
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct Sandbox {
    state: Arc<State>,
    shutdown: oneshot::Sender<()>,
}

impl Sandbox {
    /// Serves `tenant` on a free loopback port.
    pub async fn start(tenant: Tenant) -> Result<Self, String> {
        Self::start_on(tenant, 0).await
    }

    /// Serves `tenant` on `port` (0 for any free port) of 127.0.0.1.
    pub async fn start_on(tenant: Tenant, port: u16) -> Result<Self, String> {
        let (listener, addr) = roster_core::sandbox::bind_loopback(port).await?;
        let state = Arc::new(State {
            base_url: format!("http://{addr}"),
            tenant,
            salt: std::collections::hash_map::RandomState::new().hash_one(addr.port()),
            control: Mutex::new(Control {
                client_secret: CLIENT_SECRET.into(),
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                tokens: HashMap::new(),
                issued: 0,
                user_read_all: true,
                faults: HashMap::new(),
                fail_page: None,
                expire_at_page: None,
                repeat_next_link: false,
                page_faults: faults::PageFaults::default(),
                empty_first_page: false,
                page_size: None,
                patches: HashMap::new(),
                faults_served: 0,
            }),
            token_requests: AtomicU64::new(0),
            users_requests: AtomicU64::new(0),
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = routes::router(Arc::clone(&state));
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                // A dropped sender stops the server as surely as a sent one.
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("entra id sandbox stopped: {e}");
            }
        });
        Ok(Self { state, shutdown })
    }

    /// Where it listens (`http://127.0.0.1:PORT`): the authority host and the Graph base URL.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The tenant it serves.
    pub fn tenant(&self) -> &Tenant {
        &self.state.tenant
    }

    /// A credentials table that works against this sandbox.
    pub fn credentials(&self) -> serde_json::Value {
        serde_json::json!({
            "tenant_id": self.state.tenant.tenant_id,
            "client_id": CLIENT_ID,
            "client_secret": self.state.control().client_secret,
            "authority_host": self.state.base_url,
            "graph_base_url": self.state.base_url,
        })
    }

    /// Changes the secret the token endpoint accepts (a rotated or deleted secret).
    pub fn set_client_secret(&self, secret: impl Into<String>) {
        self.state.control().client_secret = secret.into();
    }

    /// How long tokens issued from now on live (whole seconds are reported in `expires_in`).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.control().token_lifetime = lifetime;
    }

    /// Expires every token issued so far, now.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.state.control().tokens.values_mut().for_each(|expiry| *expiry = now);
    }

    /// Expires every token issued so far when the next request for `page` (1-based) arrives,
    /// so that a listing sees its token die in the middle.
    pub fn expire_tokens_at_page(&self, page: u32) {
        self.state.control().expire_at_page = Some(page);
    }

    /// Grants or revokes the application permission `User.Read.All` (admin consent included).
    pub fn set_user_read_all(&self, granted: bool) {
        self.state.control().user_read_all = granted;
    }

    /// Answers `status` to the next `count` requests to `endpoint`, with `Retry-After: seconds`
    /// when given.
    pub fn fail_next(&self, endpoint: Endpoint, status: u16, count: u32, retry_after: Option<u64>) {
        let mut control = self.state.control();
        if count == 0 {
            control.faults.remove(&endpoint);
        } else {
            control.faults.insert(endpoint, Fault { status, remaining: count, retry_after });
        }
    }

    /// Answers `status` to every request for page `page` (1-based) of the users listing;
    /// `None` heals it.
    pub fn fail_page(&self, fault: Option<(u32, u16)>) {
        self.state.control().fail_page = fault;
    }

    /// Makes every page's `@odata.nextLink` point at page 2, forever (a broken cursor).
    pub fn repeat_next_link(&self, on: bool) {
        self.state.control().repeat_next_link = on;
    }

    /// Gives the next `times` requests for page `page` (1-based) of the users listing `fault`,
    /// after the faults already given to that page ([`FOREVER`]: every request from then on).
    /// Checked once the request is authorised and its query valid.
    pub fn fault_at_page(&self, page: u32, fault: PageFault, times: u32) {
        self.state.control().page_faults.schedule(page, fault, times);
    }

    /// Makes the first page of every listing (the request without a skip token) empty, with an
    /// `@odata.nextLink` to the real first page: Graph documents that a page may be empty.
    pub fn empty_first_page(&self, on: bool) {
        self.state.control().empty_first_page = on;
    }

    /// Serves at most `size` users a page, whatever `$top` asks; `None` serves what it asks.
    pub fn set_page_size(&self, size: Option<usize>) {
        self.state.control().page_size = size.map(|s| s.max(1));
    }

    /// Merges `patch` into the user at `index` (in listing order) whenever it is served, key by
    /// key; a `null` removes the key. This reaches shapes [`SandboxUser`] cannot hold: a user
    /// without `id`, an `accountEnabled` that is not a boolean.
    pub fn patch_user(&self, index: usize, patch: serde_json::Value) {
        self.state.control().patches.insert(index, patch);
    }

    /// Answers altered by an injected fault so far: error statuses, late or broken bodies,
    /// repeated next links, an empty first page, expired tokens, patched users.
    pub fn faults_served(&self) -> u64 {
        self.state.control().faults_served
    }

    /// Requests received by `endpoint` so far, faulted ones included.
    pub fn requests(&self, endpoint: Endpoint) -> u64 {
        match endpoint {
            Endpoint::Token => self.state.token_requests.load(Ordering::Relaxed),
            Endpoint::Users => self.state.users_requests.load(Ordering::Relaxed),
        }
    }

    /// Hands the server over to the registry's caller, with a connection table pointing at it.
    pub fn into_running(self) -> RunningSandbox {
        let Self { state, shutdown } = self;
        let base = &state.base_url;
        let connection_toml = format!(
            "connector = \"{id}\"\n\
             # Sandbox-only credentials: fake values that this local emulator accepts and nothing else does.\n\
             tenant_id = \"{tenant}\"\n\
             client_id = \"{CLIENT_ID}\"\n\
             client_secret = \"{CLIENT_SECRET}\"\n\
             authority_host = \"{base}\"\n\
             graph_base_url = \"{base}\"\n",
            id = crate::ID,
            tenant = state.tenant.tenant_id,
        );
        RunningSandbox { base_url: base.clone(), connection_toml, shutdown }
    }
}

/// The registry hook: serves `req.org` as an Entra tenant on `req.port`.
pub fn serve(req: SandboxRequest) -> BoxFuture<'static, Result<RunningSandbox, String>> {
    Box::pin(async move { Ok(Sandbox::start_on(Tenant::from_org(&req.org), req.port).await?.into_running()) })
}
