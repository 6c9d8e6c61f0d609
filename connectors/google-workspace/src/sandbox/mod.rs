//! An in-process emulator of Google's OAuth token endpoint and the Directory API's
//! `users.list`, on loopback, following `shared/api/google-workspace.md`: JWT bearer grants whose
//! RS256 signature is verified, opaque bearer tokens with a lifetime, `customer`/`domain`,
//! `maxResults`, `pageToken`/`nextPageToken`, `projection`, and error bodies in Google's shapes.
//!
//! Tests drive it through [`Sandbox`]: start it with a [`Directory`], connect with
//! [`Sandbox::credentials`], then inject faults and read the request counters. A page can be
//! given any [`PageFault`] (an error status, a late answer, a broken or huge body), the first
//! page can come empty, and users can be patched into shapes no mapping knows: what the
//! conformance kit runs.
//!
//! # The sandbox key
//! `sandbox-key.pem` / `sandbox-key.pub.pem` are an RSA 2048 key pair generated for this emulator
//! alone (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`). They are test keys,
//! published on purpose: no Google project knows them, so they grant nothing anywhere. The
//! emulator verifies token requests with the public half.

mod directory;
use roster_core::sandbox::faults;
mod token;
mod users;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use roster_core::connector::BoxFuture;
use roster_core::sandbox::{RunningSandbox, SandboxRequest};
use tokio::sync::oneshot;

pub use directory::{CUSTOMER_ID, Directory};
pub use faults::{FOREVER, PageFault};

/// The sandbox service account's private key (PKCS#8 PEM). Sandbox-only: it grants nothing anywhere.
pub const PRIVATE_KEY_PEM: &str = include_str!("sandbox-key.pem");
/// The public half of [`PRIVATE_KEY_PEM`], which the token endpoint verifies signatures with.
pub const PUBLIC_KEY_PEM: &str = include_str!("sandbox-key.pub.pem");
/// The id of the sandbox key, sent as the JWT's `kid`.
pub const PRIVATE_KEY_ID: &str = "5b1d0c3a9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b";
/// The sandbox service account's email: the JWT's `iss`.
pub const CLIENT_EMAIL: &str = "roster-sandbox@roster-sandbox.iam.gserviceaccount.com";
/// The sandbox service account's client ID (what an admin authorises for domain-wide delegation).
pub const CLIENT_ID: &str = "104242424242424242424";
/// How long tokens live unless a test says otherwise (what Google answers).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The token endpoint's path; the key file's `token_uri` points here.
pub const TOKEN_PATH: &str = "/token";

/// The sandbox's two endpoints, for fault injection and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /token`.
    Token,
    /// `GET /admin/directory/v1/users`.
    Users,
}

/// An injected failure: answer `status` (with `reason` in the body) to the next `remaining` requests.
#[derive(Debug, Clone)]
struct Fault {
    status: u16,
    reason: Option<String>,
    remaining: u32,
}

/// An issued access token.
#[derive(Debug, Clone)]
struct Issued {
    expires: Instant,
    /// The impersonated user (`sub`), when the grant named one.
    subject: Option<String>,
}

/// What tests can change while the sandbox runs.
#[derive(Debug)]
struct Control {
    token_lifetime: Duration,
    tokens: HashMap<String, Issued>,
    issued: u64,
    /// Domain-wide delegation of the scope to the sandbox client ID.
    delegation: bool,
    /// Whether the directory's admin still holds admin privileges.
    admin: bool,
    faults: HashMap<Endpoint, Fault>,
    /// Every request for this page (1-based) fails with this status.
    fail_page: Option<(u32, u16)>,
    /// The next request for this page finds every token expired.
    expire_at_page: Option<u32>,
    /// Every page answers the same `nextPageToken`, forever.
    repeat_page_token: bool,
    /// Faults given to pages (1-based) of the users listing.
    page_faults: faults::PageFaults,
    /// The first page of a listing (the request without a page token) has no users and a
    /// `nextPageToken` to the real first page.
    empty_first_page: bool,
    /// The most users a page holds, whatever `maxResults` asks.
    page_size: Option<usize>,
    /// JSON merged into users (by index in [`Directory::users`]) as they are served.
    patches: HashMap<usize, serde_json::Value>,
    /// Answers altered by an injected fault.
    faults_served: u64,
}

/// State shared by the handlers and the test's handle.
#[derive(Debug)]
struct State {
    base_url: String,
    directory: Directory,
    /// Makes page tokens and access tokens unguessable across sandboxes.
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

    fn token_uri(&self) -> String {
        format!("{}{TOKEN_PATH}", self.base_url)
    }

    /// Takes one request's worth of an injected fault on `endpoint`.
    fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut control = self.control();
        let fault = control.faults.get_mut(&endpoint)?;
        fault.remaining -= 1;
        let taken = fault.clone();
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
    /// Serves `directory` on a free loopback port.
    pub async fn start(directory: Directory) -> Result<Self, String> {
        Self::start_on(directory, 0).await
    }

    /// Serves `directory` on `port` (0 for any free port) of 127.0.0.1.
    pub async fn start_on(directory: Directory, port: u16) -> Result<Self, String> {
        let (listener, addr) = roster_core::sandbox::bind_loopback(port).await?;
        let state = Arc::new(State {
            base_url: format!("http://{addr}"),
            directory,
            salt: std::collections::hash_map::RandomState::new().hash_one(addr.port()),
            control: Mutex::new(Control {
                token_lifetime: DEFAULT_TOKEN_LIFETIME,
                tokens: HashMap::new(),
                issued: 0,
                delegation: true,
                admin: true,
                faults: HashMap::new(),
                fail_page: None,
                expire_at_page: None,
                repeat_page_token: false,
                page_faults: faults::PageFaults::default(),
                empty_first_page: false,
                page_size: None,
                patches: HashMap::new(),
                faults_served: 0,
            }),
            token_requests: AtomicU64::new(0),
            users_requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .route(TOKEN_PATH, post(token::token))
            .route(users::USERS_PATH, get(users::users))
            .fallback(users::not_found)
            .with_state(Arc::clone(&state));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                // A dropped sender stops the server as surely as a sent one.
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::warn!("google workspace sandbox stopped: {e}");
            }
        });
        Ok(Self { state, shutdown })
    }

    /// Where it listens (`http://127.0.0.1:PORT`): the API base URL.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The token endpoint, as the key file's `token_uri` names it.
    pub fn token_uri(&self) -> String {
        self.state.token_uri()
    }

    /// The directory it serves.
    pub fn directory(&self) -> &Directory {
        &self.state.directory
    }

    /// A service account JSON key file, shaped like Google's, whose `token_uri` points at this
    /// sandbox. Sandbox-only: the key grants nothing anywhere else.
    pub fn service_account_key_json(&self) -> String {
        let json = serde_json::json!({
            "type": "service_account",
            "project_id": "roster-sandbox",
            "private_key_id": PRIVATE_KEY_ID,
            "private_key": PRIVATE_KEY_PEM,
            "client_email": CLIENT_EMAIL,
            "client_id": CLIENT_ID,
            "auth_uri": format!("{}/o/oauth2/auth", self.state.base_url),
            "token_uri": self.state.token_uri(),
            "auth_provider_x509_cert_url": format!("{}/oauth2/v1/certs", self.state.base_url),
            "client_x509_cert_url": format!("{}/robot/v1/metadata/x509/{CLIENT_EMAIL}", self.state.base_url),
            "universe_domain": "googleapis.com",
        });
        serde_json::to_string_pretty(&json).unwrap_or_else(|_| json.to_string())
    }

    /// A credentials table that works against this sandbox (the key inline).
    pub fn credentials(&self) -> serde_json::Value {
        serde_json::json!({
            "service_account_key": self.service_account_key_json(),
            "admin_email": self.state.directory.admin_email,
            "api_base_url": self.state.base_url,
        })
    }

    /// The body of a `[connections.NAME]` table pointing at this sandbox, reading the key from
    /// `key_file` (where [`Self::service_account_key_json`] was written).
    pub fn connection_toml(&self, key_file: &Path) -> String {
        // A JSON string is a valid TOML basic string (same escapes), whatever the path holds.
        let path = serde_json::Value::from(key_file.to_string_lossy()).to_string();
        format!(
            "connector = \"{id}\"\n\
             # Sandbox-only: a test key that this local emulator accepts and nothing else does.\n\
             service_account_key = {{ file = {path} }}\n\
             admin_email = \"{admin}\"\n\
             api_base_url = \"{base}\"\n",
            id = crate::ID,
            admin = self.state.directory.admin_email,
            base = self.state.base_url,
        )
    }

    /// How long tokens issued from now on live (whole seconds are reported in `expires_in`).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.state.control().token_lifetime = lifetime;
    }

    /// Expires every token issued so far, now.
    pub fn expire_tokens(&self) {
        let now = Instant::now();
        self.state.control().tokens.values_mut().for_each(|t| t.expires = now);
    }

    /// Expires every token issued so far when the next request for `page` (1-based) arrives,
    /// so that a listing sees its token die in the middle.
    pub fn expire_tokens_at_page(&self, page: u32) {
        self.state.control().expire_at_page = Some(page);
    }

    /// Grants or revokes domain-wide delegation of the scope to the sandbox client ID: when
    /// revoked, token requests fail with `unauthorized_client`.
    pub fn set_delegation(&self, granted: bool) {
        self.state.control().delegation = granted;
    }

    /// Gives or takes the admin's privileges: without them, tokens are still issued but
    /// `users.list` answers 403 `forbidden`.
    pub fn set_admin(&self, admin: bool) {
        self.state.control().admin = admin;
    }

    /// Answers `status` to the next `count` requests to `endpoint`, with the usual `reason` for
    /// that status in the body.
    pub fn fail_next(&self, endpoint: Endpoint, status: u16, count: u32) {
        self.inject(endpoint, status, None, count);
    }

    /// Answers `status` with this `reason` (e.g. 403 `userRateLimitExceeded`) to the next
    /// `count` requests to `endpoint`.
    pub fn fail_next_with_reason(&self, endpoint: Endpoint, status: u16, reason: &str, count: u32) {
        self.inject(endpoint, status, Some(reason.to_owned()), count);
    }

    fn inject(&self, endpoint: Endpoint, status: u16, reason: Option<String>, count: u32) {
        let mut control = self.state.control();
        if count == 0 {
            control.faults.remove(&endpoint);
        } else {
            control.faults.insert(endpoint, Fault { status, reason, remaining: count });
        }
    }

    /// Answers `status` to every request for page `page` (1-based) of the users listing;
    /// `None` heals it.
    pub fn fail_page(&self, fault: Option<(u32, u16)>) {
        self.state.control().fail_page = fault;
    }

    /// Makes every page answer the same `nextPageToken` (that of page 2), forever.
    pub fn repeat_page_token(&self, on: bool) {
        self.state.control().repeat_page_token = on;
    }

    /// Gives the next `times` requests for page `page` (1-based) of the users listing `fault`,
    /// after the faults already given to that page ([`FOREVER`]: every request from then on).
    /// Checked once the request is authorised and its query valid.
    pub fn fault_at_page(&self, page: u32, fault: PageFault, times: u32) {
        self.state.control().page_faults.schedule(page, fault, times);
    }

    /// Makes the first page of every listing (the request without a page token) hold no users,
    /// with a `nextPageToken` to the real first page: Google documents that `users` may be absent.
    pub fn empty_first_page(&self, on: bool) {
        self.state.control().empty_first_page = on;
    }

    /// Serves at most `size` users a page, whatever `maxResults` asks; `None` serves what it asks.
    pub fn set_page_size(&self, size: Option<usize>) {
        self.state.control().page_size = size.map(|s| s.max(1));
    }

    /// Merges `patch` into the user at `index` of [`Directory::users`] whenever it is served, key
    /// by key; a `null` removes the key (a user without `id`, a `suspended` that is not a boolean).
    pub fn patch_user(&self, index: usize, patch: serde_json::Value) {
        self.state.control().patches.insert(index, patch);
    }

    /// Answers altered by an injected fault so far: error statuses, late or broken bodies,
    /// repeated page tokens, an empty first page, expired tokens, patched users.
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

    /// Writes the key file to a new file in the system's temporary directory and hands the
    /// server over to the registry's caller, with a connection table that reads that file. The
    /// file is removed when the server is stopped.
    pub fn into_running(self) -> Result<RunningSandbox, String> {
        let key_file = write_key_file(&self.service_account_key_json(), self.state.base_url.as_str())?;
        let connection_toml = self.connection_toml(&key_file);
        let base_url = self.state.base_url.clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = self.shutdown;
        // The guard removes the file when this task ends, and also when the runtime drops the
        // task unfinished (a test or `roster demo` that ends without stopping the sandbox).
        let guard = KeyFile(key_file);
        tokio::spawn(async move {
            let _guard = guard;
            let _ = stopped.await;
            let _ = server.send(());
        });
        Ok(RunningSandbox { base_url, connection_toml, shutdown })
    }
}

/// The sandbox's key file, removed when dropped.
struct KeyFile(PathBuf);

impl Drop for KeyFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            tracing::debug!("cannot remove the sandbox key file {}: {e}", self.0.display());
        }
    }
}

/// `<temp>/roster-google-workspace-sandbox-<pid>-<port>-<nanos>.json`: unique per process,
/// port and moment, created new (never overwriting).
fn write_key_file(json: &str, base_url: &str) -> Result<PathBuf, String> {
    let port = base_url.rsplit(':').next().unwrap_or("0");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let name = format!("roster-google-workspace-sandbox-{}-{port}-{nanos}.json", std::process::id());
    let path = std::env::temp_dir().join(name);
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;
        file.write_all(json.as_bytes())
    };
    write().map_err(|e| format!("cannot write the sandbox key file {}: {e}", path.display()))?;
    let path = std::path::absolute(&path).unwrap_or(path);
    Ok(path)
}

/// The registry hook: serves `req.org` as a Google Workspace account on `req.port`.
pub fn serve(req: SandboxRequest) -> BoxFuture<'static, Result<RunningSandbox, String>> {
    Box::pin(async move { Sandbox::start_on(Directory::from_org(&req.org), req.port).await?.into_running() })
}
