//! The service's routes and their OpenAPI 3.1 document, from one definition: each route is
//! added with `routes!(handler)`, which takes its path and method from the handler's
//! `#[utoipa::path]`, so a route cannot be served without being documented. The schemas come
//! from the wire types themselves (`graders::contract`, the handlers' request and response
//! types) through `utoipa`'s derives.

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{get_reward, handlers, run_code, AppState};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "verifier",
        description = "Reward verifier and sandboxed grading service for RL on language models. \
            `POST /v1/grade` grades a batch of samples; each sample's `task` says what correct \
            means, by `kind`. With `--auth-token-file`, every route but `/healthz` needs \
            `Authorization: Bearer <token>`.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "grading", description = "Grading samples"),
        (name = "service", description = "Health, metrics and this document"),
    ),
)]
struct ApiDoc;

/// Declares the optional bearer token the routes accept (`security: [{}, {"bearer": []}]`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route with its handler, and the document that describes them.
pub fn routes() -> (Router<Arc<AppState>>, Document) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::grade))
        .routes(routes!(handlers::graders))
        .routes(routes!(handlers::healthz))
        .routes(routes!(handlers::metrics))
        .routes(routes!(handlers::openapi))
        .routes(routes!(get_reward::get_reward))
        .routes(routes!(run_code::run_code))
        .split_for_parts()
}

/// The routes the document lists: metrics labels and the 404 message come from here, so that
/// they name exactly the routes there are.
pub struct Routes {
    /// `(METHOD, path)`, in the document's order.
    pub list: Vec<(String, String)>,
}

impl Routes {
    pub fn of(document: &Document) -> Routes {
        let mut list = Vec::new();
        for (path, item) in document.paths.paths.iter() {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    list.push((method.to_string(), path.clone()));
                }
            }
        }
        Routes { list }
    }

    /// `POST /v1/grade, GET /v1/graders, ...`
    pub fn summary(&self) -> String {
        let shown: Vec<String> = self
            .list
            .iter()
            .map(|(method, path)| format!("{method} {path}"))
            .collect();
        shown.join(", ")
    }

    /// The metrics label for a request path: the route, or `unmatched` (a bounded set).
    pub fn label(&self, path: &str) -> String {
        match self.list.iter().find(|(_, known)| known == path) {
            Some((_, known)) => known.clone(),
            None => "unmatched".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_every_route_and_every_task_kind() {
        let (_, document) = routes();
        let routes = Routes::of(&document);
        let summary = routes.summary();
        for route in [
            "POST /v1/grade",
            "GET /v1/graders",
            "GET /healthz",
            "GET /metrics",
            "GET /openapi.json",
            "POST /get_reward",
            "POST /run_code",
        ] {
            assert!(summary.contains(route), "{route} missing from {summary}");
        }
        let text = serde_json::to_value(&document).unwrap();
        assert_eq!(text["openapi"], "3.1.0");
        let task = &text["components"]["schemas"]["Task"]["oneOf"];
        let kinds: Vec<&str> = task
            .as_array()
            .unwrap()
            .iter()
            .map(|branch| branch["properties"]["kind"]["enum"][0].as_str().unwrap())
            .collect();
        assert_eq!(kinds, graders::contract::documented_kinds());
        let options = &text["components"]["schemas"]["MathOptions"]["properties"];
        assert!(options["float_rounding"].is_object(), "{options}");
        assert_eq!(routes.label("/v1/grade"), "/v1/grade");
        assert_eq!(routes.label("/nope"), "unmatched");
    }
}
