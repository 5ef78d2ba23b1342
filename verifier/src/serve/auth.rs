//! The optional bearer token (`--auth-token-file`), for deployments that listen beyond
//! loopback: when set, every route but `/healthz` (which orchestrators probe without
//! credentials) answers 401 unless the request carries `Authorization: Bearer <token>`.
//! The token is compared in constant time (`subtle`), so response timing does not reveal how
//! much of a guess was right (only whether its length was).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{handlers, AppState};

/// The secret a request must present.
pub struct BearerToken(Vec<u8>);

impl BearerToken {
    /// Reads the token from `path`: the file's content without surrounding whitespace (a
    /// trailing newline is usual); it must be one word of visible ASCII, as a header carries it.
    pub fn from_file(path: &Path) -> anyhow::Result<BearerToken> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        BearerToken::new(bytes.trim_ascii()).with_context(|| format!("{}", path.display()))
    }

    fn new(token: &[u8]) -> anyhow::Result<BearerToken> {
        anyhow::ensure!(!token.is_empty(), "the token file is empty");
        anyhow::ensure!(
            token.iter().all(u8::is_ascii_graphic),
            "the token must be one word of visible ASCII characters (no spaces or control \
             characters), as an Authorization header carries it"
        );
        Ok(BearerToken(token.to_vec()))
    }

    /// Whether an `Authorization` header value carries this token (the scheme's case is free,
    /// as RFC 9110 says).
    fn accepts(&self, value: Option<&HeaderValue>) -> bool {
        let Some(value) = value.map(HeaderValue::as_bytes) else {
            return false;
        };
        let scheme = b"bearer ";
        if value.len() < scheme.len() || !value[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return false;
        }
        value[scheme.len()..].trim_ascii().ct_eq(&self.0).into()
    }
}

/// The middleware: passes a request on if no token is set, if it is for `/healthz`, or if it
/// carries the token; otherwise 401 (counted under its route, or `unmatched`).
pub async fn require(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(token) = &state.auth else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if path == "/healthz" || token.accepts(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    let route = state.routes.label(path);
    let mut response = handlers::error(
        StatusCode::UNAUTHORIZED,
        "this service needs a bearer token: send `Authorization: Bearer <token>` (the one in \
         the file given to --auth-token-file)"
            .to_string(),
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), response.status().as_str()])
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_exact_token() {
        let token = BearerToken::new(b"s3cret-token").unwrap();
        let header = |text: &str| HeaderValue::from_str(text).unwrap();
        assert!(token.accepts(Some(&header("Bearer s3cret-token"))));
        assert!(token.accepts(Some(&header("bearer s3cret-token"))));
        assert!(!token.accepts(Some(&header("Bearer s3cret-toke"))));
        assert!(!token.accepts(Some(&header("Bearer s3cret-token2"))));
        assert!(!token.accepts(Some(&header("Basic s3cret-token"))));
        assert!(!token.accepts(Some(&header("Bearer"))));
        assert!(!token.accepts(None));
    }

    #[test]
    fn refuses_empty_or_unprintable_tokens() {
        assert!(BearerToken::new(b"").is_err());
        assert!(BearerToken::new(b"two words").is_err());
        assert!(BearerToken::new("naïve".as_bytes()).is_err());
    }
}
