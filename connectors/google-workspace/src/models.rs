//! Admin SDK Directory API and token-endpoint payloads, as far as roster reads them.
//!
//! Lenient on purpose: every field is optional and unknown fields are ignored, so a property
//! Google adds never breaks a sync. Only what the mapping needs is declared; addresses, phones,
//! custom schemas and everything else about a person are never parsed.

use roster_core::CompactString;
use serde::Deserialize;

/// One page of `GET /admin/directory/v1/users`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    /// The users of this page; absent when the page is empty.
    pub users: Option<Vec<GoogleUser>>,
    /// The token of the next page; absent on the last one.
    pub next_page_token: Option<String>,
}

/// A Directory API `User`, limited to what roster maps.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleUser {
    /// The immutable user id (a numeric string).
    pub id: Option<CompactString>,
    /// The primary email address.
    pub primary_email: Option<CompactString>,
    /// Other addresses of the same mailbox.
    pub aliases: Option<Vec<CompactString>>,
    /// The user's name.
    pub name: Option<UserName>,
    /// Whether the account is suspended. Kept as raw JSON so that an unexpected value is reported
    /// as unknown instead of failing the whole page or being read as "not suspended".
    pub suspended: Option<serde_json::Value>,
    /// Why the account is suspended (`ADMIN`, `WEB_LOGIN_REQUIRED`, `ABUSE`, ...).
    pub suspension_reason: Option<CompactString>,
    /// Whether the account is archived (an Archived User licence). Raw JSON, like `suspended`.
    pub archived: Option<serde_json::Value>,
    /// Jobs: title, department, and which one is primary.
    pub organizations: Option<Vec<Organization>>,
    /// Identifiers from other systems; the employee id is the one of type `organization`.
    pub external_ids: Option<Vec<ExternalId>>,
    /// Relations to other people; the manager is the one of type `manager`.
    pub relations: Option<Vec<Relation>>,
}

/// `name` of a user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserName {
    /// First name.
    pub given_name: Option<CompactString>,
    /// Last name.
    pub family_name: Option<CompactString>,
    /// The full name as Google shows it.
    pub full_name: Option<CompactString>,
}

/// One entry of `organizations`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Organization {
    /// Job title.
    pub title: Option<CompactString>,
    /// Department.
    pub department: Option<CompactString>,
    /// Whether this is the user's primary organisation.
    pub primary: Option<bool>,
}

/// One entry of `externalIds`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalId {
    /// `organization` (the employee id), `account`, `customer`, `login_id`, `network`, `custom`...
    #[serde(rename = "type")]
    pub kind: Option<CompactString>,
    /// The identifier.
    pub value: Option<CompactString>,
}

/// One entry of `relations`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Relation {
    /// `manager`, `assistant`, `spouse`, ...
    #[serde(rename = "type")]
    pub kind: Option<CompactString>,
    /// The related person's email address.
    pub value: Option<CompactString>,
}

/// A successful answer of the token endpoint.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Option<String>,
    /// `Bearer`.
    pub token_type: Option<String>,
    /// Seconds the token is valid for (3600 from Google). A number; a string is accepted too.
    pub expires_in: Option<serde_json::Value>,
}

/// An error answer of the token endpoint (`OAuth2`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenError {
    /// `invalid_grant`, `unauthorized_client`, `invalid_client`, ...
    pub error: Option<String>,
    /// Google's explanation, e.g. `Invalid JWT Signature.`
    pub error_description: Option<String>,
}

/// The error body of Google APIs: `{"error": {"code", "message", "errors": [..], "status"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: Option<ApiError>,
}

/// The `error` object of a Google API error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiError {
    /// The HTTP status again.
    pub code: Option<u16>,
    /// Text for people.
    pub message: Option<String>,
    /// The legacy per-error details, each with a `reason`; may be missing.
    pub errors: Option<Vec<ApiErrorItem>>,
    /// The canonical status, e.g. `PERMISSION_DENIED`; may be missing.
    pub status: Option<String>,
}

/// One entry of `error.errors`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ApiErrorItem {
    /// `forbidden`, `insufficientPermissions`, `userRateLimitExceeded`, `badRequest`, ...
    pub reason: Option<String>,
    /// Text for people.
    pub message: Option<String>,
}

impl ApiError {
    /// The first `reason` of `errors`, if any.
    pub fn reason(&self) -> Option<&str> {
        self.errors.as_deref()?.iter().find_map(|e| e.reason.as_deref().filter(|r| !r.is_empty()))
    }
}
