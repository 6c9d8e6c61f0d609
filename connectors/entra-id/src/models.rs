//! Microsoft Graph and token-endpoint payloads, as far as roster reads them.
//!
//! Lenient on purpose: every field is optional and unknown fields are ignored, so a property
//! Microsoft adds (or one we did not select) never breaks a sync. Only what the mapping needs is
//! declared; nothing else about a person is parsed.

use roster_core::CompactString;
use serde::Deserialize;

/// The `$select` list of the users listing: what the mapping reads, plus `employeeType`, which is
/// requested for the record but has no place in the common model yet.
pub const USER_SELECT: &str = "id,displayName,givenName,surname,mail,userPrincipalName,accountEnabled,jobTitle,\
                               department,employeeId,employeeType,employeeHireDate,userType";

/// One page of `GET /v1.0/users`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsersPage {
    /// The users of this page (may be empty).
    pub value: Option<Vec<GraphUser>>,
    /// The absolute URL of the next page; absent on the last one.
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

/// A `microsoft.graph.user`, limited to the properties roster maps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// The object id: stable for the life of the account.
    pub id: Option<CompactString>,
    /// Name shown in the directory.
    pub display_name: Option<CompactString>,
    /// Given name.
    pub given_name: Option<CompactString>,
    /// Family name.
    pub surname: Option<CompactString>,
    /// Primary SMTP address; null for accounts without a mailbox.
    pub mail: Option<CompactString>,
    /// The sign-in name (`user@domain`, or `x_y#EXT#@tenant` for guests).
    pub user_principal_name: Option<CompactString>,
    /// Whether the account can sign in. Kept as raw JSON so that a value that is not a boolean
    /// makes this user's status unknown instead of failing the whole page.
    pub account_enabled: Option<serde_json::Value>,
    /// Job title.
    pub job_title: Option<CompactString>,
    /// Department.
    pub department: Option<CompactString>,
    /// The employee number HR assigned.
    pub employee_id: Option<CompactString>,
    /// Hire date (a `DateTimeOffset`, e.g. `2026-07-01T00:00:00Z`).
    pub employee_hire_date: Option<CompactString>,
    /// `Member` or `Guest`.
    pub user_type: Option<CompactString>,
}

/// A successful answer of the token endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    /// `Bearer`.
    pub token_type: Option<String>,
    /// Seconds the token is valid for. A number on the v2.0 endpoint; a string is accepted too.
    pub expires_in: Option<serde_json::Value>,
    /// The access token.
    pub access_token: Option<String>,
}

/// An error answer of the token endpoint (`OAuth2` with Entra's extra fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    /// The `OAuth2` error, e.g. `invalid_client`.
    pub error: Option<String>,
    /// `AADSTS7000215: Invalid client secret provided. ...`
    pub error_description: Option<String>,
    /// The AADSTS numbers, e.g. `[7000215]`.
    pub error_codes: Option<Vec<u64>>,
}

/// The error body of Microsoft Graph: `{"error": {"code": .., "message": ..}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphErrorBody {
    /// The error itself.
    pub error: Option<GraphError>,
}

/// The `error` object of a Graph error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphError {
    /// The machine-readable code, e.g. `Authorization_RequestDenied`. Branch on this.
    pub code: Option<String>,
    /// Text for people; it changes without notice, so it is only quoted, never matched.
    pub message: Option<String>,
}
