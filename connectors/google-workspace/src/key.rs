//! The service account's JSON key: read and checked once in `connect`, then used to sign the
//! JWT of every token request.
//!
//! Nothing here ever prints key material: the private key lives in [`PrivateKey`], whose `Debug`
//! is redacted, and every message about the key file names fields, never their values (except
//! `type` and `token_uri`, which are not secret).

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Url;
use roster_core::http::parse_base_url;
use roster_core::{ConnectorError, ErrorKind, Secret};
use serde::{Deserialize, Serialize};

/// The one scope roster asks for: read-only access to users.
pub const SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// How long a signed assertion is valid: Google's maximum.
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// Where to download a key, for messages.
const NEW_KEY_HINT: &str = "download a JSON key in Google Cloud console (IAM & Admin > Service accounts > your \
                            service account > Keys > Add key > Create new key > JSON)";

/// A service account, from its checked key file.
#[derive(Debug)]
pub(crate) struct ServiceAccount {
    /// `client_email`: the JWT's issuer.
    pub(crate) client_email: String,
    /// `client_id`: the number to authorise for domain-wide delegation, when the file has it.
    pub(crate) client_id: Option<String>,
    /// `private_key_id`: sent as the JWT's `kid` when present.
    pub(crate) private_key_id: Option<String>,
    /// `token_uri` as written in the file: the JWT's audience must be exactly this.
    pub(crate) token_uri: String,
    /// `token_uri` parsed: where token requests go.
    pub(crate) token_endpoint: Url,
    key: PrivateKey,
}

/// An RSA private key. Its `Debug` never shows it.
pub(crate) struct PrivateKey {
    signing: EncodingKey,
    /// The PEM text, so the HTTP client can scrub it from anything a server echoes back.
    pem: Secret,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

/// The fields of a key file roster reads. Deliberately without `Debug`: it holds the key.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    client_id: Option<serde_json::Value>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
}

/// The claims of the JWT bearer grant, as Google documents them.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Reads and checks a key file, returning every problem found (none quoting the key).
    pub(crate) fn parse(key: &Secret) -> Result<Self, Vec<String>> {
        let text = key.expose().trim();
        if text.starts_with("-----BEGIN") {
            return Err(vec![format!(
                "this is a bare PEM private key; roster needs the whole JSON key file: {NEW_KEY_HINT}"
            )]);
        }
        if !text.starts_with('{') {
            return Err(vec![
                "expected the content of the service account's JSON key file; to read it from a file write \
                 `service_account_key = { file = \"google-key.json\" }`"
                    .to_owned(),
            ]);
        }
        let file: KeyFile = serde_json::from_str(text).map_err(|e| {
            // Only the position: serde's message can quote a value.
            vec![format!(
                "is not a valid JSON key file ({} at line {}, column {}): {NEW_KEY_HINT}",
                match e.classify() {
                    serde_json::error::Category::Data => "a field has the wrong type",
                    _ => "malformed JSON",
                },
                e.line(),
                e.column()
            )]
        })?;
        let mut problems = Vec::new();
        match file.kind.as_deref() {
            Some("service_account") => {}
            Some(kind) if kind.len() <= 40 && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                problems.push(format!(
                    "the key file's `type` is `{kind}`, expected `service_account`: this is not a service account \
                     key; {NEW_KEY_HINT}"
                ));
            }
            _ => problems.push(format!("the key file has no `type` of `service_account`; {NEW_KEY_HINT}")),
        }
        let missing: Vec<&str> = [
            ("client_email", file.client_email.as_deref()),
            ("private_key", file.private_key.as_deref()),
            ("token_uri", file.token_uri.as_deref()),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_none_or(|v| v.trim().is_empty()))
        .map(|(k, _)| k)
        .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|k| format!("`{k}`")).collect();
            problems.push(format!("the key file has no {}; {NEW_KEY_HINT}", names.join(", ")));
        }
        let client_email = file.client_email.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if !client_email.is_empty() && !crate::credentials::is_email(&client_email) {
            problems.push("the key file's `client_email` is not an email address".to_owned());
        }
        let token_uri = file.token_uri.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let token_endpoint = if token_uri.is_empty() {
            None
        } else {
            parse_base_url(&token_uri).map_err(|e| problems.push(format!("the key file's `token_uri`: {e}"))).ok()
        };
        let private_key = file
            .private_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .and_then(|pem| PrivateKey::read(pem).map_err(|message| problems.push(message)).ok());
        match (token_endpoint, private_key) {
            (Some(token_endpoint), Some(key)) if problems.is_empty() => Ok(Self {
                client_email,
                client_id: file.client_id.and_then(|id| match id {
                    serde_json::Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
                private_key_id: file.private_key_id.map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()),
                token_uri,
                token_endpoint,
                key,
            }),
            _ => Err(problems),
        }
    }

    /// The private key's PEM, for the HTTP client's scrub list.
    pub(crate) fn private_key_pem(&self) -> &Secret {
        &self.key.pem
    }

    /// Signs the JWT of a token request acting as `subject`, issued at `now` (Unix seconds).
    /// The assertion is a credential for an hour, so it comes back as a [`Secret`].
    pub(crate) fn assertion(&self, subject: &str, now: u64) -> Result<Secret, ConnectorError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.private_key_id);
        let claims = Claims {
            iss: &self.client_email,
            sub: subject,
            scope: SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &self.key.signing).map(Secret::new).map_err(|e| {
            // The error names a kind of failure, never the key.
            ConnectorError::new(ErrorKind::Config, format!("cannot sign the token request with the private key: {e}"))
        })
    }
}

impl PrivateKey {
    /// Reads an RSA private key in PKCS#8 PEM, and proves it can sign.
    fn read(pem: &str) -> Result<Self, String> {
        // A key pasted through a shell or an environment variable sometimes keeps its `\n` escapes.
        let pem = if pem.contains('\n') { pem.to_owned() } else { pem.replace("\\n", "\n") };
        let head = pem.trim_start();
        if head.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            return Err("the key file's `private_key` is in PKCS#1 form (BEGIN RSA PRIVATE KEY); Google key files \
                        hold PKCS#8 (BEGIN PRIVATE KEY): download a new JSON key, or convert it with \
                        `openssl pkcs8 -topk8 -nocrypt`"
                .to_owned());
        }
        if head.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            return Err(format!(
                "the key file's `private_key` is encrypted; roster needs the unencrypted key Google issues: \
                 {NEW_KEY_HINT}"
            ));
        }
        if !head.starts_with("-----BEGIN PRIVATE KEY-----") {
            return Err(format!(
                "the key file's `private_key` is not a PEM PKCS#8 private key (BEGIN PRIVATE KEY): {NEW_KEY_HINT}"
            ));
        }
        let unusable = || {
            format!(
                "the key file's `private_key` cannot be used as an RSA private key (damaged, or not RSA): {NEW_KEY_HINT}"
            )
        };
        let signing = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| unusable())?;
        // Reading the PEM does not parse the key itself. Parsing it as jsonwebtoken does before
        // each signature (aws-lc's `RsaKeyPair::from_der`, with its checks of the key) tells
        // whether signing can work, without signing: a first signature seeds aws-lc's random
        // generator, which took about 23 ms of every command that loads a configuration with a
        // Google connection (`roster validate`: 32 ms against 9 ms now).
        aws_lc_rs::signature::RsaKeyPair::from_der(signing.inner()).map_err(|_| unusable())?;
        Ok(Self { signing, pem: Secret::new(pem) })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const PEM: &str = include_str!("sandbox/sandbox-key.pem");
    const PUBLIC_PEM: &str = include_str!("sandbox/sandbox-key.pub.pem");

    /// A key file with the sandbox key and this `token_uri`.
    pub(crate) fn key_json(token_uri: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "project_id": "roster-test",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": PEM,
            "client_email": "roster@roster-test.iam.gserviceaccount.com",
            "client_id": "100000000000000000042",
            "token_uri": token_uri,
        })
        .to_string()
    }

    fn parse(json: &str) -> Result<ServiceAccount, Vec<String>> {
        ServiceAccount::parse(&Secret::new(json))
    }

    /// A line of the key's base64 body: if it shows up anywhere, the key leaked.
    fn key_fragment() -> &'static str {
        PEM.lines().nth(3).unwrap()
    }

    #[test]
    fn signs_an_rs256_assertion_google_accepts() {
        let account = parse(&key_json("https://oauth2.googleapis.com/token")).unwrap();
        assert_eq!(account.client_id.as_deref(), Some("100000000000000000042"));
        let jwt = account.assertion("admin@acme.example", 1_700_000_000).unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
        assert_eq!((header.alg, header.typ.as_deref()), (Algorithm::RS256, Some("JWT")));
        assert_eq!(header.kid.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.googleapis.com/token"]);
        validation.validate_exp = false;
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_PEM.as_bytes()).unwrap();
        let claims = jsonwebtoken::decode::<serde_json::Value>(jwt.expose(), &key, &validation).unwrap().claims;
        assert_eq!(
            claims,
            serde_json::json!({
                "iss": "roster@roster-test.iam.gserviceaccount.com",
                "sub": "admin@acme.example",
                "scope": SCOPE,
                "aud": "https://oauth2.googleapis.com/token",
                "iat": 1_700_000_000,
                "exp": 1_700_003_600,
            })
        );
        let debug = format!("{account:?}");
        assert!(debug.contains("PrivateKey([redacted])") && !debug.contains(key_fragment()), "{debug}");
    }

    #[test]
    fn explains_what_is_wrong_without_quoting_the_key() {
        let mut file: serde_json::Value =
            serde_json::from_str(&key_json("https://oauth2.googleapis.com/token")).unwrap();
        let errors = |file: &serde_json::Value| parse(&file.to_string()).unwrap_err().join(" | ");

        let pkcs1 = PEM.replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY");
        file["private_key"] = pkcs1.into();
        assert!(errors(&file).contains("PKCS#1"));
        file["private_key"] = PEM.replace(key_fragment(), "AAAA").into();
        let text = errors(&file);
        assert!(text.contains("cannot be used as an RSA private key"), "{text}");

        file["private_key"] = PEM.replace('\n', "\\n").into();
        assert!(parse(&file.to_string()).is_ok(), "escaped newlines are repaired");

        file["token_uri"] = "http://oauth2.googleapis.com/token".into();
        file["type"] = "authorized_user".into();
        file.as_object_mut().unwrap().remove("client_email");
        let text = errors(&file);
        assert!(text.contains("`type` is `authorized_user`"), "{text}");
        assert!(text.contains("has no `client_email`"), "{text}");
        assert!(text.contains("`token_uri`: `http://oauth2.googleapis.com` uses plain HTTP"), "{text}");
        assert!(!text.contains(key_fragment()), "{text}");

        // Well-formed PEM and PKCS#8, but not a usable RSA key: refused when the configuration is
        // loaded, not at the first sync, though nothing is signed then.
        let mut der = pem::parse(PEM).unwrap().into_contents();
        let middle = der.len() / 2;
        der[middle] ^= 0x5a;
        let ec = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .unwrap();
        let mut file: serde_json::Value =
            serde_json::from_str(&key_json("https://oauth2.googleapis.com/token")).unwrap();
        for contents in [der, ec.as_ref().to_vec()] {
            file["private_key"] = pem::encode(&pem::Pem::new("PRIVATE KEY", contents)).into();
            let text = errors(&file);
            assert!(text.contains("cannot be used as an RSA private key (damaged, or not RSA)"), "{text}");
        }

        let text = parse(r#"{"type": "service_account", "private_key": "MIIEv"#).unwrap_err().join("");
        assert!(text.contains("malformed JSON at line 1") && !text.contains("MIIEv"), "{text}");
        let text = parse(r#"{"type": "service_account", "private_key": 12}"#).unwrap_err().join("");
        assert!(text.contains("a field has the wrong type at line 1"), "{text}");
        let text = parse(PEM).unwrap_err().join("");
        assert!(text.contains("bare PEM private key") && !text.contains(key_fragment()), "{text}");
        assert!(parse("google-key.json").unwrap_err()[0].contains("{ file = \"google-key.json\" }"));
    }
}
